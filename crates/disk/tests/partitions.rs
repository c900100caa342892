//! MBR (with logical partitions) and GPT (with a damaged primary) made by sfdisk; `disks()` and nested mounts
//! over partitions holding real ext2 and FAT file systems.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;

use bootscript_disk::fs::Kind;
use bootscript_disk::partition::read_partitions;
use bootscript_disk::{probe_disks, BlockDevice, EntryKind, FsError, ImageFile, MemDisk, Vfs};
use common::*;

const MIB: u64 = 1 << 20;

/// Makes `img` a zeroed file of `bytes` and partitions it as sfdisk `script` says.
fn sfdisk(img: &Path, bytes: u64, script: &str) {
    fs::File::create(img).unwrap().set_len(bytes).unwrap();
    let mut child = Command::new("sfdisk")
        .args(["--no-reread", "--no-tell-kernel", "-q", s(img)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sfdisk (is util-linux's fdisk package installed?)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk failed");
}

/// `(number, start, size)` of each partition as `sfdisk -d` reports it.
fn sfdisk_dump(img: &Path) -> Vec<(u32, u64, u64, String)> {
    let dump = run("sfdisk", &["-d", s(img)]);
    let path = s(img);
    dump.lines()
        .filter(|l| l.starts_with(path) && l.contains(" : "))
        .map(|l| {
            let (name, rest) = l.split_once(" : ").unwrap();
            let number = name[path.len()..].trim().parse().unwrap();
            let field = |key: &str| {
                rest.split(", ")
                    .find_map(|f| f.trim().strip_prefix(key))
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            };
            (
                number,
                field("start=").trim().parse().unwrap(),
                field("size=").trim().parse().unwrap(),
                rest.to_string(),
            )
        })
        .collect()
}

/// The partitions read from a disk image's bytes, each as (number, first sector, sectors), or the error as text.
fn spans(bytes: &[u8]) -> Result<Vec<(u32, u64, u64)>, String> {
    read_partitions(&MemDisk::new("hd0", bytes.to_vec()))
        .map(|list| {
            list.iter()
                .map(|p| (p.number, p.start, p.sectors))
                .collect()
        })
        .map_err(|e| e.to_string())
}

fn mem(img: &Path) -> Rc<dyn BlockDevice> {
    Rc::new(MemDisk::new("hd0", fs::read(img).unwrap()))
}

fn put(img: &Path, start_sector: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new()
        .write(true)
        .open(img)
        .unwrap()
        .write_all_at(data, start_sector * 512)
        .unwrap();
}

#[test]
fn mbr_with_logical_partitions_and_nested_mounts() {
    let dir = TempDir::new("mbr");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        64 * MIB,
        "label: dos\nstart=2048, size=16384, type=c\nstart=18432, size=16384, type=83\n\
         start=34816, type=5\nstart=36864, size=16384, type=83\nstart=55296, size=16384, type=83\n",
    );
    let expected = sfdisk_dump(&img);
    assert_eq!(
        expected.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 5, 6]
    );

    // An ext2 root in the first logical partition, FAT in the first primary.
    let root_src = dir.path("root");
    fs::create_dir_all(root_src.join("boot")).unwrap();
    fs::create_dir_all(root_src.join("lost+found")).unwrap();
    fs::write(
        root_src.join("boot/on-root.txt"),
        b"hidden under the mount\n",
    )
    .unwrap();
    fs::write(root_src.join("etc-hostname"), b"bootscript\n").unwrap();
    symlink("/boot/vmlinuz", root_src.join("kernel")).unwrap();
    symlink("boot", root_src.join("bootlink")).unwrap();
    symlink("etc-hostname", root_src.join("hostlink")).unwrap();
    symlink("loop", root_src.join("loop")).unwrap();
    let ext = dir.path("ext.img");
    fs::File::create(&ext).unwrap().set_len(8 * MIB).unwrap();
    run(
        "mke2fs",
        &["-q", "-F", "-t", "ext2", "-d", s(&root_src), s(&ext)],
    );
    put(&img, 36864, &fs::read(&ext).unwrap());
    let fat = dir.path("fat.img");
    run("mkfs.fat", &["-C", s(&fat), "8192"]);
    let boot_src = dir.path("bootsrc");
    fs::create_dir_all(&boot_src).unwrap();
    let kernel = noise(3 * MIB as usize + 17, 5);
    fs::write(boot_src.join("vmlinuz"), &kernel).unwrap();
    run(
        "mcopy",
        &["-i", s(&fat), s(&boot_src.join("vmlinuz")), "::/"],
    );
    put(&img, 2048, &fs::read(&fat).unwrap());

    let disk = mem(&img);
    let found = read_partitions(&*disk).unwrap();
    let ours: Vec<(u32, u64, u64)> = found
        .iter()
        .map(|p| (p.number, p.start, p.sectors))
        .collect();
    // sfdisk lists the extended container (3) too; Linux names it but it holds no file system.
    let theirs: Vec<(u32, u64, u64)> = expected
        .iter()
        .filter(|p| !p.3.contains("type=5"))
        .map(|p| (p.0, p.1, p.2))
        .collect();
    assert_eq!(ours, theirs);

    let (entries, errors) = probe_disks(&[disk]);
    assert!(errors.is_empty());
    let names: Vec<(&str, u64, EntryKind)> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.size, e.kind))
        .collect();
    assert_eq!(
        names,
        vec![
            ("hd0", 64 * MIB, EntryKind::Disk),
            ("hd0p1", 8 * MIB, EntryKind::Partition),
            ("hd0p2", 8 * MIB, EntryKind::Partition),
            ("hd0p5", 8 * MIB, EntryKind::Partition),
            ("hd0p6", 8 * MIB, EntryKind::Partition),
        ]
    );
    let by_name = |n: &str| entries.iter().find(|e| e.name == n).unwrap().device.clone();

    let mut vfs = Vfs::new();
    assert!(matches!(vfs.ls("/"), Err(FsError::NothingMounted)));
    assert_eq!(vfs.mount(by_name("hd0p5"), "/").unwrap(), "ext2");
    assert_eq!(vfs.ls("/boot").unwrap(), vec!["on-root.txt"]);
    assert!(matches!(
        vfs.mount(by_name("hd0p1"), "/etc-hostname"),
        Err(FsError::NotADirectory(_))
    ));
    let err = vfs.mount(by_name("hd0p2"), "/boot").unwrap_err();
    assert_eq!(
        err,
        FsError::UnknownFileSystem {
            device: "hd0p2".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "hd0p2: no ext2/3/4 or FAT file system found"
    );
    assert_eq!(vfs.mount(by_name("hd0p1"), "/bootlink/.").unwrap(), "fat12");
    assert!(
        matches!(vfs.mount(by_name("hd0p1"), "/boot"), Err(FsError::AlreadyMounted(p)) if p == "/boot")
    );
    assert_eq!(
        vfs.mounts(),
        vec![
            ("/".to_string(), "hd0p5".to_string(), "ext2"),
            ("/boot".to_string(), "hd0p1".to_string(), "fat12")
        ]
    );
    assert_eq!(vfs.ls("/boot").unwrap(), vec!["vmlinuz"]);
    assert_eq!(vfs.read("/boot/vmlinuz").unwrap(), kernel);
    // An absolute symlink on the root resolves through the mount; so does `..` out of it.
    assert_eq!(vfs.read("/kernel").unwrap(), kernel);
    assert_eq!(vfs.read("/bootlink/vmlinuz").unwrap(), kernel);
    assert_eq!(vfs.read("/boot/../etc-hostname").unwrap(), b"bootscript\n");
    assert_eq!(vfs.stat("/boot").unwrap().kind, Kind::Dir);
    // A `/`, `.` or `..` after a file (or a symlink to one) is not a directory, as in Linux; `exists` says no,
    // as it does for a symlink loop (`read` names the loop).
    for path in [
        "/etc-hostname/",
        "/etc-hostname/.",
        "/etc-hostname/..",
        "/hostlink/",
        "/hostlink/../boot",
        "/boot/vmlinuz/",
    ] {
        assert!(
            matches!(vfs.stat(path), Err(FsError::NotADirectory(_))),
            "{path}"
        );
        assert!(!vfs.exists(path).unwrap(), "{path}");
    }
    assert_eq!(vfs.read("/hostlink").unwrap(), b"bootscript\n");
    assert_eq!(vfs.ls("/bootlink/").unwrap(), vec!["vmlinuz"]);
    assert!(!vfs.exists("/loop").unwrap());
    assert!(matches!(vfs.read("/loop"), Err(FsError::SymlinkLoop(_))));
    // A kernel-sized read into the caller's buffer, size first.
    let file = vfs.open("/kernel").unwrap();
    let mut buf = vec![0u8; file.size() as usize];
    assert_eq!(file.read_at(0, &mut buf).unwrap(), kernel.len());
    assert_eq!(buf, kernel);

    assert!(matches!(vfs.umount("/"), Err(FsError::Busy(_))));
    assert!(matches!(
        vfs.umount("/etc-hostname"),
        Err(FsError::NotMounted(_))
    ));
    vfs.umount("/boot").unwrap();
    assert!(!vfs.exists("/boot/vmlinuz").unwrap());
    assert!(!vfs.exists("/kernel").unwrap());
    assert!(vfs.exists("/boot/on-root.txt").unwrap());
    vfs.umount("/").unwrap();
    assert!(matches!(vfs.exists("/"), Err(FsError::NothingMounted)));

    // A mount point need not exist below it (the contract): /boot with nothing at /, then /mnt/fat where the
    // root file system has no /mnt. The directories on the way hold the mount points only.
    assert_eq!(vfs.mount(by_name("hd0p1"), "/boot").unwrap(), "fat12");
    assert_eq!(vfs.read("/boot/vmlinuz").unwrap(), kernel);
    assert_eq!(vfs.ls("/").unwrap(), vec!["boot"]);
    assert_eq!(vfs.stat("/").unwrap().kind, Kind::Dir);
    assert!(matches!(vfs.read("/"), Err(FsError::IsADirectory(p)) if p == "/"));
    assert!(matches!(vfs.read("/etc-hostname"), Err(FsError::NotFound(p)) if p == "/etc-hostname"));
    assert!(!vfs.exists("/etc").unwrap());
    // The root mounted after: /boot is still the FAT, and the root's own entries are there.
    assert_eq!(vfs.mount(by_name("hd0p5"), "/").unwrap(), "ext2");
    assert_eq!(vfs.read("/kernel").unwrap(), kernel);
    assert_eq!(vfs.ls("/boot").unwrap(), vec!["vmlinuz"]);
    assert_eq!(
        vfs.mount(by_name("hd0p1"), "/mnt/usb/../fat").unwrap(),
        "fat12"
    );
    assert_eq!(
        vfs.ls("/").unwrap(),
        vec![
            "boot",
            "bootlink",
            "etc-hostname",
            "hostlink",
            "kernel",
            "loop",
            "lost+found",
            "mnt"
        ]
    );
    assert_eq!(vfs.ls("/mnt").unwrap(), vec!["fat"]);
    assert_eq!(vfs.stat("/mnt").unwrap().kind, Kind::Dir);
    assert_eq!(vfs.read("/mnt/fat/vmlinuz").unwrap(), kernel);
    assert_eq!(vfs.read("/mnt/../boot/vmlinuz").unwrap(), kernel);
    // Still no mount over a file, and none twice at one place.
    assert!(matches!(
        vfs.mount(by_name("hd0p1"), "/etc-hostname/x"),
        Err(FsError::NotADirectory(_))
    ));
    assert!(matches!(
        vfs.mount(by_name("hd0p1"), "/mnt/fat/"),
        Err(FsError::AlreadyMounted(p)) if p == "/mnt/fat"
    ));
    assert!(matches!(vfs.umount("/"), Err(FsError::Busy(_))));
    vfs.umount("/mnt/fat").unwrap();
    assert!(!vfs.exists("/mnt").unwrap());
    assert_eq!(vfs.ls("/").unwrap().len(), 7);
}

const GPT_SCRIPT: &str = "label: gpt\n\
    label-id: 01234567-89AB-CDEF-0123-456789ABCDEF\n\
    start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=11111111-2222-3333-4444-555555555555, name=\"EFI system\"\n\
    start=10240, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE, name=\"root ✓ système\"\n";

fn gpt_image(dir: &TempDir) -> std::path::PathBuf {
    let img = dir.path("gpt.img");
    sfdisk(&img, 32 * MIB, GPT_SCRIPT);
    img
}

fn check_gpt(disk: &dyn BlockDevice) {
    let parts = read_partitions(disk).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        (parts[0].number, parts[0].start, parts[0].sectors),
        (1, 2048, 8192)
    );
    assert_eq!(parts[0].label.as_deref(), Some("EFI system"));
    assert_eq!(
        parts[0].uuid.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(
        parts[0].type_guid.as_deref(),
        Some("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
    );
    assert_eq!(
        (parts[1].number, parts[1].start, parts[1].sectors),
        (2, 10240, 16384)
    );
    assert_eq!(parts[1].label.as_deref(), Some("root ✓ système"));
    assert_eq!(
        parts[1].uuid.as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    );
}

#[test]
fn gpt_labels_and_uuids_match_sfdisk() {
    let dir = TempDir::new("gpt");
    let img = gpt_image(&dir);
    let dump = sfdisk_dump(&img);
    assert!(dump[1].3.contains("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"));
    check_gpt(&*mem(&img));
    let (entries, errors) = probe_disks(&[mem(&img)]);
    assert!(errors.is_empty());
    assert_eq!(entries[2].name, "hd0p2");
    assert_eq!(entries[2].label.as_deref(), Some("root ✓ système"));
    assert_eq!(
        entries[2].uuid.as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    );
    assert_eq!(entries[2].kind.as_str(), "partition");
}

#[test]
fn gpt_backup_is_used_when_the_primary_is_damaged() {
    let dir = TempDir::new("gptbad");
    let img = gpt_image(&dir);
    let last = 32 * MIB / 512 - 1;
    let original = fs::read(&img).unwrap();

    // A damaged primary header.
    let mut bytes = original.clone();
    bytes[512 + 0x40] ^= 0xFF;
    check_gpt(&MemDisk::new("hd0", bytes.clone()));

    // A damaged primary entry array (its header still good).
    let mut bytes = original.clone();
    bytes[1024 + 57] ^= 0xFF;
    check_gpt(&MemDisk::new("hd0", bytes));

    // Both copies damaged: an error naming the device and the CRC.
    let mut bytes = original.clone();
    bytes[512 + 0x40] ^= 0xFF;
    bytes[(last as usize) * 512 + 0x40] ^= 0xFF;
    let err = read_partitions(&MemDisk::new("hd0", bytes.clone()))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("hd0: "), "{err}");
    assert!(err.contains("bad CRC") && err.contains("backup"), "{err}");
    // disks() still lists the disk itself and reports the error.
    let (entries, errors) = probe_disks(&[Rc::new(MemDisk::new("hd0", bytes))]);
    assert_eq!(entries.len(), 1);
    assert_eq!(errors.len(), 1);
}

/// Partitions that run to the disk's very last sector are kept, a primary one and a logical one: the bound is
/// the disk's end, not one sector before it (sfdisk's layouts in the other tests leave room at the end).
#[test]
fn mbr_partitions_that_end_at_the_last_sector_are_kept() {
    let dir = TempDir::new("mbr-end");
    for (script, last) in [
        ("label: dos\nstart=2048, type=83\n", 1),
        (
            "label: dos\nstart=2048, size=2048, type=83\nstart=4096, type=5\nstart=6144, type=83\n",
            5,
        ),
    ] {
        let img = dir.path("disk.img");
        sfdisk(&img, 8 * MIB, script);
        let theirs: Vec<(u32, u64, u64)> = sfdisk_dump(&img)
            .iter()
            .filter(|p| !p.3.contains("type=5"))
            .map(|p| (p.0, p.1, p.2))
            .collect();
        let (number, start, size) = *theirs.last().unwrap();
        assert_eq!((number, start + size), (last, 8 * MIB / 512), "{script}");
        let ours: Vec<(u32, u64, u64)> = read_partitions(&*mem(&img))
            .unwrap()
            .iter()
            .map(|p| (p.number, p.start, p.sectors))
            .collect();
        assert_eq!(ours, theirs, "{script}");
    }
}

/// Recomputes the CRC of the entry array a GPT header at `lba` names, then the header's own.
fn reseal_gpt(bytes: &mut [u8], lba: usize) {
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let header = lba * 512;
    let entries = u64::from_le_bytes(bytes[header + 72..header + 80].try_into().unwrap()) as usize;
    let array = le32(bytes, header + 80) as usize * le32(bytes, header + 84) as usize;
    let crc = bootscript_disk::crc32(&bytes[entries * 512..entries * 512 + array]);
    bytes[header + 88..header + 92].copy_from_slice(&crc.to_le_bytes());
    let size = le32(bytes, header + 12) as usize;
    bytes[header + 16..header + 20].fill(0);
    let crc = bootscript_disk::crc32(&bytes[header..header + size]);
    bytes[header + 16..header + 20].copy_from_slice(&crc.to_le_bytes());
}

/// A copy of the 32 MiB GPT image whose second entry's last sector is `end`, in the primary table and the
/// backup's, with their CRCs made good.
fn second_entry_ending_at(original: &[u8], end: u64) -> Vec<u8> {
    let last = (32 * MIB / 512) as usize - 1;
    let backup_entries = u64::from_le_bytes(
        original[last * 512 + 72..last * 512 + 80]
            .try_into()
            .unwrap(),
    ) as usize;
    let mut bytes = original.to_vec();
    for (header, entries) in [(1, 2), (last, backup_entries)] {
        let at = entries * 512 + 128 + 40;
        bytes[at..at + 8].copy_from_slice(&end.to_le_bytes());
        reseal_gpt(&mut bytes, header);
    }
    bytes
}

/// A GPT entry that ends one sector past the disk is left out (its CRCs good, in both copies), and the other
/// entries are kept; an entry size that is no multiple of 8 makes the table invalid (UEFI: 128 times a power
/// of two), though its CRCs are good.
#[test]
fn gpt_entries_past_the_end_and_odd_entry_sizes_are_refused() {
    let dir = TempDir::new("gpt-end");
    let original = fs::read(gpt_image(&dir)).unwrap();
    let sectors = 32 * MIB / 512;
    let last = sectors as usize - 1;

    // The second entry's last sector: the disk's sector count, one past its end.
    let bytes = second_entry_ending_at(&original, sectors);
    assert_eq!(spans(&bytes).unwrap(), [(1, 2048, 8192)]);

    // Entries of 132 bytes in both headers.
    let mut bytes = original.clone();
    for header in [1, last] {
        bytes[header * 512 + 84..header * 512 + 88].copy_from_slice(&132u32.to_le_bytes());
        reseal_gpt(&mut bytes, header);
    }
    let err = read_partitions(&MemDisk::new("hd0", bytes))
        .unwrap_err()
        .to_string();
    assert!(err.contains("GPT entry size 132 is invalid"), "{err}");
}

/// The logical partitions of an extended partition of each type Linux takes for one: 0x05, 0x0F (W95 extended,
/// LBA) and 0x85 (Linux extended), numbered from 5 as sfdisk lists them.
#[test]
fn logical_partitions_in_each_kind_of_extended_partition() {
    let dir = TempDir::new("ext-kinds");
    for kind in ["5", "f", "85"] {
        let img = dir.path(&format!("disk-{kind}.img"));
        sfdisk(
            &img,
            8 * MIB,
            &format!(
                "label: dos\nstart=2048, size=2048, type=83\nstart=4096, type={kind}\n\
                 start=6144, size=2048, type=83\nstart=10240, size=2048, type=c\n"
            ),
        );
        let theirs: Vec<(u32, u64, u64)> = sfdisk_dump(&img)
            .iter()
            .filter(|p| p.0 != 2)
            .map(|p| (p.0, p.1, p.2))
            .collect();
        assert_eq!(
            theirs,
            [(1, 2048, 2048), (5, 6144, 2048), (6, 10240, 2048)],
            "type {kind}"
        );
        let ours: Vec<(u32, u64, u64)> = read_partitions(&*mem(&img))
            .unwrap()
            .iter()
            .map(|p| (p.number, p.start, p.sectors))
            .collect();
        assert_eq!(ours, theirs, "type {kind}");
    }
}

/// An extended boot record whose link to the next one has a type but no start (and no size) ends the chain, as
/// one with no link at all does: Linux skips a link of no size.
#[test]
fn an_ebr_link_without_a_start_ends_the_chain() {
    let dir = TempDir::new("ebr-link");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, type=5\nstart=4096, size=2048, type=83\nstart=8192, size=2048, type=83\n",
    );
    let expected = [(5, 4096, 2048), (6, 8192, 2048)];
    let listed = |bytes: &[u8]| spans(bytes).unwrap();
    let mut bytes = fs::read(&img).unwrap();
    assert_eq!(listed(&bytes), expected);
    // The last EBR (the second logical's) has an empty link entry; give it an extended type only.
    let link_of = |ebr: usize| ebr * 512 + 446 + 16;
    let second_ebr = 2048
        + u32::from_le_bytes(
            bytes[link_of(2048) + 8..link_of(2048) + 12]
                .try_into()
                .unwrap(),
        ) as usize;
    let at = link_of(second_ebr);
    assert!(bytes[at..at + 16].iter().all(|&b| b == 0));
    bytes[at + 4] = 0x05;
    assert_eq!(listed(&bytes), expected);
}

/// A partition view reads its own sectors only: a read past its end is out of range, not the next
/// partition's data (which starts right there on the disk).
#[test]
fn a_partition_is_read_up_to_its_end_and_no_further() {
    let dir = TempDir::new("view-end");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=2048, type=83\n",
    );
    put(&img, 4095, &[0xAA; 512]);
    put(&img, 4096, &[0xBB; 512]);
    let (entries, errors) = probe_disks(&[mem(&img)]);
    assert!(errors.is_empty());
    let p1 = &entries.iter().find(|e| e.name == "hd0p1").unwrap().device;
    assert_eq!(p1.sectors(), 2048);
    let mut sector = [0u8; 512];
    p1.read(2047, &mut sector).unwrap();
    assert_eq!(sector, [0xAA; 512]);
    let mut two = [0u8; 1024];
    for (lba, buf) in [(2048, &mut sector[..]), (2047, &mut two[..])] {
        let err = p1.read(lba, buf).unwrap_err();
        assert!(
            matches!(
                err,
                bootscript_disk::DiskError::OutOfRange { sectors: 2048, .. }
            ),
            "{err}"
        );
    }
}

/// A disk of no sectors (an empty image) has no partition table: no partitions, and no error.
#[test]
fn an_empty_disk_has_no_partitions() {
    let empty: Rc<dyn BlockDevice> = Rc::new(MemDisk::new("hd0", Vec::new()));
    assert_eq!(read_partitions(&*empty).unwrap(), vec![]);
    let (entries, errors) = probe_disks(&[empty]);
    assert!(errors.is_empty());
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].name.as_str(), entries[0].size), ("hd0", 0));
}

/// The backup GPT is where the primary header says it is: on a disk grown after it was partitioned, the disk's
/// last sector is no longer it, and the backup is still found when the primary is damaged.
#[test]
fn gpt_backup_is_found_where_the_primary_says_on_a_grown_disk() {
    let dir = TempDir::new("gpt-grown");
    let mut bytes = fs::read(gpt_image(&dir)).unwrap();
    bytes.resize(bytes.len() + MIB as usize, 0);
    check_gpt(&MemDisk::new("hd0", bytes.clone()));
    // The primary header's entries CRC damaged: its header still names the backup.
    bytes[512 + 88] ^= 0xFF;
    reseal_header_only(&mut bytes, 1);
    check_gpt(&MemDisk::new("hd0", bytes));
}

/// Recomputes the CRC of the GPT header at `lba` alone.
fn reseal_header_only(bytes: &mut [u8], lba: usize) {
    let header = lba * 512;
    let size = u32::from_le_bytes(bytes[header + 12..header + 16].try_into().unwrap()) as usize;
    bytes[header + 16..header + 20].fill(0);
    let crc = bootscript_disk::crc32(&bytes[header..header + size]);
    bytes[header + 16..header + 20].copy_from_slice(&crc.to_le_bytes());
}

/// GPT limits at their bounds: a partition of one sector is kept (its first sector is its last); a header of
/// 512 bytes (as large as its sector) is valid; an entry array that ends at the disk's last sector is read.
#[test]
fn gpt_bounds_one_sector_partition_full_sector_header_array_at_the_end() {
    let dir = TempDir::new("gpt-bounds");
    let original = fs::read(gpt_image(&dir)).unwrap();
    let sectors = 32 * MIB / 512;
    let last = sectors as usize - 1;

    // The second entry's last sector set to its first, in both copies.
    let bytes = second_entry_ending_at(&original, 10240);
    assert_eq!(spans(&bytes).unwrap(), [(1, 2048, 8192), (2, 10240, 1)]);

    // Headers of 512 bytes in both copies (the bytes after the 92 used are zero).
    let mut bytes = original.clone();
    for header in [1, last] {
        assert!(bytes[header * 512 + 92..header * 512 + 512]
            .iter()
            .all(|&b| b == 0));
        bytes[header * 512 + 12..header * 512 + 16].copy_from_slice(&512u32.to_le_bytes());
        reseal_gpt(&mut bytes, header);
    }
    check_gpt(&MemDisk::new("hd0", bytes));

    // The primary's entry array moved to the disk's last 32 sectors (over the backup, which is then gone).
    let mut bytes = original.clone();
    let array = original[2 * 512..34 * 512].to_vec();
    bytes[(sectors as usize - 32) * 512..].copy_from_slice(&array);
    bytes[512 + 72..512 + 80].copy_from_slice(&(sectors - 32).to_le_bytes());
    reseal_gpt(&mut bytes, 1);
    check_gpt(&MemDisk::new("hd0", bytes));
}

/// An entry array of more than 1 MiB is refused before it is read, its CRCs good or not (a table is 16 KiB in
/// practice): a header cannot make the reader allocate what it likes.
#[test]
fn gpt_entry_array_over_1_mib_is_refused() {
    let dir = TempDir::new("gpt-huge");
    let mut bytes = fs::read(gpt_image(&dir)).unwrap();
    // 8193 entries of 128 bytes: 1 MiB and 128 bytes, on the disk from sector 2 (its CRC made good), and in
    // the backup header too.
    let last = (32 * MIB / 512) as usize - 1;
    bytes[512 + 80..512 + 84].copy_from_slice(&8193u32.to_le_bytes());
    reseal_gpt(&mut bytes, 1);
    bytes[last * 512 + 80..last * 512 + 84].copy_from_slice(&8193u32.to_le_bytes());
    reseal_header_only(&mut bytes, last);
    let err = read_partitions(&MemDisk::new("hd0", bytes))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GPT entry array of 1048704 bytes is too large"),
        "{err}"
    );
}

/// A partition marked bootable (boot flag 0x80, as `sfdisk`'s `bootable` and every installer set it) is read
/// like any other: the flag does not make the table look like something else.
#[test]
fn a_bootable_mbr_partition_is_listed() {
    let dir = TempDir::new("mbr-boot");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, size=2048, type=83, bootable\nstart=4096, size=2048, type=c\n",
    );
    let bytes = fs::read(&img).unwrap();
    assert_eq!(bytes[446], 0x80);
    let ours: Vec<(u32, u64, u64, Option<u8>)> = read_partitions(&*mem(&img))
        .unwrap()
        .iter()
        .map(|p| (p.number, p.start, p.sectors, p.mbr_type))
        .collect();
    assert_eq!(
        ours,
        [(1, 2048, 2048, Some(0x83)), (2, 4096, 2048, Some(0x0c))]
    );
}

/// A FAT file system written straight onto a disk (no partition table) whose boot code runs on to where a
/// table's entries would be, as other formatters' boot code does: its bytes are not read as partitions.
#[test]
fn a_whole_disk_fat_volume_with_long_boot_code_has_no_partitions() {
    let dir = TempDir::new("superfloppy");
    let img = dir.path("fat.img");
    fs::File::create(&img).unwrap().set_len(8 * MIB).unwrap();
    run("mkfs.fat", &[s(&img)]);
    let mut bytes = fs::read(&img).unwrap();
    // "Boot code" up to the signature whose bytes, read as table entries, make a boot flag of 0x00, a type, and
    // a start and size inside the disk.
    for slot in bytes[446..510].chunks_exact_mut(16) {
        slot.copy_from_slice(&[
            0, 0xcc, 0xcc, 0xcc, 0x0b, 0xcc, 0xcc, 0xcc, 63, 0, 0, 0, 100, 0, 0, 0,
        ]);
    }
    assert_eq!(&bytes[510..512], &[0x55, 0xAA]);
    let disk = MemDisk::new("hd0", bytes);
    assert_eq!(read_partitions(&disk).unwrap(), vec![]);
}

/// MBR slots and logical entries with a type but no size are empty, as Linux reads them: they are not listed
/// (and the numbers of the others do not move).
#[test]
fn mbr_entries_of_no_size_are_not_partitions() {
    let dir = TempDir::new("mbr-zero");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, size=2048, type=83\nstart=4096, type=5\nstart=6144, size=2048, type=83\n",
    );
    let mut bytes = fs::read(&img).unwrap();
    // Slot 3 (primary, number 3): a type, a start, no size.
    let slot3 = 446 + 2 * 16;
    bytes[slot3 + 4] = 0x83;
    bytes[slot3 + 8..slot3 + 12].copy_from_slice(&3000u32.to_le_bytes());
    let listed = |bytes: &[u8]| spans(bytes).unwrap();
    assert_eq!(listed(&bytes), [(1, 2048, 2048), (5, 6144, 2048)]);
    // The logical's own entry in its EBR (at the extended partition's start) emptied of its size.
    let ebr_data = 4096 * 512 + 446;
    bytes[ebr_data + 12..ebr_data + 16].fill(0);
    assert_eq!(listed(&bytes), [(1, 2048, 2048)]);
}

/// An EBR's second entry links to the next EBR only when it has a type: a link entry of type 0 ends the chain
/// even with a start in it. A linked sector without the 0x55AA signature is no EBR: an error, not partitions
/// read from whatever is there.
#[test]
fn the_ebr_chain_needs_typed_links_and_signed_records() {
    let dir = TempDir::new("ebr-chain");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, type=5\nstart=4096, size=2048, type=83\nstart=8192, size=2048, type=83\n",
    );
    let original = fs::read(&img).unwrap();
    let listed = spans;
    assert_eq!(
        listed(&original).unwrap(),
        [(5, 4096, 2048), (6, 8192, 2048)]
    );
    let link = 2048 * 512 + 446 + 16;
    let second_ebr =
        2048 + u32::from_le_bytes(original[link + 8..link + 12].try_into().unwrap()) as usize;

    let mut untyped = original.clone();
    untyped[link + 4] = 0;
    assert_eq!(listed(&untyped).unwrap(), [(5, 4096, 2048)]);

    let mut unsigned = original.clone();
    unsigned[second_ebr * 512 + 510..second_ebr * 512 + 512].fill(0);
    let err = listed(&unsigned).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("hd0: MBR: extended boot record at sector {second_ebr} has no signature")
    );
}

/// Many logical partitions (more than any small bound), numbered from 5 in chain order as sfdisk lists them.
#[test]
fn a_long_chain_of_logical_partitions_is_read_whole() {
    let dir = TempDir::new("mbr-many");
    let img = dir.path("disk.img");
    let mut script = String::from("label: dos\nstart=2048, type=5\n");
    for i in 0..12u64 {
        script.push_str(&format!("start={}, size=2048, type=83\n", 4096 + i * 4096));
    }
    sfdisk(&img, 32 * MIB, &script);
    let theirs: Vec<(u32, u64, u64)> = sfdisk_dump(&img)
        .iter()
        .filter(|p| p.0 != 1)
        .map(|p| (p.0, p.1, p.2))
        .collect();
    assert_eq!(theirs.len(), 12);
    assert_eq!(theirs[11].0, 16);
    let ours: Vec<(u32, u64, u64)> = read_partitions(&*mem(&img))
        .unwrap()
        .iter()
        .map(|p| (p.number, p.start, p.sectors))
        .collect();
    assert_eq!(ours, theirs);
}

/// GPT header and entry sizes as UEFI bounds them: a header of fewer than 92 bytes, or entries of fewer than
/// 128, make the table invalid (CRCs good, both copies); an entry array of exactly 1 MiB (8192 entries) is
/// still read.
#[test]
fn gpt_sizes_below_the_minimums_are_refused_and_1_mib_arrays_read() {
    let dir = TempDir::new("gpt-sizes");
    let original = fs::read(gpt_image(&dir)).unwrap();
    let last = (32 * MIB / 512) as usize - 1;
    let with = |offset: usize, value: u32| {
        let mut bytes = original.clone();
        for header in [1, last] {
            bytes[header * 512 + offset..header * 512 + offset + 4]
                .copy_from_slice(&value.to_le_bytes());
            reseal_gpt(&mut bytes, header);
        }
        read_partitions(&MemDisk::new("hd0", bytes))
    };
    let err = with(12, 88).unwrap_err().to_string();
    assert!(
        err.contains("GPT header at sector 1 has a bad size 88"),
        "{err}"
    );
    let err = with(84, 64).unwrap_err().to_string();
    assert!(err.contains("GPT entry size 64 is invalid"), "{err}");
    // 8192 entries in the primary header, the array from sector 2 over 2048 sectors (zeros after the two
    // entries); the backup damaged, so that the primary alone is read.
    let mut bytes = original.clone();
    bytes[512 + 80..512 + 84].copy_from_slice(&8192u32.to_le_bytes());
    reseal_gpt(&mut bytes, 1);
    bytes[last * 512 + 0x40] ^= 0xFF;
    assert_eq!(spans(&bytes).unwrap(), [(1, 2048, 8192), (2, 10240, 16384)]);
}

/// A GPT of 5 entries (sfdisk's table-length), 640 bytes: the CRC covers those bytes, not the rest of the
/// array's last sector.
#[test]
fn a_gpt_whose_array_does_not_fill_its_sectors_is_read() {
    let dir = TempDir::new("gpt-short");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: gpt\ntable-length: 5\nstart=2048, size=2048, type=L, name=\"five\"\n",
    );
    let bytes = fs::read(&img).unwrap();
    assert_eq!(&bytes[512 + 80..512 + 84], &5u32.to_le_bytes());
    let theirs: Vec<(u32, u64, u64)> = sfdisk_dump(&img).iter().map(|p| (p.0, p.1, p.2)).collect();
    let parts = read_partitions(&*mem(&img)).unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|p| (p.number, p.start, p.sectors))
            .collect::<Vec<_>>(),
        theirs
    );
    assert_eq!(parts[0].label.as_deref(), Some("five"));
}

/// GPT entries that describe no partition are skipped, in both copies' terms: one whose partition type GUID is
/// zero is unused (UEFI), whatever its unique GUID says; one whose last sector lies before its first is empty.
#[test]
fn unused_and_backwards_gpt_entries_are_skipped() {
    let dir = TempDir::new("gpt-unused");
    let original = fs::read(gpt_image(&dir)).unwrap();
    let listed = |bytes: Vec<u8>| {
        read_partitions(&MemDisk::new("hd0", bytes))
            .unwrap()
            .iter()
            .map(|p| (p.number, p.start, p.sectors))
            .collect::<Vec<_>>()
    };
    let backwards = second_entry_ending_at(&original, 10239);
    assert_eq!(listed(backwards), [(1, 2048, 8192)]);

    let last = (32 * MIB / 512) as usize - 1;
    let backup_entries = u64::from_le_bytes(
        original[last * 512 + 72..last * 512 + 80]
            .try_into()
            .unwrap(),
    ) as usize;
    let mut untyped = original.clone();
    for (header, entries) in [(1, 2), (last, backup_entries)] {
        let at = entries * 512 + 128;
        assert!(untyped[at + 16..at + 32].iter().any(|&b| b != 0));
        untyped[at..at + 16].fill(0);
        reseal_gpt(&mut untyped, header);
    }
    assert_eq!(listed(untyped), [(1, 2048, 8192)]);
}

/// A primary GPT whose entries are damaged and whose header names no usable backup (its alternate LBA 1, its
/// own): the backup is looked for at the disk's last sector, where it is.
#[test]
fn a_primary_naming_itself_as_backup_falls_back_to_the_last_sector() {
    let dir = TempDir::new("gpt-alt");
    let mut bytes = fs::read(gpt_image(&dir)).unwrap();
    bytes[1024 + 57] ^= 0xFF;
    bytes[512 + 32..512 + 40].copy_from_slice(&1u64.to_le_bytes());
    reseal_header_only(&mut bytes, 1);
    check_gpt(&MemDisk::new("hd0", bytes));
}

/// An EBR whose first entry has an extended type holds no logical partition (Linux skips extended entries
/// there, and they take no number): the next logical is numbered 5.
#[test]
fn an_extended_entry_in_an_ebr_is_no_logical_partition() {
    let dir = TempDir::new("ebr-ext");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        8 * MIB,
        "label: dos\nstart=2048, type=5\nstart=4096, size=2048, type=83\nstart=8192, size=2048, type=83\n",
    );
    let mut bytes = fs::read(&img).unwrap();
    assert_eq!(bytes[2048 * 512 + 446 + 4], 0x83);
    bytes[2048 * 512 + 446 + 4] = 0x05;
    assert_eq!(spans(&bytes).unwrap(), [(5, 8192, 2048)]);
}

/// A table with two extended partitions (sfdisk makes one; the second is added by hand, as some tools make
/// them): both chains are read, in the order of their slots, and the logical partitions numbered on from 5
/// across them, as Linux numbers them (block/partitions/msdos.c calls parse_extended for each extended slot, with
/// one counter).
#[test]
fn every_extended_partition_is_read_and_its_logicals_numbered_on() {
    let dir = TempDir::new("mbr-two-extended");
    let img = dir.path("disk.img");
    sfdisk(
        &img,
        16 * MIB,
        "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=8192, type=5\nstart=6144, size=2048, type=83\n",
    );
    let mut bytes = fs::read(&img).unwrap();
    // Slot 3: a second extended partition at sector 16384, of 8192 sectors; its EBR holds one logical partition
    // 2048 sectors in, and no link.
    let slot3 = 446 + 2 * 16;
    bytes[slot3 + 4] = 0x0f;
    bytes[slot3 + 8..slot3 + 12].copy_from_slice(&16384u32.to_le_bytes());
    bytes[slot3 + 12..slot3 + 16].copy_from_slice(&8192u32.to_le_bytes());
    let ebr = 16384 * 512;
    bytes[ebr + 446 + 4] = 0x83;
    bytes[ebr + 446 + 8..ebr + 446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    bytes[ebr + 446 + 12..ebr + 446 + 16].copy_from_slice(&1024u32.to_le_bytes());
    bytes[ebr + 510] = 0x55;
    bytes[ebr + 511] = 0xAA;
    assert_eq!(
        spans(&bytes).unwrap(),
        [(1, 2048, 2048), (5, 6144, 2048), (6, 18432, 1024)]
    );
}

/// A disk of 4096-byte logical blocks ("4Kn") holding `bytes`: reads count 512-byte sectors as every device's do.
struct Disk4k(MemDisk);

impl BlockDevice for Disk4k {
    fn sectors(&self) -> u64 {
        self.0.sectors()
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), bootscript_disk::DiskError> {
        self.0.read(lba, buf)
    }
    fn block_size(&self) -> u32 {
        4096
    }
    fn name(&self) -> &str {
        self.0.name()
    }
}

/// Makes `img` a zeroed file of `bytes` and partitions it as a disk of 4096-byte sectors with fdisk, whose
/// commands `commands` are (sfdisk 2.38 has no sector size option). Gives `(number, start, sectors)` of each
/// partition as `fdisk -l` lists them, in 4096-byte sectors.
fn fdisk_4k(img: &Path, bytes: u64, commands: &str) -> Vec<(u32, u64, u64)> {
    fs::File::create(img).unwrap().set_len(bytes).unwrap();
    let mut child = Command::new("fdisk")
        .args(["-b", "4096", s(img)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("fdisk (is util-linux's fdisk package installed?)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "fdisk failed");
    let list = run(
        "fdisk",
        &["-b", "4096", "-l", "-o", "Device,Start,Sectors", s(img)],
    );
    list.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let number = fields.next()?.strip_prefix(s(img))?.parse().ok()?;
            let mut next = || fields.next().unwrap().parse::<u64>().unwrap();
            Some((number, next(), next()))
        })
        .collect()
}

#[test]
fn a_disk_of_4096_byte_blocks_has_its_tables_counted_in_them() {
    let dir = TempDir::new("4kn");
    // GPT: ext2 of 4 KiB blocks, then FAT of 4096-byte sectors.
    let img = dir.path("gpt4k.img");
    let listed = fdisk_4k(&img, 64 * MIB, "g\nn\n1\n\n+20M\nn\n2\n\n\nw\n");
    assert_eq!(listed.len(), 2);
    let root = dir.path("root");
    fs::create_dir_all(&root).unwrap();
    let kernel = noise(2 * MIB as usize + 4099, 7);
    fs::write(root.join("vmlinuz"), &kernel).unwrap();
    let ext = dir.path("ext.img");
    fs::File::create(&ext).unwrap().set_len(20 * MIB).unwrap();
    run(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext2",
            "-b",
            "4096",
            "-d",
            s(&root),
            s(&ext),
        ],
    );
    put(&img, listed[0].1 * 8, &fs::read(&ext).unwrap());
    let fat = dir.path("fat.img");
    run("mkfs.fat", &["-S", "4096", "-C", s(&fat), "16384"]);
    run("mcopy", &["-i", s(&fat), s(&root.join("vmlinuz")), "::/"]);
    put(&img, listed[1].1 * 8, &fs::read(&fat).unwrap());

    // An image file says nothing of its sectors: one whose GPT header is at byte 4096 is of a 4Kn disk.
    let file = ImageFile::with_name(s(&img), "hd0").unwrap();
    assert_eq!(file.block_size(), 4096);
    assert_eq!(
        ImageFile::open(s(&gpt_image(&dir))).unwrap().block_size(),
        512
    );
    let disk: Rc<dyn BlockDevice> = Rc::new(file);
    let found: Vec<(u32, u64, u64)> = read_partitions(&*disk)
        .unwrap()
        .iter()
        .map(|p| (p.number, p.start, p.sectors))
        .collect();
    let in_sectors: Vec<(u32, u64, u64)> = listed
        .iter()
        .map(|&(n, start, len)| (n, start * 8, len * 8))
        .collect();
    assert_eq!(found, in_sectors);
    let (entries, errors) = probe_disks(std::slice::from_ref(&disk));
    assert!(errors.is_empty());
    let by_name = |n: &str| entries.iter().find(|e| e.name == n).unwrap().device.clone();
    assert_eq!(by_name("hd0p1").size(), listed[0].2 * 4096);
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(by_name("hd0p1"), "/").unwrap(), "ext2");
    assert_eq!(vfs.mount(by_name("hd0p2"), "/boot").unwrap(), "fat12");
    check_file(&vfs, "/vmlinuz", &kernel);
    check_file(&vfs, "/boot/vmlinuz", &kernel);
    // The same bytes read as a disk of 512-byte sectors find no GPT header at sector 1, nor a backup.
    assert!(read_partitions(&MemDisk::new("hd0", fs::read(&img).unwrap())).is_err());

    // The backup header, in the last 4096-byte block, when the primary is damaged.
    let mut bytes = fs::read(&img).unwrap();
    bytes[4096 + 16] ^= 1;
    let disk4k = Disk4k(MemDisk::new("hd0", bytes));
    let backup: Vec<(u32, u64, u64)> = read_partitions(&disk4k)
        .unwrap()
        .iter()
        .map(|p| (p.number, p.start, p.sectors))
        .collect();
    assert_eq!(backup, in_sectors);

    // MBR, with a logical partition: its EBR's offsets count 4096-byte sectors too.
    let img = dir.path("mbr4k.img");
    let listed = fdisk_4k(
        &img,
        64 * MIB,
        "o\nn\np\n1\n\n+8M\nn\ne\n2\n\n\nn\n\n+8M\nn\n\n+8M\nw\n",
    );
    assert_eq!(
        listed.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![1, 2, 5, 6]
    );
    put(
        &img,
        listed[2].1 * 8,
        &fs::read(&ext).unwrap()[..8 * MIB as usize],
    );
    let found: Vec<(u32, u64, u64)> =
        read_partitions(&Disk4k(MemDisk::new("hd0", fs::read(&img).unwrap())))
            .unwrap()
            .iter()
            .map(|p| (p.number, p.start, p.sectors))
            .collect();
    let expected: Vec<(u32, u64, u64)> = listed
        .iter()
        .filter(|p| p.0 != 2)
        .map(|&(n, start, len)| (n, start * 8, len * 8))
        .collect();
    assert_eq!(found, expected);
}
