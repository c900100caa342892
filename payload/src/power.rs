//! Leaving: QEMU's isa-debug-exit for tests, a reset (ACPI's reset register, the keyboard controller, the chipset's,
//! a triple fault), ACPI soft-off, or a halted CPU (after a crash).

use crate::acpi::{
    self, ResetAddress, ResetRegister, SoftOff, SCI_ENABLED, SLEEP_ENABLE, SLEEP_TYPE_MASK,
    SLEEP_TYPE_SHIFT,
};
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
            // The disks are told first (then the NVMe ones are sent no more commands: should the soft-off fail,
            // the script goes on without them).
            crate::drivers::power_off_disks();
            switch_off(off);
            "it is still on after ACPI soft-off"
        }
        Err(why) => why,
    }
}

/// Firmware memory, for the ACPI table readers: what lies below `MAPPED_LIMIT`.
fn firmware_memory(address: u64, len: usize) -> Option<&'static [u8]> {
    let end = address.checked_add(len as u64)?;
    if address == 0 || end > MAPPED_LIMIT {
        return None;
    }
    // SAFETY: everything below MAPPED_LIMIT is identity mapped and readable; firmware tables lie in memory the
    // payload never writes, and they are only read here.
    Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) })
}

/// Runs `find` on the root table the RSDP names: the XSDT when there is one (and `find` succeeds there), else
/// the RSDT.
fn from_root_table<T>(
    rsdp: &Rsdp,
    find: impl Fn(u64, bool, &acpi::Read<'static>) -> Result<T, &'static str>,
) -> Result<T, &'static str> {
    if rsdp.revision >= 2 && rsdp.table_address != 0 {
        if let Ok(found) = find(rsdp.table_address, true, &firmware_memory) {
            return Ok(found);
        }
    }
    // The RSDT's 32-bit address is at offset 16 of every RSDP (the copy in the boot information).
    let rsdt = firmware_memory(rsdp.address.saturating_add(16), 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    find(u64::from(rsdt), false, &firmware_memory)
}

/// The ACPI PM timer's port, from the FADT.
pub fn pm_timer(rsdp: &Rsdp) -> Option<u16> {
    from_root_table(rsdp, acpi::fadt)
        .ok()
        .and_then(acpi::pm_timer)
}

/// Reads the ACPI tables from the root table the RSDP names.
fn find_soft_off(rsdp: &Rsdp) -> Result<SoftOff, &'static str> {
    from_root_table(rsdp, acpi::soft_off)
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

/// How long each way of resetting gets to take effect before the next is tried (a keyboard controller that is
/// an embedded controller's firmware may take a while).
const RESET_WAIT_MS: u64 = 500;

/// Restarts the machine, trying the ways a PC has in the order Windows and Linux use: the ACPI reset register
/// when the FADT names one (some machines have no keyboard controller, or one whose reset line does nothing),
/// then the keyboard controller's reset line, then the chipset's reset control register (port 0xCF9 of Intel's
/// and AMD's chipsets), and last a triple fault (which not every machine turns into a reset).
pub fn reboot(rsdp: Option<&Rsdp>) -> ! {
    // The NVMe disks are told first (the list of them is in the heap, which the wipe clears).
    crate::drivers::nvme::shut_down();
    // (The keyboards' reports, which the wipe clears, are written no more.)
    crate::drivers::xhci::quiesce();
    wipe_secrets();
    let reset_register = rsdp
        .and_then(|rsdp| from_root_table(rsdp, acpi::fadt).ok())
        .and_then(acpi::reset_register);
    if let Some(reset) = reset_register {
        write_reset_register(reset);
        clock::sleep_ms(RESET_WAIT_MS);
    }
    for _ in 0..100_000 {
        // SAFETY: reading the i8042 status has no side effect.
        if unsafe { inb(0x64) } & 0x02 == 0 {
            break;
        }
    }
    // SAFETY: command 0xfe pulses the CPU reset line; that is the point.
    unsafe { outb(0x64, 0xfe) };
    clock::sleep_ms(RESET_WAIT_MS);
    // SAFETY: the reset control register of Intel's and AMD's chipsets (bit 1: a hard reset rather than a CPU-only
    // one; bit 2 going from 0 to 1: reset now), its other bits kept. It is tried only after the ways ACPI and the
    // keyboard controller offer did nothing, right before the triple fault: the machine is left either way.
    unsafe {
        let kept = inb(RESET_CONTROL) & !0x0e;
        outb(RESET_CONTROL, kept | 0x02);
        outb(RESET_CONTROL, kept | 0x06);
    }
    clock::sleep_ms(RESET_WAIT_MS);
    let empty: [u8; 10] = [0; 10];
    // SAFETY: an empty IDT turns the breakpoint into a triple fault, which resets the machine; nothing after
    // this is meant to run.
    unsafe { core::arch::asm!("lidt [{}]", "int3", in(reg) &empty, options(nostack)) };
    halt_forever()
}

/// The chipset's reset control register.
const RESET_CONTROL: u16 = 0xcf9;

/// Writes the FADT's reset value to its reset register, as one byte.
fn write_reset_register(reset: ResetRegister) {
    match reset.address {
        // SAFETY: the FADT names this port as the one that resets the machine.
        ResetAddress::Io(port) => unsafe { outb(port, reset.value) },
        ResetAddress::Memory(address) if address < MAPPED_LIMIT => {
            // SAFETY: the FADT names this byte of physical memory (a chipset register) as the one that resets the
            // machine; below MAPPED_LIMIT it is identity mapped, and the firmware's memory type ranges keep such
            // registers uncached.
            unsafe { (address as *mut u8).write_volatile(reset.value) }
        }
        ResetAddress::Memory(_) => {}
        ResetAddress::PciConfig {
            device,
            function,
            offset,
        } => {
            // PCI configuration mechanism #1: the function and the register's dword at 0xCF8, the byte itself in
            // the data window at 0xCFC.
            let select = 0x8000_0000
                | u32::from(device) << 11
                | u32::from(function) << 8
                | u32::from(offset & 0xfc);
            // SAFETY: ports 0xCF8/0xCFC are the PCI configuration mechanism of every PC chipset; the write is
            // the one the FADT names to reset the machine.
            unsafe {
                outl(0xcf8, select);
                outb(0xcfc + u16::from(offset & 3), reset.value);
            }
        }
    }
}
