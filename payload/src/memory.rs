//! Choosing the heap: the largest piece of usable RAM that no loaded image or boot data occupies.
//!
//! Pure and allocation-free (it runs before the heap exists), so it works on small fixed arrays.

/// A half-open range of physical addresses `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    /// A range from a start and a length; `None` if it would wrap around.
    pub fn from_length(start: u64, length: u64) -> Option<Self> {
        Some(Self {
            start,
            end: start.checked_add(length)?,
        })
    }

    /// Its length in bytes (0 for an empty or inverted range).
    pub fn length(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the two ranges share at least one byte.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// How many ranges may be kept out of the heap: low memory, the payload, the boot information, the modules
/// and every memory map entry that is not usable RAM, as a firmware's map may list a reserved range inside a
/// usable one, and UEFI's boot services' ranges.
pub const MAX_RESERVED: usize = 3
    + crate::bootinfo::MAX_MODULES
    + crate::bootinfo::MAX_REGIONS
    + crate::bootinfo::MAX_BOOT_SERVICES;

/// The largest part of any `usable` range that overlaps no `reserved` range and lies below `limit`
/// (the end of the identity mapping). Pieces are aligned to 4 KiB. `None` when nothing is left.
pub fn largest_free(usable: &[Range], reserved: &[Range], limit: u64) -> Option<Range> {
    let mut sorted = [Range { start: 0, end: 0 }; MAX_RESERVED];
    let count = reserved.len().min(MAX_RESERVED);
    sorted[..count].copy_from_slice(&reserved[..count]);
    let sorted = &mut sorted[..count];
    // Insertion sort: a handful of entries, and far smaller code than the library sort.
    for i in 1..sorted.len() {
        let mut j = i;
        while j > 0 && sorted[j - 1].start > sorted[j].start {
            sorted.swap(j - 1, j);
            j -= 1;
        }
    }

    let mut best: Option<Range> = None;
    let mut consider = |start: u64, end: u64| {
        let start = align_up(start, 4096);
        let end = end.min(limit) & !4095;
        if start < end && best.is_none_or(|b| end - start > b.length()) {
            best = Some(Range { start, end });
        }
    };
    for region in usable {
        let mut cursor = region.start;
        for r in sorted.iter() {
            if r.end <= cursor {
                continue;
            }
            if r.start >= region.end {
                break;
            }
            if r.start > cursor {
                consider(cursor, r.start.min(region.end));
            }
            cursor = cursor.max(r.end);
        }
        if cursor < region.end {
            consider(cursor, region.end);
        }
    }
    best
}

fn align_up(value: u64, alignment: u64) -> u64 {
    value
        .checked_add(alignment - 1)
        .map_or(!(alignment - 1), |v| v & !(alignment - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn r(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    #[test]
    fn picks_the_largest_hole_around_payload_and_modules() {
        let usable = [r(0, 0x9fc00), r(MIB, GIB - 128 * 1024)];
        let reserved = [
            r(0, MIB),
            r(MIB, 2 * MIB),
            r(3 * MIB, 3 * MIB + 5000),
            r(2 * MIB + 100, 2 * MIB + 300),
        ];
        let heap = largest_free(&usable, &reserved, 4 * GIB).unwrap();
        assert_eq!(heap.start, 3 * MIB + 8192);
        assert_eq!(heap.end, GIB - 128 * 1024);
        for res in reserved {
            assert!(!heap.overlaps(&res));
        }
    }

    #[test]
    fn a_module_in_the_middle_of_ram_splits_it() {
        let usable = [r(MIB, 100 * MIB)];
        let reserved = [r(60 * MIB, 61 * MIB)];
        assert_eq!(
            largest_free(&usable, &reserved, 4 * GIB),
            Some(r(MIB, 60 * MIB))
        );
        let reserved = [r(40 * MIB, 41 * MIB)];
        assert_eq!(
            largest_free(&usable, &reserved, 4 * GIB),
            Some(r(41 * MIB, 100 * MIB))
        );
    }

    #[test]
    fn ram_above_the_mapping_limit_is_cut_and_nothing_left_is_none() {
        let usable = [r(MIB, 2 * MIB), r(4 * GIB, 8 * GIB)];
        assert_eq!(largest_free(&usable, &[], 4 * GIB), Some(r(MIB, 2 * MIB)));
        assert_eq!(largest_free(&usable, &[r(0, 4 * GIB)], 4 * GIB), None);
        assert_eq!(largest_free(&[], &[], 4 * GIB), None);
    }

    #[test]
    fn unsorted_overlapping_reservations() {
        let usable = [r(0, 10 * MIB)];
        let reserved = [r(5 * MIB, 6 * MIB), r(0, 2 * MIB), r(MIB, 3 * MIB)];
        assert_eq!(
            largest_free(&usable, &reserved, 4 * GIB),
            Some(r(6 * MIB, 10 * MIB))
        );
    }

    #[test]
    fn a_reserved_map_entry_inside_usable_ram_is_avoided() {
        // A firmware map whose usable entry also covers an ACPI table and a reserved hole: both stay out.
        let usable = [r(MIB, 512 * MIB)];
        let reserved = [
            r(0, MIB),
            r(400 * MIB, 400 * MIB + 64 * 1024),
            r(100 * MIB, 101 * MIB),
        ];
        assert_eq!(
            largest_free(&usable, &reserved, 4 * GIB),
            Some(r(101 * MIB, 400 * MIB))
        );
        // Every slot in use, the last ones included.
        let mut many = [r(0, 0); MAX_RESERVED];
        for (i, slot) in many.iter_mut().enumerate() {
            let start = (i as u64 + 2) * MIB;
            *slot = r(start, start + 4096);
        }
        many[MAX_RESERVED - 1] = r(300 * MIB, 500 * MIB);
        assert_eq!(
            largest_free(&usable, &many, 4 * GIB),
            Some(r(MAX_RESERVED as u64 * MIB + 4096, 300 * MIB))
        );
    }

    #[test]
    fn pieces_are_whole_pages() {
        // Usable RAM that neither starts nor ends on a page: the heap is the whole pages inside it.
        assert_eq!(
            largest_free(&[r(MIB + 1, 10 * MIB + 100)], &[], 4 * GIB),
            Some(r(MIB + 4096, 10 * MIB))
        );
    }

    #[test]
    fn a_reservation_ending_at_the_top_of_the_address_space_leaves_nothing() {
        // A (broken) map whose usable entry runs to the last address, reserved all but its last bytes: what is
        // left has no whole page, and nothing below is taken instead.
        let usable = [r(MIB, u64::MAX)];
        assert_eq!(
            largest_free(&usable, &[r(0, u64::MAX - 100)], 4 * GIB),
            None
        );
    }

    #[test]
    fn ranges_that_only_touch_do_not_overlap() {
        // Half-open: a destination that starts where the boot stage ends is clear of it (the hand-off's check).
        assert!(!r(MIB, 2 * MIB).overlaps(&r(2 * MIB, 3 * MIB)));
        assert!(!r(2 * MIB, 3 * MIB).overlaps(&r(MIB, 2 * MIB)));
        assert!(r(MIB, 2 * MIB).overlaps(&r(2 * MIB - 1, 3 * MIB)));
        assert!(r(2 * MIB - 1, 3 * MIB).overlaps(&r(MIB, 2 * MIB)));
    }

    #[test]
    fn from_length_rejects_wrapping() {
        assert_eq!(Range::from_length(u64::MAX - 1, 5), None);
        assert_eq!(Range::from_length(10, 5), Some(r(10, 15)));
    }
}
