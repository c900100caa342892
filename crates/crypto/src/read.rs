//! Byte-addressed reads from a sector device, bounded and with fallible allocation.

use crate::CryptoError;
use alloc::format;
use alloc::vec::Vec;
use bootscript_disk::{BlockDevice, SECTOR_SIZE};

/// Largest single metadata read: a LUKS2 header area is at most 4 MiB, and a key slot's anti-forensic
/// material at most 64 bytes times 4000 stripes (cryptsetup) - 16 MiB leaves ample room for odd headers.
pub(crate) const MAX_METADATA_READ: u64 = 16 * 1024 * 1024;

/// A zeroed buffer of `length` bytes, or a clear error if the allocator refuses.
pub(crate) fn try_buffer(length: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(length)
        .map_err(|_| CryptoError::OutOfMemory {
            kib: (length as u64).div_ceil(1024),
        })?;
    buffer.resize(length, 0);
    Ok(buffer)
}

/// Reads `length` bytes at byte `offset`, which may be unaligned. A range past the device's end is
/// `VolumeTooSmall`, since only a header points there.
pub(crate) fn read_bytes(
    device: &dyn BlockDevice,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, CryptoError> {
    if length > MAX_METADATA_READ {
        return Err(CryptoError::Limit(format!(
            "a {length}-byte metadata read is over the {MAX_METADATA_READ}-byte limit"
        )));
    }
    let sector = SECTOR_SIZE as u64;
    let end = offset
        .checked_add(length)
        .ok_or_else(|| too_small(u64::MAX, device))?;
    let first = offset / sector;
    let last = end.div_ceil(sector);
    if last > device.sectors() {
        return Err(too_small(last, device));
    }
    let mut buffer = try_buffer(((last - first) * sector) as usize)?;
    device.read(first, &mut buffer)?;
    let skip = (offset % sector) as usize;
    buffer.drain(..skip);
    buffer.truncate(length as usize);
    Ok(buffer)
}

pub(crate) fn too_small(needed: u64, device: &dyn BlockDevice) -> CryptoError {
    CryptoError::VolumeTooSmall {
        needed,
        sectors: device.sectors(),
    }
}
