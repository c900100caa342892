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
