//! Boot tests of the platform (issue 2): banner and memory map, command line and modules, CPU exception
//! reports, serial line editing, no-echo input, PS/2 keys, heap.

use std::time::Duration;

use bootscript_boot_tests::{Boot, Exit, Vm};

const BOOT: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(20);

fn banner_and_memory_map(cpu_model: &str) {
    let mut vm = Boot::new().cpu(cpu_model).cmdline("test=exit").start();
    vm.expect_line("phase=consoles", BOOT);
    vm.expect_line("bootscript 0.1.0: boot script loader", STEP);
    let cpu = vm.expect_line("cpu: sse2", STEP).text;
    // qemu64 has no AES-NI; TCG's max CPU (QEMU 7.2) has AES-NI and AVX2 (usable: the payload enabled the AVX
    // state), but no SHA-NI.
    match cpu_model {
        "qemu64" => assert!(!cpu.contains(" aes"), "{cpu}"),
        _ => assert!(cpu.contains(" aes") && cpu.contains(" avx2"), "{cpu}"),
    }
    vm.expect_line("cmdline: test=exit", STEP);
    let memory = vm.expect_line("memory: ", STEP).text;
    // 1 GiB of RAM: the payload must find nearly all of it and put the heap in it.
    let usable: u64 = memory["memory: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1000..=1024).contains(&usable), "{memory}");
    let heap: u64 = memory
        .split("heap ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // All of the RAM above 128 MiB (the RAM below is kept for kernels loaded where they ask).
    assert!(heap >= usable - 129, "heap too small: {memory}");
    vm.expect_line("memory map: ", STEP);
    vm.expect_line(" usable", STEP);
    vm.expect_line("modules: none", STEP);
    vm.expect_line("phase=banner", STEP);
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn banner_and_memory_map_qemu64() {
    banner_and_memory_map("qemu64");
}

#[test]
fn banner_and_memory_map_max() {
    banner_and_memory_map("max");
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn command_line_and_module_contents_reach_the_payload() {
    let blob: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut vm = Boot::new()
        .cmdline("test=modules root=/dev/sda1 quiet")
        .module("greeting.txt", "hello from a module\n")
        .module("blob", blob.clone())
        .start();
    vm.expect_line("cmdline: test=modules root=/dev/sda1 quiet", BOOT);
    vm.expect_line("modules: 2", STEP);
    vm.expect_line("module \"greeting.txt\" at", STEP);
    vm.expect_line("module \"blob\" at 0x", STEP);
    let expected = format!(
        "module greeting.txt: size=20 fnv1a={:016x}",
        fnv1a(b"hello from a module\n")
    );
    vm.expect_line(&expected, STEP);
    vm.expect_line("module head: hello from a module.", STEP);
    vm.expect_line(
        &format!("module blob: size=300000 fnv1a={:016x}", fnv1a(&blob)),
        STEP,
    );
    vm.expect_exit(Exit::Success, STEP);
}

fn crash(kind: &str, cpu: &str, report: &[&str]) {
    let mut vm = Boot::new()
        .cpu(cpu)
        .cmdline(&format!("crash={kind}"))
        .start();
    vm.expect_line(&format!("crash: {kind}"), BOOT);
    for needle in report {
        vm.expect_line(needle, STEP);
    }
    vm.expect_exit(Exit::Failure, STEP);
    let transcript = vm.transcript();
    for register in [
        "rip", "cr2", "rsp", "rflags", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r15",
    ] {
        assert!(
            transcript.contains(&format!(" {register}=0x")),
            "{register} not reported:\n{transcript}"
        );
    }
}

#[test]
fn invalid_opcode_is_reported() {
    crash(
        "ud",
        "qemu64",
        &[
            "CPU EXCEPTION 6 invalid opcode (#UD)",
            "error_code=0x0 rip=0x",
        ],
    );
}

#[test]
fn page_fault_is_reported_with_its_address() {
    crash(
        "pf",
        "max",
        &[
            "CPU EXCEPTION 14 page fault (#PF)",
            "cr2=0x0000004000000000",
        ],
    );
}

#[test]
fn double_fault_is_reported_from_its_own_stack() {
    crash("df", "qemu64", &["CPU EXCEPTION 8 double fault (#DF)"]);
}

#[test]
fn general_protection_fault_is_reported() {
    crash(
        "gp",
        "qemu64",
        &["CPU EXCEPTION 13 general protection fault (#GP)"],
    );
}

#[test]
fn serial_input_is_echoed_and_edited() {
    let mut vm = Boot::new().cmdline("test=echo").start();
    vm.expect_line("echo: ready", BOOT);
    vm.send("hello\r");
    let echoed = vm.lines_until("got: [hello] (5 chars)", STEP);
    assert!(
        echoed.iter().any(|l| l.text == "hello"),
        "typed text not echoed: {echoed:?}"
    );
    // Backspace (BS and DEL), then Ctrl-U, then a CR LF pair that must count as one Enter.
    vm.send("helpo\u{8}\u{7f}lo\r");
    let edited = vm.lines_until("got: [hello] (5 chars)", STEP);
    assert!(
        edited.iter().any(|l| l.text.contains("\u{8} \u{8}")),
        "backspace not erased on screen: {edited:?}"
    );
    vm.send("wrong words\u{15}right\r\n");
    vm.expect_line("got: [right] (5 chars)", STEP);
    vm.send("h\u{e9}\r");
    vm.expect_line("got: [h\u{e9}] (2 chars)", STEP);
    vm.send("exit\r");
    vm.expect_exit(Exit::Success, STEP);
    assert!(
        !vm.transcript().contains("got: []"),
        "CR LF gave an extra empty line:\n{}",
        vm.transcript()
    );
}

#[test]
fn no_echo_mode_shows_nothing_typed() {
    let mut vm = Boot::new().cmdline("test=noecho").start();
    vm.expect_line("echo: ready", BOOT);
    vm.send("s3cret pass\u{8}s\r");
    let lines = vm.lines_until("got: [s3cret pass] (11 chars)", STEP);
    vm.expect_exit(Exit::Success, STEP);
    for line in &lines[..lines.len() - 1] {
        assert!(
            !line.text.contains("s3cret") && !line.text.contains('*'),
            "typed text shown: {lines:?}"
        );
    }
    // Only a newline is printed for the typed line.
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].text, "");
}

#[test]
fn ps2_keys_are_decoded() {
    let mut vm = Boot::new().cmdline("test=keys").start();
    vm.expect_line("keys: ready", BOOT);
    vm.type_test_keys(STEP);
}

#[test]
fn keymap_can_be_switched() {
    let mut vm = Boot::new().cmdline("keymap=de test=keys").start();
    vm.expect_line("keymap: de", BOOT);
    vm.expect_line("keys: ready", STEP);
    vm.sendkey("y");
    vm.expect_line("key: 'z' U+007A", STEP);
    vm.sendkey("ret");
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn a_line_can_be_typed_on_the_keyboard() {
    let mut vm = Boot::new().cmdline("test=echo").start();
    vm.expect_line("echo: ready", BOOT);
    for key in ["h", "i", "x", "backspace", "shift-1", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got: [hi!] (3 chars)", STEP);
    // After an Enter on the serial line (CR), the keyboard's Enter (LF) still ends a line; the Esc key is no key
    // (it took the next one with it).
    vm.send("one\r");
    vm.expect_line("got: [one] (3 chars)", STEP);
    for key in ["esc", "o", "k", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got: [ok] (2 chars)", STEP);
    // A line that wrapped on the screen is erased back across the wrap: 85 characters, 6 backspaces, one more.
    vm.send(&format!("{}{}b\r", "a".repeat(85), "\u{8}".repeat(6)));
    let line = format!("{}b", "a".repeat(79));
    vm.expect_line(&format!("got: [{line}] (80 chars)"), STEP);
    let screen = vm.screen_showing(&line, STEP);
    assert!(screen.contains(&line), "{screen:#?}");
    vm.send("exit\r");
    vm.expect_exit(Exit::Success, STEP);
}

/// Waits until QEMU's trace of the keyboard's lights (`-trace ps2_set_ledstate`) shows `lights` (Scroll Lock 1,
/// Num Lock 2, Caps Lock 4) as the last state set.
fn expect_lights(vm: &mut Vm, lights: u8) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let trace = vm.qemu_stderr();
        let last = trace
            .lines()
            .rev()
            .find_map(|l| l.rsplit_once(" ledstate ").map(|(_, state)| state.trim()));
        if last == Some(&lights.to_string()) {
            return;
        }
        if std::time::Instant::now() > deadline {
            vm.fail(&format!("the keyboard's lights are {last:?}, not {lights}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_lock_lights_follow_the_locks_and_caps_lock_set_at_grub_stays_on_in_any_layout() {
    // The user turned Caps Lock on at GRUB's menu: the BIOS's keyboard flags (0x417) say Caps and Num Lock. The
    // German layout, chosen after that, keeps the locks.
    let mut vm = Boot::new()
        .grub_command("write_byte 0x417 0x60")
        .cmdline("keymap=de test=echo")
        .qemu_arg("-trace")
        .qemu_arg("ps2_set_ledstate")
        .start();
    vm.expect_line("echo: ready", BOOT);
    expect_lights(&mut vm, 6);
    for key in ["a", "shift-b", "y", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got: [AbZ] (3 chars)", STEP);
    vm.sendkey("caps_lock");
    expect_lights(&mut vm, 2);
    // Num Lock on: the keypad gives digits; off, its keys are arrows and the like, which type nothing here.
    for key in ["a", "kp_1", "num_lock", "kp_2", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got: [a1] (2 chars)", STEP);
    expect_lights(&mut vm, 0);
    vm.sendkey("scroll_lock");
    expect_lights(&mut vm, 1);
    // Typing goes on between the exchanges (every ACK is taken as an answer, never a key).
    for key in ["caps_lock", "o", "caps_lock", "k", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got: [Ok] (2 chars)", STEP);
    expect_lights(&mut vm, 1);
    vm.send("exit\r");
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn the_heap_serves_hundreds_of_mib() {
    let mut vm = Boot::new().cmdline("test=heap").start();
    vm.expect_line("heap: 256 MiB allocated and written", BOOT);
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn an_allocation_that_cannot_be_served_is_reported() {
    let mut vm = Boot::new().cmdline("test=oom").start();
    vm.expect_line("bootscript: PANIC", BOOT);
    vm.expect_line(
        &format!("memory allocation of {} bytes failed", usize::MAX / 4),
        STEP,
    );
    vm.expect_line("bootscript: heap: 0 of ", STEP);
    vm.expect_exit(Exit::Failure, STEP);
}

#[test]
fn the_banner_is_on_the_vga_screen_too() {
    let mut vm = Boot::new().cmdline("test=keys").start();
    vm.expect_line("keys: ready", BOOT);
    let screen = vm.screen_showing("keys: ready", STEP);
    assert!(
        screen
            .iter()
            .any(|l| l.starts_with("bootscript 0.1.0: boot script loader")),
        "{screen:#?}"
    );
    assert!(screen.iter().any(|l| l == "keys: ready"), "{screen:#?}");
    vm.sendkey("ret");
    vm.expect_exit(Exit::Success, STEP);
}

/// A framebuffer above 4 GiB (a graphics card's, where the firmware maps large BARs high) is mapped where it is and
/// drawn on: the self-test makes the RAM at 4 GiB its screen, and its text is read back from there.
#[test]
fn a_framebuffer_above_4_gib_is_drawn_on() {
    let mut vm = Boot::new()
        .memory_mib(5 << 10)
        .cmdline("test=high-screen")
        .start();
    let shown = vm
        .expect_line("high-screen: on the framebuffer at 4 GiB", BOOT)
        .text;
    // (The screen lags the serial line: the console writes serial first.)
    let deadline = std::time::Instant::now() + STEP;
    let screen = loop {
        let screen = vm.memory_screen(1 << 32, 1280, 800, 5120);
        if screen[0] == shown || std::time::Instant::now() > deadline {
            break screen;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        screen[..2],
        ["high-screen: on the framebuffer at 4 GiB", "_"],
        "{screen:#?}"
    );
    vm.send("\r");
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn a_machine_without_a_serial_port_still_boots() {
    let mut vm = Boot::new().no_serial().cmdline("test=keys").start();
    // No serial line to read: wait for the screen to show the payload waiting for a key.
    let screen = vm.screen_showing("keys: ready", BOOT);
    assert!(
        screen
            .iter()
            .any(|l| l.contains("serial console unavailable: no UART at COM1")),
        "{screen:#?}"
    );
    assert!(screen.iter().any(|l| l == "keys: ready"), "{screen:#?}");
    vm.sendkey("ret");
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn sleep_and_the_clock_follow_real_time() {
    let mut vm = Boot::new().cmdline("test=sleep").start();
    let start = vm.expect_line("sleep: start", BOOT);
    let end = vm.expect_line("sleep: end", STEP);
    let slept: u64 = end
        .text
        .rsplit("slept_ms=")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1000..1100).contains(&slept), "payload clock: {}", end.text);
    // The host's clock agrees within the slack of an emulator under load.
    let host = (end.at - start.at).as_millis();
    assert!(
        (700..3000).contains(&host),
        "host saw {host} ms for a 1000 ms sleep"
    );
    vm.expect_exit(Exit::Success, STEP);
}

#[test]
fn reboot_resets_the_machine() {
    let mut vm = Boot::new().cmdline("test=reboot").start();
    vm.expect_line("reboot: now", BOOT);
    // With -no-reboot, QEMU ends on a reset with status 0.
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
}

/// `halt()` and `reboot()` tell an NVMe controller that power goes away (a normal shutdown notification, CC.SHN),
/// as QEMU's trace (`-trace pci_nvme_mmio_shutdown_set`) shows: else the drive counts an unsafe shutdown. The
/// script never used the disk: the payload looks for the disks first.
#[test]
fn halt_and_reboot_shut_the_nvme_disks_down_first() {
    // (QEMU runs with -no-reboot: a reset ends it with status 0, as a power-off does.)
    for (n, script) in ["halt()\n", "reboot()\n"].into_iter().enumerate() {
        let s = std::env::temp_dir().join(format!(
            "bootscript-platform-shutdown-{}-{n}.img",
            std::process::id()
        ));
        std::fs::File::create(&s).unwrap().set_len(1 << 20).unwrap();
        let mut vm = Boot::new()
            .module("off.bs", format!("print(\"off\")\n{script}"))
            .qemu_arg("-drive")
            .qemu_arg(&format!("file={},format=raw,if=none,id=flash", s.display()))
            .qemu_arg("-device")
            .qemu_arg("nvme,drive=flash,serial=bootscript,addr=5")
            .qemu_arg("-trace")
            .qemu_arg("pci_nvme_mmio_shutdown_set")
            .start();
        vm.expect_line("off", BOOT);
        assert_eq!(vm.wait_exit(STEP), 0, "{script}: {}", vm.transcript());
        let _ = std::fs::remove_file(&s);
        assert!(
            vm.qemu_stderr().contains("pci_nvme_mmio_shutdown_set"),
            "{script}: no shutdown notification:\n{}",
            vm.qemu_stderr()
        );
    }
}

/// `halt()` first puts the ATA disks into standby (STANDBY IMMEDIATE: caches on the medium, heads parked), on the
/// IDE ports (`pc`) and behind AHCI (`q35`), as QEMU's trace of the commands the disks get (`-trace ide_exec_cmd`)
/// shows, whether the script used the disks or not; `reboot()` does not, as Linux spins disks down only to switch
/// off.
#[test]
fn halt_puts_the_ata_disks_into_standby_first() {
    for (n, (machine, script, standby)) in [
        ("pc", "print(\"disks:\", len(disks()))\nhalt()\n", true),
        ("q35", "print(\"disks:\", len(disks()))\nhalt()\n", true),
        ("pc", "print(\"disks: unused\")\nhalt()\n", true),
        ("q35", "print(\"disks: unused\")\nhalt()\n", true),
        ("pc", "print(\"disks:\", len(disks()))\nreboot()\n", false),
    ]
    .into_iter()
    .enumerate()
    {
        let image = std::env::temp_dir().join(format!(
            "bootscript-platform-standby-{}-{n}.img",
            std::process::id()
        ));
        std::fs::File::create(&image)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let mut vm = Boot::new()
            .qemu_arg("-machine")
            .qemu_arg(machine)
            .disk_at(0, &image)
            .module("off.bs", script)
            .qemu_arg("-trace")
            .qemu_arg("ide_exec_cmd")
            .start();
        vm.expect_line("disks: ", BOOT);
        assert_eq!(
            vm.wait_exit(STEP),
            0,
            "{machine} {script}: {}",
            vm.transcript()
        );
        let _ = std::fs::remove_file(&image);
        assert_eq!(
            vm.qemu_stderr().contains("cmd 0xe0"),
            standby,
            "{machine} {script}:\n{}",
            vm.qemu_stderr()
        );
    }
}

/// Boots `test=reboot` on QEMU's `machine`, waits for the reset, and gives the keyboard controller commands the
/// payload wrote, as QEMU's trace (`-trace pckbd_kbd_write_command`) shows them.
fn reboot_controller_commands(machine: &str) -> Vec<String> {
    let mut vm = Boot::new()
        .cmdline("test=reboot")
        .qemu_arg("-machine")
        .qemu_arg(machine)
        .qemu_arg("-trace")
        .qemu_arg("pckbd_kbd_write_command")
        .start();
    vm.expect_line("reboot: now", BOOT);
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
    vm.qemu_stderr()
        .lines()
        .filter(|l| l.contains("pckbd_kbd_write_command"))
        .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn reboot_uses_the_acpi_reset_register_where_the_fadt_names_one() {
    // QEMU's q35 machine has a FADT with a reset register (port 0xCF9); the i440FX machine (`pc`) has none. The
    // reset must come from the register alone: the keyboard controller is never told to pulse the reset line.
    let commands = reboot_controller_commands("q35");
    assert!(
        !commands.iter().any(|c| c.contains("0xfe")),
        "the keyboard controller was asked to reset: {commands:?}"
    );
}

#[test]
fn reboot_without_an_acpi_reset_register_pulses_the_keyboard_controllers_reset_line() {
    let commands = reboot_controller_commands("pc");
    assert!(
        commands.iter().any(|c| c.contains("0xfe")),
        "no reset through the keyboard controller: {commands:?}"
    );
}

/// `reboot()` wipes the heap and the stack first: a reset keeps RAM as it was, and whatever boots next could read
/// a passphrase typed before it, or a key derived from it. QEMU pauses at the reset here (with its RAM as the
/// reset left it), and the whole RAM is searched.
#[test]
fn reboot_leaves_no_passphrase_or_key_in_ram() {
    let script = "\
let pass = prompt(\"pw: \", echo=false)
let key = pbkdf2(\"sha256\", pass, \"salt\", 1000, 32)
print(\"key\", hex(key))
reboot()
";
    let mut vm = Boot::new()
        .memory_mib(256)
        .qemu_arg("-action")
        .qemu_arg("shutdown=pause")
        .module("reboot.bs", script)
        .start();
    vm.expect_line("bootscript: phase=script", BOOT);
    let passphrase = "Tq7-reboot-wipe";
    vm.send(&format!("{passphrase}\r"));
    let line = vm.expect_line("key ", STEP).text;
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&line[4 + 2 * i..6 + 2 * i], 16).unwrap())
        .collect();
    // The reset comes at once; QEMU then pauses instead of booting again.
    std::thread::sleep(Duration::from_secs(2));
    let ram = vm.physical_memory(0, 256 << 20);
    let find = |needle: &[u8]| ram.windows(needle.len()).position(|w| w == needle);
    assert_eq!(
        find(passphrase.as_bytes()),
        None,
        "the passphrase is in RAM"
    );
    assert_eq!(find(&key), None, "the derived key is in RAM");
}

#[test]
fn a_stack_overflow_hits_the_guard_page_and_is_reported() {
    crash(
        "stack",
        "qemu64",
        &["CPU EXCEPTION 8 double fault (#DF)", "the stack overflowed"],
    );
}

#[test]
fn halt_switches_the_machine_off_through_acpi() {
    // The harness's -no-reboot is undone here: a reset would boot the script again, so only a power-off ends
    // QEMU after one run. Before ACPI soft-off, halt() stopped the CPU and QEMU ran on.
    let mut vm = Boot::new()
        .module("off.bs", "print(\"switching off\")\nhalt()\n")
        .qemu_arg("-action")
        .qemu_arg("reboot=reset")
        .start();
    vm.expect_line("switching off", BOOT);
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
    let transcript = vm.transcript();
    assert_eq!(
        transcript.matches("switching off").count(),
        1,
        "{transcript}"
    );
    assert!(!transcript.contains("halt: "), "{transcript}");
}

#[test]
fn halt_without_acpi_tables_is_an_error_the_script_can_catch() {
    // No ACPI: the firmware makes no tables, GRUB hands over no RSDP.
    let mut vm = Boot::new()
        .module(
            "off.bs",
            "try { halt() } catch e { print(\"caught: \" + e) }\nprint(\"still here\")\n",
        )
        .qemu_arg("-machine")
        .qemu_arg("acpi=off")
        .start();
    vm.expect_line(
        "caught: cannot switch the machine off: the boot loader passed no ACPI RSDP",
        BOOT,
    );
    vm.expect_line("still here", STEP);
}
