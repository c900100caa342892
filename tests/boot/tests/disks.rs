//! Boot tests of disks and files (issue 4): the payload, booted by GRUB in QEMU (`-machine pc`, and `q35` for its
//! AHCI controller), reads IDE and SATA disks made at test time by the real tools (sfdisk MBR with a logical
//! partition and GPT, mke2fs -d ext2/ext4, mkfs.fat + mcopy) on both channels, master and slave. The script lists
//! `disks()`, mounts partitions inside each other, lists directories and prints sha256 of files; the test compares
//! each line with what the host computes from sfdisk's own dump and `sha256sum` of the source files. Missing
//! devices and unreadable file systems must give clear script errors, caught by `try` or ending at the rescue
//! shell, never a crash.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bootscript_boot_tests::{noise, run, Boot, Vm};

const BOOT: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(30);

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bootscript-disks-{what}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// An empty (sparse) file of `mib` MiB.
fn blank(path: &Path, mib: u64) {
    let file = std::fs::File::create(path).unwrap();
    file.set_len(mib << 20).unwrap();
}

/// `sha256sum FILE` on the host.
fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

/// Partitions `disk` with an sfdisk script.
fn sfdisk(disk: &Path, script: &str) {
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sfdisk: {e} (run `make setup`)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "sfdisk failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One partition as sfdisk dumps it.
struct Part {
    number: u32,
    start: u64,
    sectors: u64,
    kind: String,
    uuid: Option<String>,
    label: Option<String>,
}

/// The partitions of `disk` according to `sfdisk --dump`, extended containers included.
fn partitions(disk: &Path) -> Vec<Part> {
    let dump = run(Command::new("sfdisk").arg("--dump").arg(disk));
    let prefix = disk.display().to_string();
    dump.lines()
        .filter_map(|line| {
            let (device, fields) = line.split_once(" : ")?;
            let number = device.strip_prefix(&prefix)?.parse().ok()?;
            let mut part = Part {
                number,
                start: 0,
                sectors: 0,
                kind: String::new(),
                uuid: None,
                label: None,
            };
            for field in fields.split(", ") {
                let (key, value) = field.split_once('=').unwrap();
                let value = value.trim();
                match key.trim() {
                    "start" => part.start = value.parse().unwrap(),
                    "size" => part.sectors = value.parse().unwrap(),
                    "type" => part.kind = value.to_lowercase(),
                    "uuid" => part.uuid = Some(value.to_lowercase()),
                    "name" => part.label = Some(value.trim_matches('"').to_string()),
                    _ => {}
                }
            }
            Some(part)
        })
        .collect()
}

/// Writes a file system image into `disk` at partition `number`, checking that it fits.
fn place(disk: &Path, number: u32, image: &Path) {
    let part = partitions(disk)
        .into_iter()
        .find(|p| p.number == number)
        .unwrap_or_else(|| panic!("{} has no partition {number}", disk.display()));
    let bytes = std::fs::read(image).unwrap();
    assert!(bytes.len() as u64 <= part.sectors * 512, "image too large");
    let file = OpenOptions::new().write(true).open(disk).unwrap();
    file.write_all_at(&bytes, part.start * 512).unwrap();
}

/// The `disks()` lines the payload must print for `disk` named `name`: the disk, then (when `partitioned`)
/// each partition that is not an extended container, as the script's `print("disk:", d)` shows it.
fn expected_disks(name: &str, disk: &Path, partitioned: bool) -> Vec<String> {
    let size = std::fs::metadata(disk).unwrap().len();
    let mut lines = vec![format!(
        "disk: {{name: \"{name}\", size: {size}, kind: \"disk\"}}"
    )];
    let parts = if partitioned {
        partitions(disk)
    } else {
        Vec::new()
    };
    for p in parts {
        if matches!(p.kind.as_str(), "5" | "f" | "85") {
            continue;
        }
        let mut line = format!(
            "disk: {{name: \"{name}p{}\", size: {}, kind: \"partition\"",
            p.number,
            p.sectors * 512
        );
        if let Some(label) = &p.label {
            line.push_str(&format!(", label: \"{label}\""));
        }
        if let Some(uuid) = &p.uuid {
            line.push_str(&format!(", uuid: \"{uuid}\""));
        }
        line.push('}');
        lines.push(line);
    }
    lines
}

fn mke2fs(image: &Path, mib: u64, kind: &str, extra: &[&str], root: &Path) {
    blank(image, mib);
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", kind])
        .args(extra)
        .arg("-d")
        .arg(root)
        .arg(image));
}

fn mkfs_fat(image: &Path, mib: u64, bits: &str) {
    blank(image, mib);
    // One sector per cluster, so that small volumes still have enough clusters for FAT16 and FAT32.
    run(Command::new("mkfs.fat")
        .args(["-F", bits, "-s", "1"])
        .arg(image));
}

/// `mcopy -i IMAGE SOURCE ::TARGET` (with `mmd` for the directories on the way).
fn mcopy(image: &Path, source: &Path, target: &str) {
    let mut dir = String::new();
    let parts: Vec<&str> = target.split('/').filter(|s| !s.is_empty()).collect();
    for part in &parts[..parts.len() - 1] {
        dir.push('/');
        dir.push_str(part);
        let _ = Command::new("mmd")
            .arg("-i")
            .arg(image)
            .arg(format!("::{dir}"))
            .output();
    }
    run(Command::new("mcopy")
        .arg("-i")
        .arg(image)
        .arg(source)
        .arg(format!("::{target}")));
}

fn mmd(image: &Path, dir: &str) {
    run(Command::new("mmd")
        .arg("-i")
        .arg(image)
        .arg(format!("::{dir}")));
}

/// Waits for the lines starting with `prefix` that come before `end`.
fn collect(vm: &mut Vm, prefix: &str, end: &str) -> Vec<String> {
    vm.lines_until(end, STEP)
        .into_iter()
        .map(|l| l.text)
        .filter(|t| t.starts_with(prefix))
        .collect()
}

fn assert_clean(vm: &Vm) {
    let transcript = vm.transcript();
    for bad in ["exception", "panic", "PANIC"] {
        assert!(!transcript.contains(bad), "{bad} in:\n{transcript}");
    }
}

/// Three disks (primary master and slave, secondary master; the GRUB CD moved to the secondary slave): MBR
/// with a logical partition, GPT, and a FAT32 volume without a partition table.
#[test]
fn partitions_and_nested_mounts_on_both_channels() {
    let s = Scratch::new("both");

    // hd0: MBR; p1 ext2 with 1 KiB blocks, p2 extended holding the logical p5, FAT16.
    let root = s.path("ext2-root");
    let big = noise(5 << 20, 1); // several MiB, read through many 256-sector commands
    write(&root.join("big.bin"), &big);
    write(&root.join("etc/motd"), b"welcome to the ext2 partition\n");
    write(
        &root.join("deep/a/b/c/d/leaf.txt"),
        b"at the bottom of the tree\n",
    );
    for i in 0..40 {
        write(
            &root.join(format!("many/file-{i:03}.txt")),
            format!("{i}\n").as_bytes(),
        );
    }
    std::fs::create_dir_all(root.join("fat")).unwrap();
    std::fs::create_dir_all(root.join("whole")).unwrap();
    let ext2 = s.path("ext2.img");
    mke2fs(&ext2, 12, "ext2", &["-b", "1024"], &root);
    let fat16_file = s.path("long name source.txt");
    write(&fat16_file, &noise(70_000, 2));
    let fat16 = s.path("fat16.img");
    mkfs_fat(&fat16, 6, "16");
    mcopy(&fat16, &fat16_file, "/Long File Name.txt");
    mmd(&fat16, "/gpt");
    let hd0 = s.path("hd0.img");
    blank(&hd0, 24);
    sfdisk(
        &hd0,
        "label: dos\nsize=13MiB, type=83\ntype=5\nsize=7MiB, type=6\n",
    );
    place(&hd0, 1, &ext2);
    place(&hd0, 5, &fat16);

    // hd1: GPT; p1 ext4 (extents, 64bit, metadata_csum) labelled "rootfs", p2 FAT12.
    let root4 = s.path("ext4-root");
    let kernelish = noise(1_500_000, 3);
    write(&root4.join("boot/vmlinuz-test"), &kernelish);
    write(&root4.join("boot/config"), b"quiet splash\n");
    let ext4 = s.path("ext4.img");
    mke2fs(
        &ext4,
        8,
        "ext4",
        &["-O", "extents,64bit,metadata_csum"],
        &root4,
    );
    let fat12_file = s.path("readme.txt");
    write(&fat12_file, b"FAT12 inside GPT\n");
    let fat12 = s.path("fat12.img");
    mkfs_fat(&fat12, 2, "12");
    mcopy(&fat12, &fat12_file, "/docs/readme.txt");
    let hd1 = s.path("hd1.img");
    blank(&hd1, 14);
    sfdisk(
        &hd1,
        "label: gpt\n\
         size=9MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"rootfs\", \
         uuid=3F2504E0-4F89-41D3-9A0C-0305E82C3301\n\
         size=3MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"data two\"\n",
    );
    place(&hd1, 1, &ext4);
    place(&hd1, 2, &fat12);

    // hd2: FAT32 on the whole disk (a boot sector, not a partition table).
    let fat32_file = s.path("whole.bin");
    write(&fat32_file, &noise(300_000, 4));
    let hd2 = s.path("hd2.img");
    mkfs_fat(&hd2, 40, "32");
    mcopy(&hd2, &fat32_file, "/Some Directory/whole disk file.bin");

    let script = r#"
for d in disks() { print("disk:", d) }
print("disks: end")
mount("hd0p1", "/")
mount("hd0p5", "/fat")
mount("hd1p1", "/fat/gpt")
mount("hd1p2", "/deep/a")
mount("hd2", "/whole")
print("ls /:", ls("/"))
print("ls many:", len(ls("/many")), ls("/many")[0], ls("/many")[39])
print("ls gpt boot:", ls("/fat/gpt/boot"))
print("ls masked:", ls("/deep/a"))
print("stat:", stat("/big.bin"))
for p in ["/big.bin", "/etc/motd", "/fat/Long File Name.txt", "/fat/gpt/boot/vmlinuz-test", "/fat/gpt/boot/config", "/deep/a/docs/readme.txt", "/whole/Some Directory/whole disk file.bin"] {
    print("sha256:", p, hex(sha256(read(p))))
}
print("exists:", exists("/deep/a/b"), exists("/fat/gpt/boot/../boot/config"))
umount("/deep/a")
print("unmasked:", hex(read("/deep/a/b/c/d/leaf.txt")))
print("script: done")
"#;
    let mut vm = Boot::new()
        .cd_at(3)
        .disk_at(0, &hd0)
        .disk_at(1, &hd1)
        .disk_at(2, &hd2)
        .module("disks.bs", script)
        .start();
    vm.expect_line("bootscript: ata primary master: hd0 QEMU HARDDISK", BOOT);
    vm.expect_line("bootscript: ata primary slave: hd1 QEMU HARDDISK", STEP);
    vm.expect_line("bootscript: ata secondary master: hd2 QEMU HARDDISK", STEP);
    vm.expect_line("bootscript: ata secondary slave: ATAPI", STEP);

    let mut expected = expected_disks("hd0", &hd0, true);
    expected.extend(expected_disks("hd1", &hd1, true));
    expected.extend(expected_disks("hd2", &hd2, false));
    // The host's view: hd0p1, hd0p5 (no p2 container), two GPT partitions, a whole-disk FAT32.
    assert_eq!(expected.len(), 3 + 3 + 1, "{expected:#?}");
    let listed = collect(&mut vm, "disk: ", "disks: end");
    assert_eq!(listed, expected);

    vm.expect_line(
        r#"ls /: ["big.bin", "deep", "etc", "fat", "lost+found", "many", "whole"]"#,
        STEP,
    );
    vm.expect_line(r#"ls many: 40 file-000.txt file-039.txt"#, STEP);
    vm.expect_line(r#"ls gpt boot: ["config", "vmlinuz-test"]"#, STEP);
    vm.expect_line(r#"ls masked: ["docs"]"#, STEP);
    vm.expect_line(
        &format!("stat: {{size: {}, kind: \"file\"}}", big.len()),
        STEP,
    );
    let sources = [
        ("/big.bin", root.join("big.bin")),
        ("/etc/motd", root.join("etc/motd")),
        ("/fat/Long File Name.txt", fat16_file.clone()),
        (
            "/fat/gpt/boot/vmlinuz-test",
            root4.join("boot/vmlinuz-test"),
        ),
        ("/fat/gpt/boot/config", root4.join("boot/config")),
        ("/deep/a/docs/readme.txt", fat12_file.clone()),
        (
            "/whole/Some Directory/whole disk file.bin",
            fat32_file.clone(),
        ),
    ];
    let hashes = collect(&mut vm, "sha256: ", "exists:");
    let want: Vec<String> = sources
        .iter()
        .map(|(path, source)| format!("sha256: {path} {}", sha256(source)))
        .collect();
    assert_eq!(hashes, want);
    assert!(
        vm.transcript().contains("exists: false true"),
        "{}",
        vm.transcript()
    );
    let leaf: String = b"at the bottom of the tree\n"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vm.expect_line(&format!("unmasked: {leaf}"), STEP);
    vm.expect_line("script: done", STEP);
    assert_clean(&vm);
}

/// Errors: a missing device, a partition without a file system, an ext2 with a broken superblock and a
/// missing file are caught by `try`; the last, uncaught, ends at the rescue shell, which still works. The disks
/// sit on the primary master and the secondary slave, around the GRUB CD (secondary master).
#[test]
fn missing_devices_and_unreadable_file_systems_are_script_errors() {
    let s = Scratch::new("errors");
    let root = s.path("root");
    write(&root.join("hello.txt"), b"hello from the secondary slave\n");
    let hd1 = s.path("hd1.img");
    mke2fs(&hd1, 4, "ext2", &[], &root);

    let ext2 = s.path("broken.img");
    mke2fs(&ext2, 4, "ext2", &[], &root);
    // s_log_block_size = 30: a block size of 2^40 bytes.
    let file = OpenOptions::new().write(true).open(&ext2).unwrap();
    file.write_all_at(&30u32.to_le_bytes(), 1024 + 24).unwrap();
    drop(file);
    let hd0 = s.path("hd0.img");
    blank(&hd0, 12);
    sfdisk(&hd0, "label: dos\nsize=3MiB, type=83\nsize=5MiB, type=83\n");
    // p1 holds noise (no file system); p2 the broken ext2.
    let part1 = s.path("noise.img");
    write(&part1, &noise(3 << 20, 9));
    place(&hd0, 1, &part1);
    place(&hd0, 2, &ext2);

    let script = r#"
for d in disks() { print("disk:", d) }
print("disks: end")
try { mount("hd7", "/") } catch e { print("caught 1:", e) }
try { mount("hd0p1", "/") } catch e { print("caught 2:", e) }
try { mount("hd0p2", "/") } catch e { print("caught 3:", e) }
try { read("/hello.txt") } catch e { print("caught 4:", e) }
mount("hd1", "/")
print("sha256:", hex(sha256(read("/hello.txt"))))
try { read("/nope.txt") } catch e { print("caught 5:", e) }
mount("hd0p2", "/lost+found")
print("not reached")
"#;
    let mut vm = Boot::new()
        .disk_at(0, &hd0)
        .disk_at(3, &hd1)
        .module("errors.bs", script)
        .start();
    vm.expect_line("bootscript: ata primary master: hd0 QEMU HARDDISK", BOOT);
    vm.expect_line("bootscript: ata primary slave: no drive", STEP);
    vm.expect_line("bootscript: ata secondary master: ATAPI", STEP);
    vm.expect_line("bootscript: ata secondary slave: hd1 QEMU HARDDISK", STEP);
    let mut expected = expected_disks("hd0", &hd0, true);
    expected.extend(expected_disks("hd1", &hd1, false));
    assert_eq!(expected.len(), 4, "{expected:#?}");
    assert_eq!(collect(&mut vm, "disk: ", "disks: end"), expected);

    let caught = vm.expect_line("caught 1:", STEP).text;
    assert!(caught.contains("no device named 'hd7'"), "{caught}");
    let caught = vm.expect_line("caught 2:", STEP).text;
    assert!(
        caught.contains("hd0p1: no ext2/3/4 or FAT file system found"),
        "{caught}"
    );
    let caught = vm.expect_line("caught 3:", STEP).text;
    assert!(caught.contains("hd0p2: "), "{caught}");
    assert!(caught.contains("block size"), "{caught}");
    let caught = vm.expect_line("caught 4:", STEP).text;
    assert!(caught.contains("nothing is mounted"), "{caught}");
    vm.expect_line(
        &format!("sha256: {}", sha256(&root.join("hello.txt"))),
        STEP,
    );
    let caught = vm.expect_line("caught 5:", STEP).text;
    assert!(
        caught.contains("/nope.txt: no such file or directory"),
        "{caught}"
    );
    vm.expect_line("block size", STEP);
    vm.expect_line("bootscript: phase=rescue", STEP);
    vm.send("print(ls(\"/\"))\r");
    vm.expect_line(r#"["hello.txt", "lost+found"]"#, STEP);
    assert!(!vm.transcript().contains("not reached"));
    assert_clean(&vm);
}

/// A 200 GiB disk (sparse) with its partition past 128 GiB: only LBA48 commands, with the high address
/// bytes set, reach it.
#[test]
fn partition_past_the_lba28_limit_reads_through_lba48() {
    let s = Scratch::new("lba48");
    let root = s.path("root");
    let payload = noise(1_200_000, 5);
    write(&root.join("far/away.bin"), &payload);
    let ext2 = s.path("ext2.img");
    mke2fs(&ext2, 8, "ext2", &[], &root);
    let hd0 = s.path("hd0.img");
    blank(&hd0, 200 << 10);
    // Sector 300 Mi (150 GiB) is past 2^28 sectors (128 GiB).
    sfdisk(
        &hd0,
        "label: gpt\nstart=314572800, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"far\"\n",
    );
    let part = partitions(&hd0);
    assert!(part[0].start > 1 << 28, "the partition must lie past LBA28");
    place(&hd0, 1, &ext2);
    let script = r#"
for d in disks() { print("disk:", d) }
print("disks: end")
mount("hd0p1", "/")
print("sha256:", hex(sha256(read("/far/away.bin"))))
"#;
    let mut vm = Boot::new()
        .disk_at(0, &hd0)
        .module("far.bs", script)
        .start();
    vm.expect_line(
        &format!(
            "bootscript: ata primary master: hd0 QEMU HARDDISK ({} sectors)",
            (200u64 << 30) / 512
        ),
        BOOT,
    );
    assert_eq!(
        collect(&mut vm, "disk: ", "disks: end"),
        expected_disks("hd0", &hd0, true)
    );
    vm.expect_line(
        &format!("sha256: {}", sha256(&root.join("far/away.bin"))),
        STEP,
    );
    assert_clean(&vm);
}

/// A disk that fails a read (QEMU's blkdebug injects EIO into one sector of a file): the script gets an error
/// naming the partition, the disk and the command's first sector, and the disk keeps answering afterwards.
#[test]
fn a_failing_sector_is_a_script_error_and_the_disk_keeps_working() {
    failing_sector(
        &["-machine", "pc"],
        "if=ide,index=0",
        256,
        "command aborted",
    );
}

/// The same behind AHCI (q35): the failed command's port is stopped and started again, and reads on.
#[test]
fn a_failing_sector_behind_ahci_is_a_script_error_and_the_disk_keeps_working() {
    failing_sector(
        &["-machine", "q35"],
        "if=ide,index=0",
        8192,
        "command aborted",
    );
}

/// The same on NVMe: the controller reports a media error for the command (QEMU's controller moves at most 512 KiB
/// per command), and the next command reads.
#[test]
fn a_failing_sector_on_nvme_is_a_script_error_and_the_disk_keeps_working() {
    failing_sector(
        &["-device", "nvme,drive=flash,serial=bootscript,addr=5"],
        "if=none,id=flash",
        1024,
        "unrecovered read error (status 0x281)",
    );
}

/// A disk (`drive` the rest of its `-drive` option, `machine` the QEMU options that place it) whose sector under
/// block 1000 of a file fails: reading the file is an error naming the first sector of the failed command (of at
/// most `per_command` sectors) and saying `what`, and another file still reads.
fn failing_sector(machine: &[&str], drive: &str, per_command: u64, what: &str) {
    let s = Scratch::new("eio");
    let root = s.path("root");
    write(&root.join("victim.bin"), &noise(2 << 20, 6));
    write(&root.join("fine.txt"), b"still readable\n");
    let ext2 = s.path("ext2.img");
    mke2fs(&ext2, 8, "ext2", &["-b", "1024"], &root);
    let hd0 = s.path("hd0.img");
    blank(&hd0, 10);
    sfdisk(&hd0, "label: dos\nstart=2048, size=16384, type=83\n");
    place(&hd0, 1, &ext2);
    // The disk sector holding block 1000 of the file, as debugfs maps it.
    let block: u64 = run(Command::new("debugfs")
        .arg("-R")
        .arg("bmap /victim.bin 1000")
        .arg(&ext2))
    .trim()
    .parse()
    .expect("debugfs bmap prints a block number");
    let sector = 2048 + block * 2;
    let config = s.path("blkdebug.cfg");
    write(
        &config,
        format!("[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"{sector}\"\n")
            .as_bytes(),
    );
    let script = r#"
mount("hd0p1", "/")
try { read("/victim.bin") } catch e { print("caught:", e) }
print("fine:", hex(read("/fine.txt")))
"#;
    let mut boot = Boot::new()
        .qemu_arg("-drive")
        .qemu_arg(&format!(
            "file=blkdebug:{}:{},format=raw,{drive}",
            config.display(),
            hd0.display()
        ))
        .module("eio.bs", script);
    for arg in machine {
        boot = boot.qemu_arg(arg);
    }
    let mut vm = boot.start();
    let caught = vm.expect_line("caught:", BOOT).text;
    assert!(caught.contains("hd0p1: hd0: reading sector "), "{caught}");
    // The failing command started at or before the bad sector, within one command of it.
    let first: u64 = caught
        .split("reading sector ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sector number in {caught:?}"));
    assert!(
        first <= sector && sector < first + per_command,
        "{caught} (bad sector {sector})"
    );
    assert!(caught.contains(what), "{caught}");
    let fine: String = b"still readable\n"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vm.expect_line(&format!("fine: {fine}"), STEP);
    assert_clean(&vm);
}

/// The GRUB CD as primary master with the only disk as its slave: the disk is hd0. On the secondary channel
/// sit QEMU's default (empty) CD-ROM drive, skipped as ATAPI, and nothing.
#[test]
fn slave_behind_a_cd() {
    let s = Scratch::new("slave");
    let root = s.path("root");
    write(&root.join("hello.txt"), b"from the primary slave\n");
    let hd0 = s.path("hd0.img");
    mke2fs(&hd0, 4, "ext4", &[], &root);
    let script = r#"
mount("hd0", "/")
print("hello:", hex(read("/hello.txt")))
"#;
    let mut vm = Boot::new()
        .cd_at(0)
        .disk_at(1, &hd0)
        .module("slave.bs", script)
        .start();
    vm.expect_line("bootscript: ata primary master: ATAPI", BOOT);
    vm.expect_line(
        "bootscript: ata primary slave: hd0 QEMU HARDDISK (8192 sectors)",
        STEP,
    );
    vm.expect_line("bootscript: ata secondary master: ATAPI", STEP);
    vm.expect_line("bootscript: ata secondary slave: no drive", STEP);
    let hello: String = b"from the primary slave\n"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vm.expect_line(&format!("hello: {hello}"), STEP);
    assert_clean(&vm);
}

/// Keys typed while a long disk read runs (a slow disk: QEMU throttled to 1 MB/s, 4 MiB) are kept for the next
/// prompt: the keyboard holds only 8 keys (16 bytes), and the read polls the consoles between its blocks.
#[test]
fn keys_typed_during_a_long_disk_read_are_kept() {
    let s = Scratch::new("typeahead");
    let root = s.path("root");
    write(&root.join("big.bin"), &noise(4 << 20, 7));
    let ext2 = s.path("ext2.img");
    mke2fs(&ext2, 8, "ext2", &[], &root);
    let script = r#"
mount("hd0", "/")
print("reading")
let big = read("/big.bin")
print("read", len(big))
let typed = prompt("typed: ")
print("got [" + typed + "]")
"#;
    let mut vm = Boot::new()
        .qemu_arg("-drive")
        .qemu_arg(&format!(
            "file={},format=raw,if=ide,index=0,throttling.bps-total=1000000",
            ext2.display()
        ))
        .module("typeahead.bs", script)
        .start();
    vm.expect_line("reading", BOOT);
    let word = "typedahead12";
    for c in word.chars() {
        vm.sendkey(&format!("{c} 10"));
    }
    vm.sendkey("ret 10");
    let typed = vm.elapsed();
    let read = vm.expect_line("read ", STEP);
    assert_eq!(read.text, format!("read {}", 4 << 20));
    // The keys were all typed before the read ended (else this test proves nothing).
    assert!(
        typed < read.at,
        "typed by {typed:?}, the read ended at {:?}",
        read.at
    );
    let got = vm.expect_line("got [", STEP).text;
    assert_eq!(got, format!("got [{word}]"));
}

/// A machine with no drive on the legacy IDE ports (q35: its disks and the boot CD sit behind AHCI) says why
/// there are no disks, rather than only `no drive` four times; and a RAID controller (QEMU's MegaRAID, class 01:04,
/// as Intel's RST shows SATA in RAID mode) is named as one whose disks cannot be read.
#[test]
fn no_disk_anywhere_says_what_cannot_be_read() {
    // q35 has no legacy IDE; its AHCI controller holds only GRUB's CD (port 2), which is no disk.
    let mut vm = Boot::new()
        .qemu_arg("-machine")
        .qemu_arg("q35")
        .qemu_arg("-device")
        .qemu_arg("megasas,addr=6")
        .module("count.bs", "print(\"disks:\", len(disks()))\n")
        .start();
    vm.expect_line(
        "bootscript: ahci 00:1f.2 port 2: ATAPI (packet) device, not a disk",
        BOOT,
    );
    vm.expect_line(
        "bootscript: raid 00:06.0: its disks cannot be read (for Intel RST: set SATA to AHCI in the firmware setup)",
        STEP,
    );
    vm.expect_line(
        "bootscript: no disk on the legacy IDE ports, behind AHCI or on NVMe; USB disks cannot be read",
        STEP,
    );
    vm.expect_line("disks: 0", STEP);
}

/// The two disks the AHCI and NVMe tests read, made in `s`: a GPT disk of 20 MiB (`gpt`) whose ext4 partition holds
/// a 9 MiB /boot/big.bin and /etc/hostname (`hostname`), and an MBR disk of 6 MiB (`mbr`) whose FAT16 partition
/// holds /note.txt; `root` and `note` are their files on the host, to compare with.
struct TwoDisks {
    gpt: PathBuf,
    mbr: PathBuf,
    root: PathBuf,
    note: PathBuf,
    hostname: &'static str,
}

impl TwoDisks {
    fn new(s: &Scratch, hostname: &'static str, seed: u32) -> TwoDisks {
        let root = s.path("root");
        write(&root.join("boot/big.bin"), &noise(9 << 20, seed));
        write(
            &root.join("etc/hostname"),
            format!("{hostname}\n").as_bytes(),
        );
        let ext4 = s.path("ext4.img");
        mke2fs(&ext4, 16, "ext4", &[], &root);
        let gpt = s.path("gpt.img");
        blank(&gpt, 20);
        sfdisk(
            &gpt,
            "label: gpt\nsize=17MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\"\n",
        );
        place(&gpt, 1, &ext4);
        let note = s.path("note.txt");
        write(&note, &noise(3000, seed + 1));
        let fat = s.path("fat.img");
        mkfs_fat(&fat, 4, "16");
        mcopy(&fat, &note, "/note.txt");
        let mbr = s.path("mbr.img");
        blank(&mbr, 6);
        sfdisk(&mbr, "label: dos\nsize=5MiB, type=6\n");
        place(&mbr, 1, &fat);
        TwoDisks {
            gpt,
            mbr,
            root,
            note,
            hostname,
        }
    }

    /// A script that lists the disks, mounts the two as `hd{first}` and the next, and reads their files.
    fn script(&self, first: usize) -> String {
        format!(
            r#"
for d in disks() {{ print("disk:", d) }}
print("disks: end")
mount("hd{first}p1", "/")
mount("hd{}p1", "/fat")
print("hostname:", text(read("/etc/hostname")))
print("sha256:", hex(sha256(read("/boot/big.bin"))))
print("sha256:", hex(sha256(read("/fat/note.txt"))))
"#,
            first + 1
        )
    }

    /// Checks what the script printed: the disks `before` them, the two (from `hd{first}`), and their files.
    fn check(&self, vm: &mut Vm, before: Vec<String>, first: usize) {
        let mut expected = before;
        expected.extend(expected_disks(&format!("hd{first}"), &self.gpt, true));
        expected.extend(expected_disks(&format!("hd{}", first + 1), &self.mbr, true));
        assert_eq!(collect(vm, "disk: ", "disks: end"), expected);
        vm.expect_line(&format!("hostname: {}", self.hostname), STEP);
        vm.expect_line(
            &format!("sha256: {}", sha256(&self.root.join("boot/big.bin"))),
            STEP,
        );
        vm.expect_line(&format!("sha256: {}", sha256(&self.note)), STEP);
        assert_clean(vm);
    }
}

/// SATA disks behind an AHCI controller (QEMU's q35 machine: its ICH9 controller, disks on ports 0 and 1, GRUB's
/// CD on port 2), as on most PCs whose firmware has SATA in AHCI mode: named on after any IDE disks, partitions
/// listed as sfdisk made them, and files read by DMA, one of them through more commands than one (4 MiB each).
#[test]
fn sata_disks_behind_ahci_are_read() {
    let s = Scratch::new("ahci");
    let two = TwoDisks::new(&s, "sata", 21);
    let mut vm = Boot::new()
        .qemu_arg("-machine")
        .qemu_arg("q35")
        .disk_at(0, &two.gpt)
        .disk_at(1, &two.mbr)
        .module("sata.bs", two.script(0))
        .start();
    vm.expect_line(
        &format!(
            "bootscript: ahci 00:1f.2 port 0: hd0 QEMU HARDDISK ({} sectors)",
            20 << 11
        ),
        BOOT,
    );
    vm.expect_line(
        &format!(
            "bootscript: ahci 00:1f.2 port 1: hd1 QEMU HARDDISK ({} sectors)",
            6 << 11
        ),
        STEP,
    );
    two.check(&mut vm, Vec::new(), 0);
}

/// `-device nvme` with its namespaces, each image given as (nsid, path, logical block size), at PCI slot 5.
fn nvme_args(boot: Boot, namespaces: &[(u32, &Path, &str)]) -> Boot {
    let mut boot = boot
        .qemu_arg("-device")
        .qemu_arg("nvme,id=nvme0,serial=bootscript,addr=5");
    for &(nsid, path, format) in namespaces {
        boot = boot
            .qemu_arg("-drive")
            .qemu_arg(&format!(
                "file={},format=raw,if=none,id=ns{nsid}",
                path.display()
            ))
            .qemu_arg("-device")
            .qemu_arg(&format!(
                "nvme-ns,drive=ns{nsid},bus=nvme0,nsid={nsid}{}{format}",
                if format.is_empty() { "" } else { "," }
            ));
    }
    boot
}

/// Disks on an NVMe controller (QEMU's `nvme` with three namespaces, beside an IDE disk), as on most PCs since
/// about 2016: each active namespace without metadata is a disk, named on after the IDE (and AHCI) ones; one whose
/// blocks carry metadata is reported and left out; files are read by DMA, one of them through many commands
/// (QEMU's controller moves at most 512 KiB per command).
#[test]
fn nvme_disks_are_read() {
    let s = Scratch::new("nvme");
    let two = TwoDisks::new(&s, "nvme", 31);
    let ns3 = s.path("ns3.img");
    blank(&ns3, 4);
    let ide_root = s.path("ide");
    write(&ide_root.join("ide.txt"), b"on IDE\n");
    let ide = s.path("ide.img");
    mke2fs(&ide, 4, "ext2", &[], &ide_root);
    let boot = Boot::new()
        .disk_at(0, &ide)
        .module("nvme.bs", two.script(1));
    let mut vm = nvme_args(
        boot,
        &[(1, &two.gpt, ""), (2, &two.mbr, ""), (3, &ns3, "ms=8")],
    )
    .start();
    vm.expect_line(
        "bootscript: ata primary master: hd0 QEMU HARDDISK (8192 sectors)",
        BOOT,
    );
    vm.expect_line(
        &format!(
            "bootscript: nvme 00:05.0 namespace 1: hd1 QEMU NVMe Ctrl ({} sectors)",
            20 << 11
        ),
        STEP,
    );
    vm.expect_line(
        &format!(
            "bootscript: nvme 00:05.0 namespace 2: hd2 QEMU NVMe Ctrl ({} sectors)",
            6 << 11
        ),
        STEP,
    );
    vm.expect_line(
        "bootscript: nvme 00:05.0 namespace 3: its blocks carry 8 bytes of metadata, which are not read",
        STEP,
    );
    two.check(&mut vm, expected_disks("hd0", &ide, false), 1);
}

/// Partitions `disk` as a disk of 4096-byte sectors with fdisk's `commands` (sfdisk 2.38 has no sector size
/// option), and gives `(number, start, sectors)` of each partition as `fdisk -l` lists them, in 4096-byte sectors.
fn fdisk_4k(disk: &Path, commands: &str) -> Vec<(u32, u64, u64)> {
    let mut child = Command::new("fdisk")
        .args(["-b", "4096"])
        .arg(disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run fdisk: {e} (run `make setup`)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "fdisk failed");
    let list = run(Command::new("fdisk")
        .args(["-b", "4096", "-l", "-o", "Device,Start,Sectors"])
        .arg(disk));
    let prefix = disk.display().to_string();
    list.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let number = fields.next()?.strip_prefix(&prefix)?.parse().ok()?;
            let mut next = || fields.next().unwrap().parse::<u64>().unwrap();
            Some((number, next(), next()))
        })
        .collect()
}

/// An NVMe namespace of 4096-byte blocks ("4Kn", as `nvme format --lbaf` makes one on many SSDs): a disk whose GPT
/// counts in 4096-byte blocks, with ext4 and FAT of 4096-byte sectors on it. Their superblocks, boot sectors and
/// the GPT are read a part of a block at a time (through the driver's page), their files by whole blocks.
#[test]
fn an_nvme_disk_of_4096_byte_blocks_is_read() {
    let s = Scratch::new("nvme-4kn");
    let root = s.path("root");
    write(&root.join("boot/big.bin"), &noise((5 << 20) + 1234, 36));
    let ext4 = s.path("ext4.img");
    mke2fs(&ext4, 16, "ext4", &["-b", "4096"], &root);
    let note = s.path("note.txt");
    write(&note, &noise(3000, 37));
    let fat = s.path("fat.img");
    run(Command::new("mkfs.fat")
        .args(["-S", "4096", "-C"])
        .arg(&fat)
        .arg("8192"));
    mcopy(&fat, &note, "/note.txt");
    let disk = s.path("disk.img");
    blank(&disk, 32);
    let listed = fdisk_4k(&disk, "g\nn\n1\n\n+16M\nn\n2\n\n\nw\n");
    assert_eq!(listed.len(), 2);
    let file = OpenOptions::new().write(true).open(&disk).unwrap();
    for (image, part) in [(&ext4, listed[0]), (&fat, listed[1])] {
        let bytes = std::fs::read(image).unwrap();
        assert!(bytes.len() as u64 <= part.2 * 4096, "image too large");
        file.write_all_at(&bytes, part.1 * 4096).unwrap();
    }
    let script = r#"
for d in disks() { print("disk:", d.name, d.size) }
print("disks: end")
mount("hd0p1", "/")
mount("hd0p2", "/fat")
print("sha256:", hex(sha256(read("/boot/big.bin"))))
print("sha256:", hex(sha256(read("/fat/note.txt"))))
"#;
    let format = "logical_block_size=4096,physical_block_size=4096";
    let mut vm = nvme_args(Boot::new().module("4kn.bs", script), &[(1, &disk, format)]).start();
    vm.expect_line(
        &format!(
            "bootscript: nvme 00:05.0 namespace 1: hd0 QEMU NVMe Ctrl ({} sectors, blocks of 4096 bytes)",
            32 << 11
        ),
        BOOT,
    );
    let mut expected = vec![format!("disk: hd0 {}", 32 << 20)];
    expected.extend(
        listed
            .iter()
            .map(|p| format!("disk: hd0p{} {}", p.0, p.2 * 4096)),
    );
    assert_eq!(collect(&mut vm, "disk: ", "disks: end"), expected);
    vm.expect_line(
        &format!("sha256: {}", sha256(&root.join("boot/big.bin"))),
        STEP,
    );
    vm.expect_line(&format!("sha256: {}", sha256(&note)), STEP);
    assert_clean(&vm);
}

/// Boots `boot` with one NVMe disk (QEMU's `nvme` at 00:05.0, with `options`) holding ext4 with a file of 3 MiB,
/// and checks that the script reads it whole.
fn one_nvme_disk_reads_a_file(s: &Scratch, boot: Boot, options: &str) -> Vm {
    let root = s.path("root");
    write(&root.join("boot/big.bin"), &noise(3 << 20, 33));
    let ext4 = s.path("ext4.img");
    mke2fs(&ext4, 16, "ext4", &[], &root);
    let script = r#"
mount("hd0", "/")
print("sha256:", hex(sha256(read("/boot/big.bin"))))
"#;
    let mut vm = boot
        .module("nvme.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&format!(
            "file={},format=raw,if=none,id=flash",
            ext4.display()
        ))
        .qemu_arg("-device")
        .qemu_arg(&format!(
            "nvme,drive=flash,serial=bootscript,addr=5{options}"
        ))
        .start();
    vm.expect_line(
        &format!("sha256: {}", sha256(&root.join("boot/big.bin"))),
        Duration::from_secs(90),
    );
    assert_clean(&vm);
    vm
}

/// A controller that moves little per command (QEMU's `mdts=1`: 8 KiB, two pages) still reads a file whole: the
/// reads are cut to its limit, and a command that crosses into a second page names it in PRP2.
#[test]
fn an_nvme_controller_with_a_small_transfer_limit_reads_a_file_whole() {
    let s = Scratch::new("nvme-mdts");
    one_nvme_disk_reads_a_file(&s, Boot::new(), ",mdts=1");
}

/// An NVMe disk on a UEFI PC (OVMF on q35): the firmware puts the controller's 64-bit BAR above 4 GiB, as UEFI
/// firmware often does, past the boot stub's identity map of the first 4 GiB; the payload maps its registers where
/// they are, and reads a file whole.
#[test]
fn an_nvme_controller_above_4_gib_is_reached_on_a_uefi_pc() {
    let s = Scratch::new("nvme-uefi");
    let mut vm = one_nvme_disk_reads_a_file(&s, Boot::new().uefi(), "");
    // BAR0, both halves, read through q35's memory-mapped configuration space (device 00:05.0).
    let config = vm.physical_memory(0xb000_0000 + (5 << 15) + 0x10, 8);
    let bar = u64::from_le_bytes(config.try_into().unwrap()) & !0xf;
    // (All ones would be no BAR: the configuration space read elsewhere.)
    assert!(
        (1 << 32..1 << 47).contains(&bar),
        "BAR0 at {bar:#x}: not above 4 GiB, the test shows nothing"
    );
}

/// A read the controller does not finish in time (QEMU throttled to 24 KB/s: a 512 KiB command takes 21 s, the
/// bound is 15 s) is an error, and its controller is reset: the data of the abandoned command does not land later
/// in memory that is no longer the read's (here, the buffer of the next file read, from the IDE disk, which would
/// change under the script's feet), and the disk says it no longer answers.
#[test]
fn a_read_that_times_out_on_nvme_resets_the_controller() {
    let s = Scratch::new("nvme-timeout");
    let flash_root = s.path("flash");
    write(&flash_root.join("big.bin"), &noise(1 << 20, 34));
    let flash = s.path("flash.img");
    mke2fs(&flash, 8, "ext4", &[], &flash_root);
    let ide_root = s.path("ide");
    write(&ide_root.join("same.bin"), &noise(1 << 20, 35));
    let ide = s.path("ide.img");
    mke2fs(&ide, 8, "ext4", &[], &ide_root);
    let script = r#"
mount("hd0", "/ide")
mount("hd1", "/flash")
try { read("/flash/big.bin") } catch e { print("caught:", e) }
let x = read("/ide/same.bin")
print("before:", hex(sha256(x)))
sleep_ms(9000)
print("after:", hex(sha256(x)))
try { read("/flash/big.bin") } catch e { print("again:", e) }
"#;
    let mut vm = Boot::new()
        .disk_at(0, &ide)
        .module("timeout.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&format!(
            "file={},format=raw,if=none,id=flash,throttling.bps-read=24576",
            flash.display()
        ))
        .qemu_arg("-device")
        .qemu_arg("nvme,drive=flash,serial=bootscript,addr=5")
        .start();
    let caught = vm.expect_line("caught:", Duration::from_secs(90)).text;
    assert!(
        caught.contains("hd1: reading sector ")
            && caught.ends_with(": timed out waiting for the controller"),
        "{caught}"
    );
    let expected = sha256(&ide_root.join("same.bin"));
    vm.expect_line(&format!("before: {expected}"), STEP);
    vm.expect_line(&format!("after: {expected}"), STEP);
    let again = vm.expect_line("again:", STEP).text;
    assert!(
        again.ends_with(": the controller stopped answering earlier"),
        "{again}"
    );
}
