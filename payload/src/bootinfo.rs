//! The Multiboot2 information, read once into plain data: command line, modules, memory map, boot loader
//! name, ACPI RSDP. Pure (the payload's `platform` hands it the loaded structure), so bad inputs are tested on
//! the host. Strings and module bytes stay where the boot loader put them.

use bootscript_system::{Efi, Framebuffer};
use multiboot2::{BootInformation, EFIMemoryMapTag, FramebufferType, MemoryAreaType};

use crate::memory::{Range, MAX_RESERVED};

/// Modules beyond this many are left out (and counted).
pub const MAX_MODULES: usize = 32;
/// Memory map entries beyond this many are left out (and counted): as many as Linux's boot_params E820 table
/// holds, so that a map Linux could take reaches it whole.
pub const MAX_REGIONS: usize = 128;
/// Ranges of UEFI's boot services kept from the heap (after adjacent ones are joined): a firmware's map lists a
/// few dozen.
pub const MAX_BOOT_SERVICES: usize = 64;
/// The identity mapping covers the first 4 GiB; nothing above it is reachable.
pub const MAPPED_LIMIT: u64 = 4 << 30;
/// The value a Multiboot2 loader passes in EAX.
pub const MULTIBOOT2_MAGIC: u32 = 0x36d7_6289;

/// A file the boot loader loaded with `module2 FILE NAME`.
#[derive(Debug, Clone, Copy)]
pub struct Module<'a> {
    /// The rest of the `module2` line (the name the script refers to it by).
    pub name: &'a str,
    pub range: Range,
}

/// What a memory map entry says about its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNonVolatile,
    Defective,
    /// Persistent memory (an NVDIMM's): its E820 type, 7, or 12 for the older kind. GRUB passes the firmware's
    /// number through, and a Linux kernel gets it back (its /dev/pmem devices).
    Persistent(u32),
}

impl MemoryKind {
    /// A short lowercase name for listings.
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Usable => "usable",
            MemoryKind::Reserved => "reserved",
            MemoryKind::AcpiReclaimable => "acpi-reclaimable",
            MemoryKind::AcpiNonVolatile => "acpi-nvs",
            MemoryKind::Defective => "defective",
            MemoryKind::Persistent(_) => "persistent",
        }
    }
}

/// One memory map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    pub range: Range,
    pub kind: MemoryKind,
}

/// The ACPI root pointer as the boot loader copied it into the boot information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rsdp {
    /// Where the copy of the RSDP structure starts.
    pub address: u64,
    /// 0 for ACPI 1.0 (RSDT), 2 and up for the XSDT.
    pub revision: u8,
    /// The RSDT (revision 0) or XSDT address.
    pub table_address: u64,
}

/// Where the memory map came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemorySource {
    /// The full memory map tag.
    MemoryMap,
    /// Only the basic lower/upper memory tag (an old or minimal boot loader).
    BasicInfo,
    /// Nothing: no RAM is known.
    Nothing,
}

/// Everything the payload learned from the boot loader.
#[derive(Debug)]
pub struct BootInfo<'a> {
    pub cmdline: &'a str,
    pub loader: &'a str,
    pub rsdp: Option<Rsdp>,
    /// Where the boot information itself lies (kept out of the heap).
    pub info_range: Range,
    /// The screen is in VGA text mode (no graphics framebuffer reported).
    pub vga_text: bool,
    /// The graphics framebuffer the boot loader set up instead (GRUB on a UEFI PC), of direct RGB pixels.
    pub framebuffer: Option<Framebuffer>,
    /// A UEFI firmware started the boot loader (GRUB passes on a pointer to its system table, of 64 or 32 bits).
    pub uefi: bool,
    /// Where the 64-bit UEFI system table is, whose configuration tables say where the firmware keeps the ACPI
    /// RSDP. (A 32-bit one's, on the few PCs with a 32-bit UEFI, is laid out otherwise and not read.)
    pub efi_system_table: Option<u64>,
    /// The 64-bit UEFI system table and UEFI's memory map as GRUB passed it on after leaving UEFI's boot
    /// services (tag 17), for Linux, which needs them to use the firmware's runtime services.
    pub efi: Option<Efi<'a>>,
    pub memory_source: MemorySource,
    /// Modules left out: beyond [`MAX_MODULES`], or not inside the first 4 GiB.
    pub ignored_modules: usize,
    /// Memory map entries left out: beyond [`MAX_REGIONS`], or wrapping around the address space.
    pub ignored_regions: usize,
    modules: [Module<'a>; MAX_MODULES],
    module_count: usize,
    regions: [MemoryRegion; MAX_REGIONS],
    region_count: usize,
}

impl<'a> BootInfo<'a> {
    /// The modules, in `module2` order.
    pub fn modules(&self) -> &[Module<'a>] {
        &self.modules[..self.module_count]
    }

    /// The module with this name.
    pub fn module(&self, name: &str) -> Option<&Module<'a>> {
        self.modules().iter().find(|m| m.name == name)
    }

    /// The memory map.
    pub fn memory_map(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
    }

    /// What the heap must not take, with the payload's `image`: low memory (firmware data, real-mode
    /// trampolines of a later hand-off), the payload, this information, the modules, every memory map entry
    /// that is not usable RAM (a firmware's map may list a reserved range inside a usable one), and on a UEFI PC
    /// what UEFI's boot services held (see `Efi::boot_services`; adjacent ones as one, up to
    /// [`MAX_BOOT_SERVICES`] of them). Unsorted; the count of ranges in use.
    pub fn kept_from_heap(&self, image: Range) -> ([Range; MAX_RESERVED], usize) {
        let mut reserved = [Range { start: 0, end: 0 }; MAX_RESERVED];
        reserved[0] = Range {
            start: 0,
            end: 1 << 20,
        };
        reserved[1] = image;
        reserved[2] = self.info_range;
        let modules = self.modules().iter().map(|m| m.range);
        let other = self
            .memory_map()
            .iter()
            .filter(|r| r.kind != MemoryKind::Usable);
        let mut count = 3;
        for range in modules.chain(other.map(|r| r.range)) {
            reserved[count] = range;
            count += 1;
        }
        if let Some(efi) = self.efi {
            efi.boot_services(|start, len| {
                let end = start.saturating_add(len);
                // (The heap lies below MAPPED_LIMIT: a range above takes no slot.)
                if start >= MAPPED_LIMIT {
                } else if reserved[count - 1].end == start {
                    reserved[count - 1].end = end;
                } else if count < MAX_RESERVED {
                    reserved[count] = Range { start, end };
                    count += 1;
                }
            });
        }
        (reserved, count)
    }

    /// Bytes of usable RAM in the map.
    pub fn usable_bytes(&self) -> u64 {
        self.memory_map()
            .iter()
            .filter(|r| r.kind == MemoryKind::Usable)
            .map(|r| r.range.length())
            .sum()
    }
}

/// Why the boot information cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootInfoError {
    /// EAX did not hold the Multiboot2 magic: not started by a Multiboot2 loader.
    NotMultiboot2(u32),
    /// The structure at EBX is malformed.
    Malformed,
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootInfoError::NotMultiboot2(magic) => write!(
                f,
                "not started by a Multiboot2 boot loader (magic {magic:#x}, expected {MULTIBOOT2_MAGIC:#x})"
            ),
            BootInfoError::Malformed => f.write_str("the Multiboot2 boot information is malformed"),
        }
    }
}

/// Reads what the payload needs out of a loaded boot information structure.
pub fn read<'a>(info: &'a BootInformation<'_>) -> BootInfo<'a> {
    let empty_module = Module {
        name: "",
        range: Range { start: 0, end: 0 },
    };
    let empty_region = MemoryRegion {
        range: Range { start: 0, end: 0 },
        kind: MemoryKind::Reserved,
    };
    let system_table = info.efi_sdt64_tag();
    let mut boot = BootInfo {
        cmdline: info
            .command_line_tag()
            .and_then(|t| t.cmdline().ok())
            .unwrap_or(""),
        loader: info
            .boot_loader_name_tag()
            .and_then(|t| t.name().ok())
            .unwrap_or("unknown"),
        rsdp: None,
        info_range: Range {
            start: info.start_address() as u64,
            end: info.end_address() as u64,
        },
        vga_text: true,
        framebuffer: None,
        uefi: system_table.is_some() || info.efi_sdt32_tag().is_some(),
        efi_system_table: system_table.map(|tag| tag.sdt_address() as u64),
        // (GRUB passes the map on only once it has left UEFI's boot services, as it has for us: our header asks
        // for no tag that would keep them.)
        efi: system_table
            .zip(info.get_tag::<EFIMemoryMapTag>())
            .and_then(|(table, tag)| {
                // SAFETY: the tag lies inside the boot information, which `info` borrows for 'a: the crate made it
                // from a slice of the information as long as the tag's own size field (header, descriptor size and
                // version, descriptors), which is what `size_of_val` gives back.
                let tag = unsafe {
                    core::slice::from_raw_parts(
                        core::ptr::from_ref(tag).cast::<u8>(),
                        core::mem::size_of_val(tag),
                    )
                };
                Efi::from_tag(table.sdt_address() as u64, tag)
            }),
        memory_source: MemorySource::Nothing,
        ignored_modules: 0,
        ignored_regions: 0,
        modules: [empty_module; MAX_MODULES],
        module_count: 0,
        regions: [empty_region; MAX_REGIONS],
        region_count: 0,
    };

    for tag in info.module_tags() {
        let range = Range {
            start: u64::from(tag.start_address()),
            end: u64::from(tag.end_address()),
        };
        if range.end < range.start || range.end > MAPPED_LIMIT || boot.module_count == MAX_MODULES {
            boot.ignored_modules += 1;
            continue;
        }
        boot.modules[boot.module_count] = Module {
            name: tag.cmdline().unwrap_or("?"),
            range,
        };
        boot.module_count += 1;
    }

    if let Some(map) = info.memory_map_tag() {
        boot.memory_source = MemorySource::MemoryMap;
        for area in map.memory_areas() {
            let range = Range::from_length(area.start_address(), area.size());
            let (Some(range), true) = (range, boot.region_count < MAX_REGIONS) else {
                boot.ignored_regions += 1;
                continue;
            };
            let kind = match area.typ() {
                MemoryAreaType::Available => MemoryKind::Usable,
                MemoryAreaType::AcpiAvailable => MemoryKind::AcpiReclaimable,
                MemoryAreaType::ReservedHibernate => MemoryKind::AcpiNonVolatile,
                MemoryAreaType::Defective => MemoryKind::Defective,
                other => match other.val() {
                    kind @ (7 | 12) => MemoryKind::Persistent(kind),
                    _ => MemoryKind::Reserved,
                },
            };
            boot.regions[boot.region_count] = MemoryRegion { range, kind };
            boot.region_count += 1;
        }
    } else if let Some(basic) = info.basic_memory_info_tag() {
        boot.memory_source = MemorySource::BasicInfo;
        let lower = Range {
            start: 0,
            end: u64::from(basic.memory_lower()) * 1024,
        };
        let upper = Range {
            start: 1 << 20,
            end: (1 << 20) + u64::from(basic.memory_upper()) * 1024,
        };
        boot.regions[0] = MemoryRegion {
            range: lower,
            kind: MemoryKind::Usable,
        };
        boot.regions[1] = MemoryRegion {
            range: upper,
            kind: MemoryKind::Usable,
        };
        boot.region_count = 2;
    }

    // The RSDP copy follows the 8-byte tag header.
    if let Some(tag) = info.rsdp_v2_tag() {
        boot.rsdp = Some(Rsdp {
            address: core::ptr::from_ref(tag).cast::<u8>() as u64 + 8,
            revision: tag.revision(),
            table_address: tag.xsdt_address() as u64,
        });
    } else if let Some(tag) = info.rsdp_v1_tag() {
        boot.rsdp = Some(Rsdp {
            address: core::ptr::from_ref(tag).cast::<u8>() as u64 + 8,
            revision: tag.revision(),
            table_address: tag.rsdt_address() as u64,
        });
    }

    if let Some(Ok(framebuffer)) = info.framebuffer_tag() {
        let kind = framebuffer.buffer_type();
        boot.vga_text = matches!(kind, Ok(FramebufferType::Text));
        if let Ok(FramebufferType::RGB { red, green, blue }) = kind {
            boot.framebuffer = Some(Framebuffer {
                address: framebuffer.address(),
                pitch: framebuffer.pitch(),
                width: framebuffer.width(),
                height: framebuffer.height(),
                bits_per_pixel: framebuffer.bpp(),
                colors: [red, green, blue].map(|c| (c.size, c.position)),
                efi: boot.uefi,
            });
        }
    }
    boot
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use multiboot2::BootInformationHeader;

    /// Builds a Multiboot2 information structure the way a boot loader lays it out.
    struct Builder(Vec<u8>);

    impl Builder {
        fn new() -> Self {
            Builder(alloc::vec![0; 8])
        }

        fn tag(mut self, kind: u32, body: &[u8]) -> Self {
            let size = 8 + body.len() as u32;
            self.0.extend_from_slice(&kind.to_le_bytes());
            self.0.extend_from_slice(&size.to_le_bytes());
            self.0.extend_from_slice(body);
            while !self.0.len().is_multiple_of(8) {
                self.0.push(0);
            }
            self
        }

        fn string(self, kind: u32, text: &str) -> Self {
            let mut body = text.as_bytes().to_vec();
            body.push(0);
            self.tag(kind, &body)
        }

        fn module(self, start: u32, end: u32, name: &str) -> Self {
            let mut body = Vec::new();
            body.extend_from_slice(&start.to_le_bytes());
            body.extend_from_slice(&end.to_le_bytes());
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            self.tag(3, &body)
        }

        fn memory_map(self, entries: &[(u64, u64, u32)]) -> Self {
            let mut body = Vec::new();
            body.extend_from_slice(&24u32.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            for &(base, length, kind) in entries {
                body.extend_from_slice(&base.to_le_bytes());
                body.extend_from_slice(&length.to_le_bytes());
                body.extend_from_slice(&kind.to_le_bytes());
                body.extend_from_slice(&0u32.to_le_bytes());
            }
            self.tag(6, &body)
        }

        /// The finished bytes in 8-byte-aligned storage, as the crate requires.
        fn finish(self) -> Vec<u64> {
            let mut bytes = self.tag(0, &[]).0;
            let total = bytes.len() as u32;
            bytes[..4].copy_from_slice(&total.to_le_bytes());
            bytes
                .chunks(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        }
    }

    fn load(words: &[u64]) -> BootInformation<'_> {
        // SAFETY: the words are a complete, 8-byte-aligned structure that outlives the returned value.
        unsafe { BootInformation::load(words.as_ptr().cast::<BootInformationHeader>()) }.unwrap()
    }

    #[test]
    fn reads_command_line_modules_and_memory() {
        let words = Builder::new()
            .string(1, "test=echo root=/dev/sda1")
            .string(2, "GRUB 2.06")
            .module(0x20_0000, 0x20_1000, "boot.bs")
            .module(0x30_0000, 0x30_0005, "key")
            .memory_map(&[
                (0, 0x9fc00, 1),
                (0x10_0000, 0x3ff0_0000, 1),
                (0xfffc_0000, 0x4_0000, 2),
                (0x1_0000_0000, 0x1000_0000, 7),
                (0x1_1000_0000, 0x1000_0000, 12),
                (0x1_2000_0000, 0x1000, 0xf00),
            ])
            .finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.cmdline, "test=echo root=/dev/sda1");
        assert_eq!(boot.loader, "GRUB 2.06");
        assert_eq!(boot.modules().len(), 2);
        assert_eq!(
            boot.module("key").unwrap().range,
            Range {
                start: 0x30_0000,
                end: 0x30_0005
            }
        );
        assert_eq!(boot.memory_source, MemorySource::MemoryMap);
        let kinds: Vec<_> = boot.memory_map().iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds[2..],
            [
                MemoryKind::Reserved,
                MemoryKind::Persistent(7),
                MemoryKind::Persistent(12),
                MemoryKind::Reserved
            ]
        );
        assert_eq!(boot.usable_bytes(), 0x9fc00 + 0x3ff0_0000);
        assert_eq!(boot.info_range.length(), words.len() as u64 * 8);
        assert!(boot.rsdp.is_none());
        assert!(boot.vga_text);
    }

    #[test]
    fn no_memory_map_and_no_modules_are_reported_not_fatal() {
        let words = Builder::new().string(1, "").finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.memory_source, MemorySource::Nothing);
        assert!(boot.memory_map().is_empty());
        assert!(boot.modules().is_empty());
        assert_eq!(boot.loader, "unknown");
    }

    #[test]
    fn basic_memory_info_stands_in_for_a_missing_map() {
        let mut body = Vec::new();
        body.extend_from_slice(&639u32.to_le_bytes());
        body.extend_from_slice(&(64 * 1024u32).to_le_bytes());
        let words = Builder::new().tag(4, &body).finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.memory_source, MemorySource::BasicInfo);
        // Both counts are KiB: the lower one from 0, the upper one from 1 MiB.
        assert_eq!(
            boot.memory_map()[0].range,
            Range {
                start: 0,
                end: 639 * 1024
            }
        );
        assert_eq!(
            boot.memory_map()[1].range,
            Range {
                start: 1 << 20,
                end: (1 << 20) + (64 << 20)
            }
        );
    }

    #[test]
    fn impossible_modules_and_entries_are_left_out_and_counted() {
        let mut builder = Builder::new()
            .module(0x50_0000, 0x40_0000, "backwards")
            .memory_map(&[(u64::MAX - 10, 100, 1), (0x10_0000, 0x10_0000, 1)]);
        for i in 0..MAX_MODULES as u32 + 2 {
            builder = builder.module(0x100_0000 + i * 0x1000, 0x100_0000 + i * 0x1000 + 10, "m");
        }
        let words = builder.finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.modules().len(), MAX_MODULES);
        assert_eq!(boot.ignored_modules, 3);
        assert_eq!(boot.memory_map().len(), 1);
        assert_eq!(boot.ignored_regions, 1);
    }

    #[test]
    fn the_heap_keeps_off_reserved_entries_inside_usable_ram() {
        // A usable entry that also covers a reserved range and an ACPI table (overlapping entries), and a
        // module: the largest free piece avoids all three.
        let words = Builder::new()
            .module(0x2000_0000, 0x3ff0_0000, "initrd")
            .memory_map(&[
                (0x10_0000, 0x3ff0_0000, 1),
                (0x0640_0000, 0x10_0000, 2),
                (0x1900_0000, 0x1_0000, 3),
            ])
            .finish();
        let info = load(&words);
        let boot = read(&info);
        let image = Range {
            start: 0x10_0000,
            end: 0x20_0000,
        };
        let (reserved, count) = boot.kept_from_heap(image);
        assert_eq!(count, 3 + 1 + 2);
        let usable = [boot.memory_map()[0].range];
        assert_eq!(
            crate::memory::largest_free(&usable, &reserved[..count], 1 << 32),
            Some(Range {
                start: 0x0650_0000,
                end: 0x1900_0000
            })
        );
    }

    #[test]
    fn the_heap_keeps_off_low_memory_and_the_boot_information() {
        // Usable RAM below 1 MiB (636 KiB of it) and 64 KiB after the payload: the heap takes the 64 KiB, not the
        // first MiB, which holds firmware data and the real-mode trampolines of a later hand-off.
        let words = Builder::new()
            .memory_map(&[(0, 0x9fc00, 1), (0x10_0000, 0x10_0000, 1)])
            .finish();
        let info = load(&words);
        let boot = read(&info);
        let image = Range {
            start: 0x10_0000,
            end: 0x1f_0000,
        };
        let (reserved, count) = boot.kept_from_heap(image);
        let usable: Vec<Range> = boot.memory_map().iter().map(|r| r.range).collect();
        assert_eq!(
            crate::memory::largest_free(&usable, &reserved[..count], 1 << 32),
            Some(Range {
                start: 0x1f_0000,
                end: 0x20_0000
            })
        );
        // Usable RAM around the boot information (wherever the test's copy lies): the heap avoids it, as the
        // modules' names and the command line are read from it later.
        let around = Range {
            start: (boot.info_range.start & !0xfff).saturating_sub(0x10_0000),
            end: boot.info_range.end + 0x20_0000,
        };
        let heap = crate::memory::largest_free(&[around], &reserved[..count], u64::MAX).unwrap();
        assert!(!heap.overlaps(&boot.info_range), "{heap:x?}");
    }

    #[test]
    fn a_graphics_framebuffer_means_no_vga_text_screen() {
        // The framebuffer tag (type 8): address, pitch, width, height, bits per pixel, type, then the type's
        // fields. An RGB framebuffer (GRUB's gfxpayload) is no text screen to write to; an EGA text one is.
        let framebuffer = |address: u64, kind: u8, fields: &[u8]| {
            let mut body = Vec::new();
            body.extend_from_slice(&address.to_le_bytes());
            for n in [4096u32, 1024, 768] {
                body.extend_from_slice(&n.to_le_bytes());
            }
            body.extend_from_slice(&[32, kind, 0, 0]);
            body.extend_from_slice(fields);
            Builder::new().tag(8, &body).finish()
        };
        let words = framebuffer(0xfd00_0000, 1, &[16, 8, 8, 8, 0, 8]);
        let info = load(&words);
        let boot = read(&info);
        assert!(!boot.vga_text);
        // (Each colour's field: its position, then its size.)
        let expected = Framebuffer {
            address: 0xfd00_0000,
            pitch: 4096,
            width: 1024,
            height: 768,
            bits_per_pixel: 32,
            colors: [(8, 16), (8, 8), (8, 0)],
            // (No UEFI system table tag: a BIOS's VBE set it up.)
            efi: false,
        };
        assert_eq!(boot.framebuffer, Some(expected));
        let words = framebuffer(0xb8000, 2, &[]);
        let info = load(&words);
        assert!(read(&info).vga_text);
        assert_eq!(read(&info).framebuffer, None);
    }

    #[test]
    fn a_uefi_system_table_tag_tells_a_uefi_pc_and_where_its_table_is() {
        // Tag 12: the 64-bit address of the UEFI system table (GRUB on a UEFI PC); tag 11: a 32-bit UEFI's, whose
        // table is not read; neither on a BIOS PC.
        let seen = |words: &[u64]| {
            let info = load(words);
            let boot = read(&info);
            (boot.uefi, boot.efi_system_table)
        };
        let address = 0x3f9e_e018u64;
        let words = Builder::new().tag(12, &address.to_le_bytes()).finish();
        assert_eq!(seen(&words), (true, Some(address)));
        let words = Builder::new()
            .tag(11, &(address as u32).to_le_bytes())
            .finish();
        assert_eq!(seen(&words), (true, None));
        assert_eq!(seen(&Builder::new().finish()), (false, None));
    }

    #[test]
    fn uefi_s_memory_map_is_kept_for_linux_with_the_system_table() {
        // Tag 17: descriptor size and version, then the descriptors (two of 48 bytes here), as GRUB passes it
        // on once it has left UEFI's boot services. Linux needs it with the system table; alone it is no use.
        let mut body = Vec::new();
        body.extend_from_slice(&48u32.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend((0..96).map(|i| i as u8));
        let address = 0x3f9e_e018u64;
        let words = Builder::new()
            .tag(12, &address.to_le_bytes())
            .tag(17, &body)
            .finish();
        let info = load(&words);
        let efi = read(&info).efi.expect("the map with the system table");
        assert_eq!(
            (efi.system_table, efi.desc_size, efi.desc_version),
            (address, 48, 1)
        );
        assert_eq!(efi.memory_map, &body[8..]);
        let words = Builder::new().tag(17, &body).finish();
        assert!(read(&load(&words)).efi.is_none());
    }

    /// One UEFI memory descriptor of 48 bytes: type, physical start, pages.
    fn descriptor(kind: u32, start: u64, pages: u64) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&kind.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&start.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        d.extend_from_slice(&pages.to_le_bytes());
        d.extend_from_slice(&[0; 16]);
        d
    }

    #[test]
    fn the_heap_keeps_off_what_uefi_s_boot_services_held() {
        // In usable RAM (the Multiboot2 map says so, as GRUB passes them on): boot services code at 16 MiB
        // and its data right after (joined into one range), conventional memory (type 7), boot services
        // data at 512 MiB.
        let mut body = Vec::new();
        body.extend_from_slice(&48u32.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        for (kind, start, pages) in [
            (3, 16 << 20, 16),
            (4, (16 << 20) + 0x10000, 240),
            (7, 32 << 20, 1000),
            (4, 512 << 20, 1),
        ] {
            body.extend(descriptor(kind, start, pages));
        }
        let words = Builder::new()
            .tag(12, &0x3f9e_e018u64.to_le_bytes())
            .memory_map(&[(0x100000, 1 << 30, 1)])
            .tag(17, &body)
            .finish();
        let info = load(&words);
        let boot = read(&info);
        let (kept, count) = boot.kept_from_heap(Range {
            start: 0x100000,
            end: 0x200000,
        });
        let kept = &kept[..count];
        let boot_services = [
            Range {
                start: 16 << 20,
                end: 17 << 20,
            },
            Range {
                start: 512 << 20,
                end: (512 << 20) + 4096,
            },
        ];
        assert_eq!(kept[count - 2..], boot_services, "{kept:x?}");
        assert!(!kept.iter().any(|r| r.start == 32 << 20), "{kept:x?}");
        // Without UEFI's map nothing of it is kept.
        let words = Builder::new()
            .memory_map(&[(0x100000, 1 << 30, 1)])
            .finish();
        let info = load(&words);
        let (_, without) = read(&info).kept_from_heap(Range {
            start: 0x100000,
            end: 0x200000,
        });
        assert_eq!(without, count - 2);
    }

    #[test]
    fn each_memory_type_has_its_kind() {
        // The types a firmware's map uses (E820's numbers): ACPI tables, ACPI NVS and bad RAM stay apart, as Linux
        // is given them.
        let words = Builder::new()
            .memory_map(&[
                (0, 0x1000, 1),
                (0x1000, 0x1000, 2),
                (0x2000, 0x1000, 3),
                (0x3000, 0x1000, 4),
                (0x4000, 0x1000, 5),
            ])
            .finish();
        let info = load(&words);
        let boot = read(&info);
        let kinds: Vec<_> = boot.memory_map().iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                MemoryKind::Usable,
                MemoryKind::Reserved,
                MemoryKind::AcpiReclaimable,
                MemoryKind::AcpiNonVolatile,
                MemoryKind::Defective
            ]
        );
    }

    #[test]
    fn a_map_of_more_than_max_regions_entries_keeps_the_first_ones() {
        // Two entries more than there is room for: counted, never written past the table.
        let entries: Vec<(u64, u64, u32)> = (0..MAX_REGIONS as u64 + 2)
            .map(|i| (i << 20, 1 << 20, 1))
            .collect();
        let words = Builder::new().memory_map(&entries).finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.memory_map().len(), MAX_REGIONS);
        assert_eq!(boot.ignored_regions, 2);
        assert_eq!(
            boot.memory_map()[MAX_REGIONS - 1].range.start,
            (MAX_REGIONS as u64 - 1) << 20
        );
    }

    #[test]
    fn an_empty_module_is_kept() {
        // An empty file (`module2 /keys/none.key key`) ends where it starts: a module of no bytes, not an
        // impossible one.
        let words = Builder::new().module(0x40_0000, 0x40_0000, "key").finish();
        let info = load(&words);
        let boot = read(&info);
        assert_eq!(boot.ignored_modules, 0);
        assert_eq!(boot.module("key").unwrap().range.length(), 0);
    }

    #[test]
    fn the_acpi_2_rsdp_wins_over_the_acpi_1_copy() {
        // GRUB passes both copies on an ACPI 2 machine: the XSDT is the root table to use there.
        let mut v1 = Vec::new();
        v1.extend_from_slice(b"RSD PTR ");
        v1.push(0);
        v1.extend_from_slice(b"BOCHS ");
        v1.push(0);
        v1.extend_from_slice(&0x3ffe_1ad8u32.to_le_bytes());
        let mut v2 = v1.clone();
        v2[15] = 2;
        v2.extend_from_slice(&36u32.to_le_bytes());
        v2.extend_from_slice(&0x3ffe_2000u64.to_le_bytes());
        v2.extend_from_slice(&[0; 4]);
        let words = Builder::new().tag(14, &v1).tag(15, &v2).finish();
        let info = load(&words);
        let boot = read(&info);
        let found = boot.rsdp.unwrap();
        assert_eq!(found.revision, 2);
        assert_eq!(found.table_address, 0x3ffe_2000);
        // The second tag starts after the header (8 bytes) and the first tag (28 bytes, padded to 32).
        assert_eq!(found.address, words.as_ptr() as u64 + 48);
    }

    #[test]
    fn rsdp_copy_is_found() {
        // RSDP v1: signature, checksum, OEM id, revision 0, RSDT address.
        let mut rsdp = Vec::new();
        rsdp.extend_from_slice(b"RSD PTR ");
        rsdp.push(0);
        rsdp.extend_from_slice(b"BOCHS ");
        rsdp.push(0);
        rsdp.extend_from_slice(&0x3ffe_1ad8u32.to_le_bytes());
        let words = Builder::new().tag(14, &rsdp).finish();
        let info = load(&words);
        let boot = read(&info);
        let found = boot.rsdp.unwrap();
        assert_eq!(found.revision, 0);
        assert_eq!(found.table_address, 0x3ffe_1ad8);
        assert_eq!(found.address, words.as_ptr() as u64 + 16);
    }
}
