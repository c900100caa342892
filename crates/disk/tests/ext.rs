//! ext2/ext3/ext4 images made by mke2fs -d from a source tree, read back whole through the VFS.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bootscript_disk::fs::Kind;
use bootscript_disk::{FsError, MemDisk, Vfs};
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

/// Makes an image of `size` MiB from `src` with mke2fs's `options`.
fn make_from(dir: &TempDir, src: &Path, size: u64, options: &[&str]) -> PathBuf {
    let img = dir.path("fs.img");
    fs::File::create(&img).unwrap().set_len(size * MIB).unwrap();
    let mut args = vec!["-q", "-F", "-t", "ext4"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["-d", s(src), s(&img)]);
    run("mke2fs", &args);
    img
}

/// The value of `field` ("Flags", "Inode", ...) in debugfs's `stat` of `path`.
fn inode_field(img: &Path, path: &str, field: &str) -> u64 {
    let stat = run("debugfs", &["-R", &format!("stat {path}"), s(img)]);
    let value = stat
        .split(&format!("{field}: "))
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {field} in {stat}"));
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => value.parse().unwrap(),
    }
}

fn debugfs_write(img: &Path, request: &str) {
    run("debugfs", &["-w", "-R", request, s(img)]);
}

/// Whether e2fsck finds nothing wrong: a hand-patched image must still be one Linux accepts.
fn fsck_clean(img: &Path) {
    let out = std::process::Command::new("e2fsck")
        .args(["-fn", s(img)])
        .output()
        .expect("e2fsck");
    assert!(
        out.status.success(),
        "e2fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bigalloc_with_small_blocks() {
    // bigalloc makes s_first_data_block 0 even with 1 KiB blocks, whose superblock is block 1.
    let layouts: [&[&str]; 4] = [
        &["-b", "1024", "-C", "16384"],
        &["-b", "1024", "-C", "4096"],
        &["-b", "2048", "-C", "4096"],
        // meta_bg from group 0: its descriptor block follows the superblock in block 1.
        &["-b", "1024", "-C", "4096", "-O", "meta_bg,^resize_inode"],
    ];
    for layout in layouts {
        let dir = TempDir::new("bigalloc");
        let src = dir.path("src");
        fs::create_dir_all(src.join("lost+found")).unwrap();
        fs::create_dir_all(src.join("sub/dir")).unwrap();
        fs::write(src.join("Hello.TXT"), b"hi\n").unwrap();
        fs::write(src.join("sub/dir/clusters.bin"), noise(100_000, 9)).unwrap();
        let mut options = vec!["-O", "bigalloc"];
        options.extend_from_slice(layout);
        let img = make_from(&dir, &src, 32, &options);
        let first = run("dumpe2fs", &["-h", s(&img)]);
        assert!(
            first.contains("First block:              0"),
            "{layout:?}: {first}"
        );
        let vfs = mounted(&img);
        compare_tree(&vfs, &src, "/");
    }
}

#[test]
fn bigalloc_meta_bg_past_the_first_meta_group() {
    // 1 KiB blocks hold 16 descriptors: group 16's is in the second meta group's block, at the start of that
    // group. Few inodes per group put the last files there.
    let dir = TempDir::new("bigallocmeta");
    let src = dir.path("src");
    fs::create_dir_all(src.join("lost+found")).unwrap();
    fs::create_dir_all(src.join("many")).unwrap();
    for i in 0..560 {
        fs::write(src.join(format!("many/f{i:03}")), format!("{i}\n")).unwrap();
    }
    let options = [
        "-O",
        "bigalloc,meta_bg,^resize_inode",
        "-b",
        "1024",
        "-C",
        "2048",
        "-N",
        "600",
    ];
    let img = make_from(&dir, &src, 300, &options);
    let imap = run("debugfs", &["-R", "imap /many/f559", s(&img)]);
    let group: u64 = imap
        .split("block group ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(group >= 16, "{imap}");
    let vfs = mounted(&img);
    compare_tree(&vfs, &src, "/");
}

fn refused_as_encrypted<T: std::fmt::Debug>(result: Result<T, FsError>) {
    let err = result.unwrap_err();
    assert!(matches!(err, FsError::Unsupported { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("encrypted file (fscrypt): cannot be read"),
        "{text}"
    );
}

#[test]
fn encrypt_feature_reads_plain_files_and_refuses_encrypted_ones() {
    let dir = TempDir::new("ext4enc");
    let src = dir.path("src");
    fs::create_dir_all(src.join("lost+found")).unwrap();
    fs::create_dir_all(src.join("plain-dir")).unwrap();
    fs::create_dir_all(src.join("locked-dir")).unwrap();
    fs::write(src.join("plain-dir/readme"), b"not secret\n").unwrap();
    fs::write(src.join("locked-dir/inner"), b"inner\n").unwrap();
    fs::write(src.join("locked"), noise(5000, 4)).unwrap();
    fs::write(src.join("big.bin"), noise(70_000, 5)).unwrap();
    let img = make_from(&dir, &src, 8, &["-O", "encrypt"]);
    let vfs = mounted(&img);
    compare_tree(&vfs, &src, "/");
    // Without root no key can be set, so the encrypt flag (0x800) is set by hand on extent-mapped inodes.
    for path in ["/locked", "/locked-dir"] {
        let flags = inode_field(&img, path, "Flags");
        assert_eq!(flags, 0x80000, "{path}");
        debugfs_write(&img, &format!("sif {path} flags 0x80800"));
        assert_eq!(inode_field(&img, path, "Flags"), 0x80800, "{path}");
    }
    let vfs = mounted(&img);
    refused_as_encrypted(vfs.read("/locked"));
    refused_as_encrypted(vfs.read("/locked-dir/inner"));
    refused_as_encrypted(vfs.ls("/locked-dir"));
    assert_eq!(vfs.stat("/locked").unwrap().size, 5000);
    assert_eq!(vfs.stat("/locked-dir").unwrap().kind, Kind::Dir);
    assert_eq!(vfs.read("/plain-dir/readme").unwrap(), b"not secret\n");
    assert_eq!(vfs.read("/big.bin").unwrap(), noise(70_000, 5));
}

/// A tree whose files and directories fall on each side of what an inode holds.
fn inline_tree(src: &Path) {
    fs::create_dir_all(src.join("lost+found")).unwrap();
    fs::create_dir_all(src.join("small")).unwrap();
    fs::create_dir_all(src.join("many")).unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::write(src.join("ten"), b"0123456789").unwrap();
    fs::write(src.join("hundred"), noise(100, 1)).unwrap();
    fs::write(src.join("big"), noise(5000, 2)).unwrap();
    fs::write(src.join("small/a"), b"a\n").unwrap();
    for i in 0..40 {
        fs::write(src.join(format!("many/file-{i:02}")), format!("{i}\n")).unwrap();
    }
    std::os::unix::fs::symlink("ten", src.join("link")).unwrap();
    let long = format!("{}hundred", "./".repeat(40));
    std::os::unix::fs::symlink(long, src.join("long-link")).unwrap();
}

#[test]
fn inline_data_files_directories_and_symlinks() {
    let dir = TempDir::new("inline");
    let src = dir.path("src");
    inline_tree(&src);
    let img = make_from(&dir, &src, 16, &["-b", "4096", "-O", "inline_data"]);
    // mke2fs put each where the test means it to be.
    for (path, inline) in [
        ("/empty", true),
        ("/ten", true),
        ("/hundred", true),
        ("/small", true),
        ("/long-link", true),
        ("/big", false),
        ("/many", false),
    ] {
        let flags = inode_field(&img, path, "Flags");
        assert_eq!(flags & 0x1000_0000 != 0, inline, "{path}: flags {flags:x}");
    }
    let stat = run("debugfs", &["-R", "stat /hundred", s(&img)]);
    assert!(stat.contains("system.data (40)"), "{stat}");
    let vfs = mounted(&img);
    compare_tree(&vfs, &src, "/");
    assert_eq!(vfs.ls("/small").unwrap(), vec!["a"]);
    assert_eq!(vfs.stat("/small").unwrap().kind, Kind::Dir);
    assert_eq!(vfs.stat("/hundred").unwrap().size, 100);
    assert_eq!(vfs.read("/small/../ten").unwrap(), b"0123456789");
    assert_eq!(vfs.read("/long-link").unwrap(), noise(100, 1));
    let file = vfs.open("/hundred").unwrap();
    let mut tail = [0u8; 50];
    assert_eq!(file.read_at(55, &mut tail).unwrap(), 45);
    assert_eq!(tail[..45], noise(100, 1)[55..]);
    assert_eq!(file.read_at(100, &mut tail).unwrap(), 0);
}

#[test]
fn inline_directory_continues_in_system_data() {
    // mke2fs moves a full inline directory to a block; debugfs can store entries in system.data, as Linux
    // does when it grows an inline directory.
    let dir = TempDir::new("inlinedir");
    let src = dir.path("src");
    inline_tree(&src);
    let img = make_from(&dir, &src, 16, &["-b", "4096", "-O", "inline_data"]);
    let ten = inode_field(&img, "/ten", "Inode") as u32;
    let name = b"spilled-over";
    let mut value = ten.to_le_bytes().to_vec();
    value.extend_from_slice(&20u16.to_le_bytes());
    value.extend_from_slice(&[name.len() as u8, 1]);
    value.extend_from_slice(name);
    let value_file = dir.path("value");
    fs::write(&value_file, &value).unwrap();
    debugfs_write(
        &img,
        &format!("ea_set -f {} /small system.data", s(&value_file)),
    );
    debugfs_write(&img, "sif /small size 80");
    debugfs_write(&img, "sif /ten links_count 2");
    fsck_clean(&img);
    let vfs = mounted(&img);
    assert_eq!(vfs.ls("/small").unwrap(), vec!["a", "spilled-over"]);
    assert_eq!(vfs.read("/small/spilled-over").unwrap(), b"0123456789");
    assert_eq!(vfs.read("/small/a").unwrap(), b"a\n");
}

#[test]
fn corrupt_inline_data_is_an_error() {
    let dir = TempDir::new("inlinebad");
    let src = dir.path("src");
    inline_tree(&src);
    let img = make_from(&dir, &src, 16, &["-b", "4096", "-O", "inline_data"]);
    let imap = run("debugfs", &["-R", "imap /hundred", s(&img)]);
    let block: u64 = imap
        .split("at block ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let offset = u64::from_str_radix(imap.split("offset 0x").nth(1).unwrap().trim(), 16).unwrap();
    let inode = (block * 4096 + offset) as usize;
    let good = fs::read(&img).unwrap();
    // i_extra_isize 32: the attribute area at 160 holds the magic, then the one entry "data".
    let entry = inode + 128 + 32 + 4;
    assert_eq!(good[entry..entry + 2], [4, 7]);
    assert_eq!(&good[entry + 16..entry + 20], b"data");
    let patches: [(usize, &[u8], &str); 6] = [
        (entry + 8, &[0xFF, 0xFF, 0, 0], "system.data past the end"),
        (
            entry + 8,
            &[0xFF, 0xFF, 0xFF, 0xFF],
            "system.data past the end",
        ),
        (entry + 2, &[0xF0, 0xFF], "system.data past the end"),
        (entry, &[0xFF], "entry past the end"),
        (entry + 4, &[1, 0, 0, 0], "stored in another inode"),
        // No attribute area: 100 bytes cannot fit in i_block.
        (
            inode + 160,
            &[0, 0, 0, 0],
            "100 bytes long but its inline data holds 60",
        ),
    ];
    for (at, bytes, expect) in patches {
        let mut image = good.clone();
        image[at..at + bytes.len()].copy_from_slice(bytes);
        let mut vfs = Vfs::new();
        vfs.mount(Rc::new(MemDisk::new("hd0", image)), "/").unwrap();
        let err = vfs.read("/hundred").unwrap_err().to_string();
        assert!(
            err.starts_with("hd0: ext4: inode ") && err.contains(expect),
            "{err}"
        );
    }
    // i_size beyond what the inode holds.
    let mut image = good.clone();
    image[inode + 4..inode + 8].copy_from_slice(&1000u32.to_le_bytes());
    let mut vfs = Vfs::new();
    vfs.mount(Rc::new(MemDisk::new("hd0", image)), "/").unwrap();
    let err = vfs.read("/hundred").unwrap_err().to_string();
    assert!(
        err.contains("1000 bytes long but its inline data holds 100"),
        "{err}"
    );
}

#[test]
fn unknown_incompatible_feature_is_refused_by_name() {
    let dir = TempDir::new("ext4dirdata");
    let src = dir.path("src");
    fs::create_dir_all(&src).unwrap();
    let img = make_from(&dir, &src, 8, &[]);
    // dirdata (0x1000), which mke2fs does not make: set in s_feature_incompat by hand.
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let mut incompat = [0u8; 4];
    file.read_exact_at(&mut incompat, 1024 + 0x60).unwrap();
    let patched = u32::from_le_bytes(incompat) | 0x1000;
    file.write_all_at(&patched.to_le_bytes(), 1024 + 0x60)
        .unwrap();
    drop(file);
    let mut vfs = Vfs::new();
    let err = vfs.mount(image(&img), "/").unwrap_err().to_string();
    assert!(err.ends_with("ext4: unsupported feature dirdata"), "{err}");
    assert!(err.contains("fs.img"), "the error names the device: {err}");
}

/// The extents of `path` as debugfs's dump_extents shows its leaves: (logical start, physical start, length).
fn leaf_extents(img: &Path, path: &str) -> Vec<(u64, u64, u64)> {
    let dump = run("debugfs", &["-R", &format!("dump_extents {path}"), s(img)]);
    dump.lines()
        .skip(1)
        .map(|line| {
            // " 0/ 0   2/  3  7872 - 40638  8451 - 41217  32767 [Uninit]"
            let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "-").collect();
            let number = |i: usize| -> u64 { fields[i].parse().unwrap() };
            (number(4), number(6), number(8))
        })
        .collect()
}

#[test]
fn initialized_extent_of_32768_blocks() {
    // An extent length of exactly 32768 is the longest initialized one; only lengths above it mark an
    // uninitialized extent. mke2fs writes at most 32767, so one extent is lengthened by hand.
    let dir = TempDir::new("ext4maxextent");
    let src = dir.path("src");
    fs::create_dir_all(src.join("lost+found")).unwrap();
    let data = noise(41 * MIB as usize, 11);
    fs::write(src.join("long-run"), &data).unwrap();
    // 1 KiB blocks make 32768 blocks 32 MiB; without a journal or most superblock backups the run is unbroken.
    let options = ["-b", "1024", "-N", "64", "-O", "sparse_super2,^has_journal"];
    let img = make_from(&dir, &src, 96, &options);
    let extents = leaf_extents(&img, "/long-run");
    assert!(
        extents.len() <= 4,
        "the extents must fit in the inode: {extents:?}"
    );
    // A 32767-block extent followed by one that continues it on disk: give the first the second's first block.
    let k = extents
        .windows(2)
        .position(|w| w[0].2 == 32767 && w[1].0 == w[0].0 + 32767 && w[1].1 == w[0].1 + 32767)
        .unwrap_or_else(|| panic!("no 32767-block extent continued on disk: {extents:?}"));
    let (logical, physical, len) = extents[k + 1];
    assert!(len >= 2, "{extents:?}");
    // i_block words: a 3-word header, then 3 words per extent (logical start, length, physical start).
    let word = |extent: usize, field: usize| 3 + 3 * extent + field;
    debugfs_write(&img, &format!("sif /long-run block[{}] 32768", word(k, 1)));
    debugfs_write(
        &img,
        &format!("sif /long-run block[{}] {}", word(k + 1, 0), logical + 1),
    );
    debugfs_write(
        &img,
        &format!("sif /long-run block[{}] {}", word(k + 1, 1), len - 1),
    );
    debugfs_write(
        &img,
        &format!("sif /long-run block[{}] {}", word(k + 1, 2), physical + 1),
    );
    assert_eq!(leaf_extents(&img, "/long-run")[k].2, 32768);
    let dump = run("debugfs", &["-R", "dump_extents /long-run", s(&img)]);
    assert!(!dump.contains("Uninit"), "{dump}");
    fsck_clean(&img);
    let vfs = mounted(&img);
    check_file(&vfs, "/long-run", &data);
}

/// A file of 4 GiB or more keeps the high half of its size in i_size_high: a sparse file of 5 GiB and a few
/// bytes, whose only data is at its end, has that size and reads back there (and as zeros in its holes).
#[test]
fn ext4_file_of_more_than_4_gib() {
    let dir = TempDir::new("ext-huge");
    let src = dir.path("src");
    fs::create_dir_all(&src).unwrap();
    let size = (5u64 << 30) + 4096 + 100;
    let tail = noise(4096 + 100, 23);
    let file = fs::File::create(src.join("huge.bin")).unwrap();
    file.set_len(size).unwrap();
    file.write_all_at(&tail, 5 << 30).unwrap();
    drop(file);
    let img = make_from(&dir, &src, 16, &[]);
    let mut vfs = Vfs::new();
    vfs.mount(image(&img), "/").unwrap();
    let huge = vfs.open("/huge.bin").unwrap();
    assert_eq!(huge.size(), size);
    let mut buf = vec![0xffu8; tail.len()];
    assert_eq!(huge.read_at(5 << 30, &mut buf).unwrap(), tail.len());
    assert!(buf == tail, "the data past 4 GiB differs");
    let mut hole = vec![0xffu8; 4096];
    assert_eq!(huge.read_at(4 << 30, &mut hole).unwrap(), 4096);
    assert!(hole.iter().all(|&b| b == 0), "a hole reads as zeros");
}

/// A fast symlink (its target kept in the inode) that also has an extended attribute block, as a 128-byte inode
/// has no room for attributes inside, is still a fast symlink: its block count is the attribute block's.
#[test]
fn fast_symlink_with_an_attribute_block() {
    let dir = TempDir::new("ext-symlink-xattr");
    let src = dir.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("target.txt"), b"through the link\n").unwrap();
    std::os::unix::fs::symlink("target.txt", src.join("link")).unwrap();
    let img = make_from(&dir, &src, 8, &["-I", "128"]);
    debugfs_write(&img, "ea_set /link user.note hello");
    assert_ne!(inode_field(&img, "/link", "File ACL"), 0);
    assert_ne!(inode_field(&img, "/link", "Blockcount"), 0);
    let mut vfs = Vfs::new();
    vfs.mount(image(&img), "/").unwrap();
    assert_eq!(vfs.read("/link").unwrap(), b"through the link\n");
}
