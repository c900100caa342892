//! The Multiboot2 header and the 32-bit entry: page tables, long mode, SSE, then the jump into Rust.
//!
//! GRUB enters `_start` in 32-bit protected mode, paging off, with EAX = the Multiboot2 magic and EBX = the
//! physical address of the boot information. Nothing here may touch SSE state before CR0/CR4 are set up, and no
//! Rust code runs before that: the compiler emits SSE instructions freely (the target has `+sse,+sse2`).

use core::arch::global_asm;

/// Stack for the boot CPU. Big because the interpreter recurses and crypto keeps state on the stack.
pub const BOOT_STACK_SIZE: usize = 512 * 1024;

global_asm!(
    r#"
    .section .multiboot2, "a"
    .balign 8
mb2_header_start:
    .long 0xe85250d6                    /* magic */
    .long 0                             /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header_start
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header_start))
    .short 0                            /* end tag */
    .short 0
    .long 8
mb2_header_end:

    .section .bss.pagetables, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096
    .global boot_pd
boot_pd:        .skip 4096 * 4          /* four page directories: 4 GiB in 2 MiB pages */
    .global boot_stack_guard
boot_stack_guard:
    .skip 4096                          /* unmapped by paging::protect_stack: an overflow faults */
    .global boot_stack_bottom
boot_stack_bottom:
    .skip {stack_size}
    .global boot_stack_top
boot_stack_top:

    .section .rodata
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff            /* 0x10: data */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
boot_no_long_mode_text:
    .ascii "bootscript: this CPU has no 64-bit long mode; cannot start\r\n\0"

    .section .text.boot32, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    movl $boot_stack_top, %esp
    movl %eax, %edi                     /* Multiboot2 magic, first argument of payload_entry */
    movl %ebx, %esi                     /* boot information address, second argument */

    /* Long mode available? CPUID leaf 0x80000001, EDX bit 29. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb boot_no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz boot_no_long_mode

    /* PML4[0] -> PDPT; PDPT[0..4] -> the four page directories. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl $0, boot_pml4 + 4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt(,%ecx,8)
    movl $0, boot_pdpt + 4(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    /* 2048 entries of 2 MiB: present, writable, huge. */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd(,%ecx,8)
    movl $0, boot_pd + 4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jne 2b

    movl $boot_pml4, %eax
    movl %eax, %cr3
    /* CR4: PAE | OSFXSR | OSXMMEXCPT (SSE usable before any Rust code). */
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    /* EFER.LME */
    movl $0xc0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    /* CR0: PG | MP | PE, clear EM and TS. */
    movl %cr0, %eax
    andl $~((1 << 2) | (1 << 3)), %eax
    orl $((1 << 31) | (1 << 1) | (1 << 0)), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $boot_long_mode

boot_no_long_mode:
    movl $boot_no_long_mode_text, %esi
3:  movb (%esi), %al
    testb %al, %al
    jz 4f
    movw $0x3f8, %dx
    outb %al, %dx
    incl %esi
    jmp 3b
4:  hlt
    jmp 4b

    .code64
boot_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    movl %edi, %edi                     /* upper halves are undefined after the mode switch */
    movl %esi, %esi
    xorl %ebp, %ebp
    call payload_entry
5:  cli
    hlt
    jmp 5b
    "#,
    stack_size = const BOOT_STACK_SIZE,
    options(att_syntax)
);
