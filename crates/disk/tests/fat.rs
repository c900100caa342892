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
