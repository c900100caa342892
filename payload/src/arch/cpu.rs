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

const CPUID1_ECX_XSAVE: u32 = 1 << 26;
const CPUID1_ECX_AVX: u32 = 1 << 28;
const CR4_OSXSAVE: u64 = 1 << 18;

/// Turns on XSAVE-managed state (x87, SSE, and AVX where the CPU has it). Crates that choose AVX/AVX2 code at
/// run time (through `cpufeatures`) check CR4.OSXSAVE and XCR0 first; without this they would never use it.
pub fn enable_extended_state() {
    let leaf1 = core::arch::x86_64::__cpuid_count(1, 0);
    if leaf1.ecx & CPUID1_ECX_XSAVE == 0 {
        return;
    }
    let xcr0: u32 = if leaf1.ecx & CPUID1_ECX_AVX != 0 {
        0b111
    } else {
        0b011
    };
    // SAFETY: the CPU has XSAVE, so CR4.OSXSAVE exists and XSETBV with XCR0 = x87|SSE(|AVX) is valid; the
    // states enabled are ones the CPU reports. Nothing else in CR4 changes.
    unsafe {
        asm!("mov {0}, cr4", "or {0}, {1}", "mov cr4, {0}", out(reg) _, in(reg) CR4_OSXSAVE, options(nostack));
        asm!("xsetbv", in("ecx") 0, in("eax") xcr0, in("edx") 0, options(nostack));
    }
}

/// The instruction-set extensions the crypto code can pick at run time, by name, for the banner.
pub fn feature_names() -> impl Iterator<Item = &'static str> {
    let leaf1 = core::arch::x86_64::__cpuid_count(1, 0);
    let leaf7 = if core::arch::x86_64::__cpuid(0).eax >= 7 {
        core::arch::x86_64::__cpuid_count(7, 0)
    } else {
        core::arch::x86_64::CpuidResult {
            eax: 0,
            ebx: 0,
            ecx: 0,
            edx: 0,
        }
    };
    let avx_enabled = leaf1.ecx & CPUID1_ECX_XSAVE != 0 && leaf1.ecx & CPUID1_ECX_AVX != 0;
    [
        ("sse2", leaf1.edx & (1 << 26) != 0),
        ("ssse3", leaf1.ecx & (1 << 9) != 0),
        ("sse4.1", leaf1.ecx & (1 << 19) != 0),
        ("pclmulqdq", leaf1.ecx & (1 << 1) != 0),
        ("aes", leaf1.ecx & (1 << 25) != 0),
        ("sha", leaf7.ebx & (1 << 29) != 0),
        ("avx", avx_enabled),
        ("avx2", avx_enabled && leaf7.ebx & (1 << 5) != 0),
        ("rdrand", leaf1.ecx & (1 << 30) != 0),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
}

/// Masks every line of the two legacy 8259 interrupt controllers. The payload polls its devices and never
/// enables interrupts; masking keeps a stray `sti` from turning the timer's IRQ 0 (vector 8 until the PICs are
/// remapped) into what would look like a double fault.
pub fn mask_legacy_interrupts() {
    // SAFETY: writing the interrupt mask registers (OCW1) of the master (0x21) and slave (0xa1) PICs only
    // masks interrupt lines.
    unsafe {
        super::port::outb(0x21, 0xff);
        super::port::outb(0xa1, 0xff);
    }
}
