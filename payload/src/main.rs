//! The payload binary: the entry stub (in the library) calls `payload_entry`, which brings the machine up
//! and hands over to what runs on it (the boot script, or a self-test the command line asks for).
#![cfg_attr(target_os = "bootscript", no_std, no_main)]

#[cfg(target_os = "bootscript")]
use bootscript_payload::{platform, script, selftest};

#[cfg(target_os = "bootscript")]
#[unsafe(no_mangle)]
extern "C" fn payload_entry(magic: u32, info_address: u32) -> ! {
    // SAFETY: called once by the entry stub with the boot loader's EAX and EBX.
    let boot = unsafe { platform::start(magic, info_address) };
    if selftest::requested(boot) {
        selftest::run(boot);
    }
    script::run(boot)
}

#[cfg(not(target_os = "bootscript"))]
fn main() {
    eprintln!("bootscript-payload runs only on the machine: build it with `make build` and boot it with `make run`");
    std::process::exit(1);
}
