//! Physical memory bookkeeping: the firmware's memory map, and the free ranges the loaders place things in.

use alloc::vec::Vec;

/// Multiboot2 memory map types (the firmware's view as GRUB hands it to the payload).
pub const MB2_AVAILABLE: u32 = 1;
/// Multiboot2: ACPI tables, reclaimable once read.
pub const MB2_ACPI_RECLAIMABLE: u32 = 3;
/// Multiboot2: must be preserved across hibernation (ACPI NVS).
pub const MB2_NVS: u32 = 4;
/// Multiboot2: defective RAM.
pub const MB2_BAD: u32 = 5;

/// One entry of a memory map: `len` bytes from `addr`, of a Multiboot2 `kind` (1 available, 3 ACPI, 4 NVS,
/// 5 bad, anything else reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub addr: u64,
    pub len: u64,
    pub kind: u32,
}

/// The memory map of a BIOS PC with `ram` bytes (at most 3 GiB, below the PCI hole), as QEMU's SeaBIOS gives
/// it for `-machine pc`: 639 KiB of low memory, the EBDA, the BIOS ROM, RAM from 1 MiB up to the last
/// 128 KiB (the ACPI tables, reserved), and the flash at the top of 4 GiB. The host tool plans its dry runs
/// on it, and tests compare plans with what the payload does under QEMU.
pub fn pc_map(ram: u64) -> Vec<MemoryRegion> {
    const MIB: u64 = 1 << 20;
    const ACPI: u64 = 0x20000;
    let region = |addr, len, kind| MemoryRegion { addr, len, kind };
    alloc::vec![
        region(0, 0x9fc00, MB2_AVAILABLE),
        region(0x9fc00, 0x400, 2),
        region(0xf0000, 0x10000, 2),
        region(MIB, ram.saturating_sub(MIB + ACPI), MB2_AVAILABLE),
        region(ram.saturating_sub(ACPI), ACPI, 2),
        region(0xfffc0000, 0x40000, 2),
    ]
}

/// E820 types (Linux's boot_params.e820_table).
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;
pub const E820_ACPI: u32 = 3;
pub const E820_NVS: u32 = 4;
pub const E820_UNUSABLE: u32 = 5;

/// Persistent memory (an NVDIMM's), E820 type 7, and the older type 12 for it: GRUB passes both in its
/// Multiboot2 map as the firmware gave them (multiboot_mbi2.c copies GRUB's memory type, whose numbers are the
/// E820 ones), and Linux makes /dev/pmem devices of them.
pub const E820_PMEM: u32 = 7;
pub const E820_PRAM: u32 = 12;

/// Maps a Multiboot2 memory type to its E820 type. The numbers coincide for the defined types and for
/// persistent memory; everything else (vendor types) becomes reserved, which is the safe reading.
pub fn mb2_to_e820(kind: u32) -> u32 {
    match kind {
        MB2_AVAILABLE => E820_RAM,
        MB2_ACPI_RECLAIMABLE => E820_ACPI,
        MB2_NVS => E820_NVS,
        MB2_BAD => E820_UNUSABLE,
        E820_PMEM | E820_PRAM => kind,
        _ => E820_RESERVED,
    }
}

/// Where memory that a placement may take begins (see [`FreeMemory::take_highest`]).
pub const LOW_MEMORY: u64 = 1 << 20;

/// The page size every placement is aligned to at least.
pub const PAGE: u64 = 4096;

pub(crate) fn align_up(value: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    Some(value.checked_add(mask)? & !mask)
}

fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// Free physical memory as sorted, disjoint `[start, end)` ranges. Start from the memory map, reserve what is
/// in use (the payload itself, its heap, page tables, the buffers holding the kernel and initrd bytes), then
/// let the loaders place their pieces; each placement is reserved at once so that nothing overlaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeMemory {
    ranges: Vec<(u64, u64)>,
}

impl FreeMemory {
    /// The available (type 1) entries of a memory map, shrunk to whole pages, overlaps merged.
    pub fn from_map(map: &[MemoryRegion]) -> FreeMemory {
        let mut free = FreeMemory::default();
        for region in map.iter().filter(|r| r.kind == MB2_AVAILABLE) {
            let end = region.addr.saturating_add(region.len);
            if let Some(start) = align_up(region.addr, PAGE) {
                free.add(start, align_down(end, PAGE));
            }
        }
        // A reserved entry that overlaps an available one wins: firmware maps are not always disjoint.
        for region in map.iter().filter(|r| r.kind != MB2_AVAILABLE) {
            free.reserve(region.addr, region.len);
        }
        free
    }

    /// Free memory given directly as `(start, len)` ranges.
    pub fn from_ranges(ranges: &[(u64, u64)]) -> FreeMemory {
        let mut free = FreeMemory::default();
        for &(start, len) in ranges {
            free.add(start, start.saturating_add(len));
        }
        free
    }

    /// The free ranges as `(start, len)`, lowest first.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|&(s, e)| (s, e - s))
    }

    // Out of line: inlined at its two callers it takes more room in the payload (measured packed).
    #[inline(never)]
    fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let mut start = start;
        let mut end = end;
        // Merge with every range it touches, then insert in order.
        self.ranges.retain(|&(s, e)| {
            if s <= end && start <= e {
                start = start.min(s);
                end = end.max(e);
                false
            } else {
                true
            }
        });
        let at = self
            .ranges
            .iter()
            .position(|&(s, _)| s > start)
            .unwrap_or(self.ranges.len());
        self.ranges.insert(at, (start, end));
    }

    /// Marks `[start, start + len)` as used.
    pub fn reserve(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        if len == 0 {
            return;
        }
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(s, e) in &self.ranges {
            if e <= start || end <= s {
                out.push((s, e));
                continue;
            }
            if s < start {
                out.push((s, start));
            }
            if end < e {
                out.push((end, e));
            }
        }
        self.ranges = out;
    }

    /// Whether all of `[start, start + len)` is free.
    pub fn is_free(&self, start: u64, len: u64) -> bool {
        match start.checked_add(len) {
            Some(end) => self.ranges.iter().any(|&(s, e)| s <= start && end <= e),
            None => false,
        }
    }

    /// The highest `align`-aligned address `a >= min` with `[a, a + size)` free and `a + size <= limit`.
    pub fn find_highest(&self, size: u64, align: u64, min: u64, limit: u64) -> Option<u64> {
        self.ranges.iter().rev().find_map(|&(s, e)| {
            let top = e.min(limit).checked_sub(size)?;
            let a = align_down(top, align);
            (a >= s && a >= min).then_some(a)
        })
    }

    /// The lowest `align`-aligned address `a >= min` with `[a, a + size)` free and `a + size <= limit`.
    pub fn find_lowest(&self, size: u64, align: u64, min: u64, limit: u64) -> Option<u64> {
        self.ranges.iter().find_map(|&(s, e)| {
            let a = align_up(s.max(min), align)?;
            let end = a.checked_add(size)?;
            (end <= e && end <= limit).then_some(a)
        })
    }

    /// Finds (highest first) and reserves room for `size` bytes, or says what did not fit. Never below
    /// [`LOW_MEMORY`]: the first MiB holds the real-mode interrupt table, the BIOS data area and the EBDA, which
    /// Linux reads early (and boot_params at address 0 would be a null RSI).
    pub fn take_highest(
        &mut self,
        what: &'static str,
        size: u64,
        align: u64,
        limit: u64,
    ) -> Result<u64, crate::Error> {
        let at = self
            .find_highest(size, align, LOW_MEMORY, limit)
            .ok_or(crate::Error::NoRoom(what, size))?;
        self.reserve(at, size);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_available_pages_and_lets_reserved_win() {
        let map = [
            MemoryRegion {
                addr: 0,
                len: 0x9fc00,
                kind: 1,
            },
            MemoryRegion {
                addr: 0x100000,
                len: 0x3fee0000,
                kind: 1,
            },
            MemoryRegion {
                addr: 0x200000,
                len: 0x1000,
                kind: 2,
            },
        ];
        let free = FreeMemory::from_map(&map);
        let got: Vec<_> = free.ranges().collect();
        assert_eq!(
            got,
            [(0, 0x9f000), (0x100000, 0x100000), (0x201000, 0x3fddf000)]
        );
    }

    #[test]
    fn map_entries_that_touch_or_overlap_are_one_range() {
        // Firmware maps may split RAM into entries that only touch (one per DIMM, say): a piece may span the
        // join.
        let region = |addr, len| MemoryRegion { addr, len, kind: 1 };
        let mut free = FreeMemory::from_map(&[
            region(0x100000, 0x100000),
            region(0x200000, 0x100000),
            region(0x280000, 0x100000),
        ]);
        assert_eq!(free.ranges().collect::<Vec<_>>(), [(0x100000, 0x280000)]);
        assert_eq!(
            free.take_highest("x", 0x280000, PAGE, u64::MAX),
            Ok(0x100000)
        );
    }

    #[test]
    fn placements_respect_alignment_limits_and_reservations() {
        let mut free = FreeMemory::from_ranges(&[(0x1000, 0x10000), (0x100000, 0x100000)]);
        assert_eq!(
            free.find_highest(0x3000, 0x1000, 0, u64::MAX),
            Some(0x1fd000)
        );
        assert_eq!(free.find_highest(0x3000, 0x1000, 0, 0x101000), Some(0xe000));
        assert_eq!(
            free.find_lowest(0x3000, 0x10000, 0x2000, u64::MAX),
            Some(0x100000)
        );
        free.reserve(0x100000, 0x1000);
        assert!(!free.is_free(0x100000, 0x10));
        assert!(free.is_free(0x101000, 0xff000));
        assert!(!free.is_free(0x101000, 0xff001));
        assert_eq!(
            free.take_highest("x", 0x200000, 8, u64::MAX),
            Err(crate::Error::NoRoom("x", 0x200000))
        );
    }

    #[test]
    fn placements_stay_out_of_the_first_mib() {
        // Only low memory left: nothing is placed there, page zero least of all.
        let mut free = FreeMemory::from_ranges(&[(0, 0x9f000), (0x100000, 0x3000)]);
        assert_eq!(free.take_highest("x", 0x1000, PAGE, u64::MAX), Ok(0x102000));
        assert_eq!(free.take_highest("x", 0x2000, PAGE, u64::MAX), Ok(0x100000));
        assert_eq!(
            free.take_highest("x", 0x1000, PAGE, u64::MAX),
            Err(crate::Error::NoRoom("x", 0x1000))
        );
        assert!(free.is_free(0, 0x9f000));
        // A range that straddles 1 MiB gives only its part above.
        let mut free = FreeMemory::from_ranges(&[(0x80000, 0x100000)]);
        assert_eq!(
            free.take_highest("x", 0x80000, PAGE, u64::MAX),
            Ok(0x100000)
        );
        assert_eq!(
            free.take_highest("x", 0x1000, PAGE, u64::MAX),
            Err(crate::Error::NoRoom("x", 0x1000))
        );
    }
}
