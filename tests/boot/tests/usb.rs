//! USB keyboards on an xHCI controller (QEMU's `qemu-xhci` with a `usb-kbd`), on PCs without an i8042
//! (`i8042=off`: no PS/2 keyboard, and no firmware emulating one), so that every key typed comes through USB.
//! The monitor's `sendkey` goes to the USB keyboard (QEMU makes it the active one).

use std::time::Duration;

use bootscript_boot_tests::{Boot, Exit};

const BOOT: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(20);

/// A PC with no i8042 and a USB keyboard on an xHCI controller.
fn usb_keyboard(boot: Boot) -> Boot {
    boot.qemu_arg("-machine")
        .qemu_arg("i8042=off")
        .qemu_arg("-device")
        .qemu_arg("qemu-xhci,id=xhci")
        .qemu_arg("-device")
        .qemu_arg("usb-kbd,bus=xhci.0")
}

#[test]
fn keys_typed_on_a_usb_keyboard_are_decoded() {
    let mut vm = usb_keyboard(Boot::new().cmdline("test=keys")).start();
    vm.expect_line("bootscript: xhci 00:04.0 port ", BOOT);
    vm.expect_line("keys: ready", BOOT);
    vm.sendkey("a");
    vm.expect_line("key: 'a' U+0061", STEP);
    vm.sendkey("shift-a");
    vm.expect_line("key: 'A' U+0041", STEP);
    vm.sendkey("1");
    vm.expect_line("key: '1' U+0031", STEP);
    vm.sendkey("ret");
    vm.expect_line("key: enter", STEP);
    vm.expect_exit(Exit::Success, STEP);
    println!("{}", vm.transcript());
}
