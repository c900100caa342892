//! FAT12/16/32 images made by mkfs.fat and filled by mcopy (long names, NT case bits), read back whole.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use bootscript_disk::Vfs;
use common::*;

const MIB: u64 = 1 << 20;

fn make(dir: &TempDir, fat_args: &[&str], kib: &str) -> (PathBuf, PathBuf) {
    let src = dir.path("src");
    build_tree(&src, 5 * MIB as usize, 2 * MIB, &[1000, MIB + 5], false);
    let img = dir.path("fat.img");
    let mut args = fat_args.to_vec();
    args.extend_from_slice(&["-C", s(&img), kib]);
    run("mkfs.fat", &args);
    copy_in(&img, &src);
    (img, src)
}

fn copy_in(img: &Path, src: &Path) {
    let mut args = vec![String::from("-s"), String::from("-i"), String::from(s(img))];
    for entry in fs::read_dir(src).unwrap() {
        args.push(String::from(s(&entry.unwrap().path())));
    }
    args.push(String::from("::/"));
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    run("mcopy", &refs);
}

fn check(fat_args: &[&str], kib: &str, expect_type: &str) {
    let dir = TempDir::new(expect_type);
    let (img, src) = make(&dir, fat_args, kib);
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(image(&img), "/").unwrap(), expect_type);
    compare_tree(&vfs, &src, "/");
    // FAT names are case-insensitive.
    assert_eq!(vfs.read("/BOOT/Grub.CFG").unwrap(), b"set timeout=0\n");
    assert_eq!(
        vfs.read("/deep/A/b/../B/c/d/e/f/g/h/i/j/DEEPEST.TXT")
            .unwrap(),
        b"at the bottom\n"
    );
    // mtools stores "lower.txt" as the 8.3 name LOWER TXT with both NT lower-case bits, no long name.
    let root = fs::read(&img).unwrap();
    let at = root
        .windows(11)
        .position(|w| w == b"LOWER   TXT")
        .expect("the 8.3 entry of lower.txt");
    assert_eq!(root[at + 12], 0x18, "NT case bits");
    assert_ne!(
        root[at - 32 + 11],
        0x0F,
        "lower.txt should have no long-name entry"
    );
}

#[test]
fn fat12() {
    check(&["-F", "12", "-s", "16"], "30000", "fat12");
}

#[test]
fn fat16() {
    check(&["-F", "16"], "65536", "fat16");
}

#[test]
fn fat32() {
    check(&["-F", "32", "-s", "1"], "40960", "fat32");
}

/// The 32-byte directory entry whose 8.3 name is `raw`, checked to have NT case bits `case` and no long name.
fn short_entry(image: &[u8], raw: &[u8; 11], case: u8) -> usize {
    let at = image
        .windows(11)
        .position(|w| w == raw)
        .unwrap_or_else(|| panic!("no 8.3 entry {raw:x?}"));
    assert_eq!(image[at + 12], case, "NT case bits of {raw:x?}");
    assert_ne!(
        image[at - 32 + 11],
        0x0F,
        "{raw:x?} should have no long name"
    );
    at
}

/// 8.3 names with bytes above ASCII read as Linux's vfat shows them: code page 437 (its default `codepage=`),
/// lowered under the NT case bits with the page's own letter pairs, 0x05 as a first byte standing for 0xE5.
#[test]
fn short_names_in_code_page_437() {
    let dir = TempDir::new("fat-cp437");
    let img = dir.path("fat.img");
    run("mkfs.fat", &["-F", "16", "-C", s(&img), "32768"]);
    run("mmd", &["-i", s(&img), "::f"]);
    let files = [
        // mtools' default code page 850 shares É (0x90) and Ä (0x8E) with 437; the Greek needs 437.
        ("héllo.txt", "850", "hello\n"),
        ("ÄBC.TXT", "850", "abc\n"),
        ("σabc.txt", "437", "sigma\n"),
        ("φ.txt", "437", "phi\n"),
        ("ωx.txt", "437", "omega\n"),
        ("QXYZ.TXT", "850", "lead byte\n"),
    ];
    for (k, (name, codepage, body)) in files.iter().enumerate() {
        let src = dir.path(&format!("src{k}"));
        fs::write(&src, body).unwrap();
        let to = format!("::f/{name}");
        let codepage = format!("DEFAULT_CODEPAGE={codepage}");
        run("env", &[&codepage, "mcopy", "-i", s(&img), s(&src), &to]);
    }
    let mut image = fs::read(&img).unwrap();
    short_entry(&image, b"H\x90LLO   TXT", 0x18);
    short_entry(&image, b"\x8EBC     TXT", 0x00);
    short_entry(&image, b"\xE4ABC    TXT", 0x18);
    short_entry(&image, b"\xE8       TXT", 0x18);
    // mtools upper-cases ω to Ω, which has no lower-case partner in code page 437: Linux shows it upper-case.
    short_entry(&image, b"\xEAX      TXT", 0x18);
    // mtools never writes 0x05 (it stores σ as Σ), so make "σXYZ.TXT" by hand from "QXYZ.TXT".
    let lead = short_entry(&image, b"QXYZ    TXT", 0x00);
    image[lead] = 0x05;
    fs::write(&img, &image).unwrap();

    let mut vfs = Vfs::new();
    vfs.mount(self::image(&img), "/").unwrap();
    let mut shown = vec![
        "héllo.txt",
        "ÄBC.TXT",
        "σabc.txt",
        "φ.txt",
        "Ωx.txt",
        "σXYZ.TXT",
    ];
    shown.sort();
    assert_eq!(vfs.ls("/f").unwrap(), shown);
    for (name, body) in [
        ("héllo.txt", "hello\n"),
        ("ÄBC.TXT", "abc\n"),
        ("σabc.txt", "sigma\n"),
        ("φ.txt", "phi\n"),
        ("Ωx.txt", "omega\n"),
        ("σXYZ.TXT", "lead byte\n"),
    ] {
        assert_eq!(
            vfs.read(&format!("/f/{name}")).unwrap(),
            body.as_bytes(),
            "{name}"
        );
    }
    // Lookups fold ASCII and the code page's letter pairs, nothing else.
    assert_eq!(vfs.read("/f/HÉLLO.TXT").unwrap(), b"hello\n");
    assert_eq!(vfs.read("/f/äbc.txt").unwrap(), b"abc\n");
    assert_eq!(vfs.read("/f/ΣABC.TXT").unwrap(), b"sigma\n");
    assert_eq!(vfs.read("/f/Φ.TXT").unwrap(), b"phi\n");
    assert_eq!(vfs.read("/f/σxyz.txt").unwrap(), b"lead byte\n");
    assert!(!vfs.exists("/f/ωx.txt").unwrap());
    assert!(!vfs.exists("/f/hello.txt").unwrap());
}

/// A FAT image from `mkfs.fat -F bits` of `kib` KiB with one file, its total-sectors field then set so that the
/// data area holds exactly `clusters` one-sector clusters; the file's bytes are returned with it.
fn with_clusters(dir: &TempDir, bits: &str, kib: &str, clusters: u64) -> (PathBuf, Vec<u8>) {
    let img = dir.path(&format!("fat{bits}-{clusters}.img"));
    run(
        "mkfs.fat",
        &["-F", bits, "-s", "1", "-S", "512", "-C", s(&img), kib],
    );
    let data = noise(100_000, 12);
    let file = dir.path("file.bin");
    fs::write(&file, &data).unwrap();
    run("mcopy", &["-i", s(&img), s(&file), "::/file.bin"]);
    let mut bytes = fs::read(&img).unwrap();
    let le16 = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as u64;
    let (reserved, fats, root_entries, fat_sectors) =
        (le16(14), bytes[16] as u64, le16(17), le16(22));
    let meta = reserved + fats * fat_sectors + (root_entries * 32).div_ceil(512);
    let total = meta + clusters;
    assert!(
        (clusters + 2) * bits.parse::<u64>().unwrap() / 8 <= fat_sectors * 512,
        "the FAT of {fat_sectors} sectors is too small for {clusters} clusters"
    );
    bytes[19..21].copy_from_slice(&(total as u16).to_le_bytes());
    bytes.resize(bytes.len().max(total as usize * 512), 0);
    fs::write(&img, &bytes).unwrap();
    (img, data)
}

/// Fewer than 4085 clusters is FAT12 and 4085 is FAT16, as Microsoft's specification and Linux decide: the type
/// comes from the cluster count alone, and a reader on the wrong side of the line misreads every FAT entry.
#[test]
fn fat12_and_fat16_at_4085_clusters() {
    let dir = TempDir::new("fat4085");
    for (bits, kib, clusters, expect) in
        [("12", "2070", 4084, "fat12"), ("16", "2100", 4085, "fat16")]
    {
        let (img, data) = with_clusters(&dir, bits, kib, clusters);
        let mut vfs = Vfs::new();
        assert_eq!(
            vfs.mount(image(&img), "/").unwrap(),
            expect,
            "{clusters} clusters"
        );
        assert_eq!(vfs.ls("/").unwrap(), vec!["file.bin"]);
        check_file(&vfs, "/file.bin", &data);
    }
}

/// The clusters of `path`'s chain in order, from mshowfat's "::/path <3> <64-74>".
fn chain(img: &Path, path: &str) -> Vec<u64> {
    let shown = run("mshowfat", &["-i", s(img), path]);
    let mut clusters = Vec::new();
    for range in shown.split('<').skip(1) {
        let range = range.split('>').next().unwrap();
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let (first, last): (u64, u64) =
            (first.trim().parse().unwrap(), last.trim().parse().unwrap());
        clusters.extend(first..=last);
    }
    clusters
}

/// The top four bits of a FAT32 entry are reserved: set, they must not change where a chain goes or end it.
#[test]
fn fat32_entries_reserved_bits_are_ignored() {
    let dir = TempDir::new("fat32high");
    let src = dir.path("src");
    fs::create_dir_all(src.join("manydir")).unwrap();
    // With one-sector clusters, 60 long names fill several clusters of the directory.
    for i in 0..60 {
        fs::write(
            src.join(format!("manydir/long-name-entry-{i:02}.txt")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    let big = noise(100_000, 13);
    fs::write(src.join("big.bin"), &big).unwrap();
    let img = dir.path("fat.img");
    run("mkfs.fat", &["-F", "32", "-s", "1", "-C", s(&img), "40960"]);
    copy_in(&img, &src);
    let mut bytes = fs::read(&img).unwrap();
    let le = |at: usize, n: usize| {
        bytes[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | b as u64)
    };
    let (bps, reserved, fats, fat_sectors) = (le(11, 2), le(14, 2), le(16, 1), le(36, 4));
    let dir_chain = chain(&img, "::/manydir");
    let file_chain = chain(&img, "::/big.bin");
    assert!(
        dir_chain.len() > 2 && file_chain.len() > 100,
        "{dir_chain:?} {file_chain:?}"
    );
    for copy in 0..fats {
        for &cluster in dir_chain.iter().chain(&file_chain) {
            let at = (reserved + copy * fat_sectors) * bps + cluster * 4;
            bytes[at as usize + 3] |= 0xF0;
        }
    }
    fs::write(&img, &bytes).unwrap();
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(image(&img), "/").unwrap(), "fat32");
    // A directory's chain taken to end early would list only its first clusters' names, with no error.
    assert_eq!(vfs.ls("/manydir").unwrap().len(), 60);
    compare_tree(&vfs, &src, "/");
}

/// The FAT is read through a 4 KiB window; cluster 2730's 12-bit entry takes bytes 4095 and 4096, across the
/// window's edge, and must be read whole from a fresh window.
#[test]
fn fat12_entry_across_the_window_edge() {
    let dir = TempDir::new("fat12edge");
    let img = dir.path("fat.img");
    run(
        "mkfs.fat",
        &["-F", "12", "-s", "1", "-S", "512", "-C", s(&img), "2048"],
    );
    // 3200 one-sector clusters from cluster 2: the chain runs through 2730.
    let data = noise(3200 * 512 - 100, 14);
    let file = dir.path("long.bin");
    fs::write(&file, &data).unwrap();
    run("mcopy", &["-i", s(&img), s(&file), "::/long.bin"]);
    let clusters = chain(&img, "::/long.bin");
    assert!(
        clusters.windows(2).any(|w| w == [2729, 2730]) && clusters[0] == 2,
        "{clusters:?}"
    );
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(image(&img), "/").unwrap(), "fat12");
    check_file(&vfs, "/long.bin", &data);
}

/// A long name whose checksum does not match its 8.3 entry (the short name changed by a tool that knows no
/// long names), or whose parts disagree on the checksum, is not used: the 8.3 name is shown, as Linux does.
#[test]
fn long_names_with_bad_checksums_fall_back_to_the_short_name() {
    let dir = TempDir::new("fat-lfn-sum");
    let img = dir.path("fat.img");
    let file = dir.path("a long file name.txt");
    fs::write(&file, b"data\n").unwrap();
    run("mkfs.fat", &["-C", s(&img), "1024"]);
    run("mcopy", &["-i", s(&img), s(&file), "::/"]);
    let original = fs::read(&img).unwrap();
    let short = original
        .windows(11)
        .position(|w| w == b"ALONGF~1TXT")
        .expect("mtools' 8.3 name");
    let names = |bytes: Vec<u8>| {
        let path = dir.path("edited.img");
        fs::write(&path, bytes).unwrap();
        let mut vfs = Vfs::new();
        vfs.mount(image(&path), "/").unwrap();
        vfs.ls("/").unwrap()
    };
    assert_eq!(names(original.clone()), ["a long file name.txt"]);
    let mut renamed = original.clone();
    renamed[short..short + 11].copy_from_slice(b"OTHER   TXT");
    assert_eq!(names(renamed), ["OTHER.TXT"]);
    // The name takes two long entries; the second one's (order 1, right before the 8.3 entry) checksum
    // byte is changed.
    let mut mixed = original;
    mixed[short - 32 + 13] ^= 0xff;
    assert_eq!(names(mixed), ["ALONGF~1.TXT"]);
}

/// A FAT32 file whose clusters lie past 65,535 is found through the high word of its first cluster (a directory
/// entry keeps the cluster number in two 16-bit halves): a 40 MiB volume of one-sector clusters, where a file
/// copied after 33 MiB of others starts beyond it.
#[test]
fn fat32_file_past_cluster_65535() {
    let dir = TempDir::new("fat32-high");
    let img = dir.path("fat.img");
    run("mkfs.fat", &["-F", "32", "-s", "1", "-C", s(&img), "40960"]);
    let filler = dir.path("filler.bin");
    fs::write(&filler, vec![0x5a; 33 << 20]).unwrap();
    run("mcopy", &["-i", s(&img), s(&filler), "::/filler.bin"]);
    let late = dir.path("late.bin");
    let data = noise(100_000, 17);
    fs::write(&late, &data).unwrap();
    run("mcopy", &["-i", s(&img), s(&late), "::/late.bin"]);
    let clusters = chain(&img, "::/late.bin");
    assert!(
        clusters[0] > 0xffff,
        "late.bin starts at cluster {}",
        clusters[0]
    );
    let mut vfs = Vfs::new();
    assert_eq!(vfs.mount(image(&img), "/").unwrap(), "fat32");
    assert!(vfs.read("/late.bin").unwrap() == data, "late.bin differs");
}
