//! The simple block devices: memory (tests, fuzzing) and a partition view over another device.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::device::{check_read, BlockDevice, DiskError, SECTOR_SIZE};

/// A disk held in memory. A trailing partial sector is not addressable, as on a real disk.
pub struct MemDisk {
    name: String,
    data: Vec<u8>,
}

impl MemDisk {
    pub fn new(name: &str, data: Vec<u8>) -> MemDisk {
        MemDisk {
            name: String::from(name),
            data,
        }
    }
}

impl BlockDevice for MemDisk {
    fn sectors(&self) -> u64 {
        (self.data.len() / SECTOR_SIZE) as u64
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.sectors(), lba, buf.len())?;
        let start = lba as usize * SECTOR_SIZE;
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// A window of `sectors` sectors starting at `start` on a parent device: a partition, or the payload area of a
/// volume. Reads pass straight through to the parent in one call.
pub struct PartitionView {
    name: String,
    parent: Rc<dyn BlockDevice>,
    start: u64,
    sectors: u64,
}

impl PartitionView {
    /// A view of `sectors` sectors from `start`; an error if the window does not fit the parent.
    pub fn new(
        name: &str,
        parent: Rc<dyn BlockDevice>,
        start: u64,
        sectors: u64,
    ) -> Result<PartitionView, DiskError> {
        match start.checked_add(sectors) {
            Some(end) if end <= parent.sectors() => {}
            _ => {
                return Err(DiskError::OutOfRange {
                    lba: start,
                    count: sectors,
                    sectors: parent.sectors(),
                })
            }
        }
        Ok(PartitionView {
            name: String::from(name),
            parent,
            start,
            sectors,
        })
    }

    /// The first sector of the view on its parent.
    pub fn start(&self) -> u64 {
        self.start
    }
}

impl BlockDevice for PartitionView {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_read(self.sectors, lba, buf.len())?;
        self.parent.read(self.start + lba, buf)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Reads `buf.len()` bytes at byte `offset`, both multiples of the sector size as every caller here has them
/// (file system blocks and clusters are whole sectors).
pub(crate) fn read_bytes(
    device: &dyn BlockDevice,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), DiskError> {
    if !offset.is_multiple_of(SECTOR_SIZE as u64) {
        return Err(DiskError::Unaligned {
            len: offset as usize % SECTOR_SIZE,
        });
    }
    device.read(offset / SECTOR_SIZE as u64, buf)
}
