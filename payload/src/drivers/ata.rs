//! The port I/O under the ATA PIO driver of `bootscript-disk` (its `AtaPorts` layer); the state machine, the
//! bounded waits and the decoding are pure code there.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

use bootscript_disk::ata::{self, AtaPorts, Channel, Drive};

use crate::arch::port::{inb, outb};

/// Where the disks the probe found sit, for [`standby_all`]: bit 2 * channel + drive (primary master first).
static DISKS: AtomicU8 = AtomicU8::new(0);

/// The four positions on the legacy IDE ports, in the order of [`DISKS`]' bits.
const POSITIONS: [(Channel, Drive); 4] = [
    (ata::PRIMARY, Drive::Master),
    (ata::PRIMARY, Drive::Slave),
    (ata::SECONDARY, Drive::Master),
    (ata::SECONDARY, Drive::Slave),
];

/// Notes the disks the probe found at these positions (indices of [`POSITIONS`], the probe's order): those it
/// reads, and those it refuses that are ATA disks all the same (of 4096-byte sectors), which also get the standby.
pub fn remember(positions: impl Iterator<Item = usize>) {
    for bit in positions {
        DISKS.fetch_or(1 << bit, Ordering::Relaxed);
    }
}

/// Puts every disk the probe found into standby (see `bootscript_disk::ata::standby`): before a power-off.
pub fn standby_all() {
    let disks = DISKS.load(Ordering::Relaxed);
    for (bit, &(channel, drive)) in POSITIONS.iter().enumerate() {
        if disks & 1 << bit != 0 {
            // (A drive that fails it loses power anyway.)
            let _ = ata::standby(&LegacyPorts, channel, drive);
        }
    }
}

/// The legacy IDE ports, as the PC defines them.
pub struct LegacyPorts;

impl AtaPorts for LegacyPorts {
    fn inb(&self, port: u16) -> u8 {
        // SAFETY: the driver reads only the IDE command and control block registers.
        unsafe { inb(port) }
    }

    fn outb(&self, port: u16, value: u8) {
        // SAFETY: the driver writes only the IDE command and control block registers.
        unsafe { outb(port, value) }
    }

    fn insw(&self, port: u16, buf: &mut [u8]) {
        let words = buf.len() / 2;
        // SAFETY: `rep insw` writes exactly `words` 16-bit words at `buf`, which holds at least that many
        // bytes times two; the direction flag is clear (the ABI guarantees it between functions).
        unsafe {
            asm!("rep insw", in("dx") port, inout("rdi") buf.as_mut_ptr() => _,
                 inout("rcx") words => _, options(nostack, preserves_flags))
        };
    }

    fn insd(&self, port: u16, buf: &mut [u8]) {
        let dwords = buf.len() / 4;
        // SAFETY: `rep insd` writes exactly `dwords` 32-bit words at `buf`, which holds at least that many
        // bytes times four; the direction flag is clear (the ABI guarantees it between functions).
        unsafe {
            asm!("rep insd", in("dx") port, inout("rdi") buf.as_mut_ptr() => _,
                 inout("rcx") dwords => _, options(nostack, preserves_flags))
        };
    }

    fn now_ms(&self) -> Option<u64> {
        Some(crate::clock::time_ms())
    }

    /// Keys typed during a long read are taken into the consoles' type-ahead (and a Ctrl-C noted): the i8042
    /// holds one byte and QEMU's keyboard 16, a 16550 sixteen, and a read of a kernel takes seconds.
    fn between_blocks(&self) {
        crate::console::interrupt_pending();
    }

    fn delay_400ns(&self, control: u16) {
        for _ in 0..4 {
            // SAFETY: the driver passes a channel's control port; its alternate status register reads without
            // side effects (unlike the status register, it does not acknowledge an interrupt).
            unsafe { inb(control) };
        }
    }
}
