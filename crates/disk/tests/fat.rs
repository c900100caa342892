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
