//! bootscript's payload: the machine (boot, consoles, clock, memory) under the boot-script interpreter.
//!
//! The pure parts (`line`, `memory`, `cmdline`, `keymap`, `leds`, `usb`, `acpi`) build everywhere and are tested on the
//! host. The machine parts build only for `x86_64-bootscript.json`; their safe surface is [`platform`].
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod acpi;
pub mod bootinfo;
pub mod cmdline;
pub mod keymap;
pub mod leds;
pub mod memory;
pub mod usb;

#[cfg(target_os = "bootscript")]
mod arch;
#[cfg(target_os = "bootscript")]
pub mod clock;
#[cfg(target_os = "bootscript")]
pub mod console;
#[cfg(target_os = "bootscript")]
mod drivers;
#[cfg(target_os = "bootscript")]
mod handoff;
#[cfg(target_os = "bootscript")]
mod heap;
#[cfg(target_os = "bootscript")]
pub mod platform;
#[cfg(target_os = "bootscript")]
pub mod power;
#[cfg(target_os = "bootscript")]
pub mod script;
#[cfg(target_os = "bootscript")]
pub mod selftest;
#[cfg(target_os = "bootscript")]
mod world;
