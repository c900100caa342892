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
