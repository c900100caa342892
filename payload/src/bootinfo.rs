//! The Multiboot2 information, read once at entry into plain data: command line, modules, memory map,
//! boot loader name, ACPI RSDP. Strings and module bytes stay where GRUB put them (kept out of the heap).

use multiboot2::{BootInformation, BootInformationHeader, FramebufferType, MemoryAreaType};

use crate::memory::Range;
use crate::println;

/// Modules beyond this many are ignored (with a message).
pub const MAX_MODULES: usize = 32;
/// Memory map entries beyond this many are ignored (with a message).
pub const MAX_REGIONS: usize = 64;
/// The identity mapping covers the first 4 GiB; nothing above it is reachable.
pub const MAPPED_LIMIT: u64 = 4 << 30;

/// A file GRUB loaded with `module2 FILE NAME`.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// The rest of the `module2` line (the name the script refers to it by).
    pub name: &'static str,
    pub range: Range,
}

impl Module {
    /// The module's contents.
    pub fn bytes(&self) -> &'static [u8] {
        // SAFETY: `parse` keeps only modules inside the identity-mapped first 4 GiB; the heap is chosen to
        // avoid them and nothing writes there, so the bytes stay valid and unchanged for the whole run.
        unsafe {
            core::slice::from_raw_parts(self.range.start as *const u8, self.range.length() as usize)
        }
    }
}

/// What a memory map entry says about its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNonVolatile,
    Defective,
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
        }
    }
}

/// One memory map entry.
#[derive(Debug, Clone, Copy)]
pub struct MemoryRegion {
    pub range: Range,
    pub kind: MemoryKind,
}

/// The ACPI root pointer as GRUB copied it into the boot information.
#[derive(Debug, Clone, Copy)]
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
pub struct BootInfo {
    pub cmdline: &'static str,
    pub loader: &'static str,
    pub rsdp: Option<Rsdp>,
    /// Where the boot information itself lies (kept out of the heap).
    pub info_range: Range,
    /// GRUB left the screen in VGA text mode (no graphics framebuffer).
    pub vga_text: bool,
    pub memory_source: MemorySource,
    modules: [Module; MAX_MODULES],
    module_count: usize,
    regions: [MemoryRegion; MAX_REGIONS],
    region_count: usize,
}

impl BootInfo {
    /// The modules, in `module2` order.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.module_count]
    }

    /// The module with this name.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules().iter().find(|m| m.name == name)
    }

    /// The memory map.
    pub fn memory_map(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
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
#[derive(Debug, Clone, Copy)]
pub enum BootInfoError {
    /// EAX did not hold the Multiboot2 magic: not started by a Multiboot2 loader.
    NotMultiboot2(u32),
    /// The structure at EBX is malformed.
    Malformed,
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootInfoError::NotMultiboot2(magic) => {
                write!(f, "not started by a Multiboot2 boot loader (magic {magic:#x}, expected 0x36d76289)")
            }
            BootInfoError::Malformed => f.write_str("the Multiboot2 boot information is malformed"),
        }
    }
}

/// The raw value GRUB passes in EAX.
const MULTIBOOT2_MAGIC: u32 = 0x36d7_6289;

/// Reads the boot information at `address`; prints a line for each thing it has to leave out.
///
/// # Safety
/// `address` must be what the boot loader passed in EBX alongside `magic`, in identity-mapped memory that
/// nothing overwrites afterwards.
pub unsafe fn parse(magic: u32, address: u32) -> Result<BootInfo, BootInfoError> {
    if magic != MULTIBOOT2_MAGIC {
        return Err(BootInfoError::NotMultiboot2(magic));
    }
    // SAFETY: the magic says a Multiboot2 loader passed `address`; the caller guarantees it stays intact.
    let info = unsafe { BootInformation::load(address as usize as *const BootInformationHeader) }
        .map_err(|_| BootInfoError::Malformed)?;
    let empty_module = Module {
        name: "",
        range: Range { start: 0, end: 0 },
    };
    let empty_region = MemoryRegion {
        range: Range { start: 0, end: 0 },
        kind: MemoryKind::Reserved,
    };
    // The strings are extended to 'static: the information is never overwritten (the heap avoids it).
    let cmdline = info
        .command_line_tag()
        .and_then(|t| t.cmdline().ok())
        .unwrap_or("");
    let loader = info
        .boot_loader_name_tag()
        .and_then(|t| t.name().ok())
        .unwrap_or("unknown");
    let mut boot = BootInfo {
        // SAFETY: see above and the caller's guarantee.
        cmdline: unsafe { extend(cmdline) },
        // SAFETY: as for the command line.
        loader: unsafe { extend(loader) },
        rsdp: None,
        info_range: Range {
            start: info.start_address() as u64,
            end: info.end_address() as u64,
        },
        vga_text: true,
        memory_source: MemorySource::Nothing,
        modules: [empty_module; MAX_MODULES],
        module_count: 0,
        regions: [empty_region; MAX_REGIONS],
        region_count: 0,
    };

    for tag in info.module_tags() {
        let name = tag.cmdline().unwrap_or("?");
        let range = Range {
            start: u64::from(tag.start_address()),
            end: u64::from(tag.end_address()),
        };
        if range.end < range.start || range.end > MAPPED_LIMIT {
            println!(
                "bootscript: module \"{name}\" has an impossible address range {range:x?}; ignored"
            );
            continue;
        }
        if boot.module_count == MAX_MODULES {
            println!(
                "bootscript: more than {MAX_MODULES} modules; \"{name}\" and later ones ignored"
            );
            break;
        }
        // SAFETY: as for the command line.
        let name = unsafe { extend(name) };
        boot.modules[boot.module_count] = Module { name, range };
        boot.module_count += 1;
    }

    if let Some(map) = info.memory_map_tag() {
        boot.memory_source = MemorySource::MemoryMap;
        for area in map.memory_areas() {
            let Some(range) = Range::from_length(area.start_address(), area.size()) else {
                println!(
                    "bootscript: memory map entry at {:#x} wraps around; ignored",
                    area.start_address()
                );
                continue;
            };
            if boot.region_count == MAX_REGIONS {
                println!(
                    "bootscript: memory map longer than {MAX_REGIONS} entries; the rest ignored"
                );
                break;
            }
            let kind = match area.typ() {
                MemoryAreaType::Available => MemoryKind::Usable,
                MemoryAreaType::AcpiAvailable => MemoryKind::AcpiReclaimable,
                MemoryAreaType::ReservedHibernate => MemoryKind::AcpiNonVolatile,
                MemoryAreaType::Defective => MemoryKind::Defective,
                _ => MemoryKind::Reserved,
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

    if let Some(tag) = info.rsdp_v2_tag() {
        let address = core::ptr::from_ref(tag) as *const u8 as u64 + 8;
        boot.rsdp = Some(Rsdp {
            address,
            revision: tag.revision(),
            table_address: tag.xsdt_address() as u64,
        });
    } else if let Some(tag) = info.rsdp_v1_tag() {
        let address = core::ptr::from_ref(tag) as *const u8 as u64 + 8;
        boot.rsdp = Some(Rsdp {
            address,
            revision: tag.revision(),
            table_address: tag.rsdt_address() as u64,
        });
    }

    if let Some(Ok(framebuffer)) = info.framebuffer_tag() {
        boot.vga_text = matches!(framebuffer.buffer_type(), Ok(FramebufferType::Text));
    }
    Ok(boot)
}

/// # Safety
/// The string must point into the boot information, which lives for the whole run.
unsafe fn extend(text: &str) -> &'static str {
    // SAFETY: the caller guarantees the memory outlives the program.
    unsafe {
        core::str::from_utf8_unchecked(core::slice::from_raw_parts(text.as_ptr(), text.len()))
    }
}
