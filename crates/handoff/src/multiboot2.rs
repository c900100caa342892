//! Multiboot2 kernels: the header, the ELF (or address-tag) segments, module placement and the boot
//! information structure, written from the Multiboot2 specification 2.0.
//!
//! The loader's job: [`Multiboot2Image::parse`]; [`plan`] the module addresses; copy each segment's bytes to
//! `phys` and zero the rest of `mem_size`; copy the modules; build [`info`] and place it
//! (`free.take_highest("Multiboot2 information", len, 8, 1 << 32)`); then enter as [`Multiboot2Image`] says.

use crate::memory::{FreeMemory, MemoryRegion, MB2_AVAILABLE, PAGE};
use crate::{read_u16, read_u32, read_u64, Error};
use alloc::vec::Vec;

/// The header magic, searched at 8-byte aligned offsets in the first 32 KiB.
pub const HEADER_MAGIC: u32 = 0xe852_50d6;
/// The value EAX holds at entry.
pub const BOOTLOADER_MAGIC: u32 = 0x36d7_6289;
const SEARCH_LIMIT: usize = 32 * 1024;
const ARCH_I386: u32 = 0;
const FOUR_GIB: u64 = 1 << 32;
/// The highest end a module may have: its tag tells its end as a 32-bit address (one past its last byte), so a
/// module that ended at 4 GiB would read as ending at 0.
const MODULE_END_LIMIT: u64 = FOUR_GIB - 1;

/// The information tag types [`info`] can write: a kernel may require these and no others.
const PROVIDED: [u32; 8] = [1, 2, 3, 4, 6, 14, 15, LOAD_BASE_TAG];
/// The information tag with the image's load base address, for a relocatable image (or one that asks for it).
const LOAD_BASE_TAG: u32 = 21;

/// The offset of a valid Multiboot2 header (magic, i386 architecture, checksum, length inside the file and
/// inside its first 32 KiB, where the specification says the header must lie whole).
pub fn find_header(image: &[u8]) -> Option<usize> {
    let end = image.len().min(SEARCH_LIMIT);
    (0..end.saturating_sub(15)).step_by(8).find(|&at| {
        let word = |i: usize| read_u32(image, at + 4 * i).unwrap_or(0);
        word(0) == HEADER_MAGIC
            && word(1) == ARCH_I386
            && word(0)
                .wrapping_add(word(1))
                .wrapping_add(word(2))
                .wrapping_add(word(3))
                == 0
            && (word(2) as usize) >= 16
            && at.checked_add(word(2) as usize).is_some_and(|e| e <= end)
    })
}

/// One piece to load: `bytes` go to `phys`, then zeros up to `mem_size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub phys: u64,
    pub bytes: &'a [u8],
    pub mem_size: u64,
}

/// A loadable Multiboot2 kernel.
///
/// The entry state the jump must create (Multiboot2 specification, "I386 machine state"):
/// - 32-bit protected mode, paging off (CR0.PG = 0, CR0.PE = 1), EFER.LME cleared; coming from long mode
///   this means a far jump to a 32-bit code segment running from identity-mapped memory below 4 GiB, then
///   clearing CR0.PG, then EFER.LME.
/// - CS: a flat 32-bit execute/read segment (base 0, limit 4 GiB); DS, ES, FS, GS, SS: flat 32-bit read/write.
///   The kernel loads its own GDT before touching segment registers, so ours only has to be valid at the jump.
/// - EAX = 0x36d76289 ([`BOOTLOADER_MAGIC`]), EBX = physical address of the information structure (8-byte
///   aligned, below 4 GiB).
/// - A20 enabled; EFLAGS.VM and EFLAGS.IF clear (interrupts off); ESP undefined (the kernel sets its own).
/// - Jump to `entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multiboot2Image<'a> {
    pub segments: Vec<Segment<'a>>,
    /// Physical entry address (32-bit).
    pub entry: u32,
    /// Where the Multiboot2 header was found.
    pub header_offset: usize,
    /// The image is relocatable (header tag 10), or asked for its load base: tag 21 is then provided.
    pub load_base_wanted: bool,
    /// The header asks to keep UEFI's boot services (tag 7), which a boot stage that runs after GRUB has left them
    /// cannot: such a kernel (Xen) takes its UEFI path when it sees the UEFI system table's tag, and stops there
    /// without boot services. It is given no UEFI tags, and takes the path that works without them.
    pub wants_boot_services: bool,
}

struct AddressTag {
    header_addr: u32,
    load_addr: u32,
    load_end_addr: u32,
    bss_end_addr: u32,
}

impl<'a> Multiboot2Image<'a> {
    /// Finds and checks the header, then reads the segments (from the address tag when there is one,
    /// else from the ELF program headers). Out of line, as [`elf_segments`]: inlined into the payload's `exec`
    /// they took more room (measured packed).
    #[inline(never)]
    pub fn parse(image: &'a [u8]) -> Result<Multiboot2Image<'a>, Error> {
        let header_offset = find_header(image)
            .ok_or(Error::BadMultiboot2("no valid header in the first 32 KiB"))?;
        let header_len = read_u32(image, header_offset + 8).unwrap_or(0) as usize;
        let header_end = header_offset + header_len;
        let mut address = None;
        let mut entry = None;
        let mut load_base_wanted = false;
        let mut wants_boot_services = false;
        let mut at = header_offset + 16;
        let mut ended = false;
        while at + 8 <= header_end {
            let fields = || {
                Some((
                    read_u16(image, at)?,
                    read_u16(image, at + 2)?,
                    read_u32(image, at + 4)?,
                ))
            };
            let (kind, flags, size) = fields().ok_or(Error::Truncated("Multiboot2 header"))?;
            let optional = flags & 1 != 0;
            let size = size as usize;
            if size < 8 || at + size > header_end {
                return Err(Error::BadMultiboot2("a header tag runs past the header"));
            }
            let field = |i: usize| {
                read_u32(image, at + 8 + 4 * i).ok_or(Error::Truncated("Multiboot2 header"))
            };
            match kind {
                0 => {
                    ended = true;
                    break;
                }
                1 => {
                    for i in 0..(size - 8) / 4 {
                        let wanted = field(i)?;
                        load_base_wanted |= wanted == LOAD_BASE_TAG;
                        if !optional && wanted != 0 && !PROVIDED.contains(&wanted) {
                            return Err(Error::Unsupported(
                                "an information tag we do not provide",
                                wanted,
                            ));
                        }
                    }
                }
                2 if size >= 24 => {
                    address = Some(AddressTag {
                        header_addr: field(0)?,
                        load_addr: field(1)?,
                        load_end_addr: field(2)?,
                        bss_end_addr: field(3)?,
                    })
                }
                3 if size >= 12 => entry = Some(field(0)?),
                // Console flags: we leave VGA text mode on, which satisfies "EGA text supported".
                4 => {}
                // Module alignment: modules are always page aligned.
                6 => {}
                7 => wants_boot_services = true,
                // EFI entry points only matter when booted from EFI with its boot services.
                8 | 9 => {}
                // Relocatable: permits but does not require relocation, so the image loads at its linked
                // address; its load base is then told in tag 21, as the specification has it.
                10 => load_base_wanted = true,
                5 if !optional => return Err(Error::Unsupported("a graphics framebuffer", 5)),
                _ if !optional => return Err(Error::Unsupported("a header tag", u32::from(kind))),
                _ => {}
            }
            at = at
                .checked_add((size + 7) & !7)
                .ok_or(Error::BadMultiboot2("tag size overflow"))?;
        }
        if !ended {
            return Err(Error::BadMultiboot2("no end tag"));
        }
        let (segments, elf_entry) = match address {
            Some(tag) => (vec_of(address_segment(image, header_offset, &tag)?), None),
            None => {
                let (segments, entry) = elf_segments(image)?;
                (segments, Some(entry))
            }
        };
        let entry = entry
            .or(elf_entry)
            .ok_or(Error::BadMultiboot2("an address tag without an entry tag"))?;
        Ok(Multiboot2Image {
            segments,
            entry,
            header_offset,
            load_base_wanted,
            wants_boot_services,
        })
    }
}

fn vec_of(segment: Segment) -> Vec<Segment> {
    alloc::vec![segment]
}

/// The "a.out kludge": the file is loaded as one block whose position follows from where the header is.
fn address_segment<'a>(
    image: &'a [u8],
    header_offset: usize,
    tag: &AddressTag,
) -> Result<Segment<'a>, Error> {
    let bad = Error::BadMultiboot2("inconsistent address tag");
    // -1: the file is loaded from its start, which puts the header at `header_addr`.
    let load_addr = match tag.load_addr {
        u32::MAX => u32::try_from(header_offset)
            .ok()
            .and_then(|offset| tag.header_addr.checked_sub(offset))
            .ok_or(bad.clone())?,
        load_addr => load_addr,
    };
    let before_header = tag.header_addr.checked_sub(load_addr).ok_or(bad.clone())? as usize;
    let start = header_offset
        .checked_sub(before_header)
        .ok_or(bad.clone())?;
    let end = if tag.load_end_addr == 0 {
        image.len()
    } else {
        let len = tag
            .load_end_addr
            .checked_sub(load_addr)
            .ok_or(bad.clone())? as usize;
        start.checked_add(len).ok_or(bad.clone())?
    };
    let bytes = image
        .get(start..end)
        .ok_or(Error::Truncated("Multiboot2 load area"))?;
    let mem_size = if tag.bss_end_addr == 0 {
        bytes.len() as u64
    } else {
        let size = u64::from(tag.bss_end_addr.checked_sub(load_addr).ok_or(bad.clone())?);
        if size < bytes.len() as u64 {
            return Err(bad);
        }
        size
    };
    Ok(Segment {
        phys: u64::from(load_addr),
        bytes,
        mem_size,
    })
}

const PT_LOAD: u32 = 1;

/// The PT_LOAD segments of an ELF32 or ELF64 executable at their physical addresses, and the entry point
/// translated to a physical address when it lies in a segment whose virtual and physical addresses differ.
#[inline(never)]
pub fn elf_segments(image: &[u8]) -> Result<(Vec<Segment<'_>>, u32), Error> {
    if image.get(..4) != Some(b"\x7fELF") {
        return Err(Error::BadElf("no ELF magic (and no address tag)"));
    }
    let wide = match image.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err(Error::BadElf("unknown ELF class")),
    };
    if image.get(5) != Some(&1) {
        return Err(Error::BadElf("not little-endian"));
    }
    if read_u16(image, 16).ok_or(Error::Truncated("ELF header"))? != 2 {
        return Err(Error::BadElf("not an executable (ET_EXEC)"));
    }
    if !matches!(read_u16(image, 18), Some(3) | Some(62)) {
        return Err(Error::BadElf("not an x86 executable"));
    }
    // ELF64's addresses and offsets are 8 bytes, ELF32's 4; a program header's fields after p_type follow
    // one another at that stride in both classes (p_flags sits elsewhere in each).
    let stride = if wide { 8 } else { 4 };
    let address = |at: usize| {
        if wide {
            read_u64(image, at)
        } else {
            read_u32(image, at).map(u64::from)
        }
    };
    let header = || {
        let entry = address(24)?;
        let phoff = address(24 + stride)?;
        let at = if wide { 54 } else { 42 };
        Some((entry, phoff, read_u16(image, at)?, read_u16(image, at + 2)?))
    };
    let (entry, phoff, phentsize, phnum) = header().ok_or(Error::Truncated("ELF header"))?;
    let min_entsize = if wide { 56 } else { 32 };
    if usize::from(phentsize) < min_entsize {
        return Err(Error::BadElf("program header entries too small"));
    }
    let mut segments = Vec::new();
    let mut phys_entry = None;
    for i in 0..u64::from(phnum) {
        let at = phoff
            .checked_add(i * u64::from(phentsize))
            .filter(|&a| a.saturating_add(u64::from(phentsize)) <= image.len() as u64)
            .ok_or(Error::Truncated("ELF program headers"))? as usize;
        if read_u32(image, at).ok_or(Error::Truncated("ELF program headers"))? != PT_LOAD {
            continue;
        }
        // p_offset, p_vaddr, p_paddr, p_filesz, p_memsz.
        let mut fields = [0u64; 5];
        for (k, field) in fields.iter_mut().enumerate() {
            *field =
                address(at + (k + 1) * stride).ok_or(Error::Truncated("ELF program headers"))?;
        }
        let [offset, vaddr, paddr, filesz, memsz] = fields;
        if filesz > memsz {
            return Err(Error::BadElf(
                "a segment's file size exceeds its memory size",
            ));
        }
        let bytes = offset
            .checked_add(filesz)
            .and_then(|end| image.get(offset as usize..end as usize))
            .ok_or(Error::BadElf("a segment lies outside the file"))?;
        if paddr.checked_add(memsz).is_none_or(|end| end > FOUR_GIB) {
            return Err(Error::BadElf("a segment lies above 4 GiB"));
        }
        if memsz == 0 {
            continue;
        }
        if vaddr <= entry && entry - vaddr < memsz {
            phys_entry = Some(paddr + (entry - vaddr));
        }
        if segments
            .iter()
            .any(|s: &Segment| paddr < s.phys + s.mem_size && s.phys < paddr + memsz)
        {
            return Err(Error::BadElf("segments overlap"));
        }
        segments.push(Segment {
            phys: paddr,
            bytes,
            mem_size: memsz,
        });
    }
    if segments.is_empty() {
        return Err(Error::BadElf("no loadable segment"));
    }
    let entry = phys_entry.unwrap_or(entry);
    let entry = u32::try_from(entry).map_err(|_| Error::BadElf("entry point above 4 GiB"))?;
    Ok((segments, entry))
}

/// Checks that the segments land in free memory and reserves them, then places each module (page aligned,
/// below 4 GiB, as high as possible) and returns the modules' addresses in order.
pub fn plan(
    image: &Multiboot2Image,
    module_lens: &[u64],
    free: &mut FreeMemory,
) -> Result<Vec<u64>, Error> {
    for segment in &image.segments {
        if !free.is_free(segment.phys, segment.mem_size) {
            return Err(Error::NoRoom(
                "kernel segment at its linked address",
                segment.mem_size,
            ));
        }
        free.reserve(segment.phys, segment.mem_size);
    }
    let mut addrs = Vec::with_capacity(module_lens.len());
    for &len in module_lens {
        addrs.push(free.take_highest("module", len.max(1), PAGE, MODULE_END_LIMIT)?);
    }
    Ok(addrs)
}

/// One boot module as the kernel sees it: `len` bytes at `addr`, with a name (the path it came from).
#[derive(Clone, Copy, Debug)]
pub struct Module<'a> {
    pub addr: u64,
    pub len: u64,
    pub name: &'a [u8],
}

/// What the information structure tells the kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Info<'a> {
    pub cmdline: &'a [u8],
    pub modules: &'a [Module<'a>],
    pub memory_map: &'a [MemoryRegion],
    /// The RSDP's bytes (20 for ACPI 1.0, its `length` field's worth for 2.0+), copied into tag 14 or 15.
    pub rsdp: Option<&'a [u8]>,
    /// The image's load base (its lowest address), for tag 21.
    pub load_base: Option<u32>,
    /// The framebuffer the boot loader set up (a UEFI PC's), for tag 8.
    pub framebuffer: Option<crate::Framebuffer>,
    /// A UEFI PC's system table and memory map, for tags 12 and 17 (as GRUB passes them on).
    pub efi: Option<crate::Efi<'a>>,
}

impl<'a> Info<'a> {
    /// What a machine tells that has nothing to tell but its memory map (no RSDP, framebuffer or UEFI tables).
    pub fn of_map(memory_map: &'a [MemoryRegion]) -> Self {
        Info {
            memory_map,
            ..Info::default()
        }
    }
}

/// The name in the boot loader name tag.
pub const LOADER_NAME: &[u8] = b"bootscript";

/// The information structure as it is written: each tag's type and a size filled in when it ends.
struct Tags {
    out: Vec<u8>,
    /// Where the open tag starts; 0 before the first (the structure's own 8-byte header is there).
    start: usize,
}

impl Tags {
    /// Starts a tag of `kind` (the previous one is ended).
    fn begin(&mut self, kind: u32) {
        if self.start != 0 {
            self.end();
        }
        self.start = self.out.len();
        self.u32(kind);
        self.u32(0);
    }

    /// Ends the open tag: its size, then zeros to the next 8-byte boundary.
    fn end(&mut self) {
        let size = (self.out.len() - self.start) as u32;
        crate::put(&mut self.out, self.start + 4, &size.to_le_bytes());
        while !self.out.len().is_multiple_of(8) {
            self.out.push(0);
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// `text` and its terminating NUL.
    fn string(&mut self, text: &[u8]) {
        self.bytes(text);
        self.out.push(0);
    }

    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }
}

/// KiB of available memory contiguous from `from` (0 when no available region holds `from`).
fn available_from(map: &[MemoryRegion], from: u64) -> u64 {
    let mut most = 0;
    for r in map {
        let end = r.addr.saturating_add(r.len);
        if r.kind == MB2_AVAILABLE && r.addr <= from && end > from {
            most = most.max((end - from) / 1024);
        }
    }
    most
}

/// The Multiboot2 information structure, position independent (it holds no pointers into itself), to be
/// placed at an 8-byte aligned address below 4 GiB whose address goes in EBX.
pub fn info(info: &Info) -> Result<Vec<u8>, Error> {
    let mut tags = Tags {
        out: Vec::with_capacity(256 + info.memory_map.len() * 24),
        start: 0,
    };
    // total_size, reserved: total_size is filled in at the end.
    tags.u64(0);
    tags.begin(1);
    tags.string(info.cmdline);
    tags.begin(2);
    tags.string(LOADER_NAME);
    for module in info.modules {
        let end = module
            .addr
            .checked_add(module.len)
            .filter(|&e| e <= MODULE_END_LIMIT);
        let end = end.ok_or(Error::NoRoom("module below 4 GiB", module.len))?;
        tags.begin(3);
        tags.u32(module.addr as u32);
        tags.u32(end as u32);
        tags.string(module.name);
    }
    // Basic memory information: KiB of conventional memory from 0, and of contiguous memory from 1 MiB.
    tags.begin(4);
    tags.u32(available_from(info.memory_map, 0).min(640) as u32);
    tags.u32(available_from(info.memory_map, 0x100000).min(u64::from(u32::MAX)) as u32);
    tags.begin(6);
    tags.u32(24); // entry_size
    tags.u32(0); // entry_version
    for region in info.memory_map {
        tags.u64(region.addr);
        tags.u64(region.len);
        tags.u32(region.kind);
        tags.u32(0);
    }
    if let Some(rsdp) = info.rsdp {
        let v1 = rsdp.get(..20).ok_or(Error::Truncated("ACPI RSDP"))?;
        tags.begin(14);
        tags.bytes(v1);
        // Revision 2 and later carry a length and the XSDT address: hand on the whole structure too.
        if rsdp.get(15).is_some_and(|&revision| revision >= 2) {
            let len = read_u32(rsdp, 20).ok_or(Error::Truncated("ACPI RSDP"))? as usize;
            let v2 = rsdp
                .get(..len.max(36))
                .ok_or(Error::Truncated("ACPI RSDP"))?;
            tags.begin(15);
            tags.bytes(v2);
        }
    }
    if let Some(fb) = info.framebuffer {
        tags.begin(8);
        tags.u64(fb.address);
        tags.u32(fb.pitch);
        tags.u32(fb.width);
        tags.u32(fb.height);
        // Direct RGB (type 1), GRUB's 2 reserved bytes, then each colour's position and size.
        tags.bytes(&[fb.bits_per_pixel, 1, 0, 0]);
        for (size, position) in fb.colors {
            tags.bytes(&[position, size]);
        }
    }
    if let Some(efi) = info.efi {
        tags.begin(12);
        tags.u64(efi.system_table);
        tags.begin(17);
        tags.u32(efi.desc_size);
        tags.u32(efi.desc_version);
        tags.bytes(efi.memory_map);
    }
    if let Some(base) = info.load_base {
        tags.begin(LOAD_BASE_TAG);
        tags.u32(base);
    }
    tags.begin(0);
    tags.end();
    let mut out = tags.out;
    let total = (out.len() as u32).to_le_bytes();
    out[..4].copy_from_slice(&total);
    Ok(out)
}

/// Everything to copy before the 32-bit jump, for one `exec` of a Multiboot2 kernel.
#[derive(Clone, Debug)]
pub struct Multiboot2Boot<'a> {
    pub image: Multiboot2Image<'a>,
    /// Where each module went, in order.
    pub module_addrs: Vec<u64>,
    /// The information structure, and where it goes (EBX).
    pub info: Vec<u8>,
    pub info_addr: u64,
    modules: Vec<&'a [u8]>,
}

impl<'a> Multiboot2Boot<'a> {
    /// The copies to make, `(physical address, bytes)`; each segment's `[phys + bytes.len(), phys + mem_size)`
    /// must be zeroed as well (see [`Multiboot2Boot::zeroed`]).
    pub fn copies(&self) -> Vec<(u64, &[u8])> {
        let mut copies: Vec<(u64, &[u8])> =
            Vec::with_capacity(self.image.segments.len() + self.modules.len() + 1);
        for segment in &self.image.segments {
            copies.push((segment.phys, segment.bytes));
        }
        for (&addr, &bytes) in self.module_addrs.iter().zip(&self.modules) {
            copies.push((addr, bytes));
        }
        copies.push((self.info_addr, &self.info));
        copies
    }

    /// The ranges to zero (`(address, len)`): the segments' bss parts.
    pub fn zeroed(&self) -> Vec<(u64, u64)> {
        let mut zeroed = Vec::new();
        for s in &self.image.segments {
            let len = s.bytes.len() as u64;
            if s.mem_size != len {
                zeroed.push((s.phys + len, s.mem_size - len));
            }
        }
        zeroed
    }
}

/// Parses the image, places segments, modules (`(name, bytes)`, the initrd list) and the information
/// structure: everything `exec` does for a Multiboot2 kernel before the copies and the jump. `machine` tells
/// what the information says of the machine (its memory map, RSDP, framebuffer and UEFI tables); its command
/// line, modules and load base are this kernel's, set here.
pub fn prepare<'a>(
    kernel: &'a [u8],
    cmdline: &[u8],
    modules: &[(&[u8], &'a [u8])],
    machine: &Info<'_>,
    free: &mut FreeMemory,
) -> Result<Multiboot2Boot<'a>, Error> {
    let image = Multiboot2Image::parse(kernel)?;
    let mut lens: Vec<u64> = Vec::with_capacity(modules.len());
    for &(_, data) in modules {
        lens.push(data.len() as u64);
    }
    let module_addrs = plan(&image, &lens, free)?;
    let mut described: Vec<Module> = Vec::with_capacity(modules.len());
    for (&(name, _), (&addr, &len)) in modules.iter().zip(module_addrs.iter().zip(&lens)) {
        described.push(Module { addr, len, name });
    }
    // (The segments lie below 4 GiB, as parsing checked.)
    let lowest = image.segments.iter().map(|s| s.phys).min().unwrap_or(0);
    let info = info(&Info {
        cmdline,
        modules: &described,
        load_base: image.load_base_wanted.then_some(lowest as u32),
        efi: machine.efi.filter(|_| !image.wants_boot_services),
        ..*machine
    })?;
    let info_addr = free.take_highest("Multiboot2 information", info.len() as u64, 8, FOUR_GIB)?;
    let mut bytes: Vec<&[u8]> = Vec::with_capacity(modules.len());
    for &(_, data) in modules {
        bytes.push(data);
    }
    Ok(Multiboot2Boot {
        image,
        module_addrs,
        info,
        info_addr,
        modules: bytes,
    })
}
