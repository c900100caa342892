//! The one block device abstraction that every layer (ATA disk, image file, partition, decrypting view)
//! implements.

use alloc::string::String;
use core::fmt;

/// Every device in bootscript addresses 512-byte sectors, as Linux and cryptsetup's offsets do.
pub const SECTOR_SIZE: usize = 512;

/// A readable block device. Reads take `&self` so that one device can sit below several views
/// (`Rc<dyn BlockDevice>`); a driver that needs mutable state keeps it in a `RefCell`.
pub trait BlockDevice {
    /// Size in 512-byte sectors.
    fn sectors(&self) -> u64;

    /// Reads `buf.len() / SECTOR_SIZE` sectors starting at `lba` into `buf`.
    /// `buf.len()` must be a multiple of `SECTOR_SIZE`; a read past the end is `DiskError::OutOfRange`.
    /// Implementations read many sectors per call and must not allocate per sector.
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError>;

    /// Size in bytes.
    fn size(&self) -> u64 {
        self.sectors() * SECTOR_SIZE as u64
    }

    /// The size of the disk's logical blocks in bytes: 512, or 4096 on a disk of 4096-byte logical sectors
    /// ("4Kn"), whose partition table counts in them. Reads still count 512-byte sectors.
    fn block_size(&self) -> u32 {
        SECTOR_SIZE as u32
    }

    /// The name errors and `disks()` show (`hd0`, `hd0p1`, an image path); views pass it on.
    fn name(&self) -> &str {
        "disk"
    }
}

/// What can go wrong below a file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskError {
    /// A read of `count` sectors at `lba` does not fit a device of `sectors` sectors.
    OutOfRange { lba: u64, count: u64, sectors: u64 },
    /// A buffer whose length is not a whole number of sectors.
    Unaligned { len: usize },
    /// The hardware did not answer within its bound.
    Timeout,
    /// The device reported an error; the text says which.
    Io(String),
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::OutOfRange {
                lba,
                count,
                sectors,
            } => {
                write!(
                    f,
                    "read of {count} sectors at {lba} is past the end ({sectors} sectors)"
                )
            }
            DiskError::Unaligned { len } => write!(f, "read of {len} bytes is not whole sectors"),
            DiskError::Timeout => f.write_str("the device did not answer in time"),
            DiskError::Io(message) => f.write_str(message),
        }
    }
}

/// Writes `DEVICE: ERROR`, naming the device once: a disk's own errors (an ATA disk's, an image file's) start
/// with its name already, and a file system or partition table on that disk would name it twice.
pub(crate) fn write_device_error(
    f: &mut fmt::Formatter<'_>,
    device: &str,
    error: &DiskError,
) -> fmt::Result {
    let text = alloc::string::ToString::to_string(error);
    match text.strip_prefix(device) {
        Some(rest) if rest.starts_with(": ") => f.write_str(&text),
        _ => write!(f, "{device}: {text}"),
    }
}

/// Splits a read of `buf` from 512-byte sector `lba`, on a disk whose logical blocks are `1 << shift` sectors,
/// into the part that covers whole blocks and the blocks it covers in part, at either end: `read(first sector,
/// part, whole)` for each, in order. A disk can only read whole blocks; it reads one it covers in part elsewhere and
/// keeps the part asked for.
pub fn split_blocks<E>(
    shift: u32,
    lba: u64,
    buf: &mut [u8],
    mut read: impl FnMut(u64, &mut [u8], bool) -> Result<(), E>,
) -> Result<(), E> {
    let block = SECTOR_SIZE << shift;
    let (mut at, mut rest) = (lba, buf);
    while !rest.is_empty() {
        let offset = (at as usize & ((1 << shift) - 1)) * SECTOR_SIZE;
        let whole = offset == 0 && rest.len() >= block;
        let bytes = if whole {
            rest.len() / block * block
        } else {
            rest.len().min(block - offset)
        };
        let (part, tail) = rest.split_at_mut(bytes);
        read(at, part, whole)?;
        at += (bytes / SECTOR_SIZE) as u64;
        rest = tail;
    }
    Ok(())
}

/// Checks a read request against a device's size: the common first line of every `read`.
pub fn check_read(sectors: u64, lba: u64, len: usize) -> Result<u64, DiskError> {
    if !len.is_multiple_of(SECTOR_SIZE) {
        return Err(DiskError::Unaligned { len });
    }
    let count = (len / SECTOR_SIZE) as u64;
    match lba.checked_add(count) {
        Some(end) if end <= sectors => Ok(count),
        _ => Err(DiskError::OutOfRange {
            lba,
            count,
            sectors,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Every read of up to 20 sectors from the first 40 of a disk of blocks of 1, 2, 4 and 8 sectors, through a
    /// disk that reads whole blocks only: the bytes asked for, with the whole blocks in one call and at most one
    /// block read in part at each end.
    #[test]
    fn a_read_is_split_into_whole_blocks_and_the_blocks_at_its_ends() {
        let disk: Vec<u8> = (0..64 * SECTOR_SIZE)
            .map(|i| (i * 7 + i / 509) as u8)
            .collect();
        for shift in 0..4 {
            let block = SECTOR_SIZE << shift;
            for lba in 0..40u64 {
                for count in 0..=20usize {
                    let mut buf = alloc::vec![0u8; count * SECTOR_SIZE];
                    let mut calls = Vec::new();
                    split_blocks(shift, lba, &mut buf, |at, part, whole| {
                        let start = at as usize * SECTOR_SIZE;
                        calls.push(whole);
                        if whole {
                            assert!(
                                start.is_multiple_of(block) && part.len().is_multiple_of(block)
                            );
                            part.copy_from_slice(&disk[start..start + part.len()]);
                        } else {
                            let first = start / block * block;
                            assert!(start + part.len() <= first + block);
                            let read = &disk[first..first + block];
                            part.copy_from_slice(&read[start - first..][..part.len()]);
                        }
                        Ok::<(), ()>(())
                    })
                    .unwrap();
                    let start = lba as usize * SECTOR_SIZE;
                    assert_eq!(buf, disk[start..start + buf.len()], "{shift} {lba} {count}");
                    assert!(calls.iter().filter(|&&whole| whole).count() <= 1);
                    assert!(calls.len() <= 3 && (shift > 0 || calls.iter().all(|&w| w)));
                }
            }
        }
    }
}
