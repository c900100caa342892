//! Changes to the boot stub's identity mapping: a guard page under the boot stack.

use core::ptr::{addr_of, addr_of_mut};

unsafe extern "C" {
    /// The four page directories of the boot stub (2048 entries of 2 MiB), in `boot.rs`.
    static mut boot_pd: [u64; 2048];
    /// The 4 KiB page right under the boot stack.
    static boot_stack_guard: u8;
}

const PRESENT_WRITABLE: u64 = 0x3;
const PAGE: u64 = 4096;
const LARGE_PAGE: u64 = 2 << 20;

#[repr(C, align(4096))]
struct PageTable([u64; 512]);

/// 4 KiB pages for the 2 MiB that hold the guard page.
static mut GUARD_TABLE: PageTable = PageTable([0; 512]);

/// Unmaps the page under the boot stack, so that a stack overflow faults (and is reported as a double fault
/// from the IST stack) instead of silently overwriting the page tables below it.
pub fn protect_stack() {
    let guard = addr_of!(boot_stack_guard) as u64;
    let directory_index = (guard / LARGE_PAGE) as usize;
    let base = directory_index as u64 * LARGE_PAGE;
    // SAFETY: only the boot CPU runs, with interrupts off. The new table maps the same 2 MiB identically
    // except the guard page, which nothing uses; `boot_pd` is the live directory and the entry is replaced by
    // one that maps the same memory, then the TLB is flushed by reloading CR3.
    unsafe {
        let table = &mut *addr_of_mut!(GUARD_TABLE);
        for (index, entry) in table.0.iter_mut().enumerate() {
            *entry = (base + index as u64 * PAGE) | PRESENT_WRITABLE;
        }
        table.0[((guard - base) / PAGE) as usize] = 0;
        let directory = &mut *addr_of_mut!(boot_pd);
        directory[directory_index] = addr_of!(GUARD_TABLE) as u64 | PRESENT_WRITABLE;
        core::arch::asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack));
    }
}

/// Whether `address` (for example CR2 after a fault) lies in the guard page: the stack overflowed.
pub fn is_stack_guard(address: u64) -> bool {
    let guard = addr_of!(boot_stack_guard) as u64;
    (guard..guard + PAGE).contains(&address)
}
