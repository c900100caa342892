//! The heap: the largest free RAM range (see `memory::largest_free`), served by linked_list_allocator.
//!
//! The allocator hands out the lowest block that fits, so what the heap ever held stays below a high-water
//! mark; the hand-off places the kernel and initrd clear of the heap's start to that mark, and wipes that part
//! before the jump.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use linked_list_allocator::LockedHeap;

use crate::memory::Range;

/// The allocator, with the highest address it ever handed out.
struct Tracked {
    heap: LockedHeap,
    /// The heap's start (0 before `init`): read without the allocator's lock, which a crash may hold.
    bottom: AtomicU64,
    high_water: AtomicU64,
    /// The size of the last allocation if it failed, else 0: what a panic report names (a failed infallible
    /// allocation aborts right after it; a fallible one that failed is followed by others that succeed).
    failed: AtomicUsize,
}

// SAFETY: every call goes straight to linked_list_allocator's `LockedHeap`, which upholds `GlobalAlloc`;
// the wrapper only records addresses.
unsafe impl GlobalAlloc for Tracked {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        let pointer = unsafe { self.heap.alloc(layout) };
        if pointer.is_null() {
            self.failed.store(layout.size().max(1), Ordering::Relaxed);
        } else {
            let end = pointer as u64 + layout.size() as u64;
            self.high_water.fetch_max(end, Ordering::Relaxed);
            self.failed.store(0, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.heap.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracked = Tracked {
    heap: LockedHeap::empty(),
    bottom: AtomicU64::new(0),
    high_water: AtomicU64::new(0),
    failed: AtomicUsize::new(0),
};

/// Hands `range` to the allocator. Call once.
///
/// # Safety
/// The range must be usable RAM, identity mapped, and used by nothing else for the rest of the run.
pub unsafe fn init(range: Range) {
    // SAFETY: the caller guarantees the memory is free and ours.
    unsafe {
        ALLOCATOR
            .heap
            .lock()
            .init(range.start as *mut u8, range.length() as usize)
    };
    ALLOCATOR.bottom.store(range.start, Ordering::Relaxed);
    ALLOCATOR.high_water.store(range.start, Ordering::Relaxed);
}

/// (bytes in use, bytes in the heap), for reports.
pub fn usage() -> (usize, usize) {
    let heap = ALLOCATOR.heap.lock();
    (heap.used(), heap.size())
}

/// The usage, even from a panic handler that may have interrupted the allocator.
pub fn usage_for_report() -> Option<(usize, usize)> {
    let heap = ALLOCATOR.heap.try_lock()?;
    Some((heap.used(), heap.size()))
}

/// The size of the last allocation, if it failed.
pub fn last_failure() -> Option<usize> {
    match ALLOCATOR.failed.load(Ordering::Relaxed) {
        0 => None,
        size => Some(size),
    }
}

/// From the heap's start to the highest address it ever handed out: everything the heap may hold. (Empty before
/// the heap exists; safe in an exception handler that interrupted the allocator.)
pub fn used_range() -> Range {
    let start = ALLOCATOR.bottom.load(Ordering::Relaxed);
    Range {
        start,
        end: ALLOCATOR.high_water.load(Ordering::Relaxed).max(start),
    }
}
