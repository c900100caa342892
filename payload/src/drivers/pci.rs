//! PCI configuration space through the PC's configuration mechanism #1 (ports 0xCF8 and 0xCFC), and a walk of
//! every function on every bus for the ones of a class.

use alloc::vec::Vec;
use core::fmt;

use crate::arch::port::{inl, outl};

const ADDRESS: u16 = 0xcf8;
const DATA: u16 = 0xcfc;

/// A function on the PCI bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Function {
    fn select(self, offset: u8) {
        let address = 0x8000_0000
            | u32::from(self.bus) << 16
            | u32::from(self.device) << 11
            | u32::from(self.function) << 8
            | u32::from(offset & 0xfc);
        // SAFETY: 0xCF8 is the configuration address register of every PC chipset; selecting a register has no
        // effect of its own.
        unsafe { outl(ADDRESS, address) };
    }

    /// The 32-bit configuration register at `offset` (a multiple of 4).
    pub fn read(self, offset: u8) -> u32 {
        self.select(offset);
        // SAFETY: reads the register just selected; configuration reads have no side effects.
        unsafe { inl(DATA) }
    }

    /// The address of the function's registers in memory, from BAR0 (and BAR1, its upper half, for a 64-bit BAR);
    /// `None` for registers in I/O space, or a BAR left unassigned.
    pub fn memory_bar(self) -> Option<u64> {
        let bar = self.read(0x10);
        let high = match bar >> 1 & 3 {
            2 => self.read(0x14),
            _ => 0,
        };
        let base = u64::from(bar & !0xf) | u64::from(high) << 32;
        (bar & 1 == 0 && base != 0).then_some(base)
    }

    /// Writes the 32-bit configuration register at `offset` (a multiple of 4).
    pub fn write(self, offset: u8, value: u32) {
        self.select(offset);
        // SAFETY: the callers write only registers whose meaning the PCI specification fixes for every function
        // (the command register) of a function whose class they checked, or those its maker's datasheet names
        // for a function whose vendor and device they checked (xHCI's port routing on Intel's chipsets).
        unsafe { outl(DATA, value) };
    }
}

/// As Linux writes it: bus, device and function, `00:1f.2`.
impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Every function whose class code (class, subclass, programming interface) is `class`, on any bus, in the order
/// of bus, device and function. A bus without devices reads all ones and is passed over quickly.
#[inline(never)]
pub fn find(class: (u8, u8, u8)) -> Vec<Function> {
    let mut found = Vec::new();
    for bus in 0..=255u8 {
        for device in 0..32u8 {
            let first = Function {
                bus,
                device,
                function: 0,
            };
            if first.read(0) & 0xffff == 0xffff {
                continue;
            }
            // Header type bit 7: the device has functions 1-7 too.
            let functions = if first.read(0x0c) >> 16 & 0x80 != 0 {
                8
            } else {
                1
            };
            for function in 0..functions {
                let f = Function {
                    bus,
                    device,
                    function,
                };
                let id = f.read(0x08);
                if f.read(0) & 0xffff != 0xffff
                    && (id >> 24) as u8 == class.0
                    && (id >> 16) as u8 == class.1
                    && (id >> 8) as u8 == class.2
                {
                    found.push(f);
                }
            }
        }
    }
    found
}
