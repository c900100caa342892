//! ext2/ext3/ext4 images made by mke2fs -d from a source tree, read back whole through the VFS.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bootscript_disk::fs::Kind;
use bootscript_disk::{FsError, Vfs};
use common::*;

const MIB: u64 = 1 << 20;

/// Data islands in the sparse file: more than an inode's four extents (a tree of depth 1), and one at 70 MiB,
/// beyond 1 KiB blocks' double-indirect reach (triple indirect on ext2).
const ISLANDS: [u64; 9] = [
    12288,
    300_000,
    MIB,
    2 * MIB + 5,
    5 * MIB,
    9 * MIB,
    33 * MIB,
    70 * MIB,
    72 * MIB - 3000,
];

fn make(dir: &TempDir, kind: &str, options: &[&str]) -> (PathBuf, PathBuf) {
    let src = dir.path("src");
    build_tree(&src, 5 * MIB as usize, 72 * MIB, &ISLANDS, true);
    fs::write(src.join("prealloc"), vec![0u8; 32768]).unwrap();
    // mke2fs makes lost+found; the source tree has it too so the listings compare equal.
    fs::create_dir_all(src.join("lost+found")).unwrap();
    let img = dir.path("fs.img");
    fs::File::create(&img).unwrap().set_len(100 * MIB).unwrap();
    let mut args = vec!["-q", "-F", "-t", kind];
    args.extend_from_slice(options);
    args.extend_from_slice(&["-d", s(&src), s(&img)]);
    run("mke2fs", &args);
    // -D rebuilds every directory as an htree, so manydir is read through its index blocks.
    let _ = std::process::Command::new("e2fsck")
        .args(["-fyD", s(&img)])
        .output()
        .expect("e2fsck");
    let stat = run("debugfs", &["-R", "stat /manydir", s(&img)]);
    let flags = stat
        .split("Flags: 0x")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    assert!(
        u32::from_str_radix(flags, 16).unwrap() & 0x1000 != 0,
        "manydir is not an htree: {stat}"
    );
    (img, src)
}

fn mounted(img: &Path) -> Vfs {
    let mut vfs = Vfs::new();
    vfs.mount(image(img), "/").unwrap();
    vfs
}

fn check_symlinks(vfs: &Vfs) {
    let deepest = b"at the bottom\n";
    assert_eq!(vfs.read("/abs-link").unwrap(), deepest);
    assert_eq!(vfs.read("/fast-link").unwrap(), deepest);
    assert_eq!(vfs.read("/slow-link").unwrap(), deepest);
    assert_eq!(
        vfs.read("/dir-link/c/d/e/f/g/h/i/j/deepest.txt").unwrap(),
        deepest
    );
    // `..` after a symlink goes to the target's parent, as in Linux.
    assert_eq!(vfs.ls("/dir-link/..").unwrap(), vec!["b", "up"]);
    assert_eq!(
        vfs.read("/deep/a/up/a/up/a/b/c/../c/d/e/f/g/h/i/j/./deepest.txt")
            .unwrap(),
        deepest
    );
    assert!(matches!(vfs.read("/loop1"), Err(FsError::SymlinkLoop(_))));
    assert!(!vfs.exists("/dangling").unwrap());
    assert!(vfs.exists("/fast-link").unwrap());
    assert_eq!(vfs.stat("/deep").unwrap().kind, Kind::Dir);
    assert!(matches!(vfs.ls("/big.bin"), Err(FsError::NotADirectory(_))));
    assert!(matches!(vfs.read("/deep"), Err(FsError::IsADirectory(_))));
    assert!(matches!(vfs.read("/no/such"), Err(FsError::NotFound(p)) if p == "/no"));
    assert!(matches!(vfs.read("relative"), Err(FsError::InvalidPath(_))));
    assert_eq!(vfs.read("/../../big.bin").unwrap().len(), 5 << 20);
}

fn full_check(kind: &str, options: &[&str], expect_type: &str) {
    let dir = TempDir::new(kind);
    let (img, src) = make(&dir, kind, options);
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(image(&img), "/").unwrap(), expect_type);
    compare_tree(&vfs, &src, "/");
    check_symlinks(&vfs);
}

#[test]
fn ext2_with_1k_blocks() {
    full_check("ext2", &["-b", "1024"], "ext2");
}

#[test]
fn ext3_with_journal() {
    full_check("ext3", &["-b", "4096"], "ext3");
}

#[test]
fn ext4_extents_64bit_metadata_csum() {
    let dir = TempDir::new("ext4");
    let (img, src) = make(
        &dir,
        "ext4",
        &["-b", "4096", "-O", "extents,64bit,metadata_csum"],
    );
    // Uninitialized extents read as zeros even when their blocks hold old data.
    run("debugfs", &["-w", "-R", "fallocate /prealloc 0 7", s(&img)]);
    let bmap = run("debugfs", &["-R", "bmap /prealloc 0", s(&img)]);
    assert!(bmap.contains("uninit"), "{bmap}");
    let block: u64 = bmap.split_whitespace().next().unwrap().parse().unwrap();
    let file = fs::OpenOptions::new().write(true).open(&img).unwrap();
    file.write_all_at(&[0xAA; 8 * 4096], block * 4096).unwrap();
    drop(file);
    let stat = run("debugfs", &["-R", "stat /sparse", s(&img)]);
    assert!(
        stat.contains("Level Entries") || stat.contains("EXTENTS"),
        "{stat}"
    );
    let vfs = mounted(&img);
    compare_tree(&vfs, &src, "/");
    check_symlinks(&vfs);
}

#[test]
fn ext4_with_1k_blocks_and_deep_extent_tree() {
    // 1 KiB blocks hold only 84 extents per leaf: a file of 200 islands needs a tree of depth 1 with several
    // leaves.
    let dir = TempDir::new("ext4deep");
    let src = dir.path("src");
    fs::create_dir_all(src.join("lost+found")).unwrap();
    let f = fs::File::create(src.join("fragmented")).unwrap();
    f.set_len(4 * MIB).unwrap();
    for k in 0..200u64 {
        f.write_all_at(&noise(700, k), k * 20000).unwrap();
    }
    drop(f);
    let img = dir.path("fs.img");
    fs::File::create(&img).unwrap().set_len(16 * MIB).unwrap();
    run(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-b",
            "1024",
            "-d",
            s(&src),
            s(&img),
        ],
    );
    let stat = run("debugfs", &["-R", "dump_extents /fragmented", s(&img)]);
    assert!(
        stat.lines().any(|l| l.trim_start().starts_with("0/ 1")),
        "not a depth-1 tree: {stat}"
    );
    let vfs = mounted(&img);
    compare_tree(&vfs, &src, "/");
}

#[test]
fn unknown_incompatible_feature_is_refused_by_name() {
    let dir = TempDir::new("ext4enc");
    let src = dir.path("src");
    fs::create_dir_all(&src).unwrap();
    let img = dir.path("fs.img");
    fs::File::create(&img).unwrap().set_len(8 * MIB).unwrap();
    run(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-O",
            "encrypt",
            "-d",
            s(&src),
            s(&img),
        ],
    );
    let mut vfs = Vfs::new();
    let err = vfs.mount(image(&img), "/").unwrap_err().to_string();
    assert!(err.ends_with("ext4: unsupported feature encrypt"), "{err}");
    assert!(err.contains("fs.img"), "the error names the device: {err}");
}
