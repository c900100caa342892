//! The proof that the hand-off structures boot a real Linux: everything is computed by `linux::prepare`, and
//! a tiny Multiboot2 kernel (tests/linux/chain) loaded by real GRUB copies the pieces where the plan says and
//! makes the 64-bit entry exactly as `LinuxPlan` documents. Debian's kernel must reach our /init, which prints
//! its command line and the sha256 of the key file handed on in `files`.

mod common;

use bootscript_handoff::linux::{self, Machine};
use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
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
    let status = Command::new("grub-mkrescue")
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

#[test]
fn linux_boots_from_the_prepared_hand_off() {
    let kernel = common::vmlinuz();
    common::run("scripts/mkinitramfs.sh", &[]);
    common::run("tests/mb2kernel/build.sh", &[]);
    common::run("tests/linux/chain/build.sh", &[]);
    let root = common::root();
    let dir = common::scratch("boot");

    // The machine's memory map as GRUB reports it, read by the Multiboot2 test kernel.
    let probe = iso(
        &dir.join("probe"),
        &root.join("build/mb2kernel.elf"),
        "probe",
        &[],
    );
    let (status, serial) = qemu(&probe);
    assert_eq!(status, Some(33), "{serial}");
    let map: Vec<MemoryRegion> = serial
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
        .collect();
    assert!(
        map.iter().any(|r| r.kind == 1 && r.len > 512 << 20),
        "{map:x?}"
    );

    // Below 64 MiB live GRUB's modules and the chain kernel: the plan must keep out (and so relocates the
    // kernel above pref_address, the less common path).
    let mut free = FreeMemory::from_map(&map);
    free.reserve(0, 64 << 20);
    let initramfs = std::fs::read(root.join("build/initramfs.cpio.gz")).unwrap();
    let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
    let files: [(&str, &[u8]); 1] = [("/etc/keys/chain.key", &key)];
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: (0, 0),
    };
    let cmdline = b"console=ttyS0 quiet init.poweroff hello=chain";
    let boot = linux::prepare(
        &kernel,
        cmdline,
        &[&initramfs],
        &files,
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

    let chain_cmdline = format!("{:08x} {:08x}", plan.entry_64, plan.boot_params_addr);
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
