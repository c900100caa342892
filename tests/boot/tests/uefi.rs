//! A UEFI PC: QEMU's q35 with OVMF's firmware, booting GRUB's UEFI build from a CD. GRUB passes on a framebuffer
//! (its `efi_gop`) and no VGA text screen, and the ACPI tables are found through the UEFI system table.

use std::time::Duration;

use bootscript_boot_tests::Boot;

/// OVMF takes a few seconds more than SeaBIOS to come up under TCG.
const BOOT: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(20);

/// The console is drawn on the framebuffer (read back cell by cell against GRUB's font: the payload's and the script's
/// lines, the prompt with the cursor after it), the PS/2 keyboard types at a hidden prompt whose text shows on
/// neither console (with no lock taken from a BIOS data area the PC does not have), and `halt()` switches the machine off through ACPI (the tables of the RSDP GRUB passed on).
#[test]
fn a_uefi_pc_shows_the_console_on_its_framebuffer() {
    let script = r#"
print("hello from a UEFI PC")
let pass = prompt("passphrase: ", echo=false)
print("typed", len(pass), "characters:", pass == "s3cret")
prompt("Enter switches off ")
halt()
"#;
    // A byte where a BIOS keeps its keyboard flags, saying Caps Lock is on: a UEFI PC has no such area, and the
    // payload must not take its locks from there.
    let mut vm = Boot::new()
        .uefi()
        .grub_command("write_byte 0x417 0x40")
        .module("uefi.bs", script)
        .start();
    vm.expect_line("hello from a UEFI PC", BOOT);
    let screen = vm.screen_showing("passphrase: _", STEP);
    for line in [
        "bootscript: running uefi.bs",
        "hello from a UEFI PC",
        "passphrase: _",
    ] {
        assert!(
            screen.iter().any(|l| l == line),
            "{line:?} not on the screen: {screen:#?}"
        );
    }
    for key in ["s", "3", "c", "r", "e", "t", "ret"] {
        vm.sendkey(key);
    }
    vm.expect_line("typed 6 characters: true", STEP);
    let screen = vm.screen_showing("typed 6 characters: true", STEP);
    assert!(
        screen.iter().any(|l| l == "typed 6 characters: true"),
        "{screen:#?}"
    );
    assert!(!screen.iter().any(|l| l.contains("s3cret")), "{screen:#?}");
    // The cursor moved on, its underline gone from behind the prompt.
    assert!(screen.iter().any(|l| l == "passphrase:"), "{screen:#?}");
    assert!(!vm.transcript().contains("s3cret"), "{}", vm.transcript());
    vm.sendkey("ret");
    assert_eq!(vm.wait_exit(STEP), 0, "{}", vm.transcript());
}

/// A PC whose PIT does not count (the firmware of many UEFI PCs gates its clock off; here QEMU's `pit=off`): the
/// time stamp counter is measured against the ACPI PM timer the FADT names instead, so that a sleep of a second
/// takes a second (measured against nothing, it took a millisecond: port B of a missing PIT reads all ones).
#[test]
fn without_a_pit_the_clock_is_measured_by_the_acpi_pm_timer() {
    let script = r#"
print("sleep: start")
sleep_ms(1000)
print("sleep: end")
"#;
    let mut vm = Boot::new()
        .uefi()
        .qemu_arg("-machine")
        .qemu_arg("pit=off")
        .module("sleep.bs", script)
        .start();
    let clock = vm.expect_line("bootscript: clock: TSC ", BOOT).text;
    assert!(
        clock.ends_with(" MHz (by the ACPI PM timer: no PIT)"),
        "{clock}"
    );
    let start = vm.expect_line("sleep: start", STEP);
    let end = vm.expect_line("sleep: end", STEP);
    // The host's clock agrees within the slack of an emulator under load.
    let host = (end.at - start.at).as_millis();
    assert!(
        (700..3000).contains(&host),
        "host saw {host} ms for a 1000 ms sleep"
    );
}
