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
