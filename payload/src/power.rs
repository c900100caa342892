//! Leaving: QEMU's isa-debug-exit for tests, a keyboard-controller reset, or a halted CPU.

use crate::arch::cpu::halt_forever;
use crate::arch::port::{inb, outb, outl};

/// The isa-debug-exit device the tests add (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
const DEBUG_EXIT_PORT: u16 = 0xf4;

/// What QEMU's exit status says. QEMU exits with `(code << 1) | 1`: 33 for success, 35 for failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    Success = 0x10,
    Failure = 0x11,
}

/// Ends a QEMU run with this code; on a machine without isa-debug-exit the write does nothing and the CPU halts.
pub fn exit_qemu(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is unused on PCs; under QEMU with isa-debug-exit it ends the emulator.
    unsafe { outl(DEBUG_EXIT_PORT, code as u32) };
    halt_forever()
}

/// Stops the CPU for good.
pub fn halt() -> ! {
    halt_forever()
}

/// Restarts the machine: the keyboard controller's reset line, then a triple fault if that did nothing.
pub fn reboot() -> ! {
    for _ in 0..100_000 {
        // SAFETY: reading the i8042 status has no side effect.
        if unsafe { inb(0x64) } & 0x02 == 0 {
            break;
        }
    }
    // SAFETY: command 0xfe pulses the CPU reset line; that is the point.
    unsafe { outb(0x64, 0xfe) };
    for _ in 0..1_000_000 {
        core::hint::spin_loop();
    }
    let empty: [u8; 10] = [0; 10];
    // SAFETY: an empty IDT turns the breakpoint into a triple fault, which resets the machine; nothing after
    // this is meant to run.
    unsafe { core::arch::asm!("lidt [{}]", "int3", in(reg) &empty, options(nostack)) };
    halt_forever()
}
