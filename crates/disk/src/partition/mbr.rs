//! The MBR table: four primary slots and a chain of extended boot records for logical partitions.

use alloc::format;
use alloc::vec::Vec;

use super::{bad, le32, read_sector, unit, Partition, PartitionError};
use crate::device::BlockDevice;

/// A disk with thousands of logical partitions is corrupt or hostile; Linux stops at a similar bound.
const MAX_LOGICAL: u32 = 256;

const PROTECTIVE: u8 = 0xEE;

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

struct Entry {
    boot: u8,
    kind: u8,
    start: u64,
    sectors: u64,
}

fn entry(sector: &[u8], slot: usize) -> Entry {
    let at = 446 + 16 * slot;
    Entry {
        boot: sector[at],
        kind: sector[at + 4],
        start: le32(sector, at + 8) as u64,
        sectors: le32(sector, at + 12) as u64,
    }
}

/// The signature, and boot flags of 0x00/0x80 only: a FAT boot sector written straight onto a disk has the
/// signature too but code where the table would be.
pub(super) fn looks_like_mbr(sector: &[u8]) -> bool {
    sector[510] == 0x55
        && sector[511] == 0xAA
        && (0..4).all(|slot| matches!(entry(sector, slot).boot, 0x00 | 0x80))
        && !looks_like_fat_boot_sector(sector)
}

/// A FAT volume without partitions: jump instruction and a sane bytes-per-sector, and no table entries.
fn looks_like_fat_boot_sector(sector: &[u8]) -> bool {
    let jump = sector[0] == 0xEB || sector[0] == 0xE9;
    let bytes_per_sector = u16::from_le_bytes([sector[11], sector[12]]);
    let no_entries = (0..4).all(|slot| entry(sector, slot).kind == 0);
    jump && matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && (no_entries || sector[0x26] == 0x29 || sector[0x42] == 0x29)
}

pub(super) fn is_protective(sector: &[u8]) -> bool {
    (0..4).any(|slot| entry(sector, slot).kind == PROTECTIVE)
}

pub(super) fn read(device: &dyn BlockDevice, mbr: &[u8]) -> Result<Vec<Partition>, PartitionError> {
    // (In the table's unit: logical blocks.)
    let unit = unit(device);
    let disk_end = device.sectors() / unit;
    let mut partitions = Vec::new();
    let mut extended = Vec::new();
    for slot in 0..4 {
        let e = entry(mbr, slot);
        if e.kind == 0 || e.sectors == 0 {
            continue;
        }
        if is_extended(e.kind) {
            extended.push(e.start);
            continue;
        }
        // A slot past the disk's end cannot be read; leaving it out keeps the others usable.
        if e.start + e.sectors > disk_end {
            continue;
        }
        partitions.push(Partition {
            number: slot as u32 + 1,
            start: e.start * unit,
            sectors: e.sectors * unit,
            mbr_type: Some(e.kind),
            type_guid: None,
            label: None,
            uuid: None,
        });
    }
    // Every extended partition's chain, in the order of their slots, the logical partitions numbered on from 5
    // across them, as Linux reads them (a table should have one; some tools make more).
    let mut number = 5;
    for base in extended {
        read_logical(device, base, &mut number, &mut partitions)?;
    }
    Ok(partitions)
}

/// Walks the EBR chain: each EBR's first entry is a logical partition relative to the EBR, its second the
/// next EBR relative to the extended partition's start. `number` is the next logical partition's.
fn read_logical(
    device: &dyn BlockDevice,
    base: u64,
    number: &mut u32,
    out: &mut Vec<Partition>,
) -> Result<(), PartitionError> {
    let unit = unit(device);
    let disk_end = device.sectors() / unit;
    let mut ebr_lba = base;
    for _ in 0..MAX_LOGICAL {
        if ebr_lba >= disk_end {
            return Err(bad(
                device,
                format!("MBR: extended boot record at sector {ebr_lba} is past the end"),
            ));
        }
        let ebr = read_sector(device, ebr_lba)?;
        if ebr[510] != 0x55 || ebr[511] != 0xAA {
            return Err(bad(
                device,
                format!("MBR: extended boot record at sector {ebr_lba} has no signature"),
            ));
        }
        let data = entry(&ebr, 0);
        if data.kind != 0 && data.sectors != 0 && !is_extended(data.kind) {
            let start = ebr_lba + data.start;
            if start + data.sectors <= disk_end {
                out.push(Partition {
                    number: *number,
                    start: start * unit,
                    sectors: data.sectors * unit,
                    mbr_type: Some(data.kind),
                    type_guid: None,
                    label: None,
                    uuid: None,
                });
            }
            *number += 1;
        }
        let next = entry(&ebr, 1);
        if next.kind == 0 || next.start == 0 {
            return Ok(());
        }
        ebr_lba = base + next.start;
    }
    Err(bad(
        device,
        format!("MBR: more than {MAX_LOGICAL} logical partitions (a loop in the chain?)"),
    ))
}
