//! Runs the boot script, and the rescue shell when it fails or ends without handing off.
//!
//! The script is the Multiboot2 module named by `script=NAME` on the payload's command line, else the first
//! module whose name ends in `.bs`, else the default compiled in from `scripts/default.bs`.

use alloc::string::String;

use bootscript_lang::{Config, Interpreter, Shell};
use bootscript_system::World;

use crate::console::ReadError;
use crate::platform::{module_bytes, phase, BootInfo};
use crate::world::PayloadMachine;
use crate::{cmdline, console, println};

/// The script that runs when the boot loader gave none.
const DEFAULT_SCRIPT: &str = include_str!("../../scripts/default.bs");

/// Native stack the script's nested calls may use; the boot stack is `arch::boot::BOOT_STACK_SIZE`, and the
/// rest is for the primitives (key derivation, file systems) and the exception handlers.
const SCRIPT_STACK: usize = 320 * 1024;

/// Memory a script may hold: a quarter of the heap, at least the contract's 16 MiB.
fn memory_limit() -> usize {
    let (_, heap) = crate::platform::heap_usage();
    (heap / 4).max(16 << 20)
}

/// The script's name and text, or the line that says why there is none.
fn choose(boot: &BootInfo) -> Result<(String, String), String> {
    let wanted = cmdline::value(boot.cmdline, "script");
    let module = match wanted {
        Some(name) => match boot.module(name) {
            Some(m) => Some(m),
            None => {
                return Err(alloc::format!(
                    "bootscript: no module named '{name}' (script={name})"
                ))
            }
        },
        None => boot.modules().iter().find(|m| m.name.ends_with(".bs")),
    };
    match module {
        Some(m) => match bootscript_lang::script_text(m.name, module_bytes(m)) {
            Ok(text) => Ok((String::from(m.name), String::from(text))),
            Err(e) => Err(alloc::format!("{e}")),
        },
        None => Ok((String::from("default.bs"), String::from(DEFAULT_SCRIPT))),
    }
}

/// Runs the script, then the rescue shell; never returns (the script or the shell hands off, reboots or
/// halts).
pub fn run(boot: &'static BootInfo) -> ! {
    let mut world = World::new(PayloadMachine::new(boot));
    let mut interpreter = Interpreter::new(Config {
        memory_limit: memory_limit(),
        step_limit: None,
        stack_limit: SCRIPT_STACK,
    });
    interpreter.set_cmdline(boot.cmdline);
    match choose(boot) {
        Ok((name, source)) => {
            println!("bootscript: running {name}");
            phase("script");
            match interpreter.run(&name, &source, &mut world) {
                Ok(()) => println!("bootscript: {name} ended without handing off"),
                Err(error) => println!("{error}"),
            }
        }
        Err(error) => println!("{error}"),
    }
    rescue(&mut interpreter, &mut world)
}

fn rescue(interpreter: &mut Interpreter, world: &mut World<PayloadMachine>) -> ! {
    // (Before anything shows that the shell is there: what is typed after is the shell's.)
    let dropped = console::drop_typed_ahead();
    phase("rescue");
    println!("bootscript: rescue shell; help() lists the built-ins");
    if dropped > 0 {
        println!("bootscript: {dropped} key(s) typed while the script ran were dropped, not shown");
    }
    let mut shell = Shell::new();
    loop {
        console::write(shell.prompt());
        match console::read_line_with_history(true, shell.history()) {
            Ok(line) => shell.line(interpreter, &line, world),
            // Ctrl-C drops what was typed so far, a half-entered input of several lines too (the `^C` is shown),
            // and is not left for the next line's statements to see.
            Err(ReadError::Interrupted) => {
                shell.cancel();
                console::interrupted();
            }
            Err(error) => println!("bootscript: {error}"),
        }
    }
}
