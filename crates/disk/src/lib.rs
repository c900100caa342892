//! Block devices, partition tables and read-only file systems: everything between a disk's sectors and a
//! script's `read("/boot/vmlinuz")`, as pure code that runs the same in the payload and on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod device;

pub use device::{check_read, BlockDevice, DiskError, SECTOR_SIZE};
