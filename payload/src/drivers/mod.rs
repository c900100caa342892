//! Device drivers, each in three layers: datasheet constants, a few port accesses, a safe type on top.

use alloc::format;
use core::fmt::Display;

use bootscript_disk::{DiskError, SECTOR_SIZE};

pub mod ahci;
pub mod ata;
pub mod keyboard;
mod mmio;
pub mod nvme;
pub mod pci;
pub mod pit;
pub mod serial;
pub mod vga;
pub mod xhci;

/// Tells every disk the drivers found that power goes away, as an operating system does before it switches the
/// machine off: ATA and SATA disks go into standby (their caches on the medium, their heads parked), NVMe
/// controllers get the shutdown notification. A disk asked again after this wakes up (ATA) or is refused until a
/// reboot (NVMe): called only right before the power-off.
pub fn power_off_disks() {
    ata::standby_all();
    ahci::standby_all();
    nvme::shut_down();
}

/// Stops every controller the drivers set up from writing into memory that is the next kernel's: the AHCI ports
/// stop, the NVMe controllers let go of their queues and the xHCI controllers of their rings. Called right before
/// the hand-off, once its placement is checked.
pub fn quiesce() {
    ahci::quiesce();
    nvme::quiesce();
    xhci::quiesce();
}

/// Reads `buf` from sector `lba` of disk `name` in parts of at most `chunk` bytes (a multiple of 512), each by
/// `read` (its first sector, its part), as the DMA drivers do; an error names the disk and the part's first
/// sector. After each part, keys typed meanwhile are taken into the consoles' type-ahead (and a Ctrl-C noted).
pub fn read_in_parts<E: Display>(
    name: &str,
    lba: u64,
    buf: &mut [u8],
    chunk: usize,
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
) -> Result<(), DiskError> {
    for (index, part) in buf.chunks_mut(chunk).enumerate() {
        let at = lba + (index * chunk / SECTOR_SIZE) as u64;
        if let Err(e) = read(at, part) {
            return Err(DiskError::Io(format!("{name}: reading sector {at}: {e}")));
        }
        crate::console::interrupt_pending();
    }
    Ok(())
}
