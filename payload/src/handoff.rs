//! The last step: copy a prepared kernel into place, wipe what the boot stage held, and enter the kernel
//! (Linux's 64-bit entry, or Multiboot2's 32-bit protected mode). `bootscript-handoff` chose every address;
//! this module only checks that none of them hits the boot stage, then moves bytes and jumps.

use alloc::format;
use alloc::string::String;
use core::arch::global_asm;

use bootscript_system::Handoff;

use crate::bootinfo::MAPPED_LIMIT;
use crate::heap;
use crate::memory::Range;

global_asm!(
    r#"
    .section .rodata.handoff, "a"
    .balign 16
handoff_gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x10: __BOOT_CS, flat 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x18: __BOOT_DS, flat data */
    .quad 0x00cf9a000000ffff            /* 0x20: flat 32-bit code, for Multiboot2 */
handoff_gdt_end:
handoff_gdt_pointer:
    .short handoff_gdt_end - handoff_gdt - 1
    .quad handoff_gdt

    .section .text.handoff, "ax"
    .code64

    /* bootscript_enter_linux(entry: rdi, boot_params: rsi, wipe_start: rdx, wipe_length: rcx) */
    .global bootscript_enter_linux
bootscript_enter_linux:
    cli
    cld
    movq %rdi, %r8
    movq %rdx, %rdi
    xorl %eax, %eax
    rep stosb                           /* wipe the heap: keys and passphrases not handed on go here */
    lgdt handoff_gdt_pointer(%rip)
    leaq 1f(%rip), %rax
    pushq $0x10
    pushq %rax
    lretq                               /* CS = __BOOT_CS */
1:  movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    xorl %ebp, %ebp
    xorl %ebx, %ebx
    jmp *%r8                            /* RSI = boot_params, as boot.rst's 64-bit protocol asks */

    /* bootscript_enter_multiboot2(entry: rdi, info: rsi, wipe_start: rdx, wipe_length: rcx) */
    .global bootscript_enter_multiboot2
bootscript_enter_multiboot2:
    cli
    cld
    movq %rdi, %r8
    movq %rdx, %rdi
    xorl %eax, %eax
    rep stosb
    movq %r8, %rdi
    lgdt handoff_gdt_pointer(%rip)
    leaq 2f(%rip), %rax
    pushq $0x20
    pushq %rax
    lretq                               /* compatibility mode: 32-bit code, still paged */
    .code32
2:  movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl %cr0, %eax
    andl $0x7fffffff, %eax              /* paging off: leaves long mode (the code is identity mapped) */
    movl %eax, %cr0
    movl $0xc0000080, %ecx
    rdmsr
    andl $0xfffffeff, %eax              /* EFER.LME off */
    wrmsr
    movl %cr4, %eax
    andl $0xffffffdf, %eax              /* PAE off */
    movl %eax, %cr4
    movl $0x36d76289, %eax
    movl %esi, %ebx
    jmp *%edi
    .code64
"#,
    options(att_syntax)
);

unsafe extern "C" {
    fn bootscript_enter_linux(entry: u64, boot_params: u64, wipe_start: u64, wipe_length: u64)
        -> !;
    fn bootscript_enter_multiboot2(entry: u64, info: u64, wipe_start: u64, wipe_length: u64) -> !;
}

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// What must survive until the jump: the boot stage's image (code, page tables, stack, this GDT) and the part
/// of the heap in use (the sources of the copies).
pub fn in_use() -> [Range; 2] {
    let image = Range {
        start: core::ptr::addr_of!(__image_start) as u64,
        end: core::ptr::addr_of!(__image_end) as u64,
    };
    [image, heap::used_range()]
}

/// Copies and jumps. Returns only when a destination would overwrite the boot stage: the error message.
pub fn boot(handoff: Handoff<'_>) -> String {
    let (copies, zeroed, entry, argument, linux) = match &handoff {
        Handoff::Linux(b) => (
            b.copies(),
            b.zeroed(),
            b.plan.entry_64,
            b.plan.boot_params_addr,
            true,
        ),
        Handoff::Multiboot2(b) => (
            b.copies(),
            b.zeroed(),
            u64::from(b.image.entry),
            b.info_addr,
            false,
        ),
    };
    // The heap keeps growing while the hand-off is prepared, so check against what it holds now.
    let keep = in_use();
    let ranges = copies
        .iter()
        .map(|(at, bytes)| (*at, bytes.len() as u64))
        .chain(zeroed.iter().copied());
    for (start, length) in ranges {
        let Some(end) = start.checked_add(length).filter(|&e| e <= MAPPED_LIMIT) else {
            return format!("exec: {length} bytes at {start:#x} lie outside the mapped memory");
        };
        let range = Range { start, end };
        if let Some(hit) = keep.iter().find(|k| k.overlaps(&range)) {
            return format!(
                "exec: {start:#x}-{end:#x} would overwrite the boot stage at {:#x}-{:#x}",
                hit.start, hit.end
            );
        }
    }
    crate::platform::phase("jump");
    for (start, length) in zeroed {
        // SAFETY: checked above: identity-mapped RAM (the hand-off plans only inside available memory-map
        // ranges) that holds neither the boot stage nor anything the heap still holds.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, length as usize) };
    }
    for (start, bytes) in &copies {
        // SAFETY: as above; the sources are heap buffers, which lie inside the kept heap range and so
        // cannot overlap a destination.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), *start as *mut u8, bytes.len()) };
    }
    let wipe = heap::used_range();
    // SAFETY: the kernel and its data are in place; the entry routines wipe the heap (nothing of it is used
    // after this call) and enter with the state the Linux 64-bit boot protocol or the Multiboot2
    // specification requires. The page tables, GDT and stack they use lie in the boot stage's image,
    // which no copy touched.
    unsafe {
        if linux {
            bootscript_enter_linux(entry, argument, wipe.start, wipe.length())
        } else {
            bootscript_enter_multiboot2(entry, argument, wipe.start, wipe.length())
        }
    }
}
