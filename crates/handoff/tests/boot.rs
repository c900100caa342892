//! The proof that the hand-off structures boot real kernels: everything is computed by `linux::prepare` or
//! `multiboot2::prepare`, and a tiny Multiboot2 kernel (tests/linux/chain) loaded by real GRUB copies the
//! pieces where the plan says and makes the entry exactly as `LinuxPlan` / `Multiboot2Image` document.
//! Debian's kernel must reach our /init, which prints its command line and the sha256 of the key file handed
//! on in `files`; the Multiboot2 test kernel must report our command line, modules and memory map.

mod common;

use bootscript_handoff::linux::{self, Machine};
use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
use bootscript_handoff::multiboot2;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A GRUB rescue ISO that boots `kernel` with `cmdline` and `modules` (file, name) through multiboot2.
fn iso(dir: &Path, kernel: &Path, cmdline: &str, modules: &[(PathBuf, String)]) -> PathBuf {
    let tree = dir.join("iso");
    std::fs::create_dir_all(tree.join("boot/grub")).unwrap();
    std::fs::copy(kernel, tree.join("kernel.elf")).unwrap();
    let mut cfg = String::from(
        "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n",
    );
    cfg += &format!("set timeout=0\nmenuentry test {{\n  multiboot2 /kernel.elf {cmdline}\n");
    for (i, (file, name)) in modules.iter().enumerate() {
        std::fs::copy(file, tree.join(format!("m{i}"))).unwrap();
        cfg += &format!("  module2 /m{i} {name}\n");
    }
    cfg += "  boot\n}\n";
    std::fs::write(tree.join("boot/grub/grub.cfg"), cfg).unwrap();
    let out = dir.join("boot.iso");
    // (BIOS GRUB only: with GRUB's UEFI build installed too, grub-mkrescue would make a CD for both.)
    let status = Command::new("grub-mkrescue")
        .args(["-d", "/usr/lib/grub/i386-pc"])
        .args(["--install-modules=multiboot2 normal serial terminal configfile iso9660 biosdisk"])
        .args(["--locales=", "--fonts=", "--themes=", "-o"])
        .arg(&out)
        .arg(&tree)
        .output()
        .expect("grub-mkrescue is missing: run scripts/setup.sh");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

fn qemu(iso: &Path) -> (Option<i32>, String) {
    let out = Command::new("timeout")
        .args([
            "180",
            "qemu-system-x86_64",
            "-machine",
            "pc",
            "-m",
            "1G",
            "-nographic",
            "-no-reboot",
        ])
        .args([
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-cdrom",
        ])
        .arg(iso)
        .output()
        .expect("qemu-system-x86_64 is missing: run scripts/setup.sh");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn parse_map(serial: &str) -> Vec<MemoryRegion> {
    serial
        .lines()
        .filter_map(|l| l.strip_prefix("mb2kernel: mmap base="))
        .map(|l| {
            let w: Vec<&str> = l.split([' ', '=']).collect();
            MemoryRegion {
                addr: hex(w[0]),
                len: hex(w[2]),
                kind: w[4].parse().unwrap(),
            }
        })
        .collect()
}

/// The machine's memory map as GRUB reports it, read by the Multiboot2 test kernel.
fn probe_memory_map(dir: &Path) -> Vec<MemoryRegion> {
    common::run("tests/mb2kernel/build.sh", &[]);
    let probe = iso(
        &dir.join("probe"),
        &common::root().join("build/mb2kernel.elf"),
        "probe",
        &[],
    );
    let (status, serial) = qemu(&probe);
    assert_eq!(status, Some(33), "{serial}");
    let map = parse_map(&serial);
    assert!(
        map.iter().any(|r| r.kind == 1 && r.len > 512 << 20),
        "{map:x?}"
    );
    map
}

#[test]
fn linux_boots_from_the_prepared_hand_off() {
    let kernel = common::vmlinuz();
    common::run("scripts/mkinitramfs.sh", &[]);
    common::run("tests/linux/chain/build.sh", &[]);
    let root = common::root();
    let dir = common::scratch("boot");
    let map = probe_memory_map(&dir);

    // Below 64 MiB live the chain kernel and GRUB's modules: the plan must keep out (and so relocates the
    // kernel above pref_address, the less common path).
    let mut free = FreeMemory::from_map(&map);
    free.reserve(0, 64 << 20);
    let initramfs = std::fs::read(root.join("build/initramfs.cpio.gz")).unwrap();
    let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
    let files: [(&str, &[u8]); 1] = [("/etc/keys/chain.key", &key)];
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: Some((0, 0)),
        framebuffer: None,
        efi: None,
    };
    let cmdline = b"console=ttyS0 quiet init.poweroff hello=chain";
    let boot = linux::prepare(
        &kernel,
        cmdline,
        &[&initramfs],
        bootscript_handoff::cpio::archive(&files).unwrap(),
        &machine,
        &mut free,
        1 << 32,
    )
    .unwrap();
    let plan = boot.plan;
    assert!(plan.kernel_addr >= 64 << 20);

    // One module per copy, except that the initrd pieces become one zero-filled area.
    let mut modules = Vec::new();
    let mut area = vec![0u8; plan.initrd_len as usize];
    for (i, (addr, bytes)) in boot.copies().into_iter().enumerate() {
        if addr >= plan.initrd_addr && addr < plan.initrd_addr + plan.initrd_len {
            let at = (addr - plan.initrd_addr) as usize;
            area[at..at + bytes.len()].copy_from_slice(bytes);
            continue;
        }
        let file = dir.join(format!("copy{i}"));
        std::fs::write(&file, bytes).unwrap();
        modules.push((file, format!("{addr:08x}")));
    }
    std::fs::write(dir.join("initrd"), &area).unwrap();
    modules.push((dir.join("initrd"), format!("{:08x}", plan.initrd_addr)));

    let chain_cmdline = format!("L {:08x} {:08x}", plan.entry_64, plan.boot_params_addr);
    let image = iso(
        &dir.join("chain"),
        &root.join("build/chain.elf"),
        &chain_cmdline,
        &modules,
    );
    let (status, serial) = qemu(&image);
    let key_digest = {
        let out = Command::new("sh")
            .args(["-c", "sha256sum | cut -c1-64"])
            .stdin(
                std::fs::File::open({
                    std::fs::write(dir.join("key"), &key).unwrap();
                    dir.join("key")
                })
                .unwrap(),
            )
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let wanted = [
        format!("init: cmdline={}", String::from_utf8_lossy(cmdline)),
        format!("init: sha256 /etc/keys/chain.key {key_digest}"),
        "init: done".to_string(),
    ];
    if std::env::var_os("HANDOFF_SHOW_SERIAL").is_some() {
        eprintln!("{serial}");
    }
    for line in &wanted {
        assert!(
            serial.lines().any(|l| l.ends_with(line.as_str())),
            "no `{line}` (QEMU status {status:?}):\n{serial}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn multiboot2_kernel_boots_from_the_prepared_hand_off() {
    common::run("tests/mb2kernel/build.sh", &[]);
    common::run("tests/linux/chain/build.sh", &[]);
    let root = common::root();
    let dir = common::scratch("boot-mb2");
    let map = probe_memory_map(&dir);
    let kernel = std::fs::read(root.join("build/mb2kernel.elf")).unwrap();

    // GRUB's own modules and the chain kernel sit in [2 MiB, 64 MiB); the test kernel is linked at 1 MiB.
    let mut free = FreeMemory::from_map(&map);
    free.reserve(0x200000, (64 << 20) - 0x200000);
    let first = b"first module\n".to_vec();
    let second: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let modules: [(&[u8], &[u8]); 2] = [(b"/boot/initrd.img", &first), (b"files.cpio", &second)];
    let cmdline = b"console=ttyS0 hello from bootscript";
    let boot = multiboot2::prepare(
        &kernel,
        cmdline,
        &modules,
        &multiboot2::Info::of_map(&map),
        &mut free,
    )
    .unwrap();
    let mut copies: Vec<(u64, Vec<u8>)> = boot
        .copies()
        .into_iter()
        .map(|(a, b)| (a, b.to_vec()))
        .collect();
    copies.extend(
        boot.zeroed()
            .into_iter()
            .map(|(a, len)| (a, vec![0u8; len as usize])),
    );
    let mut grub_modules = Vec::new();
    for (i, (addr, bytes)) in copies.iter().enumerate() {
        let file = dir.join(format!("copy{i}"));
        std::fs::write(&file, bytes).unwrap();
        grub_modules.push((file, format!("{addr:08x}")));
    }
    let chain_cmdline = format!("M {:08x} {:08x}", boot.image.entry, boot.info_addr);
    let image = iso(
        &dir.join("chain"),
        &root.join("build/chain.elf"),
        &chain_cmdline,
        &grub_modules,
    );
    let (status, serial) = qemu(&image);
    assert_eq!(status, Some(33), "{serial}");
    let lines: Vec<&str> = serial
        .lines()
        .filter(|l| l.starts_with("mb2kernel: "))
        .collect();
    let expect =
        |line: String| assert!(lines.contains(&line.as_str()), "no `{line}` in:\n{serial}");
    expect("mb2kernel: cmdline=console=ttyS0 hello from bootscript".into());
    expect("mb2kernel: loader=bootscript".into());
    expect(format!(
        "mb2kernel: module name=/boot/initrd.img start=0x{:08x} size=13 first=6669727374206d6f",
        boot.module_addrs[0]
    ));
    expect(format!(
        "mb2kernel: module name=files.cpio start=0x{:08x} size=5000 first=0001020304050607",
        boot.module_addrs[1]
    ));
    // The memory map arrives as it was given.
    assert_eq!(parse_map(&serial), map);
    std::fs::remove_dir_all(dir).unwrap();
}
