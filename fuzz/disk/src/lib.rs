//! Shared driving code for the disk fuzz targets: turn bytes into a disk and walk whatever is on it.

use std::rc::Rc;

use bootscript_disk::fs::{FileSystem, Kind, Node};
use bootscript_disk::{check_read, BlockDevice, DiskError, MemDisk, Vfs, SECTOR_SIZE};

/// The input as a disk (a trailing partial sector is dropped, as on a real disk).
pub fn disk(data: &[u8]) -> Rc<dyn BlockDevice> {
    Rc::new(MemDisk::new("fuzz", data.to_vec()))
}

/// The input as a disk of 4096-byte logical blocks ("4Kn"), whose partition tables count in them.
pub fn disk_4k(data: &[u8]) -> Rc<dyn BlockDevice> {
    Rc::new(Disk4k(MemDisk::new("fuzz", data.to_vec())))
}

struct Disk4k(MemDisk);

impl BlockDevice for Disk4k {
    fn sectors(&self) -> u64 {
        self.0.sectors()
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.0.read(lba, buf)
    }

    fn block_size(&self) -> u32 {
        4096
    }
}

/// The input at the start of a 64 MiB disk that reads as zeros after it: file systems whose geometry needs a
/// big device (FAT32 needs 65525 clusters) are reachable from inputs of a few hundred KiB.
pub struct Padded {
    data: Vec<u8>,
}

const PADDED_SECTORS: u64 = 64 << 11;

impl BlockDevice for Padded {
    fn sectors(&self) -> u64 {
        PADDED_SECTORS
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(PADDED_SECTORS, lba, buf.len())?;
        let start = lba as usize * SECTOR_SIZE;
        buf.fill(0);
        if start < self.data.len() {
            let n = (self.data.len() - start).min(buf.len());
            buf[..n].copy_from_slice(&self.data[start..start + n]);
        }
        Ok(())
    }
}

pub fn padded_disk(data: &[u8]) -> Rc<dyn BlockDevice> {
    Rc::new(Padded { data: data.to_vec() })
}

/// Lists, stats and reads everything reachable within small bounds, through the file system and the VFS.
pub fn walk(fs: &dyn FileSystem) {
    let mut budget = 200;
    walk_dir(fs, &fs.root(), 0, &mut budget);
}

fn walk_dir(fs: &dyn FileSystem, dir: &Node, depth: u32, budget: &mut u32) {
    if depth > 8 {
        return;
    }
    let mut names = Vec::new();
    let listed = fs.list(dir, &mut |name| {
        names.push(name);
        false
    });
    if listed.is_err() {
        return;
    }
    for name in names {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let Ok(Some(node)) = fs.lookup(dir, &name) else { continue };
        match node.kind {
            Kind::Dir => walk_dir(fs, &node, depth + 1, budget),
            Kind::Symlink => {
                let _ = fs.read_link(&node);
            }
            Kind::File => {
                let mut buf = vec![0u8; 70_000];
                let _ = fs.read_at(&node, 0, &mut buf);
                let _ = fs.read_at(&node, 1234, &mut buf[..5000]);
            }
        }
    }
}

/// Mounts through the VFS and resolves a few paths, symlinks included.
pub fn vfs(device: Rc<dyn BlockDevice>) {
    let mut vfs = Vfs::new();
    if vfs.mount(device, "/").is_err() {
        return;
    }
    if let Ok(names) = vfs.ls("/") {
        for name in names.iter().take(20) {
            let path = format!("/{name}");
            let _ = vfs.stat(&path);
            if let Ok(file) = vfs.open(&path) {
                let mut buf = vec![0u8; 4096];
                let _ = file.read_at(0, &mut buf);
            }
            let _ = vfs.ls(&format!("{path}/../{name}/."));
        }
    }
}
