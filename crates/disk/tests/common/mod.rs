//! Test support: temporary directories, the real image tools, the source tree every image is made from, and
//! the comparison of a mounted tree against it.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use bootscript_disk::fs::Kind;
use bootscript_disk::{BlockDevice, FsError, ImageFile, Vfs};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("bootscript-disk-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a real tool; a missing tool or a failure fails the test loudly (the tools are part of the set-up).
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (is it installed? scripts/setup.sh installs it): {e}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic bytes that no two offsets share in a pattern a reader could fake.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub const DEEP: &str = "deep/a/b/c/d/e/f/g/h/i/j";

/// The tree the images are made from. `sparse_len` is the sparse file's size and `islands` the offsets of
/// data in it; `symlinks` is false for FAT, which has none.
pub fn build_tree(root: &Path, big_len: usize, sparse_len: u64, islands: &[u64], symlinks: bool) {
    fs::create_dir_all(root.join(DEEP)).unwrap();
    fs::create_dir_all(root.join("manydir")).unwrap();
    fs::create_dir_all(root.join("boot")).unwrap();
    fs::write(root.join("big.bin"), noise(big_len, 1)).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    let sparse = fs::File::create(root.join("sparse")).unwrap();
    sparse.set_len(sparse_len).unwrap();
    for (k, &at) in islands.iter().enumerate() {
        use std::os::unix::fs::FileExt;
        sparse
            .write_all_at(&noise(3000, 100 + k as u64), at)
            .unwrap();
    }
    for i in 0..300 {
        let body = format!("entry {i}\n").repeat(i % 7 + 1);
        fs::write(root.join(format!("manydir/entry-{i:03}.txt")), body).unwrap();
    }
    fs::write(root.join(DEEP).join("deepest.txt"), b"at the bottom\n").unwrap();
    fs::write(root.join("héllo wörld ✓.txt"), "unicode name\n").unwrap();
    let long_utf8 = format!("{}x", "é".repeat(127));
    assert_eq!(long_utf8.len(), 255);
    fs::write(root.join(&long_utf8), b"long utf-8 name\n").unwrap();
    fs::write(
        root.join(format!("{}.txt", "n".repeat(251))),
        b"long ascii name\n",
    )
    .unwrap();
    fs::write(root.join("boot/grub.cfg"), b"set timeout=0\n").unwrap();
    fs::write(root.join("lower.txt"), b"lower\n").unwrap();
    fs::write(root.join("UPPER.TXT"), b"upper\n").unwrap();
    fs::write(root.join("Mixed.Txt"), b"mixed\n").unwrap();
    fs::write(root.join("odd-size.bin"), noise(12345, 7)).unwrap();
    if symlinks {
        symlink(format!("{DEEP}/deepest.txt"), root.join("fast-link")).unwrap();
        let slow =
            format!("./{DEEP}/../../../../../../../../../../a/b/c/d/e/f/g/h/i/j/deepest.txt");
        assert!(slow.len() > 60);
        symlink(slow, root.join("slow-link")).unwrap();
        symlink("deep/a/b", root.join("dir-link")).unwrap();
        symlink(format!("/{DEEP}/deepest.txt"), root.join("abs-link")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        symlink("..", root.join("deep/a/up")).unwrap();
    }
}

pub fn image(path: &Path) -> Rc<dyn BlockDevice> {
    Rc::new(ImageFile::open(s(path)).unwrap())
}

/// Reads `vfs_path` in odd-sized pieces (unaligned offsets) and whole, and compares with `expected`.
pub fn check_file(vfs: &Vfs, vfs_path: &str, expected: &[u8]) {
    let stat = vfs
        .stat(vfs_path)
        .unwrap_or_else(|e| panic!("stat {vfs_path}: {e}"));
    assert_eq!(stat.kind, Kind::File, "{vfs_path}");
    assert_eq!(stat.size, expected.len() as u64, "{vfs_path}");
    let file = vfs.open(vfs_path).unwrap();
    let mut got = vec![0u8; expected.len()];
    let mut at = 0;
    while at < got.len() {
        let end = (at + 1_000_003).min(got.len());
        let n = file
            .read_at(at as u64, &mut got[at..end])
            .unwrap_or_else(|e| panic!("{vfs_path}: {e}"));
        assert_eq!(n, end - at, "{vfs_path} short read at {at}");
        at = end;
    }
    assert!(got == expected, "{vfs_path}: content differs (piecewise)");
    if expected.len() <= 32 << 20 {
        let whole = vfs
            .read(vfs_path)
            .unwrap_or_else(|e| panic!("{vfs_path}: {e}"));
        assert!(whole == expected, "{vfs_path}: content differs (whole)");
    }
}

/// Walks `src` and checks that the mounted tree at `at` has the same names, kinds and bytes, following
/// relative symlinks the way the host does; absolute symlinks are checked by the caller.
pub fn compare_tree(vfs: &Vfs, src: &Path, at: &str) {
    let mut names: Vec<String> = fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let listed = vfs.ls(at).unwrap_or_else(|e| panic!("ls {at}: {e}"));
    assert_eq!(listed, names, "ls {at}");
    // Within a limit of exactly the memory the names take (each a `String`), and refused one byte below it.
    let needed: usize = names.iter().map(|n| size_of::<String>() + n.len()).sum();
    assert_eq!(vfs.ls_within(at, needed).unwrap(), names, "ls {at}");
    if let Some(less) = needed.checked_sub(1) {
        assert!(
            matches!(vfs.ls_within(at, less), Err(FsError::TooManyNames { limit, .. }) if limit == less),
            "ls {at} within {less}"
        );
    }
    for name in names {
        let host = src.join(&name);
        let path = if at == "/" {
            format!("/{name}")
        } else {
            format!("{at}/{name}")
        };
        let meta = fs::symlink_metadata(&host).unwrap();
        if meta.file_type().is_symlink() {
            if fs::read_link(&host).unwrap().is_absolute() {
                continue;
            }
            match fs::metadata(&host) {
                Ok(m) if m.is_dir() => {
                    assert_eq!(vfs.stat(&path).unwrap().kind, Kind::Dir, "{path}")
                }
                Ok(_) => check_file(vfs, &path, &fs::read(&host).unwrap()),
                Err(e) if e.raw_os_error() == Some(40) => {
                    assert!(
                        matches!(vfs.stat(&path), Err(FsError::SymlinkLoop(_))),
                        "{path}"
                    )
                }
                Err(_) => assert!(!vfs.exists(&path).unwrap(), "{path}"),
            }
        } else if meta.is_dir() {
            assert_eq!(vfs.stat(&path).unwrap().kind, Kind::Dir, "{path}");
            compare_tree(vfs, &host, &path);
        } else {
            check_file(vfs, &path, &fs::read(&host).unwrap());
        }
    }
}
