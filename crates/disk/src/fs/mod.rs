//! The read-only file system interface, its errors, and type detection (ext2/3/4, FAT12/16/32).

mod ext;
mod fat;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use core::fmt;

use crate::device::{BlockDevice, DiskError, SECTOR_SIZE};

pub use ext::Ext;
pub use fat::Fat;

/// What a path names once symlinks are followed (`Symlink` only comes from `lookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// A file, directory or symlink inside one file system: `id` is the inode number (ext) or first cluster (FAT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: u64,
    pub kind: Kind,
    pub size: u64,
}

/// What `stat` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub kind: Kind,
}

/// A mounted, read-only file system. Node ids are only meaningful to the file system that made them.
pub trait FileSystem {
    /// "ext2", "ext3", "ext4", "fat12", "fat16" or "fat32".
    fn type_name(&self) -> &'static str;
    /// The device it lives on (for error messages and read limits).
    fn device(&self) -> &Rc<dyn BlockDevice>;
    fn root(&self) -> Node;
    /// The entry `name` of directory `dir`, if there is one.
    fn lookup(&self, dir: &Node, name: &str) -> Result<Option<Node>, FsError>;
    /// Hands the names in `dir` to `visit`, without `.` and `..`, in on-disk order, until it returns true (a
    /// directory can be as large as its device: the caller decides how many names it keeps).
    fn list(&self, dir: &Node, visit: &mut dyn FnMut(String) -> bool) -> Result<(), FsError>;
    /// Reads from byte `offset` of a file into `buf`; returns the bytes read (short only at the end of file).
    fn read_at(&self, file: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, FsError>;
    /// A symlink's target.
    fn read_link(&self, link: &Node) -> Result<String, FsError>;
}

/// Everything that can go wrong between a path and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    /// The device failed.
    Disk {
        device: String,
        error: DiskError,
    },
    /// The file system's data is inconsistent; `what` starts with the file system type.
    Corrupt {
        device: String,
        what: String,
    },
    /// A valid file system using something this reader does not do (an unknown feature).
    Unsupported {
        device: String,
        what: String,
    },
    /// No ext or FAT file system on the device.
    UnknownFileSystem {
        device: String,
    },
    NotFound(String),
    NotADirectory(String),
    IsADirectory(String),
    /// Paths are absolute.
    InvalidPath(String),
    NothingMounted,
    NotMounted(String),
    AlreadyMounted(String),
    /// Something else is mounted below this mount point.
    Busy(String),
    SymlinkLoop(String),
    /// A directory whose names take more memory than the caller allows (see `Vfs::ls_within`).
    TooManyNames {
        path: String,
        limit: usize,
    },
    /// A file larger than its device (sparse) is not read into memory whole.
    TooLarge {
        path: String,
        size: u64,
    },
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Most are "<path>: <what>", written by one `write!`.
        let (path, what) = match self {
            FsError::Disk { device, error } => {
                return crate::device::write_device_error(f, device, error)
            }
            FsError::Corrupt { device, what } | FsError::Unsupported { device, what } => {
                (device, what.as_str())
            }
            FsError::UnknownFileSystem { device } => {
                (device, "no ext2/3/4 or FAT file system found")
            }
            FsError::NotFound(path) => (path, "no such file or directory"),
            FsError::NotADirectory(path) => (path, "not a directory"),
            FsError::IsADirectory(path) => (path, "is a directory"),
            FsError::InvalidPath(path) => (path, "paths must be absolute"),
            FsError::NothingMounted => return f.write_str("nothing is mounted at /"),
            FsError::NotMounted(path) => (path, "nothing is mounted there"),
            FsError::AlreadyMounted(path) => (path, "something is already mounted there"),
            FsError::Busy(path) => (path, "another file system is mounted below it"),
            FsError::SymlinkLoop(path) => (path, "too many levels of symbolic links"),
            FsError::TooManyNames { path, limit } => {
                return write!(
                    f,
                    "{path}: its names take more than the {limit} bytes allowed"
                )
            }
            FsError::TooLarge { path, size } => {
                return write!(f, "{path}: {size} bytes is larger than its device")
            }
        };
        write!(f, "{path}: {what}")
    }
}

/// The device below a file system, with its errors turned into `FsError`s that carry its name.
pub(crate) struct Volume {
    pub device: Rc<dyn BlockDevice>,
    pub fs: &'static str,
}

impl Volume {
    /// Reads whole sectors at a sector-aligned byte offset.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), FsError> {
        crate::devices::read_bytes(&*self.device, offset, buf).map_err(|error| FsError::Disk {
            device: String::from(self.device.name()),
            error,
        })
    }

    pub fn corrupt(&self, what: fmt::Arguments) -> FsError {
        FsError::Corrupt {
            device: String::from(self.device.name()),
            what: format!("{}: {}", self.fs, what),
        }
    }

    pub fn unsupported(&self, what: fmt::Arguments) -> FsError {
        FsError::Unsupported {
            device: String::from(self.device.name()),
            what: format!("{}: {}", self.fs, what),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.device.size()
    }
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Detects the file system on `device` and opens it.
pub fn open(device: Rc<dyn BlockDevice>) -> Result<Rc<dyn FileSystem>, FsError> {
    let sectors = device.sectors().min(4);
    if sectors == 0 {
        return Err(FsError::UnknownFileSystem {
            device: String::from(device.name()),
        });
    }
    let mut head = vec![0u8; sectors as usize * SECTOR_SIZE];
    device.read(0, &mut head).map_err(|error| FsError::Disk {
        device: String::from(device.name()),
        error,
    })?;
    if head.len() >= 2048 && le16(&head, 1024 + 0x38) == ext::MAGIC {
        return Ok(Rc::new(Ext::open(device)?));
    }
    if fat::looks_like_fat(&head) {
        return Ok(Rc::new(Fat::open(device)?));
    }
    Err(FsError::UnknownFileSystem {
        device: String::from(device.name()),
    })
}
