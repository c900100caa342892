//! Leaving: QEMU's isa-debug-exit for tests, a keyboard-controller reset, ACPI soft-off, or a halted CPU (after a
//! crash).

use crate::acpi::{self, SoftOff, SCI_ENABLED, SLEEP_ENABLE, SLEEP_TYPE_MASK, SLEEP_TYPE_SHIFT};
use crate::arch::cpu::halt_forever;
use crate::arch::port::{inb, inw, outb, outl, outw};
use crate::bootinfo::{Rsdp, MAPPED_LIMIT};
use crate::clock;
use crate::heap;

unsafe extern "C" {
    /// payload/src/handoff.rs: zeroes the boot stack below the caller's frame and XMM0-15 (clobbers rax, rcx, rdi
    /// and the XMM registers, all caller-saved in the C ABI).
    fn bootscript_wipe_stack();
}

/// Zeroes what may hold a passphrase or a key (the heap's used part, the boot stack below this call, the XMM
/// registers) before the machine is left for good: a reset keeps RAM as it was, for whatever boots next to read,
/// and so does a CPU halted after a crash until someone presses reset. Nothing of either is used after; the
/// caller never returns.
fn wipe_secrets() {
    let used = heap::used_range();
    // SAFETY: the heap's used part is RAM of ours (empty before the heap exists); what it holds is never read
    // again, as the caller leaves for good without returning to anything that owns it. Likewise the stack below
    // this frame: the routine keeps its own return address.
    unsafe {
        core::arch::asm!(
            "rep stosb",
            inout("rdi") used.start => _,
            inout("rcx") used.length() => _,
            in("al") 0u8,
            options(nostack, preserves_flags),
        );
        bootscript_wipe_stack();
    }
}

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
    wipe_secrets();
    // SAFETY: port 0xf4 is unused on PCs; under QEMU with isa-debug-exit it ends the emulator.
    unsafe { outl(DEBUG_EXIT_PORT, code as u32) };
    halt_forever()
}

/// Switches the machine off through ACPI (the soft-off state S5, as the firmware's tables describe it). Returns
/// only where that cannot be done, or the machine is still running after it: why.
pub fn power_off(rsdp: Option<&Rsdp>) -> &'static str {
    match rsdp
        .ok_or("the boot loader passed no ACPI RSDP")
        .and_then(find_soft_off)
    {
        Ok(off) => {
            switch_off(off);
            "it is still on after ACPI soft-off"
        }
        Err(why) => why,
    }
}

/// Reads the ACPI tables from the root table the RSDP names: the XSDT when there is one, else the RSDT.
fn find_soft_off(rsdp: &Rsdp) -> Result<SoftOff, &'static str> {
    let read = |address: u64, len: usize| -> Option<&'static [u8]> {
        let end = address.checked_add(len as u64)?;
        if address == 0 || end > MAPPED_LIMIT {
            return None;
        }
        // SAFETY: everything below MAPPED_LIMIT is identity mapped and readable; firmware tables lie in memory
        // the payload never writes, and they are only read here.
        Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) })
    };
    if rsdp.revision >= 2 && rsdp.table_address != 0 {
        if let Ok(off) = acpi::soft_off(rsdp.table_address, true, &read) {
            return Ok(off);
        }
    }
    // The RSDT's 32-bit address is at offset 16 of every RSDP (the copy in the boot information).
    let rsdt = read(rsdp.address.saturating_add(16), 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    acpi::soft_off(u64::from(rsdt), false, &read)
}

/// Enters S5: ACPI mode first if the firmware is not in it (asked through its SMI port, waited for up to 3 s),
/// then SLP_TYP into both PM1 control registers, then SLP_EN, keeping their other bits (as ACPI asks). Returns if
/// the machine is still running a second later.
fn switch_off(off: SoftOff) {
    let ports = [
        (off.pm1a_control, off.sleep_type_a),
        (off.pm1b_control, off.sleep_type_b),
    ];
    // SAFETY: the FADT names these ports as the PM1 control registers and the SMI command port; the writes are
    // what ACPI prescribes to enter S5, the last thing the payload does.
    unsafe {
        if inw(off.pm1a_control) & SCI_ENABLED == 0 && off.smi_command != 0 && off.acpi_enable != 0
        {
            outb(off.smi_command, off.acpi_enable);
            let deadline = clock::time_ms() + 3000;
            while inw(off.pm1a_control) & SCI_ENABLED == 0 && clock::time_ms() < deadline {
                core::hint::spin_loop();
            }
        }
        for enable in [0, SLEEP_ENABLE] {
            for (port, sleep_type) in ports {
                if port != 0 {
                    let kept = inw(port) & !(SLEEP_TYPE_MASK | SLEEP_ENABLE);
                    outw(port, kept | sleep_type << SLEEP_TYPE_SHIFT | enable);
                }
            }
        }
    }
    clock::sleep_ms(1000);
}

/// Restarts the machine: the keyboard controller's reset line, then a triple fault if that did nothing.
pub fn reboot() -> ! {
    wipe_secrets();
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
