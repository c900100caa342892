//! The newc writer against the real `cpio -idm`, and against Linux itself unpacking it after a gzip initrd.

mod common;

use bootscript_handoff::cpio;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

#[test]
fn real_cpio_unpacks_files_dirs_and_modes() {
    let big: Vec<u8> = (0..70001u32).map(|i| (i * 7 + i / 256) as u8).collect();
    let files: Vec<(&str, &[u8])> = vec![
        ("/etc/keys/root.key", b"0123456789abcdef0123456789abcdef"),
        ("/etc/keys/home.key", b"odd"),
        ("etc/crypttab", b"root /dev/sda2 /etc/keys/root.key luks\n"),
        ("/a/b/c/deep.bin", &big),
        ("/empty", b""),
    ];
    let archive = cpio::archive(&files).unwrap();
    assert!(archive.len().is_multiple_of(4));
    let dir = common::scratch("cpio");
    let mut child = Command::new("cpio")
        .args(["-idm", "--quiet", "--no-absolute-filenames"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("cpio is missing: run scripts/setup.sh");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &archive).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    for (path, data) in &files {
        let on_disk = dir.join(path.trim_start_matches('/'));
        assert_eq!(std::fs::read(&on_disk).unwrap(), *data, "{path}");
        let mode = std::fs::metadata(&on_disk).unwrap().permissions().mode();
        assert_eq!(mode, 0o100400, "{path}");
    }
    for d in ["etc", "etc/keys", "a", "a/b", "a/b/c"] {
        let meta = std::fs::metadata(dir.join(d)).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode(), 0o040755, "{d}");
    }
    // Nothing else was created, and cpio's own listing agrees on the names.
    let listing = Command::new("cpio")
        .args(["-it", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut listing = listing;
    std::io::Write::write_all(listing.stdin.as_mut().unwrap(), &archive).unwrap();
    drop(listing.stdin.take());
    let names = String::from_utf8(listing.wait_with_output().unwrap().stdout).unwrap();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a",
            "a/b",
            "a/b/c",
            "a/b/c/deep.bin",
            "empty",
            "etc",
            "etc/crypttab",
            "etc/keys",
            "etc/keys/home.key",
            "etc/keys/root.key"
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Linux unpacks our archive over a gzip initramfs whose length is not a multiple of 4, when the area is laid
/// out by concatenation_offsets (zeros in the gap). Boots Debian's kernel under QEMU's own loader.
#[test]
fn linux_unpacks_our_archive_after_a_compressed_initrd() {
    common::vmlinuz();
    common::run("scripts/mkinitramfs.sh", &[]);
    let root = common::root();
    let mut base = std::fs::read(root.join("build/initramfs.cpio.gz")).unwrap();
    // Make the gap non-trivial whatever gzip produced: a trailing odd length.
    if base.len().is_multiple_of(4) {
        base.push(0);
    }
    let key = b"the volume key handed on";
    let archive = cpio::archive(&[("/etc/keys/test.key", key)]).unwrap();
    let (offsets, total) = cpio::concatenation_offsets(&[base.len() as u64, archive.len() as u64]);
    assert_ne!(offsets[1], base.len() as u64);
    let mut area = vec![0u8; total as usize];
    area[..base.len()].copy_from_slice(&base);
    area[offsets[1] as usize..].copy_from_slice(&archive);
    let dir = common::scratch("concat");
    let initrd = dir.join("initrd.img");
    std::fs::write(&initrd, &area).unwrap();

    let out = Command::new("timeout")
        .args([
            "120",
            "qemu-system-x86_64",
            "-machine",
            "pc",
            "-m",
            "512M",
            "-nographic",
            "-no-reboot",
        ])
        .args(["-monitor", "none", "-serial", "stdio", "-kernel"])
        .arg(root.join("build/cache/vmlinuz"))
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 quiet init.poweroff"])
        .output()
        .expect("qemu-system-x86_64 is missing: run scripts/setup.sh");
    let serial = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let digest = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut digest = digest;
    std::io::Write::write_all(digest.stdin.as_mut().unwrap(), key).unwrap();
    drop(digest.stdin.take());
    let digest = String::from_utf8(digest.wait_with_output().unwrap().stdout).unwrap();
    let expected = format!("init: sha256 /etc/keys/test.key {}", &digest[..64]);
    assert!(
        serial.lines().any(|l| l.ends_with(&expected)),
        "no `{expected}` in:\n{serial}"
    );
    assert!(!serial.contains("Initramfs unpacking failed"), "{serial}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Paths the archive cannot hold as written are refused, not passed on for Linux to read some other way: a
/// `.` component, and a NUL byte (the name would end there while its length says otherwise).
#[test]
fn dot_components_and_nul_bytes_are_refused() {
    for path in ["/etc/./keys/root.key", "/etc/keys/.", "/etc/ke\0ys"] {
        assert!(
            matches!(
                bootscript_handoff::cpio::archive(&[(path, b"x")]),
                Err(bootscript_handoff::Error::BadPath(_))
            ),
            "{path:?}"
        );
    }
}
