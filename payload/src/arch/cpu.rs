//! The boot CPU's own tables (GDT with a TSS for the double-fault stack) and single instructions.

use core::arch::asm;
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// The interrupt stack table slot (1-based in the IDT entry) that the double fault runs on.
pub const DOUBLE_FAULT_IST: u8 = 1;
const DOUBLE_FAULT_STACK_SIZE: usize = 16 * 1024;

/// Mutable so that it lands in .bss (zero bytes in the image); only the CPU writes it, through the TSS.
/// `u128` elements keep it 16-byte aligned.
static mut DOUBLE_FAULT_STACK: [u128; DOUBLE_FAULT_STACK_SIZE / 16] =
    [0; DOUBLE_FAULT_STACK_SIZE / 16];

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(
    GlobalDescriptorTable,
    SegmentSelector,
    SegmentSelector,
    SegmentSelector,
)> = Once::new();

/// The code segment selector the IDT entries use.
pub fn code_selector() -> u16 {
    GDT.get().map_or(0x08, |g| g.1 .0)
}

/// Replaces the boot stub's GDT with one that has a TSS, so a double fault gets a known-good stack.
pub fn init_gdt() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        // Only the address is taken: Rust code never reads or writes this stack, the CPU does.
        let top =
            VirtAddr::from_ptr(&raw const DOUBLE_FAULT_STACK) + DOUBLE_FAULT_STACK_SIZE as u64;
        tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST - 1)] = top;
        tss
    });
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, code, data, tss)
    });
    gdt.0.load();
    // SAFETY: the selectors come from the GDT just loaded, which lives in a `static` forever.
    unsafe {
        CS::set_reg(gdt.1);
        DS::set_reg(gdt.2);
        ES::set_reg(gdt.2);
        SS::set_reg(gdt.2);
        load_tss(gdt.3);
    }
}

/// The time stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: rdtsc only reads a counter.
    unsafe {
        asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    (u64::from(high) << 32) | u64::from(low)
}

/// The faulting address of the last page fault.
pub fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Stops this CPU for good (interrupts off, so nothing wakes it).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops the CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
