//! Partition tables: MBR (primary and extended/logical) and GPT, named as Linux numbers them (`hd0p1`..).

mod gpt;
mod mbr;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::device::{BlockDevice, DiskError, SECTOR_SIZE};

/// One partition found on a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Linux's number: MBR primaries 1..4 by slot, logicals from 5; GPT entries by index + 1.
    pub number: u32,
    /// First sector on the disk.
    pub start: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// The MBR type byte (MBR tables only).
    pub mbr_type: Option<u8>,
    /// GPT partition type GUID, lower case.
    pub type_guid: Option<String>,
    /// GPT partition name.
    pub label: Option<String>,
    /// GPT unique partition GUID (Linux's PARTUUID), lower case.
    pub uuid: Option<String>,
}

/// What went wrong reading a partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionError {
    /// The disk failed below the table.
    Disk { device: String, error: DiskError },
    /// The table is malformed; `what` says how.
    Bad { device: String, what: String },
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Disk { device, error } => {
                crate::device::write_device_error(f, device, error)
            }
            PartitionError::Bad { device, what } => write!(f, "{device}: {what}"),
        }
    }
}

pub(crate) fn bad(device: &dyn BlockDevice, what: String) -> PartitionError {
    PartitionError::Bad {
        device: String::from(device.name()),
        what,
    }
}

/// The 512-byte sectors in one of the disk's logical blocks, the unit its partition table counts in: 8 on a disk
/// of 4096-byte blocks, else 1.
pub(crate) fn unit(device: &dyn BlockDevice) -> u64 {
    match device.block_size() {
        size @ (1024 | 2048 | 4096) => u64::from(size) / SECTOR_SIZE as u64,
        _ => 1,
    }
}

/// The first 512 bytes of logical block `lba` (in the table's unit, see [`unit`]).
pub(crate) fn read_sector(
    device: &dyn BlockDevice,
    lba: u64,
) -> Result<[u8; SECTOR_SIZE], PartitionError> {
    let mut sector = [0u8; SECTOR_SIZE];
    device
        .read(lba.saturating_mul(unit(device)), &mut sector)
        .map_err(|error| PartitionError::Disk {
            device: String::from(device.name()),
            error,
        })?;
    Ok(sector)
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    le32(b, at) as u64 | (le32(b, at + 4) as u64) << 32
}

/// The partitions of `device`, in Linux's order (their start and size in 512-byte sectors, whatever unit the
/// table counts in). A disk without a partition table (no 0x55AA signature, or a
/// file system written straight onto it) has none: `Ok(vec![])`.
pub fn read_partitions(device: &dyn BlockDevice) -> Result<Vec<Partition>, PartitionError> {
    if device.sectors() == 0 {
        return Ok(Vec::new());
    }
    let mbr = read_sector(device, 0)?;
    if !mbr::looks_like_mbr(&mbr) {
        return Ok(Vec::new());
    }
    if mbr::is_protective(&mbr) {
        return gpt::read(device);
    }
    mbr::read(device, &mbr)
}
