//! The platform's self-tests, chosen on the command line (`test=...`, `crash=...`) and used by the boot
//! tests; plus the echo prompt that stands in for the interpreter until it is wired in.

use alloc::vec::Vec;

use pc_keyboard::DecodedKey;

use crate::cmdline;
use crate::platform::{self, exit_qemu, BootInfo, ExitCode};
use crate::println;

/// How long the tests wait for input before failing (a test harness that forgot to type must not hang CI).
const INPUT_TIMEOUT_MS: u64 = 60_000;

/// Whether the command line asks for a self-test (then [`run`] it instead of the interpreter).
pub fn requested(boot: &BootInfo) -> bool {
    cmdline::value(boot.cmdline, "test").is_some()
        || cmdline::value(boot.cmdline, "crash").is_some()
}

/// Runs the self-test the command line asks for, then leaves QEMU (success unless a check failed).
pub fn run(boot: &BootInfo) -> ! {
    if let Some(kind) = cmdline::value(boot.cmdline, "crash") {
        crash(kind);
    }
    match cmdline::value(boot.cmdline, "test") {
        Some("echo") => echo(true, false),
        Some("noecho") => echo(false, true),
        Some("keys") => keys(),
        Some("modules") => modules(boot),
        Some("heap") => heap(),
        Some("oom") => out_of_memory(),
        Some("sleep") => sleep(),
        Some("high-screen") => high_screen(),
        Some("reboot") => {
            println!("reboot: now");
            platform::reboot(boot.rsdp.as_ref());
        }
        Some("exit") => {}
        Some(other) => {
            println!("bootscript: unknown test={other}");
            exit_qemu(ExitCode::Failure);
        }
        None => echo_prompt(),
    }
    println!("bootscript: done");
    exit_qemu(ExitCode::Success)
}

fn echo(echo: bool, once: bool) {
    println!("echo: ready");
    loop {
        match platform::read_line_timeout(echo, INPUT_TIMEOUT_MS) {
            Ok(line) if line == "exit" => return,
            Ok(line) => println!("got: [{line}] ({} chars)", line.chars().count()),
            Err(error) => fail(format_args!("echo: {error}")),
        }
        if once {
            return;
        }
    }
}

/// Echoes each typed line back until `exit` (what `make run` shows until the interpreter is wired in).
pub fn echo_prompt() {
    println!("No interpreter yet: each line you type is echoed back; type 'exit' to leave.");
    loop {
        platform::write("> ");
        match platform::read_line(true) {
            Ok(line) if line == "exit" => return,
            Ok(line) => println!("got: [{line}]"),
            Err(error) => println!("read error: {error}"),
        }
    }
}

fn keys() {
    println!("keys: ready");
    loop {
        match platform::read_key(INPUT_TIMEOUT_MS) {
            Some(DecodedKey::Unicode('\n')) => {
                println!("key: enter");
                return;
            }
            Some(DecodedKey::Unicode(c)) if c.is_control() => {
                println!("key: U+{:04X}", u32::from(c))
            }
            Some(DecodedKey::Unicode(c)) => println!("key: '{c}' U+{:04X}", u32::from(c)),
            // Shift, arrows, function keys: no character (a numeric name would need a big Debug table).
            Some(DecodedKey::RawKey(_)) => println!("key: raw"),
            None => fail(format_args!("keys: no key within {INPUT_TIMEOUT_MS} ms")),
        }
    }
}

fn sleep() {
    let before = platform::time_ms();
    println!("sleep: start t_ms={before}");
    platform::sleep_ms(1000);
    let after = platform::time_ms();
    println!("sleep: end t_ms={after} slept_ms={}", after - before);
}

/// Takes the RAM at 4 GiB for a framebuffer of 1280x800 pixels of 32 bits, where a graphics card's lies when the
/// firmware maps large BARs high, and makes it the screen: the boot test reads the text back from that memory
/// before it presses Enter.
fn high_screen() {
    let framebuffer = bootscript_system::Framebuffer {
        address: 1 << 32,
        pitch: 5120,
        width: 1280,
        height: 800,
        bits_per_pixel: 32,
        colors: [(8, 16), (8, 8), (8, 0)],
        efi: true,
    };
    match crate::console::init_framebuffer(&framebuffer) {
        Ok(()) => println!("high-screen: on the framebuffer at 4 GiB"),
        Err(why) => println!("high-screen: refused: {why}"),
    }
    let _ = platform::read_line_timeout(true, INPUT_TIMEOUT_MS);
}

fn modules(boot: &BootInfo) {
    for module in boot.modules() {
        let bytes = platform::module_bytes(module);
        // FNV-1a: a checksum the test recomputes on the host.
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        println!(
            "module {}: size={} fnv1a={hash:016x}",
            module.name,
            bytes.len()
        );
        // The first bytes as text, anything not printable ASCII shown as '.'.
        let head = bytes.iter().take(64).map(|&b| {
            if b == b' ' || b.is_ascii_graphic() {
                b as char
            } else {
                '.'
            }
        });
        platform::write("module head: ");
        for c in head {
            platform::write(c.encode_utf8(&mut [0; 4]));
        }
        platform::write("\n");
    }
}

fn heap() {
    const SIZE: usize = 256 << 20;
    let mut block: Vec<u8> = Vec::new();
    if block.try_reserve_exact(SIZE).is_err() {
        fail(format_args!("heap: cannot allocate {} MiB", SIZE >> 20));
    }
    block.resize(SIZE, 0);
    for (i, byte) in block.iter_mut().enumerate().step_by(4096) {
        *byte = (i >> 12) as u8;
    }
    let sum: u64 = block.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    println!(
        "heap: {} MiB allocated and written, checksum {sum}",
        SIZE >> 20
    );
}

fn out_of_memory() {
    // Far more than any test machine has: the allocation must fail with a clear report.
    let huge: Vec<u8> = Vec::with_capacity(usize::MAX / 4);
    println!("oom: unexpectedly got {} bytes", huge.capacity());
}

fn crash(kind: &str) -> ! {
    println!("crash: {kind}");
    match kind {
        // SAFETY: a deliberate invalid opcode for the tests; the exception handler reports and exits.
        // `ud1`, not `ud2`: a `ud2` in the payload's code is how a panic ends (reported as one).
        "ud" => unsafe { core::arch::asm!("ud1 eax, [eax]") },
        "pf" => {
            // Above the 4 GiB identity mapping: not present.
            let address = 0x40_0000_0000_u64 as *const u64;
            // SAFETY: deliberately unmapped; the page fault is the point.
            let _ = unsafe { address.read_volatile() };
        }
        // SAFETY: a stack pointer into unmapped memory makes the page fault's own delivery fault: a double
        // fault, which runs on its IST stack.
        "df" => unsafe { core::arch::asm!("mov rsp, {}", "push rax", in(reg) 0x40_0000_1000_u64) },
        "gp" => {
            let address = 0x8000_0000_0000_0000_u64 as *const u64;
            // SAFETY: non-canonical: a general protection fault is the point.
            let _ = unsafe { address.read_volatile() };
        }
        "stack" => {
            let depth = recurse(0);
            println!("crash: recursion ended at depth {depth}");
        }
        other => fail(format_args!("unknown crash={other}")),
    }
    fail(format_args!("crash={kind} did not fault"))
}

/// Recurses (with 512 bytes of locals per call) until the stack overflows.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[63])
}

fn fail(args: core::fmt::Arguments<'_>) -> ! {
    platform::fail(args)
}
