//! Device drivers, each in three layers: datasheet constants, a few port accesses, a safe type on top.

pub mod ahci;
pub mod ata;
pub mod keyboard;
mod mmio;
pub mod nvme;
pub mod pci;
pub mod pit;
pub mod serial;
pub mod vga;

/// Tells every disk the drivers found that power goes away, as an operating system does before it switches the
/// machine off: ATA and SATA disks go into standby (their caches on the medium, their heads parked), NVMe
/// controllers get the shutdown notification. A disk asked again after this wakes up (ATA) or is refused until a
/// reboot (NVMe): called only right before the power-off.
pub fn power_off_disks() {
    ata::standby_all();
    ahci::standby_all();
    nvme::shut_down();
}
