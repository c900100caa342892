//! Linux on x86: the bzImage setup header, where the pieces go, and the boot_params ("zero page").
//!
//! Written from the kernel's Documentation/arch/x86/boot.rst and zero-page.rst (boot protocol 2.12 or later,
//! the 64-bit entry point). The loader's job, in order:
//! 1. [`BzImage::parse`] the image; it refuses what cannot boot.
//! 2. [`plan`] the addresses, in free memory that excludes everything the payload still uses.
//! 3. Copy [`BzImage::protected_mode`] to `plan.kernel_addr`, the initrds to `plan.initrd_addr` (see
//!    [`crate::cpio::concatenation_offsets`]), [`command_line_bytes`] to `plan.cmdline_addr`, and the array from
//!    [`boot_params`] to `plan.boot_params_addr`.
//! 4. Enter the kernel as [`LinuxPlan`] documents.

use crate::memory::{align_up, FreeMemory, MemoryRegion, PAGE};
use crate::{put, read_u16, read_u32, read_u64, Error};
use alloc::vec;
use alloc::vec::Vec;

/// Offset of the setup header inside the image and inside boot_params.
pub const SETUP_HEADER: usize = 0x1f1;
/// Offset of the 64-bit entry point from the start of the protected-mode kernel.
pub const ENTRY_64_OFFSET: u64 = 0x200;
/// Where the setup header's room in boot_params ends (edd_mbr_sig_buffer follows).
const SETUP_HEADER_LIMIT: usize = 0x290;
/// The size of boot_params.
pub const BOOT_PARAMS_SIZE: usize = 4096;
/// How many E820 entries boot_params holds.
pub const E820_MAX: usize = 128;

/// loadflags bit 0: the protected-mode kernel is loaded at 0x100000 or higher (a bzImage).
pub const LOADED_HIGH: u8 = 0x01;
/// loadflags bit 7: heap_end_ptr is valid.
pub const CAN_USE_HEAP: u8 = 0x80;
/// xloadflags bit 0: the kernel has the 64-bit entry point at +0x200.
pub const XLF_KERNEL_64: u16 = 0x01;
/// xloadflags bit 1: kernel, boot_params, command line and initrd may be above 4 GiB.
pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 0x02;

const MIN_VERSION: u16 = 0x020c;
/// The last setup header field we read (init_size at 0x260, 4 bytes).
const HEADER_NEEDED_END: usize = 0x264;

/// The fields of the setup header the loader needs (boot.rst, "The real-mode kernel header").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Size of the real-mode setup in 512-byte sectors (0 in the file means 4).
    pub setup_sects: u8,
    /// Protocol version, e.g. 0x020f for 2.15.
    pub version: u16,
    pub loadflags: u8,
    pub xloadflags: u16,
    /// Protected-mode code size in 16-byte paragraphs.
    pub syssize: u32,
    /// The highest address the initrd's last byte may occupy.
    pub initrd_addr_max: u32,
    pub kernel_alignment: u32,
    pub relocatable_kernel: bool,
    /// Maximum command line length, without the terminating NUL.
    pub cmdline_size: u32,
    pub pref_address: u64,
    /// Bytes of memory the kernel needs from its load address until it has relocated itself.
    pub init_size: u32,
    /// End of the setup header (0x202 + the byte at 0x201), an offset in the image.
    pub header_end: usize,
}

impl SetupHeader {
    /// The protocol version as (major, minor).
    pub fn version_pair(&self) -> (u8, u8) {
        ((self.version >> 8) as u8, self.version as u8)
    }
}

/// A bzImage that passed the checks: its header and its protected-mode part.
#[derive(Clone, Debug)]
pub struct BzImage<'a> {
    pub header: SetupHeader,
    image: &'a [u8],
    protected_mode: &'a [u8],
}

/// Cheap check used by [`crate::detect`]: the boot flag and "HdrS" are where the protocol puts them.
pub fn looks_like_bzimage(image: &[u8]) -> bool {
    read_u16(image, 0x1fe) == Some(0xaa55) && image.get(0x202..0x206) == Some(b"HdrS")
}

impl<'a> BzImage<'a> {
    /// Reads and checks the setup header; refuses anything the 64-bit boot protocol 2.12+ cannot start.
    pub fn parse(image: &'a [u8]) -> Result<BzImage<'a>, Error> {
        if image.len() < 0x206 {
            return Err(
                if image.len() > 0x1fe && read_u16(image, 0x1fe) != Some(0xaa55) {
                    Error::NotBzImage
                } else {
                    Error::Truncated("setup header")
                },
            );
        }
        if !looks_like_bzimage(image) {
            return Err(Error::NotBzImage);
        }
        let byte = |at: usize| {
            image
                .get(at)
                .copied()
                .ok_or(Error::Truncated("setup header"))
        };
        let u16_at = |at| read_u16(image, at).ok_or(Error::Truncated("setup header"));
        let u32_at = |at| read_u32(image, at).ok_or(Error::Truncated("setup header"));
        let version = u16_at(0x206)?;
        if version < MIN_VERSION {
            return Err(Error::ProtocolTooOld((version >> 8) as u8, version as u8));
        }
        let header_end = 0x202 + usize::from(byte(0x201)?);
        if header_end < HEADER_NEEDED_END {
            return Err(Error::NotBzImage);
        }
        if image.len() < header_end {
            return Err(Error::Truncated("setup header"));
        }
        let setup_sects = match byte(SETUP_HEADER)? {
            0 => 4,
            n => n,
        };
        let loadflags = byte(0x211)?;
        let xloadflags = u16_at(0x236)?;
        if loadflags & LOADED_HIGH == 0 || xloadflags & XLF_KERNEL_64 == 0 {
            return Err(Error::Not64Bit);
        }
        let header = SetupHeader {
            setup_sects,
            version,
            loadflags,
            xloadflags,
            syssize: u32_at(0x1f4)?,
            initrd_addr_max: u32_at(0x22c)?,
            kernel_alignment: u32_at(0x230)?,
            relocatable_kernel: byte(0x234)? != 0,
            cmdline_size: u32_at(0x238)?,
            pref_address: read_u64(image, 0x258).ok_or(Error::Truncated("setup header"))?,
            init_size: u32_at(0x260)?,
            header_end,
        };
        let setup_len = (usize::from(setup_sects) + 1) * 512;
        let protected_mode = image
            .get(setup_len..)
            .ok_or(Error::Truncated("real-mode setup"))?;
        // syssize counts the protected-mode code in paragraphs: a shorter file was cut off.
        let announced = u64::from(header.syssize) * 16;
        if protected_mode.is_empty() || (protected_mode.len() as u64) < announced {
            return Err(Error::Truncated("protected-mode kernel"));
        }
        if !header.kernel_alignment.is_power_of_two() {
            return Err(Error::NotBzImage);
        }
        Ok(BzImage {
            header,
            image,
            protected_mode,
        })
    }

    /// The kernel's version string (the setup header's kernel_version), e.g. "6.1.0-56-cloud-amd64 (...) #1 SMP
    /// ...", for the dry run's report; None when absent or not text.
    pub fn kernel_version(&self) -> Option<&'a str> {
        let pointer = read_u16(self.image, 0x20e)?;
        let start = usize::from(pointer).checked_add(0x200)?;
        let tail = self.image.get(start..)?;
        let text = &tail[..tail.iter().take(256).position(|&b| b == 0)?];
        core::str::from_utf8(text).ok()
    }

    /// The bytes to copy to `plan.kernel_addr`.
    pub fn protected_mode(&self) -> &'a [u8] {
        self.protected_mode
    }

    /// Memory the kernel occupies from its load address before it relocates: the larger of init_size and
    /// the file's protected-mode part, in whole pages.
    pub fn span(&self) -> u64 {
        let size = u64::from(self.header.init_size).max(self.protected_mode.len() as u64);
        align_up(size, PAGE).unwrap_or(size)
    }
}

/// Where everything goes. All addresses are physical and identity-mapped at entry.
///
/// What the 64-bit entry needs from the few lines of assembly that jump (boot.rst, "64-bit Boot Protocol"):
/// - Long mode, paging on, with an identity map (virtual == physical) covering at least
///   `[kernel_addr, kernel_addr + kernel_span)`, the boot_params page and the command line. Mapping all of the
///   first 4 GiB with large pages is the simple way; the decompressor builds its own tables right after entry.
/// - A GDT loaded whose selector 0x10 (`__BOOT_CS`) is a flat 4 GiB execute/read 64-bit code segment and 0x18
///   (`__BOOT_DS`) a flat 4 GiB read/write data segment; CS = 0x10, DS = ES = SS = 0x18.
/// - Interrupts disabled (`cli`); the IDT does not matter (the kernel loads its own before enabling them).
/// - RSI = physical address of boot_params (`plan.boot_params_addr`).
/// - Jump to `plan.entry_64` = `kernel_addr + 0x200` (startup_64 of the protected-mode kernel).
/// - RSP: any valid stack outside the reserved ranges; the kernel switches to its own at once.
///
/// Before the jump, every secret not handed on is wiped; devices are quiet (no DMA, interrupts masked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxPlan {
    /// Load address of the protected-mode kernel.
    pub kernel_addr: u64,
    /// Bytes reserved from `kernel_addr` (init_size, page rounded).
    pub kernel_span: u64,
    /// The 64-bit entry point: `kernel_addr + 0x200`.
    pub entry_64: u64,
    /// Start of the initrd area (page aligned); 0 when there is none.
    pub initrd_addr: u64,
    pub initrd_len: u64,
    /// The boot_params page; RSI at entry.
    pub boot_params_addr: u64,
    /// The NUL-terminated command line, right after boot_params.
    pub cmdline_addr: u64,
    /// The copy of UEFI's memory map, after the command line (8-byte aligned); 0 when there is none.
    pub efi_map_addr: u64,
}

const FOUR_GIB: u64 = 1 << 32;

/// Chooses the addresses, reserving each in `free`. `free` must already exclude everything in use until the
/// jump (the payload, its stack and heap, the buffers holding the kernel and initrd bytes, the page tables);
/// `limit` is the first address the loader cannot write (the end of its identity map).
///
/// The kernel goes to pref_address when that is free; otherwise, when relocatable, to the lowest
/// kernel_alignment-aligned address above pref_address with init_size room (never below: the decompressor
/// would move itself up to pref_address anyway and trample what is there). The initrd goes as high as
/// initrd_addr_max (or the limit, for XLF_CAN_BE_LOADED_ABOVE_4G kernels) allows; boot_params and the
/// command line (and `efi_map_len` bytes of UEFI's memory map after it) go in one block below 4 GiB.
pub fn plan(
    image: &BzImage,
    initrd_len: u64,
    cmdline_len: usize,
    efi_map_len: usize,
    free: &mut FreeMemory,
    limit: u64,
) -> Result<LinuxPlan, Error> {
    let header = &image.header;
    if cmdline_len > header.cmdline_size as usize {
        return Err(Error::CommandLineTooLong(
            cmdline_len,
            header.cmdline_size as usize,
        ));
    }
    let span = image.span();
    let pref = header.pref_address;
    let fits = |at: u64| at.checked_add(span).is_some_and(|end| end <= limit);
    let kernel_addr = if free.is_free(pref, span) && fits(pref) {
        pref
    } else if header.relocatable_kernel {
        let align = u64::from(header.kernel_alignment).max(PAGE);
        free.find_lowest(span, align, pref, limit)
            .ok_or(Error::NoRoom("kernel", span))?
    } else {
        return Err(Error::NoRoom("kernel", span));
    };
    free.reserve(kernel_addr, span);

    let initrd_addr = if initrd_len == 0 {
        0
    } else {
        let max = if header.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G != 0 {
            limit
        } else {
            (u64::from(header.initrd_addr_max) + 1).min(limit)
        };
        free.take_highest("initrd", initrd_len, PAGE, max)?
    };

    let mut block = BOOT_PARAMS_SIZE as u64 + cmdline_len as u64 + 1;
    let efi_map_offset = block.next_multiple_of(8);
    let mut align = PAGE;
    if efi_map_len != 0 {
        block = efi_map_offset + efi_map_len as u64;
        // Aligned to its size's power of two, the block crosses no 2 MiB boundary: Linux's decompressor, which
        // may put the kernel at any 2 MiB boundary of free memory (KASLR), keeps off boot_params and the command
        // line, but knows nothing of the map, which would otherwise be lost before Linux reserves it.
        align = block.next_power_of_two().clamp(PAGE, 2 << 20);
    }
    let boot_params_addr =
        free.take_highest("boot parameters", block, align, limit.min(FOUR_GIB))?;
    Ok(LinuxPlan {
        kernel_addr,
        kernel_span: span,
        entry_64: kernel_addr + ENTRY_64_OFFSET,
        initrd_addr,
        initrd_len,
        boot_params_addr,
        cmdline_addr: boot_params_addr + BOOT_PARAMS_SIZE as u64,
        efi_map_addr: if efi_map_len == 0 {
            0
        } else {
            boot_params_addr + efi_map_offset
        },
    })
}

/// The command line as the kernel reads it: the bytes and a terminating NUL.
pub fn command_line_bytes(cmdline: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(cmdline.len() + 1);
    bytes.extend_from_slice(cmdline);
    bytes.push(0);
    bytes
}

/// What boot_params says about the machine besides the plan.
#[derive(Clone, Copy, Debug, Default)]
pub struct Machine<'a> {
    /// The firmware memory map (Multiboot2 types), turned into the E820 table.
    pub memory_map: &'a [MemoryRegion],
    /// Physical address of the ACPI RSDP, if known.
    pub rsdp_addr: Option<u64>,
    /// Where the VGA text cursor is (column, row), so the kernel's console continues below our output; `None`
    /// where the screen is not in VGA text mode: boot_params then tells of no VGA console (Linux's vgacon would
    /// write to text memory nobody sees).
    pub cursor: Option<(u8, u8)>,
    /// The linear framebuffer the boot loader set up (UEFI's GOP, through GRUB), where there is no VGA text
    /// screen: Linux's screen_info then tells of it (as an EFI framebuffer), for its simple framebuffer driver.
    pub framebuffer: Option<crate::Framebuffer>,
    /// A UEFI PC's system table and memory map: Linux gets them in efi_info (with the map copied to
    /// `plan.efi_map_addr`), as it would from its own EFI stub, and so UEFI's runtime services.
    pub efi: Option<crate::Efi<'a>>,
}

// boot_params offsets (zero-page.rst).
const ORIG_X: usize = 0x00;
const ORIG_Y: usize = 0x01;
const EXT_MEM_K: usize = 0x02;
const ORIG_VIDEO_MODE: usize = 0x06;
const ORIG_VIDEO_COLS: usize = 0x07;
const ORIG_VIDEO_LINES: usize = 0x0e;
const ORIG_VIDEO_IS_VGA: usize = 0x0f;
const ORIG_VIDEO_POINTS: usize = 0x10;
const LFB_WIDTH: usize = 0x12;
const LFB_BASE: usize = 0x18;
const LFB_SIZE: usize = 0x1c;
const LFB_LINE_LENGTH: usize = 0x24;
const LFB_COLORS: usize = 0x26;
const LFB_CAPABILITIES: usize = 0x36;
const LFB_BASE_HIGH: usize = 0x3a;
/// screen_info's orig_video_isVGA for a framebuffer a BIOS's VBE set up (its size in 64 KiB units), and for one a
/// UEFI firmware set up (its size in bytes).
const VIDEO_TYPE_VLFB: u8 = 0x23;
const VIDEO_TYPE_EFI: u8 = 0x70;
/// screen_info's capabilities: the values come from the firmware as they are (no quirk tables applied: Linux's EFI
/// stub sets this too), and the framebuffer's address has an upper half (in ext_lfb_base).
const VIDEO_CAPABILITY_SKIP_QUIRKS: u32 = 1 << 0;
const VIDEO_CAPABILITY_64BIT_BASE: u32 = 1 << 1;
const ACPI_RSDP_ADDR: usize = 0x070;
const EXT_RAMDISK_IMAGE: usize = 0x0c0;
const EXT_RAMDISK_SIZE: usize = 0x0c4;
const EXT_CMD_LINE_PTR: usize = 0x0c8;
/// efi_info: the loader's signature ("EL64": a 64-bit UEFI), the system table's and the memory map's
/// addresses (low halves here, high halves at 0x1d8 and 0x1dc), the descriptors' size and version, the map's size.
const EFI_INFO: usize = 0x1c0;
const ALT_MEM_K: usize = 0x1e0;
const E820_ENTRIES: usize = 0x1e8;
const TYPE_OF_LOADER: usize = 0x210;
const LOADFLAGS: usize = 0x211;
const CODE32_START: usize = 0x214;
const RAMDISK_IMAGE: usize = 0x218;
const RAMDISK_SIZE: usize = 0x21c;
const HEAP_END_PTR: usize = 0x224;
const CMD_LINE_PTR: usize = 0x228;
const E820_TABLE: usize = 0x2d0;
const E820_ENTRY_SIZE: usize = 20;

/// The memory map as E820 entries: Multiboot2 types mapped, sorted, adjacent entries of one type merged (so
/// that long firmware maps still fit the 128 slots).
pub fn e820_entries(map: &[MemoryRegion]) -> Result<Vec<(u64, u64, u32)>, Error> {
    let mut sorted: Vec<(u64, u64, u32)> = Vec::with_capacity(map.len());
    for r in map {
        if r.len != 0 {
            sorted.push((r.addr, r.len, crate::memory::mb2_to_e820(r.kind)));
        }
    }
    // Insertion sort: maps are short, and core's sorts would add kilobytes to the payload.
    for i in 1..sorted.len() {
        let mut j = i;
        while j > 0 && sorted[j - 1].0 > sorted[j].0 {
            sorted.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut out: Vec<(u64, u64, u32)> = Vec::with_capacity(sorted.len());
    for entry in sorted {
        if let Some(last) = out.last_mut() {
            if last.2 == entry.2 && last.0.checked_add(last.1) == Some(entry.0) {
                last.1 = last.1.saturating_add(entry.1);
                continue;
            }
        }
        out.push(entry);
    }
    if out.len() > E820_MAX {
        return Err(Error::MemoryMapTooLong(out.len(), E820_MAX));
    }
    Ok(out)
}

/// Builds the 4096-byte boot_params for `plan`: the image's setup header, the loader's fields, the E820
/// table, VGA text screen info and the RSDP.
pub fn boot_params(image: &BzImage, plan: &LinuxPlan, machine: &Machine) -> Result<Vec<u8>, Error> {
    let mut bp = vec![0u8; BOOT_PARAMS_SIZE];
    let header = image
        .image
        .get(SETUP_HEADER..image.header.header_end.min(SETUP_HEADER_LIMIT))
        .ok_or(Error::Truncated("setup header"))?;
    put(&mut bp, SETUP_HEADER, header);

    // The loader's part of the header. type_of_loader 0xff: "undefined", we have no assigned ID. Only the
    // real-mode setup uses the heap, and the 64-bit entry skips it; GRUB's value is set for any code that looks.
    bp[TYPE_OF_LOADER] = 0xff;
    bp[LOADFLAGS] = image.header.loadflags | CAN_USE_HEAP;
    put(&mut bp, HEAP_END_PTR, &(0x9000u16 - 0x200).to_le_bytes());
    put(
        &mut bp,
        CODE32_START,
        &(plan.kernel_addr as u32).to_le_bytes(),
    );
    put(
        &mut bp,
        CMD_LINE_PTR,
        &(plan.cmdline_addr as u32).to_le_bytes(),
    );
    put(
        &mut bp,
        EXT_CMD_LINE_PTR,
        &((plan.cmdline_addr >> 32) as u32).to_le_bytes(),
    );
    if plan.initrd_len != 0 {
        put(
            &mut bp,
            RAMDISK_IMAGE,
            &(plan.initrd_addr as u32).to_le_bytes(),
        );
        put(
            &mut bp,
            RAMDISK_SIZE,
            &(plan.initrd_len as u32).to_le_bytes(),
        );
        put(
            &mut bp,
            EXT_RAMDISK_IMAGE,
            &((plan.initrd_addr >> 32) as u32).to_le_bytes(),
        );
        put(
            &mut bp,
            EXT_RAMDISK_SIZE,
            &((plan.initrd_len >> 32) as u32).to_le_bytes(),
        );
    }

    // VGA text mode 3, 80x25, 16-line font: what the firmware left and what vgacon expects.
    if let Some((x, y)) = machine.cursor {
        bp[ORIG_X] = x;
        bp[ORIG_Y] = y;
        bp[ORIG_VIDEO_MODE] = 3;
        bp[ORIG_VIDEO_COLS] = 80;
        bp[ORIG_VIDEO_LINES] = 25;
        bp[ORIG_VIDEO_IS_VGA] = 1;
        put(&mut bp, ORIG_VIDEO_POINTS, &16u16.to_le_bytes());
    }

    if let Some(fb) = machine.framebuffer {
        let (kind, unit) = if fb.efi {
            (VIDEO_TYPE_EFI, 1)
        } else {
            (VIDEO_TYPE_VLFB, 1 << 16)
        };
        bp[ORIG_VIDEO_IS_VGA] = kind;
        for (i, n) in [fb.width, fb.height, u32::from(fb.bits_per_pixel)]
            .into_iter()
            .enumerate()
        {
            put(&mut bp, LFB_WIDTH + 2 * i, &(n as u16).to_le_bytes());
        }
        put(&mut bp, LFB_BASE, &(fb.address as u32).to_le_bytes());
        let size = u64::from(fb.pitch) * u64::from(fb.height);
        put(
            &mut bp,
            LFB_SIZE,
            &(size.div_ceil(unit) as u32).to_le_bytes(),
        );
        put(&mut bp, LFB_LINE_LENGTH, &(fb.pitch as u16).to_le_bytes());
        for (i, (size, position)) in fb.colors.into_iter().enumerate() {
            bp[LFB_COLORS + 2 * i] = size;
            bp[LFB_COLORS + 2 * i + 1] = position;
        }
        let high = (fb.address >> 32) as u32;
        let mut capabilities = if fb.efi {
            VIDEO_CAPABILITY_SKIP_QUIRKS
        } else {
            0
        };
        if high != 0 {
            capabilities |= VIDEO_CAPABILITY_64BIT_BASE;
            put(&mut bp, LFB_BASE_HIGH, &high.to_le_bytes());
        }
        put(&mut bp, LFB_CAPABILITIES, &capabilities.to_le_bytes());
    }

    if let Some(rsdp) = machine.rsdp_addr {
        put(&mut bp, ACPI_RSDP_ADDR, &rsdp.to_le_bytes());
    }

    if let Some(efi) = machine.efi {
        let map = plan.efi_map_addr;
        let words = [
            u32::from_le_bytes(*b"EL64"),
            efi.system_table as u32,
            efi.desc_size,
            efi.desc_version,
            map as u32,
            efi.memory_map.len() as u32,
            (efi.system_table >> 32) as u32,
            (map >> 32) as u32,
        ];
        for (i, word) in words.into_iter().enumerate() {
            put(&mut bp, EFI_INFO + 4 * i, &word.to_le_bytes());
        }
    }

    let e820 = e820_entries(machine.memory_map)?;
    bp[E820_ENTRIES] = e820.len() as u8;
    for (i, &(addr, len, kind)) in e820.iter().enumerate() {
        let at = E820_TABLE + i * E820_ENTRY_SIZE;
        put(&mut bp, at, &addr.to_le_bytes());
        put(&mut bp, at + 8, &len.to_le_bytes());
        put(&mut bp, at + 16, &kind.to_le_bytes());
    }
    // The legacy sizes (KiB of RAM contiguous from 1 MiB), for code that predates E820.
    let mut above_1m = 0;
    for &(addr, len, kind) in &e820 {
        let end = addr.saturating_add(len);
        if kind == crate::memory::E820_RAM && addr <= 0x100000 && end > 0x100000 {
            above_1m = (end - 0x100000) / 1024;
            break;
        }
    }
    put(
        &mut bp,
        ALT_MEM_K,
        &(above_1m.min(u64::from(u32::MAX)) as u32).to_le_bytes(),
    );
    put(
        &mut bp,
        EXT_MEM_K,
        &(above_1m.min(0xfc00) as u16).to_le_bytes(),
    );
    Ok(bp)
}

/// Everything to copy before the 64-bit jump, for one `exec` of a Linux kernel.
#[derive(Clone, Debug)]
pub struct LinuxBoot<'a> {
    pub image: BzImage<'a>,
    pub plan: LinuxPlan,
    /// The 4096 bytes for `plan.boot_params_addr`.
    pub boot_params: Vec<u8>,
    /// The NUL-terminated command line for `plan.cmdline_addr`.
    pub cmdline: Vec<u8>,
    /// The newc archive made from `files` (empty when there were none).
    pub files_archive: Vec<u8>,
    /// UEFI's memory map for `plan.efi_map_addr` (empty when there is none).
    pub efi_map: Vec<u8>,
    initrds: Vec<&'a [u8]>,
    initrd_offsets: Vec<u64>,
}

impl<'a> LinuxBoot<'a> {
    /// The copies to make, `(physical address, bytes)`: the kernel, each initrd and the `files` archive,
    /// boot_params and the command line. Together with [`LinuxBoot::zeroed`] they write every byte the
    /// kernel reads.
    pub fn copies(&self) -> Vec<(u64, &[u8])> {
        let mut copies = Vec::with_capacity(self.initrds.len() + 5);
        copies.push((self.plan.kernel_addr, self.image.protected_mode()));
        let archives = self
            .initrds
            .iter()
            .copied()
            .chain(core::iter::once(self.files_archive.as_slice()).filter(|a| !a.is_empty()));
        for (bytes, offset) in archives.zip(&self.initrd_offsets) {
            copies.push((self.plan.initrd_addr + offset, bytes));
        }
        copies.push((self.plan.boot_params_addr, &self.boot_params));
        copies.push((self.plan.cmdline_addr, &self.cmdline));
        if !self.efi_map.is_empty() {
            copies.push((self.plan.efi_map_addr, &self.efi_map));
        }
        copies
    }
}

impl LinuxBoot<'_> {
    /// The ranges to zero, `(address, len)`: the few bytes between archives in the initrd area, which Linux
    /// must read as zeros (padding) to find the next archive.
    pub fn zeroed(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut end = 0;
        let lengths = self
            .initrds
            .iter()
            .map(|i| i.len() as u64)
            .chain(core::iter::once(self.files_archive.len() as u64).filter(|&l| l != 0));
        for (len, &offset) in lengths.zip(&self.initrd_offsets) {
            if offset > end {
                gaps.push((self.plan.initrd_addr + end, offset - end));
            }
            end = offset + len;
        }
        gaps
    }
}

/// Parses the image, lays the initrds and the `files` archive (from [`crate::cpio::archive`], or empty) out in
/// one area, plans the addresses and builds boot_params: everything `exec` does for Linux before the copies and
/// the jump (and all of a dry run). The archive is made by the caller before it reserves the memory in use, so
/// that its bytes are among what `free` keeps clear.
pub fn prepare<'a>(
    kernel: &'a [u8],
    cmdline: &[u8],
    initrds: &[&'a [u8]],
    files_archive: Vec<u8>,
    machine: &Machine,
    free: &mut FreeMemory,
    limit: u64,
) -> Result<LinuxBoot<'a>, Error> {
    let image = BzImage::parse(kernel)?;
    let mut lengths: Vec<u64> = Vec::with_capacity(initrds.len() + 1);
    for initrd in initrds {
        lengths.push(initrd.len() as u64);
    }
    if !files_archive.is_empty() {
        lengths.push(files_archive.len() as u64);
    }
    let (initrd_offsets, initrd_len) = crate::cpio::concatenation_offsets(&lengths);
    let efi_map = machine.efi.map_or(&[][..], |efi| efi.memory_map);
    let plan = plan(
        &image,
        initrd_len,
        cmdline.len(),
        efi_map.len(),
        free,
        limit,
    )?;
    let boot_params = boot_params(&image, &plan, machine)?;
    Ok(LinuxBoot {
        image,
        plan,
        boot_params,
        cmdline: command_line_bytes(cmdline),
        files_archive,
        efi_map: efi_map.to_vec(),
        initrds: initrds.to_vec(),
        initrd_offsets,
    })
}
