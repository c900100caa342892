//! GPT: header and entry array, both CRC32-checked, with the backup copy at the disk's end used when the
//! primary is damaged.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use super::{bad, le32, le64, read_sector, unit, Partition, PartitionError};
use crate::crc32::crc32;
use crate::device::{BlockDevice, SECTOR_SIZE};

/// The array is 16 KiB in practice; anything over 1 MiB is not a table we should allocate for.
const MAX_ARRAY_BYTES: u64 = 1 << 20;

struct Header {
    entries_lba: u64,
    count: u32,
    entry_size: u32,
    entries_crc: u32,
    alternate: u64,
}

fn header(device: &dyn BlockDevice, lba: u64) -> Result<Header, String> {
    let s = read_sector(device, lba).map_err(|e| format!("{e}"))?;
    if &s[0..8] != b"EFI PART" {
        return Err(format!("no GPT header signature at sector {lba}"));
    }
    let size = le32(&s, 12) as usize;
    if !(92..=SECTOR_SIZE).contains(&size) {
        return Err(format!("GPT header at sector {lba} has a bad size {size}"));
    }
    let mut copy = [0u8; SECTOR_SIZE];
    copy[..size].copy_from_slice(&s[..size]);
    copy[16..20].fill(0);
    if crc32(&copy[..size]) != le32(&s, 16) {
        return Err(format!("GPT header at sector {lba} has a bad CRC"));
    }
    Ok(Header {
        entries_lba: le64(&s, 72),
        count: le32(&s, 80),
        entry_size: le32(&s, 84),
        entries_crc: le32(&s, 88),
        alternate: le64(&s, 32),
    })
}

fn entries(device: &dyn BlockDevice, h: &Header) -> Result<Vec<Partition>, String> {
    let entry_size = h.entry_size as u64;
    if entry_size < 128 || !entry_size.is_multiple_of(8) {
        return Err(format!("GPT entry size {entry_size} is invalid"));
    }
    let bytes = entry_size * h.count as u64;
    if bytes > MAX_ARRAY_BYTES {
        return Err(format!("GPT entry array of {bytes} bytes is too large"));
    }
    // (In the table's unit: logical blocks.)
    let unit = unit(device);
    let blocks = device.sectors() / unit;
    let count = bytes.div_ceil(unit * SECTOR_SIZE as u64);
    if h.entries_lba
        .checked_add(count)
        .is_none_or(|end| end > blocks)
    {
        return Err(format!(
            "GPT entry array at sector {} is past the end",
            h.entries_lba
        ));
    }
    let mut array = vec![0u8; (count * unit) as usize * SECTOR_SIZE];
    device
        .read(h.entries_lba * unit, &mut array)
        .map_err(|e| format!("{e}"))?;
    if crc32(&array[..bytes as usize]) != h.entries_crc {
        return Err(format!(
            "GPT entry array at sector {} has a bad CRC",
            h.entries_lba
        ));
    }
    let mut out = Vec::new();
    for (index, e) in array[..bytes as usize]
        .chunks_exact(entry_size as usize)
        .enumerate()
    {
        if e[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let first = le64(e, 32);
        let last = le64(e, 40);
        if last < first || last >= blocks {
            continue;
        }
        // The name: 36 UTF-16 units, up to the first 0.
        let mut units = [0u16; 36];
        let mut length = 0;
        while length < 36 {
            let at = 56 + 2 * length;
            match u16::from_le_bytes([e[at], e[at + 1]]) {
                0 => break,
                unit => units[length] = unit,
            }
            length += 1;
        }
        let label = crate::utf16::text(&units[..length]);
        out.push(Partition {
            number: index as u32 + 1,
            start: first * unit,
            sectors: (last - first + 1) * unit,
            mbr_type: None,
            type_guid: Some(guid(&e[0..16])),
            label: Some(label),
            uuid: Some(guid(&e[16..32])),
        });
    }
    Ok(out)
}

/// A GUID as text: the first three fields are little-endian on disk.
pub(crate) fn guid(b: &[u8]) -> String {
    let mut s = String::new();
    let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    for (i, &at) in order.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{:02x}", b[at]);
    }
    s
}

pub(super) fn read(device: &dyn BlockDevice) -> Result<Vec<Partition>, PartitionError> {
    let last = (device.sectors() / unit(device)).saturating_sub(1);
    let primary = header(device, 1);
    let first_error = match &primary {
        Ok(h) => match entries(device, h) {
            Ok(list) => return Ok(list),
            Err(e) => e,
        },
        Err(e) => e.clone(),
    };
    // The primary header names where its backup is; a primary too broken to say so leaves the last sector.
    let backup_lba = match &primary {
        Ok(h) if h.alternate > 1 && h.alternate <= last => h.alternate,
        _ => last,
    };
    match header(device, backup_lba).and_then(|h| entries(device, &h)) {
        Ok(list) => Ok(list),
        Err(second) => Err(bad(
            device,
            format!("{first_error}, and the backup: {second}"),
        )),
    }
}
