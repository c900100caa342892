//! End-to-end boot tests of `exec` (issue 6): the payload, booted by GRUB, reads a real kernel from a disk
//! made by the real tools and hands off to it. Debian's Linux kernel with our busybox initramfs, from plain
//! ext4 and from inside LUKS2 (the passphrase typed on serial, never echoed, handed on as a key file); our
//! Multiboot2 test kernel; and the refusals, which must end at the rescue shell with QEMU still running.
//!
//! Fixtures are made once per run with the project's scripts (fetch-kernel.sh, mkinitramfs.sh, mkdemo.sh,
//! tests/mb2kernel/build.sh), which cache them under build/test-exec/. Each file handed on is hashed here on
//! the host, independently of the payload and of Linux.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bootscript_boot_tests::{noise, payload_path, repository_root, run, Boot, Exit, Vm};

const BOOT: Duration = Duration::from_secs(60);
/// From the jump to Linux's /init and its lines: about 3-5 s under TCG, more on a loaded machine.
const LINUX: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(20);

/// The passphrase of the test's LUKS2 volume: a word that appears nowhere else, so that finding it in the
/// transcript means it was echoed or printed.
const PASSPHRASE: &str = "Tq7-vellum-gorse";

struct Fixtures {
    /// MBR, partition 1 plain ext4: /boot/vmlinuz, /boot/initrd.img and the files of `extra`.
    plain: PathBuf,
    /// MBR, partition 1 LUKS2 (PBKDF2, `PASSPHRASE`) holding the same kind of ext4.
    luks2: PathBuf,
    /// /data/blob.bin on the plain disk.
    blob: Vec<u8>,
    /// /mb2/one.txt and /mb2/two.bin on the plain disk.
    mb2_modules: [Vec<u8>; 2],
}

/// Writes `bytes` unless the file already holds them, so that mkdemo.sh's cache stays valid between runs.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = repository_root();
        let dir = root.join("build/test-exec");
        for script in [
            "scripts/fetch-kernel.sh",
            "scripts/mkinitramfs.sh",
            "tests/mb2kernel/build.sh",
        ] {
            run(Command::new("bash").arg(root.join(script)));
        }
        // The test kernel linked at 2 MiB too, as Xen is: above the payload, where its heap would start.
        run(Command::new("bash")
            .arg(root.join("tests/mb2kernel/build.sh"))
            .args(["build/mb2kernel-2m.elf", "0x200000"]));
        // And one linked at 1 MiB with 1 MiB more of bss: its memory reaches past where GRUB leaves the boot
        // information, right after the payload and the script.
        run(Command::new("bash")
            .arg(root.join("tests/mb2kernel/build.sh"))
            .args(["build/mb2kernel-big.elf", "", "0x100000"]));
        let kernel = std::fs::read(root.join("build/cache/vmlinuz")).unwrap();

        let extra = dir.join("extra");
        let blob = noise(70_001, 1);
        let mb2_modules = [b"first module\n".to_vec(), noise(5_000, 2)];
        write_if_changed(&extra.join("data/blob.bin"), &blob);
        write_if_changed(&extra.join("mb2/one.txt"), &mb2_modules[0]);
        write_if_changed(&extra.join("mb2/two.bin"), &mb2_modules[1]);
        write_if_changed(
            &extra.join("boot/mb2kernel.elf"),
            &std::fs::read(root.join("build/mb2kernel.elf")).unwrap(),
        );
        write_if_changed(
            &extra.join("boot/mb2kernel-2m.elf"),
            &std::fs::read(root.join("build/mb2kernel-2m.elf")).unwrap(),
        );
        write_if_changed(
            &extra.join("boot/mb2kernel-big.elf"),
            &std::fs::read(root.join("build/mb2kernel-big.elf")).unwrap(),
        );
        // Debian's kernel marked as one that cannot be relocated (the setup header's relocatable_kernel byte,
        // at 0x234, cleared): it must load at its pref_address, 16 MiB, as GRUB would load it.
        let mut fixed = kernel.clone();
        fixed[0x234] = 0;
        write_if_changed(&extra.join("boot/vmlinuz-fixed"), &fixed);
        // A stand-in kernel with Debian's setup header whose 64-bit entry records the registers it finds and
        // halts (tests/regs/linux-entry.S, assembled here; its protected-mode part is the 4 KiB of that code).
        let entry = dir.join("regs-entry");
        run(Command::new("bash").arg("-c").arg(format!(
            "as --64 -o {0}.o {1} && objcopy -O binary -j .text {0}.o {0}.bin",
            entry.display(),
            root.join("tests/regs/linux-entry.S").display()
        )));
        let code = std::fs::read(entry.with_extension("bin")).unwrap();
        let setup_sects = match kernel[0x1f1] {
            0 => 4,
            n => usize::from(n),
        };
        let mut regs = kernel[..(setup_sects + 1) * 512].to_vec();
        regs[0x1f4..0x1f8].copy_from_slice(&(code.len() as u32 / 16).to_le_bytes());
        regs.extend_from_slice(&code);
        write_if_changed(&extra.join("boot/regs-linux"), &regs);
        // An uncompressed archive to load before the gzip one, as initramfs-tools puts CPU microcode first.
        let early = dir.join("early");
        write_if_changed(&early.join("srv/early.txt"), EARLY_FILE);
        let archive = run(Command::new("bash").arg("-c").arg(format!(
            "cd {} && printf 'srv\\nsrv/early.txt\\n' | cpio --quiet -o -H newc -R 0:0",
            early.display()
        )));
        write_if_changed(&extra.join("boot/early.cpio"), archive.as_bytes());
        write_if_changed(
            &extra.join("boot/notes.txt"),
            b"These are notes, not a kernel: neither a bzImage nor a Multiboot2 image.\n",
        );
        // The setup header and the start of the protected-mode kernel, cut off where the image says it goes on.
        write_if_changed(
            &extra.join("boot/truncated.bzimage"),
            &kernel[..kernel.len() / 3],
        );
        // An initrd larger than what a 256 MiB machine has left once it holds the kernel and this file:
        // sparse, so it costs the disk nothing.
        let big = extra.join("data/big.img");
        const BIG: u64 = 150 << 20;
        if std::fs::metadata(&big).map(|m| m.len()).ok() != Some(BIG) {
            let file = std::fs::File::create(&big).unwrap();
            file.set_len(BIG).unwrap();
        }

        let plain = dir.join("plain/disk.img");
        run(Command::new("bash")
            .arg(root.join("scripts/mkdemo.sh"))
            .env("DEMO_OUT", &plain)
            .env("DEMO_LUKS", "none")
            .env("DEMO_EXTRA", &extra));
        let luks2 = dir.join("luks2/disk.img");
        run(Command::new("bash")
            .arg(root.join("scripts/mkdemo.sh"))
            .env("DEMO_OUT", &luks2)
            .env("DEMO_LUKS", "luks2")
            .env("DEMO_ITERATIONS", "20000")
            .env("DEMO_PASSPHRASE", PASSPHRASE));
        Fixtures {
            plain,
            luks2,
            blob,
            mb2_modules,
        }
    })
}

/// An IDE disk (hd0) that several QEMUs may use at once: `snapshot=on` keeps each one's writes in a temporary
/// overlay and opens the image read-only, which takes no write lock.
fn shared_disk(path: &Path) -> String {
    format!("file={},format=raw,if=ide,snapshot=on", path.display())
}

/// SHA-256 in lowercase hex, by the host's coreutils.
fn sha256_hex(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("bootscript-exec-sha-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A name of its own for each call: tests run in parallel threads and may hash data of one length at once
    // (one removed the file the other was hashing).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.join(format!("{n}-{:x}", bytes.len()));
    std::fs::write(&file, bytes).unwrap();
    let output = Command::new("sha256sum")
        .arg(&file)
        .output()
        .expect("sha256sum (coreutils)");
    let _ = std::fs::remove_file(&file);
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

/// The serial text without the kernel's messages: each `[    2.581449] ...` record up to and including its
/// newline. The serial console writes a record whole, but between two pieces of /init's output, so removing
/// the records gives /init's lines back intact.
fn without_printk(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('[') {
        let after = &rest[at + 1..];
        let stamp = after.trim_start_matches(' ');
        let digits = stamp.len() - stamp.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let is_record = digits > 0
            && stamp[digits..].starts_with('.')
            && stamp[digits + 1..]
                .split_once("] ")
                .is_some_and(|(fraction, _)| {
                    fraction.len() == 6 && fraction.bytes().all(|b| b.is_ascii_digit())
                });
        out.push_str(&rest[..at]);
        if is_record {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The lines the Multiboot2 test kernel prints once started, up to its last.
fn mb2kernel_report(vm: &mut Vm) -> Vec<String> {
    vm.expect_line("mb2kernel: started", STEP);
    vm.lines_until("mb2kernel: done", STEP)
        .into_iter()
        .map(|l| l.text)
        .collect()
}

/// Waits for Linux to start and for /init's report, and returns /init's lines up to `init: done` (the kernel's
/// messages taken out).
fn linux_report(vm: &mut Vm) -> Vec<String> {
    vm.expect_line("bootscript: phase=jump", BOOT);
    vm.expect_line("Linux version", LINUX);
    vm.expect_line("Run /init as init process", LINUX);
    // Line by line until /init's last line is there, whatever kernel message fell into it.
    let deadline = Instant::now() + LINUX;
    let clean = loop {
        let transcript = vm.transcript();
        let from_init = &transcript[transcript.find("Run /init as init process").unwrap()..];
        let clean = without_printk(from_init);
        if clean.contains("\ninit: done\n") {
            break clean;
        }
        vm.expect_line("", deadline.saturating_duration_since(Instant::now()));
    };
    let report: Vec<String> = clean
        .lines()
        .filter(|l| l.starts_with("init: "))
        .map(String::from)
        .collect();
    match report.iter().position(|l| l == "init: done") {
        Some(done) => report[..=done].to_vec(),
        None => vm.fail(&format!("no clean 'init: done' line in {clean}")),
    }
}

/// Waits for /init's report and checks it: the command line Linux got, the SHA-256 of each file handed on (hashed
/// here on the host), and its end.
fn expect_init_report(vm: &mut Vm, cmdline: &str, files: &[(&str, &[u8])]) {
    let report = linux_report(vm);
    let mut expected = vec![format!("init: cmdline={cmdline}")];
    for (path, bytes) in files {
        expected.push(format!("init: sha256 {path} {}", sha256_hex(bytes)));
    }
    expected.push("init: done".to_string());
    if report != expected {
        vm.fail(&format!(
            "/init reported {report:#?}, expected {expected:#?}"
        ));
    }
}

#[test]
fn printk_records_are_taken_out_of_init_lines() {
    let text = "init: cmdline=a b[    2.581449] tsc: Refined TSC\n\ninit: done [x] [1.5] ok\n[   12.000001] y\n";
    assert_eq!(
        without_printk(text),
        "init: cmdline=a b\ninit: done [x] [1.5] ok\n"
    );
}

/// The file in the uncompressed archive that comes before the initramfs in `linux_from_ext4`.
const EARLY_FILE: &[u8] = b"from the uncompressed archive before the gzip one\n";

fn linux_from_ext4(cpu: &str) {
    let fixtures = fixtures();
    let cmdline = format!(
        "console=ttyS0 init.poweroff init.files=/etc/keys/test.key,/srv/blob.bin,/srv/early.txt e2e.cpu={cpu}"
    );
    // Three archives: an uncompressed one, the gzip initramfs, and the files handed on.
    let script = format!(
        r#"
mount("hd0p1", "/")
print("e2e: mounted, kernel of", stat("/boot/vmlinuz").size, "bytes")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd=["/boot/early.cpio", "/boot/initrd.img"],
     files={{"/etc/keys/test.key": "a key of text\n", "/srv/blob.bin": read("/data/blob.bin")}})
"#
    );
    let mut vm = Boot::new()
        .cpu(cpu)
        .module("linux.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.plain))
        .start();
    vm.expect_line("e2e: mounted, kernel of 14", BOOT);
    expect_init_report(
        &mut vm,
        &cmdline,
        &[
            ("/etc/keys/test.key", b"a key of text\n"),
            ("/srv/blob.bin", &fixtures.blob),
            ("/srv/early.txt", EARLY_FILE),
        ],
    );
    // Linux found the ACPI tables through the RSDP where the BIOS keeps it (0xE0000-0xFFFFF), not through
    // GRUB's copy in the boot information, which lies in RAM Linux reuses.
    let transcript = vm.transcript();
    let rsdp = transcript
        .lines()
        .find_map(|l| l.split("ACPI: RSDP 0x").nth(1))
        .and_then(|rest| u64::from_str_radix(rest.split(' ').next()?, 16).ok());
    assert!(
        rsdp.is_some_and(|a| (0xE0000..0x100000).contains(&a)),
        "ACPI RSDP at {rsdp:x?}"
    );
    // init.poweroff: Linux powers the machine off, and QEMU ends (status 0: not through isa-debug-exit).
    vm.expect_line("reboot: Power down", LINUX);
    let status = vm.wait_exit(STEP);
    assert_eq!(status, 0, "QEMU status after Linux's poweroff");
}

#[test]
fn linux_from_ext4_qemu64() {
    linux_from_ext4("qemu64");
}

#[test]
fn linux_from_ext4_max() {
    linux_from_ext4("max");
}

/// Boots `script` on q35 with `disk` as the SATA disk on AHCI port 0, once the payload has found it there.
fn boot_from_sata(disk: &Path, script: impl Into<Vec<u8>>) -> Vm {
    let mut vm = Boot::new()
        .qemu_arg("-machine")
        .qemu_arg("q35")
        .module("sata.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(disk))
        .start();
    vm.expect_line("bootscript: ahci 00:1f.2 port 0: hd0 QEMU HARDDISK", BOOT);
    vm
}

/// On q35, whose disks sit behind its AHCI controller (as on most PCs with SATA in AHCI mode): the kernel and
/// initramfs are read by DMA, the ports are stopped before the jump (their engines would otherwise go on
/// writing into memory that is Linux's by then), and Linux starts and powers the machine off.
#[test]
fn linux_from_a_sata_disk_behind_ahci() {
    let fixtures = fixtures();
    let cmdline = "console=ttyS0 init.poweroff init.files=/etc/keys/sata.key";
    let script = format!(
        r#"
mount("hd0p1", "/")
print("e2e: mounted, kernel of", stat("/boot/vmlinuz").size, "bytes")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd="/boot/initrd.img", files={{"/etc/keys/sata.key": "sata"}})
"#
    );
    let mut vm = boot_from_sata(&fixtures.plain, script);
    vm.expect_line("e2e: mounted, kernel of 14", STEP);
    expect_init_report(&mut vm, cmdline, &[("/etc/keys/sata.key", b"sata")]);
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// A UEFI PC (OVMF on q35, GRUB's UEFI build, the disk on SATA): Linux is told of the framebuffer GRUB set up, as
/// an EFI framebuffer in screen_info, and its driver for that (efifb) takes the screen; it is told where the
/// firmware keeps the ACPI tables (found through the UEFI system table), and switches the machine off through
/// them. It gets UEFI's system table and memory map in efi_info, so it has UEFI's runtime services: /init writes
/// a UEFI variable through efivarfs and reads it back.
#[test]
fn linux_on_a_uefi_pc_gets_the_framebuffer_the_acpi_tables_and_uefi_runtime_services() {
    let fixtures = fixtures();
    let variable = "/sys/firmware/efi/efivars/BootscriptTest-3f6d7a2c-0b8e-4c1e-9a55-6b2f4d8e1c70";
    let cmdline = format!("console=ttyS0 init.poweroff init.efivar init.files={variable}");
    let script = format!(
        r#"
mount("hd0p1", "/")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd="/boot/initrd.img")
"#
    );
    let mut vm = boot_script_with(Boot::new().uefi(), &fixtures.plain, "uefi.bs", script);
    // The variable's attributes (non-volatile, boot and run time: OVMF refuses a volatile one at run time; this
    // VM's variable store is a copy of its own), then its value.
    expect_init_report(&mut vm, &cmdline, &[(variable, b"\x07\0\0\0bootscript")]);
    let transcript = vm.transcript();
    for told in ["ACPI: RSDP 0x", "efifb: mode is ", "efi: EFI v2"] {
        assert!(
            transcript.contains(told),
            "no {told:?} from Linux:\n{transcript}"
        );
    }
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// The AHCI ports the payload started are stopped before the jump: a running FIS receive engine would write the
/// disk's frames into memory that is the kernel's by then. After the stand-in Linux kernel of tests/regs (which
/// does not touch the controller, and halts once it has recorded its registers) has started from a SATA disk on
/// q35, port 0's command register, read through QEMU's monitor, has ST, FRE and both running bits clear (they
/// read 0xc017 while the payload runs). The controller's registers are found from its BAR5, read through q35's
/// memory-mapped PCI configuration space (0xB0000000, device 00:1f.2).
#[test]
fn the_ahci_ports_are_stopped_before_the_jump() {
    let fixtures = fixtures();
    let script = r#"
mount("hd0p1", "/")
exec("/boot/regs-linux", cmdline="ahci")
"#;
    let mut vm = boot_from_sata(&fixtures.plain, script);
    vm.expect_line("bootscript: phase=jump", STEP);
    regs_record(&mut vm);
    let word = |vm: &mut Vm, address: u64| {
        u32::from_le_bytes(vm.physical_memory(address, 4).try_into().unwrap())
    };
    let config = 0xb000_0000 + (0x1f << 15) + (2 << 12);
    assert_eq!(
        word(&mut vm, config) & 0xffff,
        0x8086,
        "not the ICH9 controller's configuration space"
    );
    let abar = u64::from(word(&mut vm, config + 0x24) & !0xf);
    let command = word(&mut vm, abar + 0x100 + 0x18);
    // ST (bit 0), FRE (bit 4), FR (bit 14) and CR (bit 15).
    assert_eq!(
        command & 0xc011,
        0,
        "port 0's PxCMD is {command:#x} after the jump"
    );
}

/// Boots `script` on q35 with `disk` as namespace 1 of an NVMe controller (q35's only disk), once the payload
/// has found it there: at PCI slot 5 of the root bus, or (`behind_a_port`) on bus 1 behind a PCI Express root
/// port in slot 4, where PCs put their M.2 slots.
fn boot_from_nvme(disk: &Path, script: impl Into<Vec<u8>>, behind_a_port: bool) -> Vm {
    let mut boot = Boot::new()
        .qemu_arg("-machine")
        .qemu_arg("q35")
        .module("nvme.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&format!(
            "file={},format=raw,if=none,id=flash,snapshot=on",
            disk.display()
        ));
    let (device, found) = match behind_a_port {
        true => {
            boot = boot
                .qemu_arg("-device")
                .qemu_arg("pcie-root-port,id=m2,bus=pcie.0,chassis=1,addr=4");
            ("nvme,drive=flash,serial=bootscript,bus=m2", "01:00.0")
        }
        false => ("nvme,drive=flash,serial=bootscript,addr=5", "00:05.0"),
    };
    let mut vm = boot.qemu_arg("-device").qemu_arg(device).start();
    vm.expect_line(
        &format!("bootscript: nvme {found} namespace 1: hd0 QEMU NVMe Ctrl"),
        BOOT,
    );
    vm
}

/// From a disk on an NVMe controller behind a PCI Express root port (as in most PCs since about 2016): the kernel
/// and initramfs are read by DMA through the controller's I/O queue, the controller is disabled before the jump,
/// and Linux starts and powers the machine off.
#[test]
fn linux_from_an_nvme_disk() {
    let fixtures = fixtures();
    let cmdline = "console=ttyS0 init.poweroff init.files=/etc/keys/nvme.key";
    let script = format!(
        r#"
mount("hd0p1", "/")
print("e2e: mounted, kernel of", stat("/boot/vmlinuz").size, "bytes")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd="/boot/initrd.img", files={{"/etc/keys/nvme.key": "nvme"}})
"#
    );
    let mut vm = boot_from_nvme(&fixtures.plain, script, true);
    vm.expect_line("e2e: mounted, kernel of 14", STEP);
    expect_init_report(&mut vm, cmdline, &[("/etc/keys/nvme.key", b"nvme")]);
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// A passphrase typed on a USB keyboard (a PC without an i8042, the keyboard on QEMU's xHCI controller) is handed
/// on to Linux, and the controller is halted and reset before the jump, so that it writes no more events or
/// reports into memory that is Linux's: QEMU's trace of the controller ends with the payload's stop and reset
/// (Debian's cloud kernel has its xHCI driver as a module, which the test initramfs does not load, so nothing
/// after the payload touches the controller).
#[test]
fn linux_after_a_passphrase_typed_on_a_usb_keyboard() {
    let fixtures = fixtures();
    let cmdline = "console=ttyS0 init.poweroff init.files=/etc/keys/usb.key";
    let script = format!(
        r#"
let pass = prompt("passphrase: ", echo=false)
mount("hd0p1", "/")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd="/boot/initrd.img", files={{"/etc/keys/usb.key": pass}})
"#
    );
    let mut boot = Boot::new()
        .module("usb.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.plain));
    for arg in [
        "-machine",
        "i8042=off",
        "-device",
        "qemu-xhci,id=xhci,addr=4",
        "-device",
        "usb-kbd,bus=xhci.0",
        "-trace",
        "usb_xhci_run",
        "-trace",
        "usb_xhci_stop",
        "-trace",
        "usb_xhci_reset",
    ] {
        boot = boot.qemu_arg(arg);
    }
    let mut vm = boot.start();
    vm.expect_line("bootscript: xhci 00:04.0 port 5: keyboard", BOOT);
    vm.expect_line("bootscript: phase=script", STEP);
    for key in ["u", "s", "b", "shift-k", "e", "y", "ret"] {
        vm.sendkey(key);
    }
    expect_init_report(&mut vm, cmdline, &[("/etc/keys/usb.key", b"usbKey")]);
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
    assert!(!vm.transcript().contains("usbKey"), "{}", vm.transcript());
    let trace = vm.qemu_stderr();
    let events: Vec<&str> = trace
        .lines()
        .filter_map(|line| {
            ["usb_xhci_run", "usb_xhci_stop", "usb_xhci_reset"]
                .into_iter()
                .find(|event| line.contains(event))
        })
        .collect();
    assert!(
        events.ends_with(&["usb_xhci_run", "usb_xhci_stop", "usb_xhci_reset"]),
        "the controller's last events: {events:?}"
    );
}

/// The NVMe controllers the payload enabled are disabled before the jump (CC.EN clear, and CSTS.RDY clear once
/// the reset is done), so that no queue of the controller points into memory that is the kernel's by then. After
/// the stand-in Linux kernel of tests/regs has started from an NVMe disk on q35 and halted, the controller's
/// registers are read through QEMU's monitor: its BAR0 from q35's memory-mapped PCI configuration space
/// (0xB0000000, device 00:05.0), CC and CSTS from BAR0 (CC reads 0x460001 while the payload runs).
#[test]
fn the_nvme_controller_is_disabled_before_the_jump() {
    let fixtures = fixtures();
    let script = r#"
mount("hd0p1", "/")
exec("/boot/regs-linux", cmdline="nvme")
"#;
    let mut vm = boot_from_nvme(&fixtures.plain, script, false);
    vm.expect_line("bootscript: phase=jump", STEP);
    regs_record(&mut vm);
    let word = |vm: &mut Vm, address: u64| {
        u32::from_le_bytes(vm.physical_memory(address, 4).try_into().unwrap())
    };
    let config = 0xb000_0000 + (5 << 15);
    // QEMU's NVMe controller: vendor 0x1b36, device 0x0010.
    assert_eq!(
        word(&mut vm, config),
        0x0010_1b36,
        "not the NVMe controller's configuration space"
    );
    let bar = u64::from(word(&mut vm, config + 0x14)) << 32
        | u64::from(word(&mut vm, config + 0x10) & !0xf);
    let (cc, csts) = (word(&mut vm, bar + 0x14), word(&mut vm, bar + 0x1c));
    assert_eq!(
        (cc & 1, csts & 1),
        (0, 0),
        "CC {cc:#x}, CSTS {csts:#x} after the jump"
    );
}

#[test]
fn linux_from_luks2_with_the_passphrase_handed_on() {
    let fixtures = fixtures();
    let script = r#"
print("e2e: the passphrase prompt comes next")
let pass = prompt("Passphrase for hd0p1: ", echo=false)
luks_open("hd0p1", pass, "cryptroot")
mount("cryptroot", "/")
exec("/boot/vmlinuz", cmdline="console=ttyS0 init.poweroff", initrd="/boot/initrd.img",
     files={"/etc/keys/cryptroot.key": pass})
"#;
    let mut vm = Boot::new()
        .cpu("max")
        .module("luks.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.luks2))
        .start();
    vm.expect_line("e2e: the passphrase prompt comes next", BOOT);
    vm.send(&format!("{PASSPHRASE}\r"));
    expect_init_report(
        &mut vm,
        "console=ttyS0 init.poweroff",
        &[("/etc/keys/cryptroot.key", PASSPHRASE.as_bytes())],
    );
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
    let transcript = vm.transcript();
    assert!(
        !transcript.contains(PASSPHRASE),
        "the passphrase appears on the console:\n{transcript}"
    );
    assert!(
        transcript.contains("Passphrase for hd0p1: "),
        "{transcript}"
    );
}

/// On a UEFI PC a Multiboot2 kernel gets what GRUB would give it there: the UEFI system table (tag 12) and
/// UEFI's memory map (tag 17), beside the framebuffer (tag 8). (The test kernel names the tags it has no reader
/// for; their bytes are checked by the handoff crate's tests.)
#[test]
fn a_multiboot2_kernel_on_a_uefi_pc_gets_the_uefi_tags() {
    let fixtures = fixtures();
    let script = r#"
mount("hd0p1", "/")
exec("/boot/mb2kernel.elf", cmdline="uefi")
"#;
    let mut vm = boot_script_with(Boot::new().uefi(), &fixtures.plain, "mb2.bs", script);
    vm.expect_line("bootscript: phase=jump", BOOT);
    let lines = mb2kernel_report(&mut vm);
    for tag in [8, 12, 17] {
        let line = format!("mb2kernel: tag {tag}");
        assert!(lines.contains(&line), "no {line:?} in {lines:#?}");
    }
}

#[test]
fn multiboot2_kernel_gets_command_line_modules_and_memory_map() {
    let fixtures = fixtures();
    let script = r#"
mount("hd0p1", "/")
exec("/boot/mb2kernel.elf", cmdline="mb2 e2e words", initrd=["/mb2/one.txt", "/mb2/two.bin"],
     files={"/etc/keys/mb.key": "mb2 key"})
"#;
    let mut vm = boot_script_on(&fixtures.plain, "mb2.bs", script);
    vm.expect_line("bootscript: phase=jump", BOOT);
    let lines = mb2kernel_report(&mut vm);
    let find =
        |prefix: &str| -> Vec<&String> { lines.iter().filter(|l| l.starts_with(prefix)).collect() };
    assert_eq!(
        find("mb2kernel: cmdline="),
        ["mb2kernel: cmdline=mb2 e2e words"]
    );
    assert_eq!(find("mb2kernel: loader="), ["mb2kernel: loader=bootscript"]);
    let modules = find("mb2kernel: module ");
    assert_eq!(modules.len(), 3, "{lines:#?}");
    // Each module in order: its name (the path, or the files archive), size and first bytes in hex.
    let first_hex = |b: &[u8]| {
        b.iter()
            .take(8)
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let expected = [
        (
            "/mb2/one.txt",
            fixtures.mb2_modules[0].len(),
            first_hex(&fixtures.mb2_modules[0]),
        ),
        (
            "/mb2/two.bin",
            fixtures.mb2_modules[1].len(),
            first_hex(&fixtures.mb2_modules[1]),
        ),
        ("bootscript-files.cpio", 0, first_hex(b"070701")),
    ];
    for (line, (name, size, first)) in modules.iter().zip(&expected) {
        assert!(line.contains(&format!("name={name} ")), "{line}");
        if *size != 0 {
            assert!(line.contains(&format!(" size={size} ")), "{line}");
        }
        assert!(line.contains(&format!(" first={first}")), "{line}");
    }
    // The memory map: 1 GiB of RAM, most of it one available region from 1 MiB.
    let ram = find("mb2kernel: mmap base=0x0000000000100000 ");
    assert_eq!(ram.len(), 1, "{lines:#?}");
    assert!(ram[0].ends_with("type=1"), "{}", ram[0]);
    let length = ram[0]
        .split("len=0x")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let length = u64::from_str_radix(length, 16).unwrap();
    assert!((1000 << 20..1 << 30).contains(&length), "{}", ram[0]);
    assert_eq!(find("mb2kernel: acpi tag").len(), 1, "{lines:#?}");
    vm.expect_exit(Exit::Success, STEP);
}

/// Boots with the plain disk as hd0 and the LUKS2 one as hd1 on `-cpu max` (AES-NI), unlocks and reads the
/// LUKS2 volume (which leaves round keys and decrypted blocks in the XMM registers), then runs `exec_line` from
/// the plain disk: the VM as the jump is announced.
fn unlock_then_exec(exec_line: &str) -> Vm {
    let script = format!(
        r#"
print("e2e: the passphrase prompt comes next")
luks_open("hd1p1", prompt("Passphrase: ", echo=false), "cryptroot")
mount("cryptroot", "/crypt")
print("e2e: read", len(read("/crypt/boot/initrd.img")) > 0)
mount("hd0p1", "/")
{exec_line}
"#
    );
    let fixtures = fixtures();
    let mut vm = Boot::new()
        .cpu("max")
        .module("unlock.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.plain))
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.luks2))
        .start();
    vm.expect_line("e2e: the passphrase prompt comes next", BOOT);
    vm.send(&format!("{PASSPHRASE}\r"));
    vm.expect_line("e2e: read true", LINUX);
    vm.expect_line("bootscript: phase=jump", STEP);
    vm
}

/// The XMM registers hold no key material at the hand-off: with AES-NI (`-cpu max`), a LUKS2 unlock and the
/// volume's reads leave round keys and decrypted blocks in them, and a Multiboot2 kernel (which gets no keys
/// unless it is handed them in `files`) could read them. The test kernel reports XMM0-7 as it found them.
#[test]
fn multiboot2_kernel_finds_the_xmm_registers_cleared() {
    let mut vm = unlock_then_exec(r#"exec("/boot/mb2kernel.elf")"#);
    let lines = mb2kernel_report(&mut vm);
    assert!(
        lines.iter().any(|l| l == "mb2kernel: xmm0-7 zero"),
        "{}",
        vm.transcript()
    );
    vm.expect_exit(Exit::Success, STEP);
}

/// The 56-byte record the stand-in kernel of tests/regs writes at 0x80000 once it has started (it then halts),
/// read through the monitor as soon as it is complete.
fn regs_record(vm: &mut Vm) -> Vec<u8> {
    let deadline = Instant::now() + STEP;
    loop {
        let record = vm.physical_memory(0x80000, 56);
        if &record[..8] == b"REGSDONE" {
            return record;
        }
        if Instant::now() > deadline {
            vm.fail("the stand-in kernel recorded no registers");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What Linux's 64-bit entry finds in the registers (boot.rst's 64-bit protocol; the stand-in kernel of
/// tests/regs records them): RSI the boot_params, CS 0x10, DS and SS 0x18, and no key material left: not in
/// XMM0-15 (AES-NI round keys and decrypted blocks after an unlock with `-cpu max`), nor R9-R15, RBX or RBP.
#[test]
fn linux_entry_registers_hold_boot_params_and_no_secrets() {
    let mut vm = unlock_then_exec(r#"exec("/boot/regs-linux", cmdline="regs")"#);
    let record = regs_record(&mut vm);
    let word = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().unwrap());
    let half = |at: usize| u16::from_le_bytes(record[at..at + 2].try_into().unwrap());
    assert_eq!(word(16), 0, "R9-R15");
    assert_eq!(word(24), 0, "RBX, RBP");
    assert_eq!((word(32), word(40)), (0, 0), "XMM0-15");
    assert_eq!(
        (half(48), half(50), half(52)),
        (0x10, 0x18, 0x18),
        "CS, DS, SS"
    );
    // RSI: the boot_params, with the image's setup header and our command line.
    let boot_params = vm.physical_memory(word(8), 4096);
    assert_eq!(&boot_params[0x202..0x206], b"HdrS");
    let cmdline = u64::from(u32::from_le_bytes(
        boot_params[0x228..0x22c].try_into().unwrap(),
    ));
    assert_eq!(vm.physical_memory(cmdline, 5), b"regs\0");
}

/// 16 MiB handed on in `files`, on a 256 MiB machine: the archive is made before the memory in use is taken for
/// the plan, so the pieces are placed clear of it (it was made after, and the plan ran over it: a refusal).
#[test]
fn linux_gets_a_large_file_handed_on() {
    let script = r#"
let big = "0123456789abcdef"
for i in range(20) { big = big + big }
mount("hd0p1", "/")
exec("/boot/vmlinuz", cmdline="console=ttyS0 init.poweroff init.files=/etc/keys/big.key",
     initrd="/boot/initrd.img", files={"/etc/keys/big.key": big})
"#;
    let mut vm = Boot::new()
        .memory_mib(256)
        .module("big.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures().plain))
        .start();
    let big = b"0123456789abcdef".repeat(1 << 20);
    expect_init_report(
        &mut vm,
        "console=ttyS0 init.poweroff init.files=/etc/keys/big.key",
        &[("/etc/keys/big.key", &big)],
    );
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// A Multiboot2 kernel linked at 1 MiB whose memory reaches past the boot information GRUB left after the
/// payload and the script: it loads over them, as GRUB would load it (nothing reads them once the copies begin).
#[test]
fn multiboot2_kernel_may_load_over_the_boot_information() {
    let script = r#"
mount("hd0p1", "/")
exec("/boot/mb2kernel-big.elf", cmdline="a large kernel")
"#;
    let mut vm = boot_script_on(&fixtures().plain, "mb2.bs", script);
    vm.expect_line("bootscript: phase=jump", BOOT);
    vm.expect_line("mb2kernel: started", STEP);
    vm.expect_line("mb2kernel: cmdline=a large kernel", STEP);
    vm.lines_until("mb2kernel: done", STEP);
    vm.expect_exit(Exit::Success, STEP);
}

/// A Linux kernel that cannot be relocated loads at its pref_address (16 MiB, and Debian's needs 51 MiB from
/// there): the payload keeps its heap out of the low 128 MiB where the machine has room.
#[test]
fn linux_kernel_that_cannot_be_relocated_loads_at_its_preferred_address() {
    let script = r#"
mount("hd0p1", "/")
exec("/boot/vmlinuz-fixed", cmdline="console=ttyS0 init.poweroff", initrd="/boot/initrd.img")
"#;
    let mut vm = boot_script_on(&fixtures().plain, "fixed.bs", script);
    vm.expect_line("bootscript: phase=jump", BOOT);
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// A Multiboot2 kernel linked at 2 MiB (as Xen is) loads there: the payload keeps its heap out of the low
/// 128 MiB, where such kernels are linked.
#[test]
fn multiboot2_kernel_linked_at_2_mib() {
    let script = r#"
mount("hd0p1", "/")
exec("/boot/mb2kernel-2m.elf", cmdline="linked at 2 MiB")
"#;
    let mut vm = boot_script_on(&fixtures().plain, "mb2.bs", script);
    vm.expect_line("bootscript: phase=jump", BOOT);
    vm.expect_line("mb2kernel: started", STEP);
    vm.expect_line("mb2kernel: cmdline=linked at 2 MiB", STEP);
    vm.lines_until("mb2kernel: done", STEP);
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn refusals_end_at_the_rescue_shell() {
    let fixtures = fixtures();
    let script = r#"
mount("hd0p1", "/")
exec("/boot/notes.txt")
"#;
    let mut vm = Boot::new()
        .memory_mib(256)
        .module("refuse.bs", script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&fixtures.plain))
        .start();
    vm.expect_line(
        "/boot/notes.txt: not a kernel: neither a Linux bzImage nor a Multiboot2 image",
        BOOT,
    );
    vm.expect_line("bootscript: phase=rescue", STEP);
    vm.expect_line("bootscript: rescue shell", STEP);
    let refusals = [
        (
            r#"exec("/boot/truncated.bzimage")"#,
            "/boot/truncated.bzimage: kernel image truncated",
        ),
        (
            r#"exec("/boot/vmlinuz", cmdline="quiet", initrd="/data/big.img")"#,
            "/boot/vmlinuz: no free memory for the initrd (157286400 bytes)",
        ),
    ];
    for (command, error) in refusals {
        vm.send(&format!("{command}\r"));
        // The prompt, then what was typed (echoed), then the error.
        vm.expect_line(&format!("bootscript> {command}"), STEP);
        vm.expect_line(error, STEP);
    }
    vm.send("print(6 * 7)\r");
    vm.expect_line("bootscript> print(6 * 7)", STEP);
    vm.expect_line("42", STEP);
    let transcript = vm.transcript();
    assert!(!transcript.contains("phase=jump"), "{transcript}");
    assert!(!transcript.contains("exception"), "{transcript}");
}

/// The job of `make run`: no script given, so the embedded scripts/default.bs runs on the demo disk made by
/// scripts/mkdemo.sh (LUKS2, passphrase `bootscript`); the initramfs gets the key and gives a shell.
#[test]
fn default_script_boots_the_demo_disk() {
    let root = repository_root();
    let demo = root.join("build/test-exec/demo/disk.img");
    fixtures();
    run(Command::new("bash")
        .arg(root.join("scripts/mkdemo.sh"))
        .env("DEMO_OUT", &demo));
    let mut vm = Boot::new()
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&demo))
        .start();
    vm.expect_line("bootscript: running default.bs", BOOT);
    vm.expect_line(
        "the demo disk of make run has the passphrase: bootscript",
        STEP,
    );
    vm.send("bootscript\r");
    expect_init_report(
        &mut vm,
        "console=tty0 console=ttyS0",
        &[("/etc/keys/cryptroot.key", b"bootscript")],
    );
    // The shell (typed input waits in the console's tty until it reads): the key is there, and nothing
    // asked for the passphrase again. (Typed once /init has said its last line: the tty's echo of the typed line
    // would otherwise fall into it.)
    vm.expect_line("init: the key files are under /etc/keys", STEP);
    vm.send("echo shell-$((6 * 7)) $(ls /etc/keys)\r");
    vm.expect_line("shell-42", STEP);
    vm.send("poweroff -f\r");
    assert_eq!(vm.wait_exit(LINUX), 0, "QEMU status after Linux's poweroff");
    let transcript = vm.transcript();
    let clean = without_printk(&transcript);
    assert!(
        clean.contains("\ninit: the key files are under /etc/keys"),
        "{transcript}"
    );
    assert!(clean.contains("\nshell-42 cryptroot.key\n"), "{transcript}");
    assert_eq!(
        transcript.matches("Passphrase for hd0p1: ").count(),
        1,
        "{transcript}"
    );
}

/// The menu entry of the README's "Installing on a real PC behind GRUB": the first code block of that section.
fn readme_menu_entry() -> String {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).unwrap();
    let section = readme
        .split_once("## Installing on a real PC behind GRUB")
        .expect("the README's section on installing behind GRUB")
        .1;
    let block = section
        .split_once("\n```\n")
        .and_then(|(_, rest)| rest.split_once("\n```\n"))
        .expect("a code block in the README's section on installing behind GRUB")
        .0;
    // The files the test puts on the disk are the ones the entry names.
    for line in [
        "multiboot2 /boot/bootscript.elf",
        "module2 /boot/boot.bs boot.bs",
    ] {
        assert!(
            block.contains(line),
            "the README's menu entry no longer says {line:?}:\n{block}"
        );
    }
    format!("{block}\n")
}

/// A PC set up as the README says: GRUB installed on the hard disk (its boot sector and core image, where
/// `grub-install` puts them), which finds /boot/grub/grub.cfg on partition 1's ext4. That grub.cfg holds the
/// README's menu entry word for word (after `set timeout=0`, which `update-grub` writes on a PC). GRUB loads the
/// xz-packed payload and the script from the disk, and the script boots Linux from the same disk.
#[test]
fn linux_from_a_disk_with_grub_installed_as_the_readme_says() {
    fixtures();
    let root = repository_root();
    let dir = root.join("build/test-exec/installed");
    let extra = dir.join("extra");
    let cmdline = "console=ttyS0 init.poweroff init.files=/etc/keys/test.key";
    let script = format!(
        r#"
mount("hd0p1", "/")
print("installed: mounted, kernel of", stat("/boot/vmlinuz").size, "bytes")
exec("/boot/vmlinuz", cmdline="{cmdline}", initrd="/boot/initrd.img",
     files={{"/etc/keys/test.key": "installed behind GRUB\n"}})
"#
    );
    write_if_changed(
        &extra.join("boot/grub/grub.cfg"),
        format!("set timeout=0\n{}", readme_menu_entry()).as_bytes(),
    );
    write_if_changed(
        &extra.join("boot/bootscript.elf"),
        &std::fs::read(payload_path()).unwrap(),
    );
    write_if_changed(&extra.join("boot/boot.bs"), script.as_bytes());
    // GRUB's modules, where grub-install copies them (core.img loads `normal` and the entry's modules from
    // there).
    let modules = Path::new("/usr/lib/grub/i386-pc");
    let listing = std::fs::read_dir(modules)
        .unwrap_or_else(|e| panic!("cannot list {}: {e} (run `make setup`)", modules.display()));
    for file in listing {
        let file = file.unwrap().path();
        if file.extension().is_some_and(|e| e == "mod" || e == "lst") {
            write_if_changed(
                &extra
                    .join("boot/grub/i386-pc")
                    .join(file.file_name().unwrap()),
                &std::fs::read(&file).unwrap(),
            );
        }
    }
    let disk = dir.join("disk.img");
    run(Command::new("bash")
        .arg(root.join("scripts/mkdemo.sh"))
        .env("DEMO_OUT", &disk)
        .env("DEMO_LUKS", "none")
        .env("DEMO_EXTRA", &extra)
        .env("DEMO_GRUB", "1"));

    let mut vm = Boot::new().grub_disk(&disk).start();
    vm.expect_line("boot loader: GRUB", BOOT);
    vm.expect_line("module \"boot.bs\"", STEP);
    vm.expect_line("bootscript: running boot.bs", STEP);
    vm.expect_line("installed: mounted, kernel of 14", STEP);
    expect_init_report(
        &mut vm,
        cmdline,
        &[("/etc/keys/test.key", b"installed behind GRUB\n")],
    );
    vm.expect_line("reboot: Power down", LINUX);
    assert_eq!(vm.wait_exit(STEP), 0, "QEMU status after Linux's poweroff");
}

/// A digest in lowercase hex by a coreutils tool (`sha1sum`, `sha256sum`).
fn digest_hex(tool: &str, bytes: &[u8]) -> String {
    let mut child = Command::new(tool)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} (coreutils): {e}"));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split(' ').next().unwrap().to_string()
}

/// PBKDF2-HMAC-SHA256 by Python's hashlib (OpenSSL), independent of the payload's.
fn pbkdf2_sha256(password: &str, salt: &str, iterations: u32, length: usize) -> Vec<u8> {
    let code = format!(
        "import hashlib,sys; sys.stdout.buffer.write(hashlib.pbkdf2_hmac('sha256', {password:?}.encode(), \
         {salt:?}.encode(), {iterations}, {length}))"
    );
    let out = Command::new("python3")
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.len() == length,
        "python3: {out:?}"
    );
    out.stdout
}

/// A disk for the scripts that mount their boot partition at /boot (in `dir`, made again each time): hd0p1 an
/// ext2 with `vmlinuz` and `initrd.img` at its root, hd0p2 and hd0p3 16 MiB each (hd0p3 from sector
/// [`THIRD_PARTITION`]), for the volumes they map.
fn boot_partition_and_two_volumes(dir: &Path) -> PathBuf {
    let root = repository_root();
    let tree = dir.join("boot-tree");
    write_if_changed(
        &tree.join("vmlinuz"),
        &std::fs::read(root.join("build/cache/vmlinuz")).unwrap(),
    );
    write_if_changed(
        &tree.join("initrd.img"),
        &std::fs::read(root.join("build/initramfs.cpio.gz")).unwrap(),
    );
    let part = dir.join("boot.img");
    let _ = std::fs::remove_file(&part);
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-d"])
        .arg(&tree)
        .arg(&part)
        .arg("24M"));
    let disk = zeroed_file(&dir.join("disk.img"), 64 << 20);
    run(Command::new("bash").arg("-c").arg(format!(
        "printf 'label: dos\\nstart=2048, size=49152, type=83\\nstart=51200, size=32768, type=83\\n\
         start={THIRD_PARTITION}, size=32768, type=83\\n' | sfdisk -q {0} && \
         dd if={1} of={0} bs=512 seek=2048 conv=notrunc status=none",
        disk.display(),
        part.display(),
    )));
    disk
}

/// Boots `script` as the module `name`, with `disk` as hd0 (shared: see [`shared_disk`]).
fn boot_script_on(disk: &Path, name: &str, script: impl Into<Vec<u8>>) -> Vm {
    boot_script_with(Boot::new(), disk, name, script)
}

/// The same on the machine `boot` makes (a UEFI PC, say).
fn boot_script_with(boot: Boot, disk: &Path, name: &str, script: impl Into<Vec<u8>>) -> Vm {
    boot.module(name, script)
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(disk))
        .start()
}

/// Ends /init's shell (`poweroff -f`), and checks that QEMU ended as Linux powered off and that the test
/// passphrase showed nowhere on the console.
fn power_off_with_the_passphrase_shown_nowhere(mut vm: Vm) {
    vm.send("poweroff -f\r");
    assert_eq!(vm.wait_exit(LINUX), 0, "QEMU status after Linux's poweroff");
    assert!(!vm.transcript().contains(PASSPHRASE), "{}", vm.transcript());
}

/// A new file of `len` zero bytes at `path` (sparse), replacing what was there.
fn zeroed_file(path: &Path, len: u64) -> PathBuf {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
    path.to_path_buf()
}

/// Where [`boot_partition_and_two_volumes`] puts hd0p3, in sectors.
const THIRD_PARTITION: u64 = 83968;

/// A copy at `disk` of the fixtures' LUKS2 disk `luks2` whose volume is hd0p2: slot 1 of the partition table
/// is a small partition after it.
fn luks2_as_partition_2(luks2: &Path, disk: &Path) -> PathBuf {
    std::fs::copy(luks2, disk).unwrap();
    let sectors = std::fs::metadata(disk).unwrap().len() / 512;
    let dump = run(Command::new("sfdisk").arg("-d").arg(disk));
    let size = dump
        .lines()
        .find_map(|l| l.split("start=        2048, size=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .map(|n| n.trim().to_string())
        .expect("the fixture's partition at sector 2048");
    std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .unwrap()
        .set_len((sectors + 2048) * 512)
        .unwrap();
    run(Command::new("bash").arg("-c").arg(format!(
        "printf 'label: dos\\nstart={sectors}, size=2048, type=83\\nstart=2048, size={size}, type=83\\n' | \
         sfdisk -q {}",
        disk.display()
    )));
    disk.to_path_buf()
}

/// The contract's examples (tests/contract/, copied from its text) on disks laid out as they expect: the
/// passphrase typed on serial (a wrong one first, for the first), Linux booted with the keys handed on, and
/// /init's shell powered off. The first mounts its boot partition at /boot with nothing at /.
#[test]
fn the_contracts_examples_boot_linux() {
    let fixtures = fixtures();
    let root = repository_root();
    let dir = root.join("build/test-exec/contract");

    // The first: hd0p1 an ext2 with the kernel and initrd at its root, hd0p2 and hd0p3 the volumes it maps.
    let disk = boot_partition_and_two_volumes(&dir);
    let contract = std::fs::read_to_string(root.join("tests/contract/seed.bs")).unwrap();
    let their_hash = "0b1c9e0e5a3e9a7d0f7a3c4e2b1d0c9f8e7a6b5c";
    assert!(contract.contains(their_hash));
    let salt = "host-7f3a";
    let script = contract.replace(
        their_hash,
        &digest_hex("sha1sum", format!("{salt}{PASSPHRASE}").as_bytes()),
    );
    let mut vm = boot_script_on(&disk, "seed.bs", script);
    vm.expect_line("bootscript: running seed.bs", BOOT);
    vm.send("not it\r");
    vm.expect_line("wrong passphrase, try again", STEP);
    vm.send(&format!("{PASSPHRASE}\r"));
    let root_key = pbkdf2_sha256(PASSPHRASE, &format!("{salt}/root"), 100_000, 64);
    let home_key = pbkdf2_sha256(PASSPHRASE, &format!("{salt}/home"), 100_000, 32);
    expect_init_report(
        &mut vm,
        "console=ttyS0 root=/dev/mapper/root",
        &[
            ("/etc/keys/home.key", &home_key),
            ("/etc/keys/root.key", &root_key),
        ],
    );
    power_off_with_the_passphrase_shown_nowhere(vm);

    // The second: the LUKS2 volume of the fixtures as hd0p2.
    let disk = luks2_as_partition_2(&fixtures.luks2, &dir.join("luks.img"));
    let script = std::fs::read_to_string(root.join("tests/contract/luks.bs")).unwrap();
    let mut vm = boot_script_on(&disk, "luks.bs", script);
    vm.expect_line("bootscript: running luks.bs", BOOT);
    vm.send(&format!("{PASSPHRASE}\r"));
    expect_init_report(
        &mut vm,
        "console=ttyS0 cryptdevice=/dev/sda2:cryptboot",
        &[("/etc/keys/cryptboot.key", PASSPHRASE.as_bytes())],
    );
    power_off_with_the_passphrase_shown_nowhere(vm);
}

/// The example of the README's "Writing a boot script", as it stands there, on a disk laid out as it expects
/// (hd0p3 a LUKS1 volume with the passphrase), boots Linux with the keys handed on.
#[test]
fn the_readmes_example_boots_linux() {
    fixtures();
    let root = repository_root();
    let dir = root.join("build/test-exec/readme");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = readme
        .split_once("## Writing a boot script")
        .and_then(|(_, section)| section.split_once("\n```\n"))
        .and_then(|(_, rest)| rest.split_once("\n```\n"))
        .expect("a code block in the README's section on writing a boot script")
        .0;
    let disk = boot_partition_and_two_volumes(&dir);
    let volume = zeroed_file(&dir.join("luks.img"), 16 << 20);
    run(Command::new("bash").arg("-c").arg(format!(
        "printf %s '{PASSPHRASE}' | cryptsetup luksFormat --batch-mode --type luks1 --pbkdf-force-iterations 1000 \
         --key-file - {0} && dd if={0} of={1} bs=512 seek={THIRD_PARTITION} conv=notrunc status=none",
        volume.display(),
        disk.display()
    )));
    let mut vm = boot_script_on(&disk, "readme.bs", format!("{example}\n"));
    vm.expect_line("bootscript: running readme.bs", BOOT);
    vm.send(&format!("{PASSPHRASE}\r"));
    vm.expect_line("[\"initrd.img\", \"lost+found\", \"vmlinuz\"]", LINUX);
    let root_key = pbkdf2_sha256(PASSPHRASE, "host-7f3a/root", 100_000, 64);
    expect_init_report(
        &mut vm,
        "console=ttyS0 root=/dev/mapper/root",
        &[
            ("/etc/keys/home.key", PASSPHRASE.as_bytes()),
            ("/etc/keys/root.key", &root_key),
        ],
    );
    power_off_with_the_passphrase_shown_nowhere(vm);
}

/// The embedded default script (`make run`'s) takes another device and words for Linux from the payload's
/// command line: `device=hd0p2` and `linux.WORD`; a wrong passphrase is said and asked again.
#[test]
fn the_default_script_takes_its_device_and_linux_words_from_the_command_line() {
    let fixtures = fixtures();
    let dir = repository_root().join("build/test-exec/default");
    std::fs::create_dir_all(&dir).unwrap();
    let disk = luks2_as_partition_2(&fixtures.luks2, &dir.join("luks.img"));
    let mut vm = Boot::new()
        .cmdline("device=hd0p2 linux.e2e.word=1 linux.init.poweroff")
        .qemu_arg("-drive")
        .qemu_arg(&shared_disk(&disk))
        .start();
    vm.expect_line("bootscript: running default.bs", BOOT);
    vm.expect_line("bootscript: unlocking hd0p2", STEP);
    vm.send("not it\r");
    vm.expect_line("no key slot matches, try again", LINUX);
    vm.send(&format!("{PASSPHRASE}\r"));
    expect_init_report(
        &mut vm,
        "console=tty0 console=ttyS0 e2e.word=1 init.poweroff",
        &[("/etc/keys/cryptroot.key", PASSPHRASE.as_bytes())],
    );
    assert_eq!(vm.wait_exit(LINUX), 0, "QEMU status after Linux's poweroff");
    assert!(!vm.transcript().contains(PASSPHRASE), "{}", vm.transcript());
}
