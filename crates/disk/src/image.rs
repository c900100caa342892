//! An image file, or a disk itself (`/dev/sda`, read-only), as a block device, for the host tool's
//! `--disk IMAGE` (behind the `std` feature).

extern crate std;

use alloc::format;
use alloc::string::String;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use crate::device::{check_read, BlockDevice, DiskError, SECTOR_SIZE};

/// A disk image read with `pread`: one system call per request, whatever its length.
pub struct ImageFile {
    name: String,
    file: File,
    sectors: u64,
    block_size: u32,
}

impl ImageFile {
    /// Opens `path` read-only; its name in errors is the path.
    pub fn open(path: &str) -> std::io::Result<ImageFile> {
        ImageFile::with_name(path, path)
    }

    /// Opens `path` read-only under the name scripts see (`hd0` for the host tool's first `--disk`).
    pub fn with_name(path: &str, name: &str) -> std::io::Result<ImageFile> {
        let mut file = File::open(path)?;
        // The size is where a seek to the end lands: a block device's metadata says 0 bytes. (Reads are
        // positioned, so where the file is left does not matter.)
        let sectors = file.seek(SeekFrom::End(0))? / SECTOR_SIZE as u64;
        Ok(ImageFile {
            name: String::from(name),
            block_size: image_block_size(&file),
            file,
            sectors,
        })
    }
}

impl BlockDevice for ImageFile {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.sectors, lba, buf.len())?;
        self.file
            .read_exact_at(buf, lba * SECTOR_SIZE as u64)
            .map_err(|e| DiskError::Io(format!("{}: {e}", self.name)))
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The logical block size of a disk itself, as Linux says it (sysfs), or of the disk an image was taken from: 4096
/// when a GPT header that says it is at block 1 sits at byte 4096 and none at byte 512 (an image of a "4Kn" disk),
/// else 512. (An image file does not say; a disk of 4096-byte blocks nearly always has a GPT.)
fn image_block_size(file: &File) -> u32 {
    if let Some(size) = device_block_size(file) {
        return size;
    }
    let gpt_at = |offset: u64| {
        let mut header = [0u8; 32];
        file.read_exact_at(&mut header, offset).is_ok()
            && header[..8] == *b"EFI PART"
            && header[24..32] == 1u64.to_le_bytes()
    };
    if !gpt_at(512) && gpt_at(4096) {
        4096
    } else {
        SECTOR_SIZE as u32
    }
}

/// A block device's logical block size: `queue/logical_block_size` in sysfs, of the disk (a partition's is its
/// disk's). `None` for a file, or where sysfs does not say.
fn device_block_size(file: &File) -> Option<u32> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let metadata = file.metadata().ok()?;
    if !metadata.file_type().is_block_device() {
        return None;
    }
    // The device number's parts, as glibc's major() and minor() take them apart.
    let number = metadata.rdev();
    let major = (number >> 8) & 0xfff | (number >> 32) & !0xfff;
    let minor = number & 0xff | (number >> 12) & 0xffff_ff00;
    ["queue", "../queue"].iter().find_map(|queue| {
        let path = format!("/sys/dev/block/{major}:{minor}/{queue}/logical_block_size");
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    })
}
