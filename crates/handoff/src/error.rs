//! The one error type of the hand-off: every refusal says what was wrong with the kernel, initrd or request.

use core::fmt;

/// Why a kernel cannot be booted as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Neither a Linux bzImage nor an image with a Multiboot2 header.
    UnknownKernel,
    /// The image ends before a structure it announces (what was being read).
    Truncated(&'static str),
    /// No "HdrS" setup header or boot flag: not a bzImage.
    NotBzImage,
    /// The boot protocol is older than 2.12 (major, minor).
    ProtocolTooOld(u8, u8),
    /// The kernel has no 64-bit entry point (XLF_KERNEL_64) or is not loaded high (a zImage).
    Not64Bit,
    /// The command line is longer than the kernel accepts (length, maximum).
    CommandLineTooLong(usize, usize),
    /// No free physical memory for something (what, bytes needed).
    NoRoom(&'static str, u64),
    /// The memory map has more distinct entries than boot_params' E820 table holds (entries, maximum).
    MemoryMapTooLong(usize, usize),
    /// A Multiboot2 header is present but invalid (why).
    BadMultiboot2(&'static str),
    /// The Multiboot2 kernel requires something this loader does not provide (the tag type).
    Unsupported(&'static str, u32),
    /// The ELF image is malformed or of a kind we cannot load (why).
    BadElf(&'static str),
    /// A `files` path that cannot go into an archive (why).
    BadPath(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownKernel => {
                write!(
                    f,
                    "not a kernel: neither a Linux bzImage nor a Multiboot2 image"
                )
            }
            Error::Truncated(what) => {
                write!(f, "kernel image truncated: it ends inside the {what}")
            }
            Error::NotBzImage => write!(f, "not a Linux bzImage (no HdrS setup header)"),
            Error::ProtocolTooOld(major, minor) => write!(
                f,
                "Linux boot protocol {major}.{minor:02} is too old: 2.12 or later is needed"
            ),
            Error::Not64Bit => write!(f, "this Linux kernel has no 64-bit entry point"),
            Error::CommandLineTooLong(len, max) => {
                write!(
                    f,
                    "command line of {len} bytes is longer than the kernel's {max}"
                )
            }
            Error::NoRoom(what, size) => {
                write!(f, "no free memory for the {what} ({size} bytes)")
            }
            Error::MemoryMapTooLong(len, max) => {
                write!(
                    f,
                    "the memory map has {len} entries; the kernel takes at most {max}"
                )
            }
            Error::BadMultiboot2(why) => write!(f, "bad Multiboot2 header: {why}"),
            Error::Unsupported(what, tag) => {
                write!(
                    f,
                    "the Multiboot2 kernel requires {what} (tag {tag}), which is not supported"
                )
            }
            Error::BadElf(why) => write!(f, "bad ELF image: {why}"),
            Error::BadPath(why) => write!(f, "bad path in files: {why}"),
        }
    }
}
