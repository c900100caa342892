//! The mount table and path resolution: absolute paths, `.` and `..`, symlinks followed everywhere (absolute
//! targets from the VFS root), mount points that nest. A file system can be mounted at any absolute path, which
//! need not exist below it (the contract): `/boot` with nothing at `/`, or `/mnt/usb` where the root file
//! system has no `/mnt`. The directories on the way that no file system has hold the mount points only.

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

/// Where a path led: which mount and which node (`None`: a directory that only holds mount points), and the
/// canonical path (no symlinks, `.` or `..`).
struct Place {
    at: Option<(usize, Node)>,
    path: String,
}

impl Place {
    fn is_dir(&self) -> bool {
        self.at
            .as_ref()
            .is_none_or(|(_, node)| node.kind == Kind::Dir)
    }
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

    /// Detects the file system on `device` and mounts it at `path` (any absolute path that is not a file);
    /// returns its type ("ext4", "fat32", ...).
    // Kept out of line: inlined into the payload's primitive dispatch, it is bigger.
    #[inline(never)]
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
        let canonical = match self.resolve(path) {
            Ok(place) if place.is_dir() => place.path,
            Ok(place) => return Err(FsError::NotADirectory(place.path)),
            // A mount point need not exist: it is taken as written (without `.` and `..`; no symlinks to follow).
            Err(FsError::NotFound(_) | FsError::NothingMounted) => lexical(path)?,
            Err(e) => return Err(e),
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
    // Kept out of line: inlined into the payload's primitive dispatch, it is bigger.
    #[inline(never)]
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
        if self.holds_mounts(&canonical) {
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
    // Kept out of line: inlined into the payload's primitive dispatch, it is bigger.
    #[inline(never)]
    pub fn ls_within(&self, path: &str, limit: usize) -> Result<Vec<String>, FsError> {
        let place = self.resolve(path)?;
        if !place.is_dir() {
            return Err(FsError::NotADirectory(place.path));
        }
        let mut names: Vec<String> = Vec::new();
        let mut bytes = 0usize;
        let cost = |name: &str| core::mem::size_of::<String>() + name.len();
        if let Some((mount, node)) = &place.at {
            self.mounts[*mount].fs.list(node, &mut |name| {
                bytes = bytes.saturating_add(cost(&name));
                let over = bytes > limit;
                if !over {
                    names.push(name);
                }
                over
            })?;
        }
        // The mount points right below, which the file system need not have (or which only they make).
        for name in self
            .mounts
            .iter()
            .filter_map(|m| child_name(&place.path, &m.path))
        {
            if bytes > limit {
                break;
            }
            if !names.iter().any(|n| n == name) {
                bytes = bytes.saturating_add(cost(name));
                if bytes <= limit {
                    names.push(String::from(name));
                }
            }
        }
        if bytes > limit {
            return Err(FsError::TooManyNames {
                path: place.path,
                limit,
            });
        }
        // Unstable, as equal names are the same text: core's heapsort is smaller than the stable merge sort.
        names.sort_unstable();
        Ok(names)
    }

    pub fn stat(&self, path: &str) -> Result<Stat, FsError> {
        let place = self.resolve(path)?;
        Ok(match place.at {
            Some((_, node)) => Stat {
                size: node.size,
                kind: node.kind,
            },
            None => Stat {
                size: 0,
                kind: Kind::Dir,
            },
        })
    }

    /// Whether `path` names something (not if a file stands where a directory must, or symlinks loop: as
    /// Python's `os.path.exists`); a failing disk or a corrupt file system is still an error.
    pub fn exists(&self, path: &str) -> Result<bool, FsError> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(FsError::NotFound(_) | FsError::NotADirectory(_) | FsError::SymlinkLoop(_)) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens a file: its size first, then reads into buffers the caller owns (no copy of a 14 MB kernel).
    pub fn open(&self, path: &str) -> Result<File, FsError> {
        match self.resolve(path)? {
            Place {
                at: Some((mount, node)),
                ..
            } if node.kind != Kind::Dir => Ok(File {
                fs: self.mounts[mount].fs.clone(),
                node,
            }),
            place => Err(FsError::IsADirectory(place.path)),
        }
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

    /// Whether a mount point lies below the canonical path `dir`.
    fn holds_mounts(&self, dir: &str) -> bool {
        self.mounts.iter().any(|m| {
            m.path != dir
                && (dir == "/" || m.path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')))
        })
    }

    fn resolve(&self, path: &str) -> Result<Place, FsError> {
        if !path.starts_with('/') {
            return Err(FsError::InvalidPath(String::from(path)));
        }
        if self.mounts.is_empty() {
            return Err(FsError::NothingMounted);
        }
        // With nothing at `/`, the root only holds mount points.
        let root = self.mount_at("/").map(|m| (m, self.mounts[m].fs.root()));
        // Components still to walk, last first; symlink targets are pushed onto it.
        let mut pending: Vec<String> = Vec::new();
        push_components(&mut pending, path);
        let mut names: Vec<String> = Vec::new();
        let mut trail: Vec<Option<(usize, Node)>> = Vec::new();
        let mut links = 0;
        while let Some(component) = pending.pop() {
            // A name, `.`, `..` or a `/` after a file needs a directory there, as in Linux (`/a.txt/` and
            // `/a.txt/..` are not a directory, whatever follows).
            let at = trail.last().unwrap_or(&root);
            if at.as_ref().is_some_and(|(_, node)| node.kind != Kind::Dir) {
                return Err(FsError::NotADirectory(join(&names)));
            }
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    names.pop();
                    trail.pop();
                    continue;
                }
                _ => {}
            }
            let at = at.clone();
            names.push(component);
            let here = join(&names);
            // A mount point is entered whether or not the file system below has it.
            if let Some(m) = self.mount_at(&here) {
                trail.push(Some((m, self.mounts[m].fs.root())));
                continue;
            }
            let (mount, child) = match &at {
                Some((mount, dir)) => {
                    let name = names.last().map_or("", |n| n.as_str());
                    (*mount, self.mounts[*mount].fs.lookup(dir, name)?)
                }
                None => (0, None),
            };
            match child {
                Some(child) if child.kind == Kind::Symlink => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(FsError::SymlinkLoop(String::from(path)));
                    }
                    let target = self.mounts[mount].fs.read_link(&child)?;
                    names.pop();
                    if target.starts_with('/') {
                        names.clear();
                        trail.clear();
                    }
                    push_components(&mut pending, &target);
                }
                Some(child) => trail.push(Some((mount, child))),
                // A directory on the way to a mount point, which no file system has.
                None if self.holds_mounts(&here) => trail.push(None),
                None => return Err(FsError::NotFound(here)),
            }
        }
        let at = trail.pop().unwrap_or(root);
        Ok(Place {
            at,
            path: join(&names),
        })
    }
}

/// Pushes the components of `path` onto the stack `pending`, last first (so the first is popped first).
fn push_components(pending: &mut Vec<String>, path: &str) {
    // Pushed first to last and then turned around: a split from the end would bring in a searcher of its own.
    let start = pending.len();
    for component in path.split('/') {
        pending.push(String::from(component));
    }
    pending[start..].reverse();
}

/// The name in the canonical directory `dir` on the way to the mount point `mount`, if it lies below `dir`
/// (`boot` in `/` for `/boot`, `mnt` for `/mnt/usb`).
fn child_name<'m>(dir: &str, mount: &'m str) -> Option<&'m str> {
    let rest = match dir {
        "/" => mount.strip_prefix('/')?,
        _ => mount.strip_prefix(dir)?.strip_prefix('/')?,
    };
    rest.split('/').next().filter(|name| !name.is_empty())
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
