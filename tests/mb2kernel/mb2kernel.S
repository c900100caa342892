/* mb2kernel: a tiny Multiboot2 test kernel. It prints on COM1 what its boot loader handed it (command line,
 * loader name, modules with their size and first bytes, basic memory, the memory map, the ACPI RSDP tags),
 * one "mb2kernel: ..." line each, and whether XMM0-7 were zero at entry (a boot stage should leave no key
 * material there; only when SSE is on: CR4.OSFXSR set, CR0.EM and CR0.TS clear), then exits QEMU through isa-debug-exit (port 0xf4):
 * value 0x10 (QEMU exit status 33) after a good hand-off, 0x11 (status 35) when EAX held the wrong magic.
 * Written for GNU as (--32); the layout is in mb2kernel.ld, the build in build.sh. */

        .set MB2_MAGIC, 0xe85250d6
        .set MB2_ARCH_I386, 0
        .set COM1, 0x3f8
        .set EXIT_PORT, 0xf4
        .set EXIT_OK, 0x10
        .set EXIT_BAD_MAGIC, 0x11

        .section .multiboot2, "a"
        .balign 8
header_start:
        .long MB2_MAGIC
        .long MB2_ARCH_I386
        .long header_end - header_start
        .long -(MB2_MAGIC + MB2_ARCH_I386 + (header_end - header_start))
        /* Information request (optional): what we print, so a loader knows what we care about. */
        .balign 8
request_start:
        .short 1, 1                     /* type 1, flags: optional */
        .long request_end - request_start
        .long 1, 2, 3, 4, 6, 14, 15
request_end:
        .balign 8
        .short 0, 0                     /* end tag */
        .long 8
header_end:

        .text
        .code32
        .globl _start
_start:
        cli
        cld
        movl $stack_top, %esp
        movl %eax, saved_magic
        movl %ebx, saved_info
        /* XMM0-7 OR-ed together into xmm_or, before any other code runs; xmm_state: 0 SSE off, 1 on. */
        movl %cr4, %eax
        testl $0x200, %eax              /* OSFXSR */
        jz 1f
        movl %cr0, %eax
        testl $0xc, %eax                /* EM, TS */
        jnz 1f
        por %xmm1, %xmm0
        por %xmm2, %xmm0
        por %xmm3, %xmm0
        por %xmm4, %xmm0
        por %xmm5, %xmm0
        por %xmm6, %xmm0
        por %xmm7, %xmm0
        movdqu %xmm0, xmm_or
        movl $1, xmm_state
1:
        call serial_init

        movl $s_hello, %esi
        call puts
        movl saved_magic, %eax
        cmpl $0x36d76289, %eax
        je 1f
        movl $s_bad_magic, %esi
        call puts
        movl saved_magic, %eax
        call puthex
        call newline
        movb $EXIT_BAD_MAGIC, %al
        jmp exit_qemu
1:
        movl saved_info, %ebx
        movl $s_info, %esi
        call puts
        movl %ebx, %eax
        call puthex
        movl $s_total, %esi
        call puts
        movl (%ebx), %eax
        call puthex
        call newline

        leal 8(%ebx), %edi              /* edi walks the tags */
next_tag:
        movl (%edi), %eax               /* type */
        testl %eax, %eax
        jz tags_done
        cmpl $1, %eax
        je tag_cmdline
        cmpl $2, %eax
        je tag_loader
        cmpl $3, %eax
        je tag_module
        cmpl $4, %eax
        je tag_meminfo
        cmpl $6, %eax
        je tag_mmap
        cmpl $14, %eax
        je tag_rsdp
        cmpl $15, %eax
        je tag_rsdp
        movl $s_tag, %esi               /* any other tag: just its type */
        call puts
        movl (%edi), %eax
        call putdec
        call newline
        jmp advance

tag_cmdline:
        movl $s_cmdline, %esi
        call puts
        leal 8(%edi), %esi
        call puts
        call newline
        jmp advance

tag_loader:
        movl $s_loader, %esi
        call puts
        leal 8(%edi), %esi
        call puts
        call newline
        jmp advance

tag_module:
        movl $s_module, %esi
        call puts
        leal 16(%edi), %esi
        call puts
        movl $s_start, %esi
        call puts
        movl 8(%edi), %eax
        call puthex
        movl $s_size, %esi
        call puts
        movl 12(%edi), %eax
        subl 8(%edi), %eax
        call putdec
        movl $s_first, %esi
        call puts
        movl 12(%edi), %ecx             /* up to 8 first bytes, in hex */
        subl 8(%edi), %ecx
        cmpl $8, %ecx
        jbe 2f
        movl $8, %ecx
2:      movl 8(%edi), %esi
3:      jecxz 4f
        movzbl (%esi), %eax
        call puthex8
        incl %esi
        decl %ecx
        jmp 3b
4:      call newline
        jmp advance

tag_meminfo:
        movl $s_meminfo, %esi
        call puts
        movl 8(%edi), %eax
        call putdec
        movl $s_upper, %esi
        call puts
        movl 12(%edi), %eax
        call putdec
        call newline
        jmp advance

tag_mmap:
        movl 4(%edi), %edx              /* tag size */
        addl %edi, %edx                 /* edx = end of tag */
        leal 16(%edi), %ebp             /* first entry */
5:      cmpl %edx, %ebp
        jae advance
        movl $s_mmap, %esi
        call puts
        movl 4(%ebp), %eax              /* base, high then low */
        call puthex
        movl 0(%ebp), %eax
        call puthex_digits
        movl $s_len, %esi
        call puts
        movl 12(%ebp), %eax
        call puthex
        movl 8(%ebp), %eax
        call puthex_digits
        movl $s_type, %esi
        call puts
        movl 16(%ebp), %eax
        call putdec
        call newline
        addl 8(%edi), %ebp              /* entry_size */
        cmpl $0, 8(%edi)
        jne 5b
        jmp advance

tag_rsdp:
        movl $s_rsdp, %esi
        call puts
        movl (%edi), %eax
        call putdec
        movl $s_sig, %esi
        call puts
        leal 8(%edi), %esi              /* "RSD PTR " signature, 8 bytes */
        movl $8, %ecx
6:      movb (%esi), %al
        call putc
        incl %esi
        loop 6b
        movl $s_rev, %esi
        call puts
        movzbl 23(%edi), %eax           /* revision at offset 15 of the RSDP */
        call putdec
        call newline

advance:
        movl 4(%edi), %eax
        addl $7, %eax
        andl $~7, %eax
        jz tags_done                    /* a zero size would loop forever */
        addl %eax, %edi
        movl saved_info, %eax
        addl (%eax), %eax
        cmpl %eax, %edi
        jb next_tag
tags_done:
        cmpl $0, xmm_state
        je 2f
        movl xmm_or, %eax
        orl xmm_or+4, %eax
        orl xmm_or+8, %eax
        orl xmm_or+12, %eax
        movl $s_xmm_zero, %esi
        testl %eax, %eax
        jz 1f
        movl $s_xmm_set, %esi
1:      call puts
2:
        movl $s_done, %esi
        call puts
        movb $EXIT_OK, %al

/* al = value; QEMU exits with (al << 1) | 1. Without the device, halt. */
exit_qemu:
        outb %al, $EXIT_PORT
7:      hlt
        jmp 7b

serial_init:
        movw $COM1+1, %dx
        movb $0x00, %al                 /* no interrupts */
        outb %al, %dx
        movw $COM1+3, %dx
        movb $0x80, %al                 /* DLAB on */
        outb %al, %dx
        movw $COM1+0, %dx
        movb $0x01, %al                 /* 115200 baud */
        outb %al, %dx
        movw $COM1+1, %dx
        movb $0x00, %al
        outb %al, %dx
        movw $COM1+3, %dx
        movb $0x03, %al                 /* 8N1, DLAB off */
        outb %al, %dx
        movw $COM1+2, %dx
        movb $0xc7, %al                 /* FIFO on, cleared */
        outb %al, %dx
        movw $COM1+4, %dx
        movb $0x03, %al                 /* DTR, RTS */
        outb %al, %dx
        ret

/* putc: al = byte; "\n" goes out as "\r\n". The wait for the transmitter is bounded. */
putc:
        cmpb $'\n', %al
        jne putc_raw
        movb $'\r', %al
        call putc_raw
        movb $'\n', %al
putc_raw:
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

/* puts: esi = NUL-terminated string (at most 4096 bytes are printed). */
puts:
        pushl %esi
        pushl %ecx
        movl $4096, %ecx
1:      movb (%esi), %al
        testb %al, %al
        jz 2f
        call putc
        incl %esi
        loop 1b
2:      popl %ecx
        popl %esi
        ret

newline:
        movb $'\n', %al
        jmp putc

/* puthex: "0x" then eax as 8 hex digits; puthex_digits: the digits only; puthex8: al as 2 digits. */
puthex:
        pushl %eax
        movb $'0', %al
        call putc
        movb $'x', %al
        call putc
        popl %eax
puthex_digits:
        pushl %ecx
        movl $8, %ecx
        jmp hex_loop
puthex8:
        pushl %ecx
        shll $24, %eax
        movl $2, %ecx
hex_loop:
        roll $4, %eax
        pushl %eax
        andl $0xf, %eax
        movb hex_digits(%eax), %al
        call putc
        popl %eax
        loop hex_loop
        popl %ecx
        ret

/* putdec: eax in decimal. */
putdec:
        pushl %ecx
        pushl %edx
        pushl %ebx
        movl $10, %ebx
        xorl %ecx, %ecx
1:      xorl %edx, %edx
        divl %ebx
        pushl %edx
        incl %ecx
        testl %eax, %eax
        jnz 1b
2:      popl %eax
        addb $'0', %al
        call putc
        loop 2b
        popl %ebx
        popl %edx
        popl %ecx
        ret

        .section .rodata
hex_digits:     .ascii "0123456789abcdef"
s_hello:        .asciz "mb2kernel: started\n"
s_bad_magic:    .asciz "mb2kernel: bad magic in eax: "
s_info:         .asciz "mb2kernel: info at "
s_total:        .asciz " total_size "
s_tag:          .asciz "mb2kernel: tag "
s_cmdline:      .asciz "mb2kernel: cmdline="
s_loader:       .asciz "mb2kernel: loader="
s_module:       .asciz "mb2kernel: module name="
s_start:        .asciz " start="
s_size:         .asciz " size="
s_first:        .asciz " first="
s_meminfo:      .asciz "mb2kernel: meminfo lower="
s_upper:        .asciz " upper="
s_mmap:         .asciz "mb2kernel: mmap base="
s_len:          .asciz " len="
s_type:         .asciz " type="
s_rsdp:         .asciz "mb2kernel: acpi tag "
s_sig:          .asciz " signature="
s_rev:          .asciz " revision="
s_done:         .asciz "mb2kernel: done\n"
s_xmm_zero:     .asciz "mb2kernel: xmm0-7 zero\n"
s_xmm_set:      .asciz "mb2kernel: xmm0-7 not zero\n"

        .bss
        .balign 16
saved_magic:    .long 0
saved_info:     .long 0
xmm_state:      .long 0
        .balign 16
xmm_or:         .skip 16
        .balign 16
stack:          .skip 4096
stack_top:
