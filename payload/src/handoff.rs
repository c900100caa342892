//! The last step: put a prepared kernel in place, wipe what the boot stage held, and enter the kernel
//! (Linux's 64-bit entry, or Multiboot2's 32-bit protected mode). `bootscript-handoff` chose every address;
//! this module checks that none of them hits what must survive, then moves bytes and jumps.
//!
//! Linux kernels load above 16 MiB, clear of the boot stage, so the copies are made here and the entry routine
//! only wipes and jumps. Multiboot2 kernels are usually linked at 1 MiB, where the boot stage itself runs, so
//! their copies are made by a relocator: a few position-independent 32-bit instructions copied into the heap
//! (which no destination may touch), entered after leaving long mode, that copy, wipe the heap around
//! themselves and jump. The boot stage's image may then be overwritten; nothing of it is used after the
//! far return into the relocator (the segment registers keep their descriptors loaded).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
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

    /* The relocator, copied into the heap and run there in 32-bit protected mode: ESI = its parameters
       (32-bit words): entry, info, wipe start, wipe length, wipe start, wipe length, count, then `count`
       operations (destination, source, length), source 0 meaning "fill with zeros". Position independent:
       only register-relative addressing. */
    .balign 16
    .global bootscript_relocator
bootscript_relocator:
    .code32
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl %cr0, %eax
    andl $0x7fffffff, %eax              /* paging off: leaves long mode (this code is identity mapped) */
    movl %eax, %cr0
    movl $0xc0000080, %ecx
    rdmsr
    andl $0xfffffeff, %eax              /* EFER.LME off */
    wrmsr
    movl %cr4, %eax
    andl $0xffffffdf, %eax              /* PAE off */
    movl %eax, %cr4
    movl %esi, %ebp
    movl 24(%ebp), %edx                 /* operations left */
    leal 28(%ebp), %ebx
1:  testl %edx, %edx
    jz 4f
    movl (%ebx), %edi
    movl 4(%ebx), %esi
    movl 8(%ebx), %ecx
    testl %esi, %esi
    jnz 2f
    xorl %eax, %eax
    rep stosb
    jmp 3f
2:  movl %ecx, %eax
    shrl $2, %ecx
    rep movsl                           /* sources (heap) and destinations never overlap */
    movl %eax, %ecx
    andl $3, %ecx
    rep movsb
3:  addl $12, %ebx
    decl %edx
    jmp 1b
4:  movl (%ebp), %edx                   /* entry and information, before the parameters go */
    movl 4(%ebp), %ebx
    xorl %eax, %eax
    movl 8(%ebp), %edi
    movl 12(%ebp), %ecx
    shrl $2, %ecx
    rep stosl                           /* the heap below the relocator */
    movl 12(%ebp), %ecx
    andl $3, %ecx
    rep stosb
    movl 16(%ebp), %edi
    movl 20(%ebp), %ecx
    shrl $2, %ecx
    rep stosl                           /* the heap above it */
    movl 20(%ebp), %ecx
    andl $3, %ecx
    rep stosb
    movl $0x36d76289, %eax
    jmp *%edx
    .global bootscript_relocator_end
bootscript_relocator_end:
    .code64

    .section .text_last.handoff, "ax"
    .code64

    /* Wipes the boot stack below the caller's frame: what the script's primitives left there (passphrase
       lines, key schedules), and XMM0-15 (AES-NI round keys, decrypted blocks, copies). Clobbers rax, rcx,
       rdi and the XMM registers, all of them caller-saved in the C ABI (callable from Rust:
       power::wipe_secrets). */
    .global bootscript_wipe_stack
bootscript_wipe_stack:
    pxor %xmm0, %xmm0
    pxor %xmm1, %xmm1
    pxor %xmm2, %xmm2
    pxor %xmm3, %xmm3
    pxor %xmm4, %xmm4
    pxor %xmm5, %xmm5
    pxor %xmm6, %xmm6
    pxor %xmm7, %xmm7
    pxor %xmm8, %xmm8
    pxor %xmm9, %xmm9
    pxor %xmm10, %xmm10
    pxor %xmm11, %xmm11
    pxor %xmm12, %xmm12
    pxor %xmm13, %xmm13
    pxor %xmm14, %xmm14
    pxor %xmm15, %xmm15
    leaq boot_stack_bottom(%rip), %rdi
    leaq 8(%rsp), %rcx                  /* the caller's stack pointer */
    cmpq %rdi, %rcx
    jb 1f
    leaq boot_stack_top(%rip), %rax
    cmpq %rax, %rcx
    ja 1f
    subq $64, %rcx                      /* this routine's return address stays */
    subq %rdi, %rcx
    jbe 1f
    shrq $3, %rcx                       /* whole words from the bottom; the rest lies in the kept margin */
    xorl %eax, %eax
    rep stosq
1:  ret

    /* bootscript_enter_linux(entry: rdi, boot_params: rsi, wipe_start: rdx, wipe_length: rcx) */
    .global bootscript_enter_linux
bootscript_enter_linux:
    cli
    cld
    movq %rdi, %r8
    movq %rdx, %rdi
    xorl %eax, %eax
    movq %rcx, %rdx
    shrq $3, %rcx
    rep stosq                           /* wipe the heap: keys and passphrases not handed on go here */
    movq %rdx, %rcx
    andq $7, %rcx
    rep stosb
    call bootscript_wipe_stack
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
    xorl %edi, %edi
    xorl %edx, %edx
    call bootscript_clear_high_registers
    jmp *%r8                            /* RSI = boot_params, as boot.rst's 64-bit protocol asks */

    /* bootscript_enter_multiboot2(relocator: rdi, parameters: rsi); both in the heap, below 4 GiB */
    .global bootscript_enter_multiboot2
bootscript_enter_multiboot2:
    cli
    cld
    movq %rdi, %r8
    call bootscript_wipe_stack
    lgdt handoff_gdt_pointer(%rip)
    pushq $0x20
    pushq %r8
    call bootscript_clear_high_registers
    xorl %r8d, %r8d
    lretq                               /* compatibility mode, into the relocator; ESI = its parameters */

    /* Zeroes R9-R15, where the script's primitives may have left words of a key or of a hash state (a 32-bit
       kernel cannot see them, but one that enters long mode finds them as they were). R8 is the caller's. */
bootscript_clear_high_registers:
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    ret
"#,
    options(att_syntax)
);

unsafe extern "C" {
    fn bootscript_enter_linux(entry: u64, boot_params: u64, wipe_start: u64, wipe_length: u64)
        -> !;
    fn bootscript_enter_multiboot2(relocator: u64, parameters: u64) -> !;
}

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static bootscript_relocator: u8;
    static bootscript_relocator_end: u8;
}

const FOUR_GIB: u64 = 1 << 32;

fn image() -> Range {
    Range {
        start: core::ptr::addr_of!(__image_start) as u64,
        end: core::ptr::addr_of!(__image_end) as u64,
    }
}

/// What a hand-off plan must avoid: the part of the heap in use (the sources of the copies, and where the
/// relocator will go). The boot stage's image is not in it: Multiboot2 kernels may be loaded over it (see the
/// module comment); a Linux plan that touches it is refused by [`boot`] (Linux goes above 16 MiB, so this only
/// happens when memory is nearly full).
pub fn in_use() -> [Range; 1] {
    [heap::used_range()]
}

/// Each destination must lie below `limit` and clear of `keep`.
fn check(ranges: &[(u64, u64)], keep: &[Range], limit: u64) -> Result<(), String> {
    for &(start, length) in ranges {
        let Some(end) = start.checked_add(length).filter(|&e| e <= limit) else {
            return Err(format!(
                "exec: {length} bytes at {start:#x} lie outside the memory the loader can write (below {limit:#x})"
            ));
        };
        let range = Range { start, end };
        if let Some(hit) = keep.iter().find(|k| k.overlaps(&range)) {
            return Err(format!(
                "exec: {start:#x}-{end:#x} would overwrite the boot stage at {:#x}-{:#x}",
                hit.start, hit.end
            ));
        }
    }
    Ok(())
}

/// Copies and jumps. Returns only when a destination would overwrite what must survive: the error message.
pub fn boot(handoff: Handoff<'_>) -> String {
    match handoff {
        Handoff::Linux(b) => {
            let copies = b.copies();
            let zeroed = b.zeroed();
            let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(copies.len() + zeroed.len());
            for (at, bytes) in &copies {
                ranges.push((*at, bytes.len() as u64));
            }
            ranges.extend_from_slice(&zeroed);
            // The page tables, GDT, stack and entry routine live in the image; the sources in the heap.
            if let Err(e) = check(&ranges, &[image(), heap::used_range()], MAPPED_LIMIT) {
                return e;
            }
            // No controller writes into memory that is the kernel's from here on.
            crate::drivers::quiesce();
            crate::platform::phase("jump");
            for (start, length) in zeroed {
                // SAFETY: checked above: identity-mapped RAM (the hand-off plans only inside available
                // memory-map ranges) that holds neither the boot stage nor anything the heap still holds.
                unsafe { core::ptr::write_bytes(start as *mut u8, 0, length as usize) };
            }
            for (start, bytes) in &copies {
                // SAFETY: as above; the sources are heap buffers, which lie inside the kept heap range and
                // so cannot overlap a destination.
                unsafe {
                    core::ptr::copy_nonoverlapping(bytes.as_ptr(), *start as *mut u8, bytes.len())
                };
            }
            let wipe = heap::used_range();
            // SAFETY: the kernel and its data are in place; the entry routine wipes the heap and the unused
            // stack (nothing of either is used after this call) and enters with the state the Linux 64-bit
            // boot protocol requires. The page tables, GDT and stack it uses lie in the image, which no copy
            // touched.
            unsafe {
                bootscript_enter_linux(
                    b.plan.entry_64,
                    b.plan.boot_params_addr,
                    wipe.start,
                    wipe.length(),
                )
            }
        }
        Handoff::Multiboot2(b) => {
            let (zeroed, copies) = (b.zeroed(), b.copies());
            let mut operations: Vec<(u64, u64, u64)> =
                Vec::with_capacity(zeroed.len() + copies.len());
            for (at, length) in zeroed {
                operations.push((at, 0, length));
            }
            for (at, bytes) in copies {
                operations.push((at, bytes.as_ptr() as u64, bytes.len() as u64));
            }
            enter_multiboot2(u64::from(b.image.entry), b.info_addr, &operations)
        }
    }
}

/// Builds the relocator and its parameters in the heap and enters it. Out of line: inlined into `exec` it took
/// more room (measured packed).
#[inline(never)]
fn enter_multiboot2(entry: u64, info: u64, operations: &[(u64, u64, u64)]) -> String {
    // SAFETY: both symbols are labels around the relocator's bytes in the image's read-only data.
    let code = unsafe {
        let start = core::ptr::addr_of!(bootscript_relocator);
        let end = core::ptr::addr_of!(bootscript_relocator_end);
        core::slice::from_raw_parts(start, end as usize - start as usize)
    };
    let header_words = 7;
    let words = header_words + 3 * operations.len();
    let code_words = code.len().div_ceil(4);
    let mut block: Vec<u32> = Vec::new();
    if block.try_reserve_exact(code_words + words).is_err() {
        return String::from("exec: no memory left for the relocator");
    }
    block.resize(code_words + words, 0);
    for (i, chunk) in code.chunks(4).enumerate() {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        block[i] = u32::from_le_bytes(word);
    }
    // From here on nothing more is allocated: the heap's extent is final.
    let heap = heap::used_range();
    let here = Range {
        start: block.as_ptr() as u64,
        end: block.as_ptr() as u64 + 4 * block.len() as u64,
    };
    let mut destinations: Vec<(u64, u64)> = Vec::with_capacity(operations.len());
    for &(at, _, length) in operations {
        destinations.push((at, length));
    }
    if let Err(e) = check(&destinations, &[heap], FOUR_GIB.min(MAPPED_LIMIT)) {
        return e;
    }
    if heap.end > FOUR_GIB {
        return String::from("exec: the heap lies above 4 GiB, out of the relocator's reach");
    }
    let parameters = &mut block[code_words..];
    // Every value fits in 32 bits: destinations and the heap (sources, relocator) were checked against 4 GiB.
    let header = [
        entry,
        info,
        heap.start,
        here.start - heap.start,
        here.end,
        heap.end.saturating_sub(here.end),
        operations.len() as u64,
    ];
    let (head, tail) = parameters.split_at_mut(header_words);
    for (slot, value) in head.iter_mut().zip(header) {
        *slot = value as u32;
    }
    for (slots, &(at, source, length)) in tail.chunks_exact_mut(3).zip(operations) {
        slots.copy_from_slice(&[at as u32, source as u32, length as u32]);
    }
    let parameters_addr = parameters.as_ptr() as u64;
    // The line's text is allocated and freed again: no secret, and nothing the relocator needs.
    // No controller writes into memory that is the kernel's from here on.
    crate::drivers::quiesce();
    crate::platform::phase("jump");
    // SAFETY: the relocator and its parameters lie in the heap, which no destination overlaps (checked
    // above); the relocator is position independent and needs nothing else: the entry routine wipes the
    // stack, leaves long mode through it, and it copies, wipes the heap around itself and enters the kernel
    // as the Multiboot2 specification requires (EAX magic, EBX information, flat segments, paging off).
    unsafe { bootscript_enter_multiboot2(here.start, parameters_addr) }
}
