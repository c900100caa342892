/* chain: a Multiboot2 test kernel that plays the last step of our loader, to prove the hand-off structures
 * boot a real Linux before the payload exists. The host test computes everything with the handoff crate and
 * hands it in through GRUB:
 *   command line  "L EEEEEEEE BBBBBBBB"  Linux: the 64-bit entry point and the boot_params address (8 hex digits)
 *              or "M EEEEEEEE IIIIIIII"  Multiboot2: the entry point and the information structure's address
 *   each module   named "DDDDDDDD"       copied to that physical address (kernel, initrd area, boot_params,
 *                                        command line; or segments, bss as zeros, modules, information)
 * Then, for Linux, it does what linux::LinuxPlan documents: identity-map 4 GiB, long mode, GDT with
 * __BOOT_CS = 0x10 and __BOOT_DS = 0x18, interrupts off, RSI = boot_params, jump; for Multiboot2 it stays in
 * GRUB's 32-bit protected mode (paging off) and jumps with EAX = 0x36d76289, EBX = information, as
 * multiboot2::Multiboot2Image documents. It is linked at 8 MiB so that kernels linked at 1 MiB can be copied
 * over GRUB's placement. Prints "chain: ..." lines on COM1.
 * On a malformed hand-in it exits QEMU through isa-debug-exit with 0x11 (status 35). */

        .set MB2_MAGIC, 0xe85250d6
        .set COM1, 0x3f8

        .section .multiboot2, "a"
        .balign 8
header_start:
        .long MB2_MAGIC, 0, header_end - header_start
        .long -(MB2_MAGIC + (header_end - header_start))
        .short 0, 0
        .long 8
header_end:

        .text
        .code32
        .globl _start
_start:
        cli
        cld
        movl $stack_top, %esp
        cmpl $0x36d76289, %eax
        jne fail
        movl %ebx, %ebp                 /* ebp = info */
        call serial_init
        movl $s_hello, %esi
        call puts

        leal 8(%ebp), %edi              /* walk the tags */
1:      movl (%edi), %eax
        testl %eax, %eax
        jz 5f
        cmpl $1, %eax
        jne 2f
        leal 8(%edi), %esi              /* command line: mode, space, entry, space, boot_params or info */
        movzbl (%esi), %eax
        movl %eax, mode
        addl $2, %esi
        call parse_hex
        movl %eax, entry
        incl %esi
        call parse_hex
        movl %eax, boot_params
        jmp 4f
2:      cmpl $3, %eax
        jne 4f
        leal 16(%edi), %esi             /* module: name is the destination */
        call parse_hex
        pushl %edi
        movl %eax, %ebx
        movl $s_copy, %esi
        call puts
        movl %ebx, %eax
        call puthex
        call newline
        movl 8(%edi), %esi              /* mod_start */
        movl 12(%edi), %ecx
        subl %esi, %ecx                 /* length */
        movl %ebx, %edi
        cmpl %esi, %edi                 /* copy backwards when the destination is above an overlapping source */
        jbe 3f
        leal -1(%esi,%ecx), %esi
        leal -1(%edi,%ecx), %edi
        std
3:      rep movsb
        cld
        popl %edi
4:      movl 4(%edi), %eax
        addl $7, %eax
        andl $~7, %eax
        jz 5f
        addl %eax, %edi
        jmp 1b
5:
        cmpl $0, entry
        je fail
        cmpl $0, boot_params
        je fail
        movl $s_jump, %esi
        call puts
        movl entry, %eax
        call puthex
        movl $s_rsi, %esi
        call puts
        movl boot_params, %eax
        call puthex
        call newline
        cmpl $'M', mode
        jne 9f
        movl $0x36d76289, %eax          /* Multiboot2: GRUB's protected mode is what the kernel expects */
        movl boot_params, %ebx
        movl entry, %ecx
        jmp *%ecx
9:
        /* Identity map of the first 4 GiB with 2 MiB pages: 4 page directories under one PDPT. */
        movl $pd, %edi
        xorl %eax, %eax
        movl $0x83, %eax                /* present, writable, 2 MiB page */
        xorl %edx, %edx
        movl $2048, %ecx
6:      movl %eax, (%edi)
        movl %edx, 4(%edi)
        addl $0x200000, %eax
        adcl $0, %edx
        addl $8, %edi
        loop 6b
        movl $pdpt, %edi
        movl $pd + 3, %eax
        movl $4, %ecx
7:      movl %eax, (%edi)
        movl $0, 4(%edi)
        addl $4096, %eax
        addl $8, %edi
        loop 7b
        movl $pdpt + 3, pml4
        movl $0, pml4 + 4

        movl $pml4, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x20, %eax                 /* PAE */
        movl %eax, %cr4
        movl $0xc0000080, %ecx          /* EFER.LME */
        rdmsr
        orl $0x100, %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax           /* paging on: long mode active */
        movl %eax, %cr0
        lgdt gdt_pointer
        movl boot_params, %esi
        movl entry, %ecx
        ljmp $0x10, $long_mode

        .code64
long_mode:
        movl $0x18, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl %esi, %esi                 /* upper halves are undefined after the switch: */
        movl %ecx, %ecx                 /* a 32-bit move in 64-bit mode zero-extends */
        xorl %ebx, %ebx
        xorl %ebp, %ebp
        xorl %edi, %edi
        jmp *%rcx

        .code32
fail:
        movb $0x11, %al
        outb %al, $0xf4
8:      hlt
        jmp 8b

/* parse_hex: esi -> 8 hex digits; eax = value, esi advanced past them. */
parse_hex:
        pushl %ecx
        pushl %edx
        xorl %edx, %edx
        movl $8, %ecx
1:      movzbl (%esi), %eax
        subl $'0', %eax
        cmpl $9, %eax
        jbe 2f
        subl $('a' - '0' - 10), %eax
        cmpl $15, %eax
        ja fail
        cmpl $10, %eax
        jb fail
2:      shll $4, %edx
        orl %eax, %edx
        incl %esi
        loop 1b
        movl %edx, %eax
        popl %edx
        popl %ecx
        ret

serial_init:
        movw $COM1+1, %dx
        movb $0, %al
        outb %al, %dx
        movw $COM1+3, %dx
        movb $0x80, %al
        outb %al, %dx
        movw $COM1, %dx
        movb $1, %al
        outb %al, %dx
        movw $COM1+1, %dx
        movb $0, %al
        outb %al, %dx
        movw $COM1+3, %dx
        movb $3, %al
        outb %al, %dx
        ret

putc:
        pushl %ecx
        pushl %edx
        pushl %eax
        movl $100000, %ecx
        movw $COM1+5, %dx
1:      inb %dx, %al
        testb $0x20, %al
        jnz 2f
        loop 1b
2:      popl %eax
        movw $COM1, %dx
        outb %al, %dx
        popl %edx
        popl %ecx
        ret

puts:
        pushl %esi
1:      movb (%esi), %al
        testb %al, %al
        jz 2f
        call putc
        incl %esi
        jmp 1b
2:      popl %esi
        ret

newline:
        movb $'\r', %al
        call putc
        movb $'\n', %al
        jmp putc

puthex:
        pushl %ecx
        movl $8, %ecx
1:      roll $4, %eax
        pushl %eax
        andl $0xf, %eax
        movb hex_digits(%eax), %al
        call putc
        popl %eax
        loop 1b
        popl %ecx
        ret

        .section .rodata
        .balign 8
gdt:
        .quad 0                         /* null */
        .quad 0                         /* 0x08: unused */
        .quad 0x00af9a000000ffff        /* 0x10: __BOOT_CS, 64-bit code, flat */
        .quad 0x00cf92000000ffff        /* 0x18: __BOOT_DS, data, flat 4 GiB */
gdt_end:
gdt_pointer:
        .short gdt_end - gdt - 1
        .long gdt
hex_digits:     .ascii "0123456789abcdef"
s_hello:        .asciz "chain: started\r\n"
s_copy:         .asciz "chain: module to 0x"
s_jump:         .asciz "chain: entering the kernel at 0x"
s_rsi:          .asciz " with boot_params/information at 0x"

        .data
entry:          .long 0
boot_params:    .long 0
mode:           .long 0

        .bss
        .balign 4096
pml4:           .skip 4096
pdpt:           .skip 4096
pd:             .skip 4 * 4096
stack:          .skip 4096
stack_top:

        .section .lowhole, "aw", @nobits
        .skip 0x100000
