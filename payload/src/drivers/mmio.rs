//! A device's 32-bit registers in memory (a PCI memory BAR), read and written volatile, with the drivers' bounded
//! wait on one of them. The AHCI and NVMe drivers' register blocks.

use crate::clock;

/// A block of memory-mapped 32-bit registers, from its base address.
#[derive(Clone, Copy)]
pub struct Registers {
    base: usize,
}

impl Registers {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` is where a device's memory-mapped registers start, identity mapped and uncached (below
    /// `MAPPED_LIMIT`, where the firmware's memory type ranges make such memory uncached, or mapped so by
    /// `paging::map_above_4g`), and every offset the caller reads or writes is one of that device's 32-bit
    /// registers.
    pub const unsafe fn new(base: usize) -> Registers {
        Registers { base }
    }

    pub fn read(self, offset: usize) -> u32 {
        // SAFETY: a register of the device (the promise of `new`).
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    pub fn write(self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }

    /// Writes a 64-bit register (an address) as two halves, the low one first.
    pub fn write_address(self, offset: usize, address: u64) {
        self.write(offset, address as u32);
        self.write(offset + 4, (address >> 32) as u32);
    }

    /// Waits until `done` holds of the register at `offset`, for at most `ms`: whether it did.
    pub fn wait(self, offset: usize, ms: u64, done: impl Fn(u32) -> bool) -> bool {
        clock::wait_until(ms, || done(self.read(offset)))
    }
}
