//! Bad input: truncated and damaged images give errors that name the device and the problem, never a panic,
//! a hang or a huge allocation.

mod common;

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bootscript_disk::partition::read_partitions;
use bootscript_disk::{BlockDevice, DiskError, MemDisk, Vfs};
use common::*;

const MIB: u64 = 1 << 20;

fn small_tree(dir: &TempDir) -> PathBuf {
    let src = dir.path("src");
    fs::create_dir_all(src.join("deep/inner")).unwrap();
    fs::create_dir_all(src.join("manydir")).unwrap();
    for i in 0..200 {
        fs::write(src.join(format!("manydir/file-{i}")), b"x").unwrap();
    }
    fs::write(src.join("big.bin"), noise(300_000, 3)).unwrap();
    fs::write(src.join("deep/inner/f"), b"f\n").unwrap();
    src
}

fn ext_image(dir: &TempDir, kind: &str, extra: &[&str]) -> PathBuf {
    let src = small_tree(dir);
    let img = dir.path("ext.img");
    fs::File::create(&img).unwrap().set_len(8 * MIB).unwrap();
    let mut args = vec!["-q", "-F", "-t", kind];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-d", s(&src), s(&img)]);
    run("mke2fs", &args);
    img
}

fn mount(name: &str, bytes: Vec<u8>) -> Result<Vfs, String> {
    let mut vfs = Vfs::new();
    vfs.mount(Rc::new(MemDisk::new(name, bytes)), "/")
        .map_err(|e| e.to_string())?;
    Ok(vfs)
}

/// The offset of the directory entry naming `name` (a directory, file type 2).
fn dir_entry(bytes: &[u8], name: &[u8]) -> usize {
    let mut pattern = vec![name.len() as u8, 2];
    pattern.extend_from_slice(name);
    bytes
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())
        .expect("entry")
        - 6
}

#[test]
fn truncated_ext_image() {
    let dir = TempDir::new("trunc");
    let mut bytes = fs::read(ext_image(&dir, "ext2", &[])).unwrap();
    bytes.truncate(4 * MIB as usize);
    let err = mount("hd1p1", bytes).err().unwrap();
    assert!(
        err.starts_with("hd1p1: ext2: ") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn bad_superblock() {
    let dir = TempDir::new("badsb");
    let good = fs::read(ext_image(&dir, "ext4", &[])).unwrap();
    let mut bytes = good.clone();
    bytes[1024 + 0x18] = 30;
    let err = mount("hd0", bytes).err().unwrap();
    assert!(err.contains("hd0: ext4: bad superblock"), "{err}");
    let mut bytes = good.clone();
    bytes[1024 + 0x28..1024 + 0x2C].copy_from_slice(&0u32.to_le_bytes());
    assert!(mount("hd0", bytes)
        .err()
        .unwrap()
        .contains("bad superblock"));
    let mut bytes = good;
    bytes[1024 + 0x38] = 0;
    assert_eq!(
        mount("hd0", bytes).err().unwrap(),
        "hd0: no ext2/3/4 or FAT file system found"
    );
}

#[test]
fn inode_number_past_the_end() {
    let dir = TempDir::new("inode");
    let mut bytes = fs::read(ext_image(&dir, "ext2", &[])).unwrap();
    let at = dir_entry(&bytes, b"deep");
    bytes[at..at + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let vfs = mount("hd0p2", bytes).unwrap();
    assert!(vfs.ls("/").unwrap().contains(&"deep".to_string()));
    let err = vfs.stat("/deep/inner/f").unwrap_err().to_string();
    assert!(
        err.starts_with("hd0p2: ext2: inode 2147483632 is past the end"),
        "{err}"
    );
}

#[test]
fn rec_len_zero() {
    let dir = TempDir::new("reclen");
    let mut bytes = fs::read(ext_image(&dir, "ext4", &["-O", "^metadata_csum"])).unwrap();
    let at = dir_entry(&bytes, b"deep");
    bytes[at + 4..at + 6].copy_from_slice(&0u16.to_le_bytes());
    let vfs = mount("hd0", bytes).unwrap();
    let err = vfs.ls("/").unwrap_err().to_string();
    assert!(
        err.contains("hd0: ext4: directory inode 2: bad entry (rec_len 0)"),
        "{err}"
    );
}

fn set_field(img: &Path, file: &str, field: &str, value: &str) {
    run(
        "debugfs",
        &["-w", "-R", &format!("sif {file} {field} {value}"), s(img)],
    );
}

#[test]
fn block_number_past_the_end() {
    let dir = TempDir::new("block");
    let img = ext_image(&dir, "ext2", &[]);
    set_field(&img, "/big.bin", "block[IND]", "99999999");
    let vfs = mount("hd0", fs::read(&img).unwrap()).unwrap();
    let err = vfs.read("/big.bin").unwrap_err().to_string();
    assert!(err.contains("block 99999999 is past the end"), "{err}");

    let dir = TempDir::new("extent");
    let img = ext_image(&dir, "ext4", &[]);
    // i_block word 5 is the first extent's physical start (low 32 bits).
    set_field(&img, "/big.bin", "block[5]", "99999999");
    let vfs = mount("hd0", fs::read(&img).unwrap()).unwrap();
    let err = vfs.read("/big.bin").unwrap_err().to_string();
    assert!(
        err.contains("block 99999999") && err.contains("past the end"),
        "{err}"
    );
}

fn fat_image(dir: &TempDir, bits: &str) -> PathBuf {
    let src = small_tree(dir);
    let img = dir.path("fat.img");
    let kib = if bits == "32" { "40960" } else { "8192" };
    run("mkfs.fat", &["-F", bits, "-s", "1", "-C", s(&img), kib]);
    run(
        "mcopy",
        &[
            "-s",
            "-i",
            s(&img),
            s(&src.join("manydir")),
            s(&src.join("big.bin")),
            "::/",
        ],
    );
    img
}

fn fat16_entry(bytes: &[u8], short: &[u8; 11]) -> usize {
    bytes
        .windows(11)
        .position(|w| w == short)
        .expect("short entry")
}

#[test]
fn fat_directory_cluster_loop() {
    let dir = TempDir::new("fatloop");
    let img = fat_image(&dir, "16");
    let chain = run("mshowfat", &["-i", s(&img), "::/manydir"]);
    // "::/manydir <5-8>": the first and last cluster.
    let inner = chain.split('<').nth(1).unwrap().split('>').next().unwrap();
    let (first, last) = inner.split_once('-').unwrap_or((inner, inner));
    let (first, last): (usize, usize) =
        (first.trim().parse().unwrap(), last.trim().parse().unwrap());
    let mut bytes = fs::read(&img).unwrap();
    let reserved = u16::from_le_bytes([bytes[14], bytes[15]]) as usize;
    let at = reserved * 512 + last * 2;
    bytes[at..at + 2].copy_from_slice(&(first as u16).to_le_bytes());
    let vfs = mount("hd0p1", bytes).unwrap();
    let err = vfs.ls("/manydir").unwrap_err().to_string();
    assert!(
        err.starts_with("hd0p1: fat16: ") && err.contains("loop"),
        "{err}"
    );
}

#[test]
fn fat_cluster_past_the_end_and_truncated() {
    let dir = TempDir::new("fatbad");
    let img = fat_image(&dir, "16");
    let good = fs::read(&img).unwrap();
    let mut bytes = good.clone();
    let at = fat16_entry(&bytes, b"BIG     BIN");
    bytes[at + 26..at + 28].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let vfs = mount("hd0", bytes).unwrap();
    let err = vfs.read("/big.bin").unwrap_err().to_string();
    assert!(
        err.contains("hd0: fat16: cluster 65520 is past the end"),
        "{err}"
    );
    // The first cluster number past the last one is refused too (the data area's clusters are 2..clusters+2).
    let word = |at: usize| u16::from_le_bytes([good[at], good[at + 1]]) as usize;
    let total = match word(19) {
        0 => u32::from_le_bytes(good[32..36].try_into().unwrap()) as usize,
        small => small,
    };
    let root_sectors = (word(17) * 32).div_ceil(512);
    let data_sectors = total - word(14) - good[16] as usize * word(22) - root_sectors;
    let past = data_sectors / good[13] as usize + 2;
    let mut bytes = good.clone();
    bytes[at + 26..at + 28].copy_from_slice(&(past as u16).to_le_bytes());
    let vfs = mount("hd0", bytes).unwrap();
    let err = vfs.read("/big.bin").unwrap_err().to_string();
    assert!(
        err.contains(&format!("hd0: fat16: cluster {past} is past the end")),
        "{err}"
    );
    let mut bytes = good;
    bytes.truncate(2 * MIB as usize);
    let err = mount("hd0", bytes).err().unwrap();
    assert!(err.contains("truncated"), "{err}");
}

/// A disk that stops answering after a number of reads.
struct Failing {
    inner: MemDisk,
    left: Cell<u32>,
}

impl BlockDevice for Failing {
    fn sectors(&self) -> u64 {
        self.inner.sectors()
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        if self.left.get() == 0 {
            return Err(DiskError::Timeout);
        }
        self.left.set(self.left.get() - 1);
        self.inner.read(lba, buf)
    }
    fn name(&self) -> &str {
        "hd3"
    }
}

#[test]
fn disk_that_stops_answering() {
    let dir = TempDir::new("dead");
    for img in [ext_image(&dir, "ext4", &[]), fat_image(&dir, "32")] {
        let disk = Rc::new(Failing {
            inner: MemDisk::new("x", fs::read(&img).unwrap()),
            left: Cell::new(u32::MAX),
        });
        let mut vfs = Vfs::new();
        vfs.mount(disk.clone(), "/").unwrap();
        disk.left.set(0);
        let err = vfs.read("/big.bin").unwrap_err().to_string();
        assert_eq!(err, "hd3: the device did not answer in time");
        disk.left.set(u32::MAX);
        assert_eq!(vfs.read("/big.bin").unwrap(), noise(300_000, 3));
    }
}

/// A mount point named plainly is unmounted without reading the file systems on the way to it: with the root's
/// disk gone, `/mnt/usb` (which that root does not have) still comes off, and so does the root after it.
#[test]
fn umount_below_a_root_whose_disk_stopped_answering() {
    let dir = TempDir::new("dead-root");
    let root = Rc::new(Failing {
        inner: MemDisk::new("x", fs::read(ext_image(&dir, "ext2", &[])).unwrap()),
        left: Cell::new(u32::MAX),
    });
    let usb = dir.path("usb.img");
    run("mkfs.fat", &["-C", s(&usb), "1024"]);
    let mut vfs = Vfs::new();
    vfs.mount(root.clone(), "/").unwrap();
    vfs.mount(image(&usb), "/mnt/usb").unwrap();
    root.left.set(0);
    // (The root's disk is gone indeed: the way to the mount point through it fails.)
    let err = vfs.ls("/mnt/usb/..").unwrap_err().to_string();
    assert_eq!(err, "hd3: the device did not answer in time");
    vfs.umount("/mnt/usb").unwrap();
    vfs.umount("/").unwrap();
    assert!(vfs.mounts().is_empty());
}

#[test]
fn mbr_extended_chain_loop_is_bounded() {
    let mut disk = vec![0u8; 4 * MIB as usize];
    let entry = |d: &mut Vec<u8>, sector: usize, slot: usize, kind: u8, start: u32, size: u32| {
        let at = sector * 512 + 446 + slot * 16;
        d[at + 4] = kind;
        d[at + 8..at + 12].copy_from_slice(&start.to_le_bytes());
        d[at + 12..at + 16].copy_from_slice(&size.to_le_bytes());
        d[sector * 512 + 510] = 0x55;
        d[sector * 512 + 511] = 0xAA;
    };
    entry(&mut disk, 0, 0, 0x05, 100, 4000);
    entry(&mut disk, 100, 0, 0x83, 1, 10);
    entry(&mut disk, 100, 1, 0x05, 50, 100);
    // The second EBR points back at itself.
    entry(&mut disk, 150, 0, 0x83, 1, 10);
    entry(&mut disk, 150, 1, 0x05, 50, 100);
    let err = read_partitions(&MemDisk::new("hd0", disk))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("hd0: MBR: more than"), "{err}");
}

#[test]
fn name_longer_than_its_entry() {
    // lost+found's entry is 20 bytes: a name of 30 would run into the next entry, so the entry is refused
    // rather than shown with the next entry's bytes in its name.
    let dir = TempDir::new("namelen");
    let mut bytes = fs::read(ext_image(&dir, "ext4", &["-O", "^metadata_csum"])).unwrap();
    let at = dir_entry(&bytes, b"lost+found");
    assert_eq!(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]), 20);
    bytes[at + 6] = 30;
    let vfs = mount("hd0", bytes).unwrap();
    let err = vfs.ls("/").unwrap_err().to_string();
    assert_eq!(
        err,
        "hd0: ext4: directory inode 2: bad entry (rec_len 20) at byte 24"
    );
    let err = vfs.stat("/big.bin").unwrap_err().to_string();
    assert!(err.contains("bad entry (rec_len 20)"), "{err}");
}
