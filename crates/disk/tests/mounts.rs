//! The mount table under many random layouts. A file system may be mounted at any absolute path, which need
//! not exist below it (the contract); whatever the layout, each mount point is a directory showing its file
//! system, each directory on the way to one lists the next name, and no path makes the resolver panic.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::rc::Rc;

use bootscript_disk::fs::Kind;
use bootscript_disk::{BlockDevice, FsError, Vfs};
use common::*;

/// Where the layouts mount: directories of the ext2 image (`/a`, `/a/b`), paths no image has, and `/`.
const MOUNT_POINTS: [&str; 9] = [
    "/", "/a", "/a/b", "/a/b/c", "/m", "/m/n", "/m/n/o", "/a/x", "/x",
];
/// What the random paths are made of: names of both images, a symlink, names of nothing, `.` and `..`.
const COMPONENTS: [&str; 11] = [
    "a", "b", "c", "x", "m", "n", "link", "top.txt", "nope", ".", "..",
];

/// xorshift64: the same layouts on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The names at the root of `device` alone.
fn root_names(device: &Rc<dyn BlockDevice>) -> BTreeSet<String> {
    let mut vfs = Vfs::new();
    vfs.mount(device.clone(), "/").unwrap();
    vfs.ls("/").unwrap().into_iter().collect()
}

#[test]
fn random_mount_layouts_keep_every_mount_point_and_the_way_to_it() {
    let dir = TempDir::new("mounts");
    // ext2: /top.txt, /a/b/file.txt and /a/link -> b. FAT: /x/y.txt and /top.txt.
    let tree = dir.path("ext-tree");
    fs::create_dir_all(tree.join("a/b")).unwrap();
    fs::write(tree.join("top.txt"), b"ext top\n").unwrap();
    fs::write(tree.join("a/b/file.txt"), b"in b\n").unwrap();
    symlink("b", tree.join("a/link")).unwrap();
    let ext_img = dir.path("ext.img");
    run(
        "mke2fs",
        &["-q", "-F", "-t", "ext2", "-d", s(&tree), s(&ext_img), "2M"],
    );
    let fat_tree = dir.path("fat-tree");
    fs::create_dir_all(fat_tree.join("x")).unwrap();
    fs::write(fat_tree.join("x/y.txt"), b"fat y\n").unwrap();
    fs::write(fat_tree.join("top.txt"), b"fat top\n").unwrap();
    let fat_img = dir.path("fat.img");
    run("mkfs.fat", &["-C", s(&fat_img), "1024"]);
    run(
        "mcopy",
        &[
            "-s",
            "-i",
            s(&fat_img),
            s(&fat_tree.join("x")),
            s(&fat_tree.join("top.txt")),
            "::/",
        ],
    );
    let images = [image(&ext_img), image(&fat_img)];
    let tops: [&[u8]; 2] = [b"ext top\n", b"fat top\n"];
    let roots = [root_names(&images[0]), root_names(&images[1])];

    let mut random = Random(0x2545_f491_4f6c_dd1d);
    for layout in 0..400 {
        let mut vfs = Vfs::new();
        // Mount point -> which image, the latest first.
        let mut mounts: Vec<(&str, usize)> = Vec::new();
        for _ in 0..1 + random.below(4) {
            let at = MOUNT_POINTS[random.below(MOUNT_POINTS.len())];
            let which = random.below(2);
            let result = vfs.mount(images[which].clone(), at);
            if mounts.iter().any(|(p, _)| *p == at) {
                assert!(
                    matches!(result, Err(FsError::AlreadyMounted(_))),
                    "layout {layout}: {at} twice: {result:?}"
                );
            } else {
                // None of the mount points is a file in either image, so each mounts.
                result.unwrap_or_else(|e| panic!("layout {layout}: mount at {at}: {e}"));
                mounts.push((at, which));
            }
        }
        for &(at, which) in &mounts {
            // The mount point shows its file system: the root's names, and the mount points right below.
            assert_eq!(
                vfs.stat(at).unwrap().kind,
                Kind::Dir,
                "layout {layout}: {mounts:?}"
            );
            let names: BTreeSet<String> = vfs.ls(at).unwrap().into_iter().collect();
            let below: BTreeSet<String> = mounts
                .iter()
                .filter_map(|(p, _)| {
                    let rest = if at == "/" {
                        p.strip_prefix('/')
                    } else {
                        p.strip_prefix(at)?.strip_prefix('/')
                    };
                    rest.and_then(|r| r.split('/').next())
                        .filter(|n| !n.is_empty())
                        .map(String::from)
                })
                .collect();
            let expected: BTreeSet<String> = roots[which].union(&below).cloned().collect();
            assert_eq!(names, expected, "layout {layout}: ls {at} with {mounts:?}");
            let top = if at == "/" {
                String::from("/top.txt")
            } else {
                format!("{at}/top.txt")
            };
            assert_eq!(
                vfs.read(&top).unwrap(),
                tops[which],
                "layout {layout}: {top} with {mounts:?}"
            );
            // Each directory on the way to it lists the next name.
            let mut way = String::new();
            for name in at.split('/').filter(|n| !n.is_empty()) {
                let here = if way.is_empty() {
                    String::from("/")
                } else {
                    way.clone()
                };
                assert_eq!(
                    vfs.stat(&here).unwrap().kind,
                    Kind::Dir,
                    "layout {layout}: {here}"
                );
                assert!(
                    vfs.ls(&here).unwrap().iter().any(|n| n == name),
                    "layout {layout}: ls {here} lacks {name} with {mounts:?}"
                );
                way.push('/');
                way.push_str(name);
            }
        }
        // Paths of any shape: an answer or an error, and `exists` agrees with `stat`.
        for _ in 0..30 {
            let mut path = String::new();
            for _ in 0..1 + random.below(5) {
                path.push('/');
                path.push_str(COMPONENTS[random.below(COMPONENTS.len())]);
            }
            let stat = vfs.stat(&path);
            let exists = vfs.exists(&path).unwrap();
            assert_eq!(
                exists,
                stat.is_ok(),
                "layout {layout}: {path} with {mounts:?}: {stat:?}"
            );
            match stat {
                Ok(found) if found.kind == Kind::Dir => {
                    vfs.ls(&path).unwrap();
                    assert!(matches!(vfs.read(&path), Err(FsError::IsADirectory(_))));
                }
                Ok(found) => assert_eq!(vfs.read(&path).unwrap().len() as u64, found.size),
                Err(e) => assert!(
                    matches!(e, FsError::NotFound(_) | FsError::NotADirectory(_)),
                    "layout {layout}: {path}: {e}"
                ),
            }
        }
    }
}

/// A mount is busy only while something is mounted below it: `/bootx` is not below `/boot`, `/boot/efi` is.
#[test]
fn umount_is_refused_only_with_a_mount_below() {
    let dir = TempDir::new("umount");
    let img = dir.path("fat.img");
    run("mkfs.fat", &["-C", s(&img), "1024"]);
    let mut vfs = Vfs::new();
    vfs.mount(image(&img), "/boot").unwrap();
    vfs.mount(image(&img), "/bootx").unwrap();
    vfs.umount("/boot").unwrap();
    vfs.mount(image(&img), "/boot").unwrap();
    vfs.mount(image(&img), "/boot/efi").unwrap();
    assert!(matches!(vfs.umount("/boot"), Err(FsError::Busy(_))));
    vfs.umount("/boot//efi/.").unwrap();
    vfs.umount("/bootx/../boot").unwrap();
    assert_eq!(vfs.mounts().len(), 1);
}

/// An ext2 image of the tree `make` fills at `tree` (a directory under `dir`), `size` as mke2fs takes it.
fn ext2_of(
    dir: &TempDir,
    name: &str,
    size: &str,
    make: impl FnOnce(&std::path::Path),
) -> Rc<dyn BlockDevice> {
    let tree = dir.path(&format!("{name}-tree"));
    fs::create_dir_all(&tree).unwrap();
    make(&tree);
    let img = dir.path(&format!("{name}.img"));
    run(
        "mke2fs",
        &["-q", "-F", "-t", "ext2", "-d", s(&tree), s(&img), size],
    );
    image(&img)
}

/// A chain of symlinks is followed as far as Linux follows one (40 links, MAXSYMLINKS): a path through 40 links
/// reads the file, one through 41 is a loop, as the host itself says of the same tree.
#[test]
fn a_chain_of_forty_symlinks_is_followed_and_forty_one_is_a_loop() {
    let dir = TempDir::new("chain");
    let mut host_tree = None;
    let disk = ext2_of(&dir, "chain", "2M", |tree| {
        fs::write(tree.join("target.txt"), b"end of the chain\n").unwrap();
        // link-1 -> target.txt, link-k -> link-(k-1): reading link-k follows k links.
        symlink("target.txt", tree.join("link-1")).unwrap();
        for k in 2..=41 {
            symlink(format!("link-{}", k - 1), tree.join(format!("link-{k}"))).unwrap();
        }
        host_tree = Some(tree.to_path_buf());
    });
    let tree = host_tree.unwrap();
    assert_eq!(
        fs::read(tree.join("link-40")).unwrap(),
        b"end of the chain\n"
    );
    assert_eq!(
        fs::read(tree.join("link-41")).unwrap_err().raw_os_error(),
        Some(40),
        "the host's ELOOP"
    );
    let mut vfs = Vfs::new();
    vfs.mount(disk, "/").unwrap();
    assert_eq!(vfs.read("/link-40").unwrap(), b"end of the chain\n");
    assert!(
        matches!(vfs.read("/link-41"), Err(FsError::SymlinkLoop(p)) if p == "/link-41"),
        "{:?}",
        vfs.read("/link-41")
    );
    assert!(!vfs.exists("/link-41").unwrap());
}

/// An absolute symlink in a subdirectory starts again from the VFS root, whatever directory it is in and
/// whatever is mounted where: `/a/abs -> /top.txt` is the root's `top.txt`, not the one in `/a`, and so is the
/// same link seen below a second mount point.
#[test]
fn an_absolute_symlink_in_a_subdirectory_starts_from_the_root() {
    let dir = TempDir::new("abs");
    let disk = ext2_of(&dir, "abs", "2M", |tree| {
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("top.txt"), b"root top\n").unwrap();
        fs::write(tree.join("a/top.txt"), b"a's own top\n").unwrap();
        fs::write(tree.join("a/b/top.txt"), b"b's own top\n").unwrap();
        symlink("/top.txt", tree.join("a/abs")).unwrap();
        symlink("/a", tree.join("a/b/abs-dir")).unwrap();
    });
    let mut vfs = Vfs::new();
    vfs.mount(disk.clone(), "/").unwrap();
    vfs.mount(disk, "/mnt/copy").unwrap();
    for path in ["/a/abs", "/mnt/copy/a/abs", "/a/b/abs-dir/abs"] {
        assert_eq!(vfs.read(path).unwrap(), b"root top\n", "{path}");
    }
    assert_eq!(vfs.read("/a/b/abs-dir/top.txt").unwrap(), b"a's own top\n");
    assert_eq!(
        vfs.read("/mnt/copy/a/b/abs-dir/b/top.txt").unwrap(),
        b"b's own top\n"
    );
}

/// The directories that only hold the way to a mount point are the whole names on that way: with `/boot`
/// mounted and nothing at `/`, `/bo` and `/boo` are not there (a prefix of a name is no directory).
#[test]
fn a_prefix_of_a_mount_point_is_no_directory() {
    let dir = TempDir::new("prefix");
    let img = dir.path("fat.img");
    run("mkfs.fat", &["-C", s(&img), "1024"]);
    let mut vfs = Vfs::new();
    vfs.mount(image(&img), "/boot").unwrap();
    vfs.mount(image(&img), "/mnt/usb").unwrap();
    assert_eq!(vfs.ls("/").unwrap(), vec!["boot", "mnt"]);
    for path in ["/bo", "/boo", "/mn", "/mnt/us", "/mnt/u"] {
        assert!(!vfs.exists(path).unwrap(), "{path}");
        assert!(
            matches!(vfs.stat(path), Err(FsError::NotFound(p)) if p == path),
            "{path}"
        );
    }
    assert_eq!(vfs.stat("/mnt").unwrap().kind, Kind::Dir);
}

/// A sparse file larger than its device is not read into memory whole (`read` refuses it, naming its size),
/// while it can still be opened and read in pieces: a hostile or corrupt file system cannot make `read` ask for
/// more memory than its device holds.
#[test]
fn a_file_larger_than_its_device_is_not_read_whole() {
    let dir = TempDir::new("sparse");
    const LEN: u64 = 64 << 20;
    let disk = ext2_of(&dir, "sparse", "4M", |tree| {
        let f = fs::File::create(tree.join("holes.bin")).unwrap();
        f.set_len(LEN).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"island", LEN - 6).unwrap();
    });
    assert_eq!(disk.size(), 4 << 20);
    let mut vfs = Vfs::new();
    vfs.mount(disk, "/").unwrap();
    assert_eq!(vfs.stat("/holes.bin").unwrap().size, LEN);
    assert!(
        matches!(
            vfs.read("/holes.bin"),
            Err(FsError::TooLarge { ref path, size }) if path == "/holes.bin" && size == LEN
        ),
        "{:?}",
        vfs.read("/holes.bin").map(|d| d.len())
    );
    let file = vfs.open("/holes.bin").unwrap();
    let mut tail = [0u8; 10];
    assert_eq!(file.read_at(LEN - 10, &mut tail).unwrap(), 10);
    assert_eq!(&tail, b"\0\0\0\0island");
}

/// A sparse file exactly as large as its device is still read whole (only a larger one is refused).
#[test]
fn a_file_as_large_as_its_device_is_read_whole() {
    let dir = TempDir::new("sparse-exact");
    const LEN: u64 = 4 << 20;
    let disk = ext2_of(&dir, "exact", "4M", |tree| {
        let f = fs::File::create(tree.join("holes.bin")).unwrap();
        f.set_len(LEN).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"end", LEN - 3).unwrap();
    });
    assert_eq!(disk.size(), LEN);
    let mut vfs = Vfs::new();
    vfs.mount(disk, "/").unwrap();
    let data = vfs.read("/holes.bin").unwrap();
    assert_eq!(data.len() as u64, LEN);
    assert_eq!(&data[data.len() - 4..], b"\0end");
}

/// `ls_within` with a limit the names take exactly (each a `String` and its bytes), names that only mount
/// points make included: all listed; one byte less is refused, never a shorter list.
#[test]
fn ls_within_an_exact_limit_lists_every_mount_point() {
    let dir = TempDir::new("ls-limit");
    let disk = ext2_of(&dir, "small", "1M", |tree| {
        fs::write(tree.join("f"), b"x").unwrap();
    });
    let mut vfs = Vfs::new();
    vfs.mount(disk.clone(), "/boot").unwrap();
    vfs.mount(disk, "/mnt/usb").unwrap();
    let exact = 2 * std::mem::size_of::<String>() + "boot".len() + "mnt".len();
    assert_eq!(vfs.ls_within("/", exact).unwrap(), ["boot", "mnt"]);
    assert!(matches!(
        vfs.ls_within("/", exact - 1),
        Err(FsError::TooManyNames { .. })
    ));
}
