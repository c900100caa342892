//! USB keyboards on an xHCI controller (QEMU's `qemu-xhci` with a `usb-kbd`), on PCs without an i8042
//! (`i8042=off`: no PS/2 keyboard, and no firmware's emulation of one), so that every key typed can only have come
//! through USB. The monitor's `sendkey` goes to the USB keyboard (QEMU makes a USB keyboard the active one).

use std::process::Command;
use std::time::Duration;

use bootscript_boot_tests::{run, Boot, Vm};

/// OVMF takes a few seconds more than SeaBIOS to come up under TCG.
const BOOT: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(20);
const RESCUE: &str = "bootscript: phase=rescue";

/// A PC with no i8042 and a USB keyboard on an xHCI controller at 00:04.0 (the keyboard on port 5, the first of
/// the USB 2 ports after the four USB 3 ones): a high-speed one (QEMU's default), as few keyboards are.
fn usb_keyboard(boot: Boot) -> Boot {
    keyboard_of_speed(boot, 2)
}

/// The same with a keyboard of USB version `version`: 1 makes it a full-speed one, as most keyboards are (an
/// interval in frames, endpoint 0's packet size read from the device).
fn keyboard_of_speed(boot: Boot, version: u8) -> Boot {
    boot.qemu_arg("-machine")
        .qemu_arg("i8042=off")
        .qemu_arg("-device")
        .qemu_arg("qemu-xhci,id=xhci,addr=4")
        .qemu_arg("-device")
        .qemu_arg(&format!("usb-kbd,bus=xhci.0,usb_version={version}"))
}

const FOUND: &str = "bootscript: xhci 00:04.0 port 5: keyboard";

/// SHA-256 in lowercase hex, by the host's coreutils.
fn sha256_hex(text: &str) -> String {
    let out = run(Command::new("sh")
        .arg("-c")
        .arg("printf %s \"$0\" | sha256sum")
        .arg(text));
    out.split_whitespace().next().unwrap().to_string()
}

/// The passphrase of the UEFI test, and the keys that type it (a shifted letter, a digit, a punctuation key).
const PASSPHRASE: &str = "Key7-X";
const PASSPHRASE_KEYS: [&str; 7] = ["shift-k", "e", "y", "7", "minus", "shift-x", "ret"];

/// Types the passphrase at the hidden prompt of `PASSPHRASE_SCRIPT`, and checks that the script got it whole.
fn type_passphrase(vm: &mut Vm) {
    vm.screen_showing("passphrase: _", STEP);
    for key in PASSPHRASE_KEYS {
        vm.sendkey(key);
    }
    let expected = format!("typed 6 characters, sha256 {}", sha256_hex(PASSPHRASE));
    vm.expect_line(&expected, STEP);
    let screen = vm.screen_showing("Enter switches off _", STEP);
    assert!(
        !screen.iter().any(|l| l.contains(PASSPHRASE)),
        "{screen:#?}"
    );
    assert!(!vm.transcript().contains(PASSPHRASE), "{}", vm.transcript());
    vm.sendkey("ret");
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
}

const PASSPHRASE_SCRIPT: &str = r#"
let pass = prompt("passphrase: ", echo=false)
print("typed", len(pass), "characters, sha256", hex(sha256(pass)))
prompt("Enter switches off ")
halt()
"#;

/// A UEFI PC whose only keyboard is a full-speed USB one: the passphrase is typed at a hidden prompt, reaches the script
/// whole (its hash, computed here, is what the script prints), and shows on neither console. Without the xHCI
/// driver no key arrives at all (GRUB has left UEFI's boot services, whose USB driver OVMF stopped).
#[test]
fn a_passphrase_is_typed_on_the_usb_keyboard_of_a_uefi_pc() {
    let boot = Boot::new().uefi().module("usb.bs", PASSPHRASE_SCRIPT);
    let mut vm = keyboard_of_speed(boot, 1).start();
    vm.expect_line(&format!("{FOUND} (full speed)"), BOOT);
    type_passphrase(&mut vm);
}

/// The byte of the lock lights the payload last sent to the keyboard (SET_REPORT: bit 0 Num, 1 Caps, 2 Scroll
/// Lock), read from the guest's memory where the data stage of that request points, as QEMU's trace of the TRBs
/// the controller fetched (`-trace usb_xhci_fetch_trb`) shows it; `None` before any was sent.
fn lights_sent(vm: &mut Vm) -> Option<u8> {
    // The setup stage of SET_REPORT: request type 0x21, request 9, an output report (0x0200), interface 0, 1 byte.
    let trace = vm.qemu_stderr();
    let lines: Vec<&str> = trace.lines().collect();
    let setup = lines
        .iter()
        .rposition(|l| l.contains("usb_xhci_fetch_trb") && l.contains("0x0001000002000921"))?;
    let data = lines[setup + 1..]
        .iter()
        .find(|l| l.contains("usb_xhci_fetch_trb") && l.contains("TR_DATA"))?;
    let address = data.split("p 0x").nth(1)?.get(..16)?;
    let address = u64::from_str_radix(address, 16).ok()?;
    Some(vm.physical_memory(address, 1)[0])
}

/// Waits until the last lights sent are `lights`.
fn expect_lights(vm: &mut Vm, lights: u8) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let sent = lights_sent(vm);
        if sent == Some(lights) {
            return;
        }
        if std::time::Instant::now() > deadline {
            vm.fail(&format!("the keyboard's lights are {sent:?}, not {lights}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A BIOS PC whose only keyboard is a USB one: a German layout chosen by the script applies to it (the key
/// labelled Z on a US keyboard gives `y`), Caps Lock turns its light on, a key held repeats, Ctrl-C stops a script
/// that runs for ever, and the rescue shell takes what is typed. Without the xHCI driver no key arrives at all: SeaBIOS's own
/// USB driver, which GRUB read its keys through, is not used once the payload runs.
#[test]
fn a_usb_keyboard_types_with_the_layout_chosen_and_stops_a_script_with_ctrl_c() {
    let script = r#"
keymap("de")
let word = prompt("word: ")
print("got [" + word + "]")
let held = prompt("held: ")
print("held", len(held), "times")
print("looping")
while true { }
"#;
    let mut vm = usb_keyboard(Boot::new().module("usb.bs", script))
        .qemu_arg("-trace")
        .qemu_arg("usb_xhci_fetch_trb")
        .start();
    vm.expect_line(FOUND, BOOT);
    vm.expect_line("bootscript: running usb.bs", STEP);
    // No lock is on (SeaBIOS's keyboard flags say so).
    expect_lights(&mut vm, 0);
    for key in ["z", "y", "caps_lock", "a", "caps_lock", "shift-1", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got [yzA!]", STEP);
    vm.sendkey("caps_lock");
    expect_lights(&mut vm, 2);
    vm.sendkey("num_lock");
    expect_lights(&mut vm, 3);
    vm.sendkey("caps_lock");
    vm.sendkey("num_lock");
    expect_lights(&mut vm, 0);
    // A key held for 1.5 s repeats (after 0.5 s, every 33 ms: about 30 times; fewer when the emulator lags).
    vm.monitor_command("sendkey x 1500");
    std::thread::sleep(Duration::from_millis(1700));
    vm.sendkey("ret");
    let held = vm.expect_line("held ", STEP).text;
    let times: usize = held.split(' ').nth(1).unwrap().parse().unwrap();
    assert!((5..=80).contains(&times), "{held}");
    vm.expect_line("looping", STEP);
    vm.sendkey("ctrl-c");
    let error = vm.expect_line("usb.bs:", STEP).text;
    assert_eq!(error, "usb.bs:8:7: error: interrupted (Ctrl-C)");
    vm.expect_line(RESCUE, STEP);
    for key in ["4", "2", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("bootscript> 42", STEP);
    assert_eq!(vm.expect_line("", STEP).text, "42");
    vm.send("halt()\r");
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
}

/// Keys come through `read_key` too (the payload's `test=keys`), and the PS/2 port (none here) is no source of
/// stray keys: with no i8042, its status port reads all ones and is not taken for keys. A tablet on another port is
/// said to be no keyboard, and a hub with nothing behind it a hub; a second keyboard is one too (QEMU sends the keys to it, the last
/// one plugged in).
#[test]
fn keys_typed_on_a_usb_keyboard_are_decoded() {
    let boot = usb_keyboard(Boot::new().cmdline("test=keys"))
        .qemu_arg("-device")
        .qemu_arg("usb-tablet,bus=xhci.0")
        .qemu_arg("-device")
        .qemu_arg("usb-hub,bus=xhci.0")
        .qemu_arg("-device")
        .qemu_arg("usb-kbd,bus=xhci.0");
    let mut vm = boot.start();
    vm.expect_line(&format!("{FOUND} (high speed)"), BOOT);
    vm.expect_line("bootscript: xhci 00:04.0 port 6: no keyboard", STEP);
    vm.expect_line("bootscript: xhci 00:04.0 port 7: a hub of 8 ports", STEP);
    vm.expect_line(
        "bootscript: xhci 00:04.0 port 8: keyboard (high speed)",
        STEP,
    );
    vm.expect_line("keys: ready", STEP);
    vm.type_test_keys(STEP);
}

/// A keyboard plugged in after the payload started (here through QEMU's monitor, `device_add`) is set up when the
/// controller reports the port's change, and types; unplugged and plugged in again, it types again (its old slot
/// let go of, a new one set up).
#[test]
fn a_keyboard_plugged_in_later_types() {
    let script = r#"
let first = prompt("first: ")
print("got [" + first + "]")
let second = prompt("second: ")
print("got [" + second + "]")
"#;
    let mut vm = Boot::new()
        .module("late.bs", script)
        .qemu_arg("-machine")
        .qemu_arg("i8042=off")
        .qemu_arg("-device")
        .qemu_arg("qemu-xhci,id=xhci,addr=4")
        .qemu_arg("-trace")
        .qemu_arg("usb_xhci_slot_disable")
        .start();
    vm.expect_line(
        "bootscript: xhci 00:04.0: no keyboard on its ports yet",
        BOOT,
    );
    vm.expect_line("bootscript: phase=script", STEP);
    vm.monitor_command("device_add usb-kbd,bus=xhci.0,id=late");
    std::thread::sleep(Duration::from_secs(1));
    for key in ["o", "k", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got [ok]", STEP);
    vm.monitor_command("device_del late");
    std::thread::sleep(Duration::from_secs(1));
    vm.monitor_command("device_add usb-kbd,bus=xhci.0,id=again");
    std::thread::sleep(Duration::from_secs(1));
    for key in ["a", "g", "a", "i", "n", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got [again]", STEP);
    let trace = vm.qemu_stderr();
    assert!(trace.contains("usb_xhci_slot_disable"), "{trace}");
}

/// A PC with no i8042 whose only keyboard is behind QEMU's hubs (full-speed ones, of 8 ports): a hub on the xHCI
/// controller's first USB 2 port (QEMU's port 1, the controller's port 5), each of `hubs` on a port of the one
/// before it (QEMU's names: `1.3`), and the keyboard at `keyboard`.
fn keyboard_behind(boot: Boot, hubs: &[&str], keyboard: &str) -> Boot {
    let mut boot = boot
        .qemu_arg("-machine")
        .qemu_arg("i8042=off")
        .qemu_arg("-device")
        .qemu_arg("qemu-xhci,id=xhci,addr=4");
    for hub in hubs {
        boot = boot
            .qemu_arg("-device")
            .qemu_arg(&format!("usb-hub,bus=xhci.0,port={hub}"));
    }
    boot.qemu_arg("-device")
        .qemu_arg(&format!("usb-kbd,bus=xhci.0,port={keyboard}"))
}

/// A BIOS PC whose only keyboard sits behind a hub (as on a monitor's ports or a KVM switch): the hub is
/// configured, its ports looked at, and the keyboard on its port 2 types at a hidden prompt. Before hubs were
/// looked into, the hub was said to be one and no key came.
#[test]
fn a_usb_keyboard_behind_a_hub_types() {
    let boot = Boot::new().module("usb.bs", PASSPHRASE_SCRIPT);
    let mut vm = keyboard_behind(boot, &["1"], "1.2").start();
    vm.expect_line("bootscript: xhci 00:04.0 port 5: a hub of 8 ports", BOOT);
    vm.expect_line(
        "bootscript: xhci 00:04.0 port 5.2: keyboard (full speed)",
        STEP,
    );
    type_passphrase(&mut vm);
}

/// Two tiers of hubs (a hub on port 3 of another): the keyboard on port 2 of the second types; its slot's route
/// string names both hub ports.
#[test]
fn a_usb_keyboard_behind_two_hubs_types() {
    let boot = Boot::new().module("usb.bs", PASSPHRASE_SCRIPT);
    let mut vm = keyboard_behind(boot, &["1", "1.3"], "1.3.2").start();
    vm.expect_line("bootscript: xhci 00:04.0 port 5: a hub of 8 ports", BOOT);
    vm.expect_line("bootscript: xhci 00:04.0 port 5.3: a hub of 8 ports", STEP);
    vm.expect_line(
        "bootscript: xhci 00:04.0 port 5.3.2: keyboard (full speed)",
        STEP,
    );
    type_passphrase(&mut vm);
}

/// The same on a UEFI PC (OVMF's own USB driver set the hub up first, and stopped).
#[test]
fn a_usb_keyboard_behind_a_hub_types_on_a_uefi_pc() {
    let boot = Boot::new().uefi().module("usb.bs", PASSPHRASE_SCRIPT);
    let mut vm = keyboard_behind(boot, &["1"], "1.2").start();
    vm.expect_line(
        "bootscript: xhci 00:04.0 port 5.2: keyboard (full speed)",
        BOOT,
    );
    type_passphrase(&mut vm);
}

/// Five hubs in a row, the most USB allows (QEMU refuses a sixth): each is looked into, and the keyboard behind the
/// fifth, whose route string is full, types.
#[test]
fn a_usb_keyboard_behind_five_hubs_types() {
    let hubs = ["1", "1.1", "1.1.1", "1.1.1.1", "1.1.1.1.1"];
    let boot = keyboard_behind(Boot::new().cmdline("test=keys"), &hubs, "1.1.1.1.1.2");
    let mut vm = boot.start();
    let xhci = "bootscript: xhci 00:04.0 port";
    vm.expect_line(&format!("{xhci} 5.1.1.1.1: a hub of 8 ports"), BOOT);
    vm.expect_line(&format!("{xhci} 5.1.1.1.1.2: keyboard (full speed)"), STEP);
    vm.expect_line("keys: ready", STEP);
    vm.type_test_keys(STEP);
}

/// A hub unplugged from a root port takes what was behind it along: the keyboard's slot and the hub's are each
/// disabled once (no slot left behind, none disabled twice), and a hub with a keyboard plugged into that port
/// later is set up again, and its keyboard types.
#[test]
fn a_hub_unplugged_lets_go_of_its_keyboard_and_a_new_one_types() {
    let script = r#"
let first = prompt("first: ")
print("got [" + first + "]")
"#;
    let mut vm = Boot::new()
        .module("hub.bs", script)
        .qemu_arg("-machine")
        .qemu_arg("i8042=off")
        .qemu_arg("-device")
        .qemu_arg("qemu-xhci,id=xhci,addr=4")
        .qemu_arg("-device")
        .qemu_arg("usb-hub,bus=xhci.0,port=1,id=hub")
        .qemu_arg("-device")
        .qemu_arg("usb-kbd,bus=xhci.0,port=1.2,id=old")
        .qemu_arg("-trace")
        .qemu_arg("usb_xhci_slot_disable")
        .start();
    vm.expect_line(
        "bootscript: xhci 00:04.0 port 5.2: keyboard (full speed)",
        BOOT,
    );
    vm.expect_line("bootscript: phase=script", STEP);
    let disabled = |vm: &Vm| {
        let trace = vm.qemu_stderr();
        let mut slots: Vec<String> = trace
            .lines()
            .filter(|line| line.contains("usb_xhci_slot_disable"))
            .map(str::to_owned)
            .collect();
        slots.sort();
        slots
    };
    let before = disabled(&vm);
    vm.monitor_command("device_del old");
    vm.monitor_command("device_del hub");
    std::thread::sleep(Duration::from_secs(2));
    let after = disabled(&vm);
    // (QEMU's reset of the controller traces every slot once before: the new lines are the two let go of.)
    let mut new: Vec<&String> = after.iter().collect();
    for line in &before {
        if let Some(i) = new.iter().position(|l| *l == line) {
            new.remove(i);
        }
    }
    assert_eq!(new.len(), 2, "{new:?}\n{}", vm.transcript());
    assert_ne!(new[0], new[1], "{new:?}");
    vm.monitor_command("device_add usb-hub,bus=xhci.0,port=1,id=again");
    vm.monitor_command("device_add usb-kbd,bus=xhci.0,port=1.3,id=new");
    std::thread::sleep(Duration::from_secs(2));
    for key in ["o", "k", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("got [ok]", STEP);
}
