//! What the hand-off fuzz targets check of a plan, besides that nothing panics: every range the kernel gets lies
//! in memory that was free and below the end of the identity map, no two of them overlap, and every byte to be
//! copied or zeroed lands inside one of them. A plan that broke these would overwrite the payload, the firmware's
//! tables or the kernel's own pieces at the jump.

use bootscript_handoff::memory::{pc_map, FreeMemory, MemoryRegion};

/// The machine the plans are made for: a BIOS PC with 1 GiB, as QEMU gives it to the boot tests.
pub fn machine_map() -> Vec<MemoryRegion> {
    pc_map(1 << 30)
}

/// The free memory of that machine, with 16 MiB from 64 MiB taken: a stand-in for what the payload holds at
/// the jump (its heap with the kernel's and initrd's bytes), which it reserves before it plans.
pub fn free_memory(map: &[MemoryRegion]) -> FreeMemory {
    let mut free = FreeMemory::from_map(map);
    free.reserve(64 << 20, 16 << 20);
    free
}

/// Checks the ranges (`(start, len)`, empty ones ignored) against the memory that was free before the plan
/// and against `limit`, and against each other; then that each piece (`(start, len)`) lies in one of them.
pub fn check_layout(free: &FreeMemory, limit: u64, ranges: &[(u64, u64)], pieces: &[(u64, u64)]) {
    let ranges: Vec<(u64, u64)> = ranges.iter().copied().filter(|r| r.1 != 0).collect();
    for &(start, len) in &ranges {
        let end = start.checked_add(len).expect("a range wraps around");
        assert!(
            end <= limit,
            "range {start:#x}+{len:#x} past the limit {limit:#x}"
        );
        assert!(
            free.is_free(start, len),
            "range {start:#x}+{len:#x} was not free"
        );
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            assert!(
                a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0,
                "ranges {:#x}+{:#x} and {:#x}+{:#x} overlap",
                a.0,
                a.1,
                b.0,
                b.1
            );
        }
    }
    for &(start, len) in pieces.iter().filter(|p| p.1 != 0) {
        let end = start.checked_add(len).expect("a piece wraps around");
        assert!(
            ranges.iter().any(|r| r.0 <= start && end <= r.0 + r.1),
            "piece {start:#x}+{len:#x} lies outside every planned range"
        );
    }
}
