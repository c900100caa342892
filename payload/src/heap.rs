//! The heap: the largest free RAM range (see `memory::largest_free`), served by linked_list_allocator.

use linked_list_allocator::LockedHeap;

use crate::memory::Range;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands `range` to the allocator. Call once.
///
/// # Safety
/// The range must be usable RAM, identity mapped, and used by nothing else for the rest of the run.
pub unsafe fn init(range: Range) {
    // SAFETY: the caller guarantees the memory is free and ours.
    unsafe {
        ALLOCATOR
            .lock()
            .init(range.start as *mut u8, range.length() as usize)
    };
}

/// (bytes in use, bytes in the heap), for reports.
pub fn usage() -> (usize, usize) {
    let heap = ALLOCATOR.lock();
    (heap.used(), heap.size())
}

/// The usage, even from a panic handler that may have interrupted the allocator.
pub fn usage_for_report() -> Option<(usize, usize)> {
    let heap = ALLOCATOR.try_lock()?;
    Some((heap.used(), heap.size()))
}
