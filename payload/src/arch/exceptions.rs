//! CPU exceptions: an IDT whose 32 exception vectors all lead to one report on every console, then a
//! failure exit. A double fault runs on its own stack (IST 1), so even a blown stack is reported.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use super::cpu;

/// The names of the 32 exception vectors, for the report.
const NAMES: [&str; 32] = [
    "divide error (#DE)",
    "debug (#DB)",
    "non-maskable interrupt (NMI)",
    "breakpoint (#BP)",
    "overflow (#OF)",
    "bound range exceeded (#BR)",
    "invalid opcode (#UD)",
    "device not available (#NM)",
    "double fault (#DF)",
    "coprocessor segment overrun",
    "invalid TSS (#TS)",
    "segment not present (#NP)",
    "stack-segment fault (#SS)",
    "general protection fault (#GP)",
    "page fault (#PF)",
    "reserved vector 15",
    "x87 floating-point error (#MF)",
    "alignment check (#AC)",
    "machine check (#MC)",
    "SIMD floating-point exception (#XM)",
    "virtualization exception (#VE)",
    "control protection exception (#CP)",
    "reserved vector 22",
    "reserved vector 23",
    "reserved vector 24",
    "reserved vector 25",
    "reserved vector 26",
    "reserved vector 27",
    "hypervisor injection exception (#HV)",
    "VMM communication exception (#VC)",
    "security exception (#SX)",
    "reserved vector 31",
];

// One stub per vector (the second macro argument says whether the CPU pushes an error code: vectors 8,
// 10-14, 17, 21, 29 and 30, Intel SDM vol. 3 table 6-1): push a zero where the CPU pushes no error code, push the vector, save every general
// register, and call `exception_report` with a pointer to what was saved (which never returns).
global_asm!(
    r#"
    .macro exception_stub vector, error
    .global exception_stub_\vector
exception_stub_\vector:
    .if \error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp exception_common
    .endm

    .section .text
exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    call exception_report
1:  cli
    hlt
    jmp 1b

    exception_stub 0, 0
    exception_stub 1, 0
    exception_stub 2, 0
    exception_stub 3, 0
    exception_stub 4, 0
    exception_stub 5, 0
    exception_stub 6, 0
    exception_stub 7, 0
    exception_stub 8, 1
    exception_stub 9, 0
    exception_stub 10, 1
    exception_stub 11, 1
    exception_stub 12, 1
    exception_stub 13, 1
    exception_stub 14, 1
    exception_stub 15, 0
    exception_stub 16, 0
    exception_stub 17, 1
    exception_stub 18, 0
    exception_stub 19, 0
    exception_stub 20, 0
    exception_stub 21, 1
    exception_stub 22, 0
    exception_stub 23, 0
    exception_stub 24, 0
    exception_stub 25, 0
    exception_stub 26, 0
    exception_stub 27, 0
    exception_stub 28, 0
    exception_stub 29, 1
    exception_stub 30, 1
    exception_stub 31, 0

    .section .rodata
    .balign 8
    .global exception_stub_table
exception_stub_table:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\vector
    .endr
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static exception_stub_table: [u64; 32];
}

/// What the stub saved, lowest address first.
#[repr(C)]
pub struct Frame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// One 16-byte interrupt gate.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

const MISSING: Gate = Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    attributes: 0,
    offset_middle: 0,
    offset_high: 0,
    reserved: 0,
};
/// Present, ring 0, 64-bit interrupt gate (interrupts stay off inside).
const INTERRUPT_GATE: u8 = 0x8e;

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 32]>);
// SAFETY: written once by `init` on the single boot CPU before interrupts or exceptions are expected.
unsafe impl Sync for Idt {}
static IDT: Idt = Idt(UnsafeCell::new([MISSING; 32]));

#[repr(C, packed)]
struct IdtPointer {
    limit: u16,
    base: u64,
}

/// Fills and loads the IDT. Call after `cpu::init_gdt` (the gates name its code segment and IST).
pub fn init() {
    let selector = cpu::code_selector();
    // SAFETY: the table is a static written by the assembler above; reading it is plain memory access.
    let stubs = unsafe { &*core::ptr::addr_of!(exception_stub_table) };
    // SAFETY: only the boot CPU runs, and only here, before any exception is taken through this table.
    let gates = unsafe { &mut *IDT.0.get() };
    for (vector, (gate, &handler)) in gates.iter_mut().zip(stubs.iter()).enumerate() {
        *gate = Gate {
            offset_low: handler as u16,
            selector,
            ist: if vector == 8 {
                cpu::DOUBLE_FAULT_IST
            } else {
                0
            },
            attributes: INTERRUPT_GATE,
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        };
    }
    let pointer = IdtPointer {
        limit: (core::mem::size_of::<[Gate; 32]>() - 1) as u16,
        base: IDT.0.get() as u64,
    };
    // SAFETY: the pointer names a valid, 'static IDT whose gates lead to the stubs above.
    unsafe {
        core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags))
    };
}

/// Whether the instruction at `rip` is `ud2` inside the payload's code: the payload is built with
/// `-Cpanic=immediate-abort`, so a panic (or a failed infallible allocation) ends in `ud2` where it happened.
fn is_abort(rip: u64) -> bool {
    let (start, end) = crate::platform::image_range();
    if rip < start || rip.saturating_add(2) > end {
        return false;
    }
    // SAFETY: the two bytes lie inside the payload's own loaded image, which is identity mapped and readable.
    let opcode = unsafe { core::ptr::read_unaligned(rip as *const [u8; 2]) };
    opcode == [0x0f, 0x0b]
}

/// Reports an exception on every console and leaves with the failure code. Called only by the stubs.
#[unsafe(no_mangle)]
extern "C" fn exception_report(frame: &Frame) -> ! {
    let name = NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("unknown vector");
    let cr2 = cpu::read_cr2();
    crate::console::emergency(format_args!(
        "\nbootscript: CPU EXCEPTION {} {name}\n\
         bootscript: error_code={:#x} rip={:#018x} cr2={:#018x}\n\
         bootscript: cs={:#x} rflags={:#x} rsp={:#018x} ss={:#x}\n\
         bootscript: rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}\n\
         bootscript: rsi={:#018x} rdi={:#018x} rbp={:#018x} r8={:#018x}\n\
         bootscript: r9={:#018x} r10={:#018x} r11={:#018x} r12={:#018x}\n\
         bootscript: r13={:#018x} r14={:#018x} r15={:#018x}\n",
        frame.vector,
        frame.error_code,
        frame.rip,
        cr2,
        frame.cs,
        frame.rflags,
        frame.rsp,
        frame.ss,
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.r8,
        frame.r9,
        frame.r10,
        frame.r11,
        frame.r12,
        frame.r13,
        frame.r14,
        frame.r15,
    ));
    if super::paging::is_stack_guard(cr2) {
        crate::console::emergency(format_args!(
            "bootscript: the stack overflowed (fault in its guard page)\n"
        ));
    }
    if frame.vector == 6 && is_abort(frame.rip) {
        crate::platform::report_panic(frame.rip);
    }
    crate::power::exit_qemu(crate::power::ExitCode::Failure)
}
