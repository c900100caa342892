/* The 64-bit entry of a stand-in Linux kernel for the boot tests (tests/boot/tests/exec.rs builds a bzImage of
 * Debian's setup header and this code at startup_64, offset 0x200 of the protected-mode part). It records the
 * registers the boot stage left, then halts: at physical 0x80000, 8-byte words: a magic word written last
 * ("REGSDONE"), RSI, R9|R10|...|R15, RBX|RBP, XMM0|...|XMM15 (two words), then CS, DS, SS (16 bits each).
 * Written for GNU as (--64); position independent apart from the record's fixed address. */
        .code64
        .text
        .globl _start
_start:
        .skip 0x200
entry:
        cli
        movl $0x80000, %edi
        movq %rsi, 8(%rdi)
        movq %r9, %rax
        orq %r10, %rax
        orq %r11, %rax
        orq %r12, %rax
        orq %r13, %rax
        orq %r14, %rax
        orq %r15, %rax
        movq %rax, 16(%rdi)
        movq %rbx, %rax
        orq %rbp, %rax
        movq %rax, 24(%rdi)
        por %xmm1, %xmm0
        por %xmm2, %xmm0
        por %xmm3, %xmm0
        por %xmm4, %xmm0
        por %xmm5, %xmm0
        por %xmm6, %xmm0
        por %xmm7, %xmm0
        por %xmm8, %xmm0
        por %xmm9, %xmm0
        por %xmm10, %xmm0
        por %xmm11, %xmm0
        por %xmm12, %xmm0
        por %xmm13, %xmm0
        por %xmm14, %xmm0
        por %xmm15, %xmm0
        movdqu %xmm0, 32(%rdi)
        movw %cs, 48(%rdi)
        movw %ds, 50(%rdi)
        movw %ss, 52(%rdi)
        movabsq $0x454e4f4453474552, %rax   /* "REGSDONE" in memory order */
        movq %rax, (%rdi)
1:      hlt
        jmp 1b
        .balign 4096
