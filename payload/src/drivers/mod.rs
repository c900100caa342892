//! Device drivers, each in three layers: datasheet constants, a few port accesses, a safe type on top.

pub mod ahci;
pub mod ata;
pub mod keyboard;
pub mod nvme;
pub mod pci;
pub mod pit;
pub mod serial;
pub mod vga;
