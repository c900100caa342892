//! Block devices, partition tables and read-only file systems: everything between a disk's sectors and a
//! script's `read("/boot/vmlinuz")`, as pure code that runs the same in the payload and on the host.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod ata;
mod crc32;
mod device;
mod devices;
pub mod fs;
#[cfg(feature = "std")]
mod image;
pub mod nvme;
pub mod partition;
mod registry;
mod utf16;
mod vfs;

pub use crc32::crc32;
pub use device::{check_read, split_blocks, BlockDevice, DiskError, SECTOR_SIZE};
pub use devices::{MemDisk, PartitionView};
pub use fs::{FileSystem, FsError, Kind, Node, Stat};
#[cfg(feature = "std")]
pub use image::ImageFile;
pub use registry::{probe_disks, DiskEntry, EntryKind};
pub use vfs::{File, Vfs, MAX_SYMLINKS};
