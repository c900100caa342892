//! Large files go to the device in big runs: a 14 MiB kernel is a handful of device reads, not thousands, on
//! ext2/ext4 and FAT32, through a partition view.

mod common;

use std::cell::Cell;
use std::fs;
use std::path::Path;
use std::rc::Rc;

use bootscript_disk::{BlockDevice, DiskError, MemDisk, PartitionView, Vfs};
use common::*;

const MIB: u64 = 1 << 20;

/// Counts the device calls and bytes below a file system.
struct Counting {
    inner: MemDisk,
    calls: Cell<u64>,
    bytes: Cell<u64>,
}

impl BlockDevice for Counting {
    fn sectors(&self) -> u64 {
        self.inner.sectors()
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.calls.set(self.calls.get() + 1);
        self.bytes.set(self.bytes.get() + buf.len() as u64);
        self.inner.read(lba, buf)
    }
}

fn measure(img: &Path, kernel: &[u8]) -> (u64, u64) {
    let disk = Rc::new(Counting {
        inner: MemDisk::new("hd0", fs::read(img).unwrap()),
        calls: 0.into(),
        bytes: 0.into(),
    });
    let view = PartitionView::new("hd0p1", disk.clone(), 0, disk.sectors()).unwrap();
    let mut vfs = Vfs::new();
    vfs.mount(Rc::new(view), "/").unwrap();
    let file = vfs.open("/vmlinuz").unwrap();
    let mut buf = vec![0u8; file.size() as usize];
    disk.calls.set(0);
    disk.bytes.set(0);
    assert_eq!(file.read_at(0, &mut buf).unwrap(), kernel.len());
    assert!(buf == kernel);
    eprintln!(
        "{}: {} device reads, {} bytes",
        img.display(),
        disk.calls.get(),
        disk.bytes.get()
    );
    (disk.calls.get(), disk.bytes.get())
}

fn tree(dir: &TempDir) -> (std::path::PathBuf, Vec<u8>) {
    let src = dir.path("src");
    fs::create_dir_all(&src).unwrap();
    let kernel = noise(14 * MIB as usize + 333, 9);
    fs::write(src.join("vmlinuz"), &kernel).unwrap();
    (src, kernel)
}

#[test]
fn ext_reads_in_big_runs() {
    for (kind, block) in [("ext2", "4096"), ("ext4", "4096"), ("ext2", "1024")] {
        let dir = TempDir::new("runs");
        let (src, kernel) = tree(&dir);
        let img = dir.path("fs.img");
        fs::File::create(&img).unwrap().set_len(32 * MIB).unwrap();
        run(
            "mke2fs",
            &["-q", "-F", "-t", kind, "-b", block, "-d", s(&src), s(&img)],
        );
        let (calls, bytes) = measure(&img, &kernel);
        // ext2 with 1 KiB blocks: one run per indirect block (256 KiB) plus the indirect blocks themselves.
        let limit = if block == "1024" { 200 } else { 40 };
        assert!(
            calls <= limit,
            "{kind}/{block}: {calls} device reads for 14 MiB"
        );
        assert!(
            bytes < kernel.len() as u64 + MIB,
            "{kind}/{block}: read {bytes} bytes"
        );
    }
}

#[test]
fn fat32_reads_in_big_runs() {
    let dir = TempDir::new("runsfat");
    let (src, kernel) = tree(&dir);
    let img = dir.path("fat.img");
    run(
        "mkfs.fat",
        &["-F", "32", "-s", "8", "-C", s(&img), "300000"],
    );
    run("mcopy", &["-i", s(&img), s(&src.join("vmlinuz")), "::/"]);
    let (calls, bytes) = measure(&img, &kernel);
    // The chain is walked through a 4 KiB window of the FAT: a few FAT reads plus one data read per run.
    assert!(calls <= 40, "{calls} device reads for 14 MiB");
    assert!(bytes < kernel.len() as u64 + MIB, "read {bytes} bytes");
}
