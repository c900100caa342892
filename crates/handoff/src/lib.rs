//! The hand-off: everything `exec` computes before the jump into another kernel, as pure code.
//!
//! Linux (x86 boot protocol 2.12+, 64-bit entry) in [`linux`], Multiboot2 kernels in [`multiboot2`], the newc
//! archive that carries `files` to an initramfs in [`cpio`], and the physical memory bookkeeping they share in
//! [`memory`]. Nothing here touches memory or ports: the payload copies the bytes these functions lay out to the
//! addresses they choose, then jumps with the state their documentation describes.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cpio;
mod error;
pub mod linux;
pub mod memory;
pub mod multiboot2;

pub use error::Error;

/// A linear framebuffer of direct RGB pixels, as the boot loader describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framebuffer {
    pub address: u64,
    /// Bytes from one line of pixels to the next.
    pub pitch: u32,
    pub width: u32,
    pub height: u32,
    pub bits_per_pixel: u8,
    /// Each of red, green and blue: its size in bits and its position in a pixel.
    pub colors: [(u8, u8); 3],
    /// UEFI's graphics output protocol set it up (a UEFI PC); else a BIOS's VBE did.
    pub efi: bool,
}

/// What Linux needs to use a UEFI firmware's runtime services (its variables, its reset, its clock) when it is
/// started by a loader rather than by UEFI itself: the system table and the firmware's memory map as it was when
/// the boot loader left UEFI's boot services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Efi<'a> {
    /// The 64-bit UEFI system table's address.
    pub system_table: u64,
    /// The memory descriptors, each `desc_size` bytes.
    pub memory_map: &'a [u8],
    pub desc_size: u32,
    pub desc_version: u32,
}

impl<'a> Efi<'a> {
    /// Reads a Multiboot2 EFI memory map tag (type 17: type, size, descriptor size, descriptor version, then the
    /// descriptors). `None` for a tag that is not one or whose descriptors do not fill it evenly, or are shorter
    /// than UEFI's 40-byte descriptor: Linux would walk such a map out of step.
    pub fn from_tag(system_table: u64, tag: &'a [u8]) -> Option<Self> {
        let size = read_u32(tag, 4)? as usize;
        let desc_size = read_u32(tag, 8)?;
        let memory_map = tag.get(16..size)?;
        let fits = desc_size >= 40 && desc_size % 8 == 0;
        (read_u32(tag, 0)? == 17
            && fits
            && !memory_map.is_empty()
            && memory_map.len() % desc_size as usize == 0)
            .then_some(Efi {
                system_table,
                memory_map,
                desc_size,
                desc_version: read_u32(tag, 12)?,
            })
    }

    /// `(start, length)` of each range UEFI's boot services held (their code and data: types 3 and 4), which
    /// Linux's own EFI stub leaves untouched until Linux has switched the runtime services to virtual
    /// addresses: some firmware still runs code there then.
    pub fn boot_services(&self, mut each: impl FnMut(u64, u64)) {
        // (At least 40 bytes each, as `from_tag` checks: a descriptor size of 0 would not step.)
        for d in self
            .memory_map
            .chunks_exact(self.desc_size.max(40) as usize)
        {
            if let (Some(3 | 4), Some(start), Some(pages)) =
                (read_u32(d, 0), read_u64(d, 8), read_u64(d, 24))
            {
                each(start, pages.saturating_mul(4096));
            }
        }
    }
}

/// What kind of kernel an image is, judged by its headers alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// A Linux bzImage (setup header with "HdrS").
    Linux,
    /// An image with a valid Multiboot2 header in its first 32 KiB.
    Multiboot2,
}

/// Tells which loader an image needs; a file that is neither kind is refused here with a readable error.
pub fn detect(image: &[u8]) -> Result<KernelKind, Error> {
    if linux::looks_like_bzimage(image) {
        return Ok(KernelKind::Linux);
    }
    if multiboot2::find_header(image).is_some() {
        return Ok(KernelKind::Multiboot2);
    }
    Err(Error::UnknownKernel)
}

pub(crate) fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Writes little-endian `value` into `out[at..]`; the callers write at fixed offsets of buffers they sized.
pub(crate) fn put(out: &mut [u8], at: usize, value: &[u8]) {
    if let Some(slot) = out.get_mut(at..at + value.len()) {
        slot.copy_from_slice(value);
    }
}
