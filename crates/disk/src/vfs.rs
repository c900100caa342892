//! The mount table and path resolution: absolute paths, `.` and `..`, symlinks followed everywhere (absolute
//! targets from the VFS root), mount points that nest.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::fs::{self, FileSystem, FsError, Kind, Node, Stat};

/// Linux's MAXSYMLINKS: more symlinks than this on one path is a loop.
pub const MAX_SYMLINKS: u32 = 40;

struct Mount {
    path: String,
    fs: Rc<dyn FileSystem>,
}

/// Where a path led: which mount, which node, and the canonical path (no symlinks, `.` or `..`).
struct Place {
    mount: usize,
    node: Node,
    path: String,
}

/// An open file: its size is known before any data is read, and it reads into the caller's buffer.
pub struct File {
    fs: Rc<dyn FileSystem>,
    node: Node,
}

impl File {
    pub fn size(&self) -> u64 {
        self.node.size
    }

    /// Reads from byte `offset` into `buf`; returns the count, short only at the end of the file.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        self.fs.read_at(&self.node, offset, buf)
    }
}

/// The mount table.
#[derive(Default)]
pub struct Vfs {
    mounts: Vec<Mount>,
}

fn join(names: &[String]) -> String {
    if names.is_empty() {
        return String::from("/");
    }
    let mut s = String::new();
    for n in names {
        s.push('/');
        s.push_str(n);
    }
    s
}

impl Vfs {
    pub fn new() -> Vfs {
        Vfs { mounts: Vec::new() }
    }

    /// Detects the file system on `device` and mounts it at `path` (`/`, or an existing directory); returns
    /// its type ("ext4", "fat32", ...).
    pub fn mount(
        &mut self,
        device: Rc<dyn BlockDevice>,
        path: &str,
    ) -> Result<&'static str, FsError> {
        let fs = fs::open(device)?;
        let name = fs.type_name();
        self.mount_fs(fs, path)?;
        Ok(name)
    }

    /// Mounts an already opened file system.
    pub fn mount_fs(&mut self, fs: Rc<dyn FileSystem>, path: &str) -> Result<(), FsError> {
        let canonical = if self.mounts.is_empty() && is_root(path)? {
            String::from("/")
        } else {
            let place = self.resolve(path)?;
            if place.node.kind != Kind::Dir {
                return Err(FsError::NotADirectory(place.path));
            }
            place.path
        };
        if self.mounts.iter().any(|m| m.path == canonical) {
            return Err(FsError::AlreadyMounted(canonical));
        }
        self.mounts.push(Mount {
            path: canonical,
            fs,
        });
        Ok(())
    }

    /// Unmounts what is mounted at `path`; refused while something is mounted below it.
    pub fn umount(&mut self, path: &str) -> Result<(), FsError> {
        // A mount point named plainly is found without reading its (perhaps failing) file system.
        let lexical = lexical(path)?;
        let canonical = if self.mount_at(&lexical).is_some() {
            lexical
        } else {
            self.resolve(path)?.path
        };
        let index = self
            .mounts
            .iter()
            .position(|m| m.path == canonical)
            .ok_or(FsError::NotMounted(canonical.clone()))?;
        let below = |m: &Mount| {
            m.path != canonical
                && (canonical == "/"
                    || m.path
                        .strip_prefix(&*canonical)
                        .is_some_and(|r| r.starts_with('/')))
        };
        if self.mounts.iter().any(below) {
            return Err(FsError::Busy(canonical));
        }
        self.mounts.remove(index);
        Ok(())
    }

    /// `(mount point, device name, file system type)` for each mount, in mount order.
    pub fn mounts(&self) -> Vec<(String, String, &'static str)> {
        self.mounts
            .iter()
            .map(|m| {
                (
                    m.path.clone(),
                    String::from(m.fs.device().name()),
                    m.fs.type_name(),
                )
            })
            .collect()
    }

    /// The names in a directory, sorted, without `.` and `..`.
    pub fn ls(&self, path: &str) -> Result<Vec<String>, FsError> {
        self.ls_within(path, usize::MAX)
    }

    /// [`Vfs::ls`], refused with [`FsError::TooManyNames`] once the names would take more than `limit` bytes of
    /// memory (each its own plus a `String`'s), before more are read: a directory can be as large as its device.
    pub fn ls_within(&self, path: &str, limit: usize) -> Result<Vec<String>, FsError> {
        let place = self.resolve(path)?;
        if place.node.kind != Kind::Dir {
            return Err(FsError::NotADirectory(place.path));
        }
        let mut names = Vec::new();
        let mut bytes = 0usize;
        self.mounts[place.mount].fs.list(&place.node, &mut |name| {
            bytes = bytes.saturating_add(core::mem::size_of::<String>() + name.len());
            let over = bytes > limit;
            if !over {
                names.push(name);
            }
            over
        })?;
        if bytes > limit {
            return Err(FsError::TooManyNames {
                path: place.path,
                limit,
            });
        }
        names.sort();
        Ok(names)
    }

    pub fn stat(&self, path: &str) -> Result<Stat, FsError> {
        let place = self.resolve(path)?;
        Ok(Stat {
            size: place.node.size,
            kind: place.node.kind,
        })
    }

    /// Whether `path` names something; a failing disk or a corrupt file system is still an error.
    pub fn exists(&self, path: &str) -> Result<bool, FsError> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(FsError::NotFound(_) | FsError::NotADirectory(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens a file: its size first, then reads into buffers the caller owns (no copy of a 14 MB kernel).
    pub fn open(&self, path: &str) -> Result<File, FsError> {
        let place = self.resolve(path)?;
        if place.node.kind == Kind::Dir {
            return Err(FsError::IsADirectory(place.path));
        }
        Ok(File {
            fs: self.mounts[place.mount].fs.clone(),
            node: place.node,
        })
    }

    /// Reads a file from its start into `buf` (sized from `stat` or `File::size`); returns the bytes read.
    pub fn read_into(&self, path: &str, buf: &mut [u8]) -> Result<usize, FsError> {
        self.open(path)?.read_at(0, buf)
    }

    /// A whole file in memory. Refused for a file larger than its device (only a sparse file can be).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let file = self.open(path)?;
        if file.size() > file.fs.device().size() {
            return Err(FsError::TooLarge {
                path: String::from(path),
                size: file.size(),
            });
        }
        let mut data = vec![0u8; file.size() as usize];
        let n = file.read_at(0, &mut data)?;
        data.truncate(n);
        Ok(data)
    }

    fn mount_at(&self, path: &str) -> Option<usize> {
        // The latest mount wins, as when mounting over a mount point.
        self.mounts.iter().rposition(|m| m.path == path)
    }

    fn resolve(&self, path: &str) -> Result<Place, FsError> {
        if !path.starts_with('/') {
            return Err(FsError::InvalidPath(String::from(path)));
        }
        let root_mount = self.mount_at("/").ok_or(FsError::NothingMounted)?;
        let root = (root_mount, self.mounts[root_mount].fs.root());
        // Components still to walk, last first; symlink targets are pushed onto it.
        let mut pending: Vec<String> = path.split('/').rev().map(String::from).collect();
        let mut names: Vec<String> = Vec::new();
        let mut trail: Vec<(usize, Node)> = Vec::new();
        let mut links = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    names.pop();
                    trail.pop();
                    continue;
                }
                _ => {}
            }
            let (mount, dir) = trail.last().cloned().unwrap_or_else(|| root.clone());
            if dir.kind != Kind::Dir {
                return Err(FsError::NotADirectory(join(&names)));
            }
            let fs = &self.mounts[mount].fs;
            names.push(component);
            let child = fs
                .lookup(&dir, names.last().map_or("", |n| n.as_str()))?
                .ok_or_else(|| FsError::NotFound(join(&names)))?;
            let here = join(&names);
            if let Some(m) = self.mount_at(&here) {
                trail.push((m, self.mounts[m].fs.root()));
                continue;
            }
            if child.kind == Kind::Symlink {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(FsError::SymlinkLoop(String::from(path)));
                }
                let target = fs.read_link(&child)?;
                names.pop();
                if target.starts_with('/') {
                    names.clear();
                    trail.clear();
                }
                pending.extend(target.split('/').rev().map(String::from));
                continue;
            }
            trail.push((mount, child));
        }
        let (mount, node) = trail.pop().unwrap_or(root);
        Ok(Place {
            mount,
            node,
            path: join(&names),
        })
    }
}

/// `path` with `.`, `..` and repeated slashes removed, symlinks not consulted.
fn lexical(path: &str) -> Result<String, FsError> {
    if !path.starts_with('/') {
        return Err(FsError::InvalidPath(String::from(path)));
    }
    let mut names: Vec<String> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                names.pop();
            }
            name => names.push(String::from(name)),
        }
    }
    Ok(join(&names))
}

fn is_root(path: &str) -> Result<bool, FsError> {
    if !path.starts_with('/') {
        return Err(FsError::InvalidPath(String::from(path)));
    }
    Ok(path.split('/').all(|c| c.is_empty() || c == "."))
}
