//! Changes to the boot stub's identity mapping: a guard page under the boot stack, and device registers above
//! 4 GiB (where a UEFI firmware often puts a 64-bit BAR) mapped where they are.

use core::ptr::{addr_of, addr_of_mut};

unsafe extern "C" {
    /// The boot stub's top-level table (its first entry maps the first 512 GiB through `boot_pdpt`).
    static mut boot_pml4: [u64; 512];
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

/// Tables for what [`map_above_4g`] maps, handed out in order: directory pointer tables and directories.
const HIGH_TABLES_COUNT: usize = 8;
static mut HIGH_TABLES: [PageTable; HIGH_TABLES_COUNT] =
    [const { PageTable([0; 512]) }; HIGH_TABLES_COUNT];
static mut HIGH_TABLES_USED: usize = 0;

/// A 2 MiB page of device memory: present, writable, uncached (PCD and PWT: the PAT's UC entry), large.
const DEVICE_PAGE: u64 = 0x9b;
/// The first address past what the identity map may reach: the lower half of the addresses 4-level paging makes
/// (47 bits; a firmware puts registers within the CPU's physical address width, 46 bits for OVMF).
const PHYSICAL_LIMIT: u64 = 1 << 47;

/// Maps the `len` bytes at `address` where they are (identity), uncached, in 2 MiB pages: device registers
/// above 4 GiB, which the boot stub's map does not reach (below it, this changes nothing). Whether they are mapped:
/// not past 128 TiB, nor once the tables for it have run out (enough for several devices).
pub fn map_above_4g(address: u64, len: u64) -> bool {
    let Some(end) = address
        .checked_add(len)
        .filter(|&end| end <= PHYSICAL_LIMIT)
    else {
        return false;
    };
    let first = address.max(1 << 32) & !(LARGE_PAGE - 1);
    for page in (first..end).step_by(LARGE_PAGE as usize) {
        // SAFETY: only the boot CPU runs, with interrupts off. The tables walked are the live ones (their
        // addresses are their physical ones: the payload lies in the identity-mapped first 4 GiB); an entry is
        // only ever added or set to map the same page again, so nothing mapped before moves. The TLB is flushed
        // below.
        unsafe {
            let Some(pdpt) =
                table_under(&mut (*addr_of_mut!(boot_pml4))[(page >> 39) as usize & 511])
            else {
                return false;
            };
            let Some(directory) = table_under(&mut pdpt[(page >> 30) as usize & 511]) else {
                return false;
            };
            directory[(page >> 21) as usize & 511] = page | DEVICE_PAGE;
        }
    }
    // SAFETY: reloading CR3 only flushes the TLB.
    unsafe { core::arch::asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack)) };
    true
}

/// The table an entry points to, a new empty one of [`HIGH_TABLES`] put there if it points to none; `None` once
/// they have run out.
///
/// # Safety
/// `entry` is an entry of a live page table above the level of 2 MiB pages (not one that maps a page itself),
/// and only the boot CPU runs, with interrupts off.
unsafe fn table_under(entry: &mut u64) -> Option<&'static mut [u64; 512]> {
    if *entry & 1 == 0 {
        // SAFETY: the pool and its count are only reached here, by the boot CPU alone (the caller's promise); the
        // new table is reached through a pointer of its own, never a reference to the whole pool (the entry may
        // lie in another table of it).
        let table = unsafe {
            let used = &mut *addr_of_mut!(HIGH_TABLES_USED);
            if *used == HIGH_TABLES_COUNT {
                return None;
            }
            *used += 1;
            addr_of_mut!(HIGH_TABLES).cast::<PageTable>().add(*used - 1)
        };
        *entry = table as u64 | PRESENT_WRITABLE;
    }
    // SAFETY: the entry points to a page table (the caller's promise for the entries already there), identity
    // mapped, that only the page table code touches.
    Some(unsafe { &mut *((*entry & 0x000f_ffff_ffff_f000) as *mut [u64; 512]) })
}

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
