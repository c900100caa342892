//! Boot tests of the language inside the payload (issue 3): a chosen subset of the golden scripts
//! (tests/scripts) runs in QEMU with the same expectations as on the host, the limits hold on the payload's own
//! stack and heap, and the rescue shell works (global scope, multi-line input, history, no-echo prompt).
//!
//! A golden script's directives are read as `crates/lang/tests/golden.rs` reads them. Several scripts that end
//! without an error share one boot: their texts are joined into one module, their expected lines too; only the
//! last one may stop with an error, whose line number then moves by the lines in front of it. A script with a
//! syntax error prints nothing at all, so it boots alone.

use std::path::Path;
use std::time::{Duration, Instant};

use bootscript_boot_tests::{repository_root, Boot, Line, Vm};

/// The golden scripts' directives, read exactly as the host runner reads them.
#[path = "../../../crates/lang/tests/common/directives.rs"]
mod directives;
use directives::directives;

/// From QEMU's start to the script's first line, on a machine busy with other builds.
const BOOT: Duration = Duration::from_secs(90);
/// One step of a running script or of the rescue shell.
const STEP: Duration = Duration::from_secs(30);
/// The line the payload prints when the rescue shell starts (after the script's error or end).
const RESCUE: &str = "bootscript: phase=rescue";

/// One golden script and its inline expectations.
struct Golden {
    name: String,
    source: String,
    expected: Vec<String>,
    error: Option<String>,
    input: Vec<String>,
    cmdline: String,
}

/// Reads `tests/scripts/<relative>` and its directives, as golden.rs does (a directive anywhere on a line).
fn golden(relative: &str) -> Golden {
    let path = repository_root().join("tests/scripts").join(relative);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = Path::new(relative)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut g = Golden {
        name,
        source: String::new(),
        expected: Vec::new(),
        error: None,
        input: Vec::new(),
        cmdline: String::new(),
    };
    for (key, value) in directives(&source) {
        match key {
            "# expect: " => g.expected.push(value),
            "# expect error: " => g.error = Some(value),
            "# input: " => g.input.push(value),
            "# cmdline: " => g.cmdline = value,
            // The payload's memory limit is its own (a quarter of the heap): a script that only says where
            // memory runs out gives the same error there, later.
            "# memory: " => {}
            // `check` has no payload side; a step budget or a host stack size cannot be set in the payload.
            "# expect check: " => {}
            _ => panic!("{relative}: '{key}' cannot hold in the payload; choose another script"),
        }
    }
    g.source = source;
    g
}

/// `want` (an `# expect error:` text) with the line number of its `LINE:COL: error:` moved down by `offset`.
fn shift_error(want: &str, offset: usize) -> String {
    let Some(at) = want.find(": error: ") else {
        return want.to_string();
    };
    let (head, message) = want.split_at(at);
    let mut parts = head.rsplitn(3, ':');
    let (Some(column), Some(line)) = (parts.next(), parts.next()) else {
        return want.to_string();
    };
    let Ok(number) = line.parse::<usize>() else {
        return want.to_string();
    };
    let prefix = parts.next().map_or(String::new(), |p| format!("{p}:"));
    format!("{prefix}{}:{column}{message}", number + offset)
}

/// Boots the scripts in `files` as one module and compares what it printed with their expectations; returns
/// the running VM, at the rescue shell.
fn run_golden(files: &[&str]) -> Vm {
    run_golden_in(files, 1024)
}

/// [`run_golden`] on a machine of `memory_mib` MiB (the payload's memory limit is a quarter of its heap, at least
/// 16 MiB).
fn run_golden_in(files: &[&str], memory_mib: u32) -> Vm {
    let scripts: Vec<Golden> = files.iter().map(|f| golden(f)).collect();
    let (last, front) = scripts.split_last().expect("at least one script");
    for g in front {
        assert!(
            g.error.is_none() && g.input.is_empty() && g.cmdline.is_empty(),
            "{}: only the last script of a boot may stop, read input or set the command line",
            g.name
        );
    }
    let mut module = String::new();
    let mut expected = Vec::new();
    for g in &scripts {
        module.push_str(&g.source);
        if !module.ends_with('\n') {
            module.push('\n');
        }
        expected.extend(g.expected.iter().cloned());
    }
    let offset: usize = front.iter().map(|g| g.source.lines().count()).sum();
    let want_error = last.error.as_deref().map(|e| shift_error(e, offset));
    // The module is named after the last script (its error names it), or as its command line's script= says.
    let module_name = last
        .cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("script="))
        .unwrap_or(&last.name)
        .to_string();

    let mut vm = Boot::new()
        .memory_mib(memory_mib)
        .cmdline(&last.cmdline)
        .module(&module_name, module)
        .start();
    vm.expect_line(&format!("bootscript: running {module_name}"), BOOT);
    vm.expect_line("bootscript: phase=script", STEP);
    // The serial port holds what is typed until `prompt` reads it (QEMU takes no more than its FIFO holds).
    for line in &last.input {
        vm.send(&format!("{line}\r"));
    }
    let mut lines: Vec<String> = vm
        .lines_until(RESCUE, STEP * 3)
        .into_iter()
        .map(|l: Line| l.text)
        .collect();
    lines.pop();
    let ending = lines.pop().unwrap_or_default();
    let context = || {
        format!(
            "{files:?}\n----- serial transcript -----\n{}",
            vm.transcript()
        )
    };
    match &want_error {
        Some(want) => assert!(
            ending.ends_with(want.as_str()) && ending.starts_with(&format!("{module_name}:")),
            "error: expected '{want}', got '{ending}' in {}",
            context()
        ),
        None => assert_eq!(
            ending,
            format!("bootscript: {module_name} ended without handing off"),
            "{}",
            context()
        ),
    }
    assert_eq!(lines, expected, "printed lines differ in {}", context());
    vm
}

/// Types `input` at the rescue shell and waits for its echo after the prompt.
fn shell(vm: &mut Vm, input: &str) {
    vm.send(&format!("{input}\r"));
    vm.expect_line(&format!("bootscript> {input}"), STEP);
}

/// The rescue shell answers after whatever came before, and nothing crashed on the way.
fn assert_shell_works(vm: &mut Vm) {
    shell(vm, "print(6 * 7)");
    let answer = vm.expect_line("", STEP).text;
    assert_eq!(answer, "42", "{}", vm.transcript());
    assert_no_crash(vm);
}

fn assert_no_crash(vm: &Vm) {
    let transcript = vm.transcript();
    for bad in ["EXCEPTION", "panic", "phase=jump"] {
        assert!(!transcript.contains(bad), "{bad}:\n{transcript}");
    }
}

#[test]
fn golden_lexical() {
    let mut vm = run_golden(&[
        "lexical/strings.bs",
        "lexical/integers.bs",
        "lexical/newlines.bs",
        "lexical/bytes_literal.bs",
        "lexical/comments_and_names.bs",
    ]);
    assert_no_crash(&vm);
    drop(vm);
    // A syntax error runs nothing: it boots alone.
    vm = run_golden(&["lexical/integer_too_large.bs"]);
    assert_no_crash(&vm);
}

/// A script file as an editor may leave it: a byte order mark and `\r\n` line ends run as they would without;
/// a byte that is not UTF-8 (a Latin-1 `é`) is a syntax error at its line and column, nothing runs, and the
/// rescue shell opens.
#[test]
fn script_files_with_a_byte_order_mark_or_a_byte_that_is_not_utf8() {
    let mut vm = Boot::new()
        .module(
            "marked.bs",
            &b"\xef\xbb\xbfprint(\"marked\")\r\nprint(\"crlf\")\r\n"[..],
        )
        .start();
    vm.expect_line("bootscript: phase=script", BOOT);
    vm.expect_line("marked", STEP);
    vm.expect_line("crlf", STEP);
    vm.expect_line("bootscript: marked.bs ended without handing off", STEP);
    // (Keys typed before the shell starts are dropped: see keys_typed_ahead_of_the_rescue_shell_are_dropped_unseen.)
    vm.expect_line(RESCUE, STEP);
    assert_shell_works(&mut vm);
    drop(vm);

    let mut vm = Boot::new()
        .module("latin1.bs", &b"print(\"ran\")\n# caf\xe9\n"[..])
        .start();
    vm.expect_line("latin1.bs:2:6: error: not UTF-8 text (byte 0xe9)", BOOT);
    vm.expect_line(RESCUE, STEP);
    assert_shell_works(&mut vm);
    assert!(!vm.transcript().contains("\nran"), "{}", vm.transcript());
}

#[test]
fn golden_grammar() {
    let mut vm = run_golden(&[
        "grammar/precedence.bs",
        "grammar/control_flow.bs",
        "grammar/evaluation_order.bs",
        "grammar/map_or_block.bs",
        "grammar/assign_places.bs",
        "grammar/else_on_new_line.bs",
    ]);
    assert_no_crash(&vm);
    drop(vm);
    vm = run_golden(&["grammar/missing_brace.bs"]);
    assert_no_crash(&vm);
}

#[test]
fn golden_values() {
    let vm = run_golden(&[
        "values/arithmetic.bs",
        "values/closures.bs",
        "values/keyword_arguments.bs",
        "values/text_form.bs",
        "values/slices.bs",
        "values/equality.bs",
        "values/references.bs",
        "values/indexing.bs",
        "values/truth.bs",
        "values/types.bs",
        "values/ordering.bs",
        "values/string_append.bs",
        // Shadows the built-in len: after every script that calls it.
        "values/scoping.bs",
        "values/error_in_function.bs",
    ]);
    assert_no_crash(&vm);
}

#[test]
fn golden_builtins() {
    let vm = run_golden(&[
        "builtins/strings.bs",
        "builtins/lists.bs",
        "builtins/maps.bs",
        "builtins/int.bs",
        "builtins/hex.bs",
        "builtins/bytes_text.bs",
        "builtins/contains.bs",
        "builtins/len_type.bs",
        "builtins/print_str.bs",
        "builtins/builtin_arguments.bs",
        "builtins/time.bs",
        "builtins/error_assert.bs",
    ]);
    assert_no_crash(&vm);
}

#[test]
fn golden_platform() {
    // The command line as the payload got it from GRUB (script= names the module).
    let vm = run_golden(&["platform/cmdline.bs"]);
    assert_no_crash(&vm);
    // Words with spaces, which GRUB passes in double quotes.
    let vm = run_golden(&["platform/cmdline_quotes.bs"]);
    assert_no_crash(&vm);
}

/// Three passphrases typed over serial with echo off, then the script's own error. On the host a no-echo
/// `prompt` ends its line once; the payload must too (no empty line after `Passphrase: `).
#[test]
fn golden_prompt_without_echo() {
    let vm = run_golden(&["platform/seed_example.bs"]);
    assert_no_crash(&vm);
}

#[test]
fn golden_limits_then_the_shell_works() {
    // 200 nested calls work, a runaway recursion is the runtime error: then the rescue shell still works.
    let mut vm = run_golden(&["limits/nesting_100.bs", "limits/call_depth.bs"]);
    assert_shell_works(&mut vm);
    drop(vm);
    // A doubling string stops with the memory error (at the payload's own limit, later than the host's).
    vm = run_golden(&["limits/memory_doubling.bs"]);
    assert_shell_works(&mut vm);
    drop(vm);
    // A text form far larger than the memory the value holds is refused as it grows (it took the heap, and the
    // payload with it); long texts are searched in linear time (a plain scan took hours here). On a machine of
    // 64 MiB, whose heap (62 MiB) leaves the script its smallest limit, 16 MiB: the text is made up to it in
    // seconds, and the heap has the least room beyond it. (It also shows that GRUB unpacks the payload with this
    // little memory: see `dict` in the Makefile.)
    vm = run_golden_in(
        &[
            "limits/print_shared_parts.bs",
            "limits/search_long_texts.bs",
        ],
        64,
    );
    assert_shell_works(&mut vm);
}

/// The parser's limits on the payload's stack: each script nests past the limit in another way (or declares too
/// many names) and must be a syntax error, then a working rescue shell.
#[test]
fn golden_syntax_limits_then_the_shell_works() {
    for file in [
        "limits/nesting_parens.bs",
        "limits/nesting_blocks.bs",
        "limits/nesting_functions.bs",
        "limits/nesting_chain.bs",
        "limits/nesting_unary.bs",
        "limits/nesting_not.bs",
        "limits/nesting_calls.bs",
        "limits/too_many_locals.bs",
        "limits/too_many_globals.bs",
    ] {
        let mut vm = run_golden(&[file]);
        assert_shell_works(&mut vm);
    }
}

/// Deep but allowed: 1000 locals, calls with keyword arguments through closures; then printing a cyclic list
/// stops with its error rather than recursing off the stack.
#[test]
fn golden_deep_values() {
    let mut vm = run_golden(&[
        "limits/locals_1000.bs",
        "limits/call_depth_keywords.bs",
        "values/cyclic.bs",
    ]);
    assert_shell_works(&mut vm);
}

/// Error paths of every kind, each stopping the script at its position: lexical, grammar, runtime.
#[test]
fn golden_error_paths() {
    for file in [
        "lexical/unfinished_string.bs",
        "grammar/break_outside_loop.bs",
        "values/division_by_zero.bs",
        "values/overflow_mul.bs",
        "values/unknown_name.bs",
        "values/call_error_position.bs",
    ] {
        let vm = run_golden(&[file]);
        assert_no_crash(&vm);
    }
}

/// The limits on the payload's stack and heap, each followed by a working rescue shell: a script of 100,000
/// nested parentheses is a syntax error; at the shell, 200 nested calls work, a runaway recursion is a clean
/// runtime error (twice, so that nothing leaked), and a doubling string stops with the memory error.
#[test]
fn limits_hold_in_the_payload() {
    let depth = 100_000;
    let script = format!(
        "let x = {}1{}\nprint(x)\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let mut vm = Boot::new().module("parens.bs", script).start();
    vm.expect_line("bootscript: phase=script", BOOT);
    let error = vm.expect_line("parens.bs:", STEP * 2).text;
    assert!(
        error.starts_with("parens.bs:1:") && error.contains(": error: too deeply nested near '('"),
        "{error}"
    );
    vm.expect_line(RESCUE, STEP);
    assert_shell_works(&mut vm);

    shell(
        &mut vm,
        "fn down(n) { if n == 0 { return 0 } return 1 + down(n - 1) }",
    );
    shell(&mut vm, "down(200)");
    assert_eq!(vm.expect_line("", STEP).text, "200");
    shell(&mut vm, "fn forever(n) { return forever(n + 1) }");
    for _ in 0..2 {
        shell(&mut vm, "forever(0)");
        let error = vm.expect_line("", STEP * 2).text;
        assert!(
            error.ends_with(": error: too many nested calls"),
            "{error}\n{}",
            vm.transcript()
        );
    }
    assert_shell_works(&mut vm);

    shell(&mut vm, "let s = \"x\"");
    shell(&mut vm, "while true { s = s + s }");
    let error = vm.expect_line("", STEP * 4).text;
    assert!(
        error.ends_with(": error: out of memory: the script holds too much"),
        "{error}\n{}",
        vm.transcript()
    );
    // The script still holds the string that was too big to double.
    shell(&mut vm, "len(s) >= 1048576");
    assert_eq!(vm.expect_line("", STEP).text, "true");
    shell(&mut vm, "s = nil");
    assert_shell_works(&mut vm);
}

/// The rescue shell after an uncaught error: the script's globals and functions are there, a changed global is
/// seen by the script's function, an input spans lines while a brace is open, the up arrow recalls the last
/// input (one of two lines shown on one), values are printed, and a passphrase typed at `prompt(echo=false)` shows nowhere.
#[test]
fn rescue_shell_after_an_error() {
    let script = "\
let greeting = \"hello\"
fn greet(who) { return greeting + \", \" + who }
print(greet(\"world\"))
error(\"stopped on purpose\")
print(\"not reached\")
";
    let mut vm = Boot::new().module("rescue.bs", script).start();
    vm.expect_line("bootscript: phase=script", BOOT);
    vm.expect_line("hello, world", STEP);
    let error = vm.expect_line("rescue.bs:", STEP).text;
    assert!(
        error.starts_with("rescue.bs:4:") && error.ends_with(": error: stopped on purpose"),
        "{error}"
    );
    vm.expect_line(RESCUE, STEP);
    vm.expect_line("bootscript: rescue shell", STEP);

    // A global set at the shell is the one the script's function reads; an expression's value is printed in
    // the shell's form (a str quoted).
    shell(&mut vm, "greeting = \"goodbye\"");
    shell(&mut vm, "greet(\"moon\")");
    assert_eq!(vm.expect_line("", STEP).text, "\"goodbye, moon\"");

    // A brace left open: the next line continues the input after the continuation prompt.
    vm.send("fn twice(x) {\r");
    vm.expect_line("bootscript> fn twice(x) {", STEP);
    vm.send("return x * 2 + 1000 }\r");
    vm.expect_line("... return x * 2 + 1000 }", STEP);
    shell(&mut vm, "twice(21)");
    assert_eq!(vm.expect_line("", STEP).text, "1042");

    // The up arrow (ESC [ A from a terminal) brings back `twice(21)`; Enter runs it again.
    vm.send("\u{1b}[A\r");
    vm.expect_line("bootscript> twice(21)", STEP);
    assert_eq!(vm.expect_line("", STEP).text, "1042");
    // An input of two lines comes back as one line on the screen, its line break shown as a pilcrow (a cell
    // the line can be erased across), and runs as it was typed: `twice` is the two-line one again.
    shell(&mut vm, "fn twice(x) { return 0 }");
    vm.send("\u{1b}[A\u{1b}[A\u{1b}[A");
    let recalled = "bootscript> fn twice(x) {\u{b6}return x * 2 + 1000 }";
    let screen = vm.screen_showing(recalled, STEP);
    assert!(screen.iter().any(|l| l == recalled), "{screen:#?}");
    vm.send("\r");
    shell(&mut vm, "twice(21)");
    assert_eq!(vm.expect_line("", STEP).text, "1042");
    // A list value, through the script's function again.
    shell(&mut vm, "[greet(\"sun\"), len(greeting)]");
    assert_eq!(vm.expect_line("", STEP).text, "[\"goodbye, sun\", 7]");

    // A passphrase at prompt(echo=false): the prompt shows, the typed text never does.
    shell(&mut vm, "let pw = prompt(\"pw: \", echo=false)");
    vm.send("hunter2-secret\r");
    assert_eq!(vm.expect_line("", STEP).text, "pw: ");
    // Compared through its hex form, so that the secret is never typed at the shell either.
    shell(&mut vm, "[len(pw), hex(bytes(pw))]");
    let secret_hex: String = b"hunter2-secret"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vm.expect_line(&format!("[14, \"{secret_hex}\"]"), STEP);
    assert_shell_works(&mut vm);
    let transcript = vm.transcript();
    assert!(!transcript.contains("hunter"), "{transcript}");
    assert!(!transcript.contains("not reached"), "{transcript}");
    let screen = vm.screen().join("\n");
    assert!(screen.contains(&secret_hex), "{screen}");
    assert!(!screen.contains("hunter"), "{screen}");
}

/// A passphrase typed ahead while an unlock runs, for a prompt that never comes (the script fails first),
/// is dropped when the rescue shell starts: not echoed, not run, not in the history.
#[test]
fn keys_typed_ahead_of_the_rescue_shell_are_dropped_unseen() {
    let script = "\
let t = time_ms()
print(\"deriving\")
while time_ms() - t < 2000 { }
error(\"wrong passphrase\")
";
    let mut vm = Boot::new().module("ahead.bs", script).start();
    vm.expect_line("deriving", BOOT);
    std::thread::sleep(Duration::from_millis(300));
    vm.send("Tq7-ahead\r");
    vm.expect_line("ahead.bs:4:1: error: wrong passphrase", STEP);
    vm.expect_line("bootscript: rescue shell", STEP);
    let dropped = vm.expect_line("typed while the script ran", STEP).text;
    assert_eq!(
        dropped,
        "bootscript: 10 key(s) typed while the script ran were dropped, not shown"
    );
    // The up arrow finds nothing to recall.
    vm.send("\u{1b}[A");
    shell(&mut vm, "1 + 2");
    assert_eq!(vm.expect_line("", STEP).text, "3");
    assert_shell_works(&mut vm);
    let transcript = vm.transcript();
    assert!(!transcript.contains("Tq7"), "{transcript}");
    assert!(!vm.screen().join("\n").contains("Tq7"));
}

/// Ctrl-C stops a script that would run forever, from the serial line and from the keyboard, with the error's
/// position (a `try` does not catch it), and the rescue shell works after it. At the shell, Ctrl-C drops a
/// half-entered input and stops a loop or a long `sleep_ms` typed there. Keys typed while a script runs (read
/// while it looks for Ctrl-C) reach the next prompt in order.
#[test]
fn ctrl_c_stops_a_running_script() {
    let script = "\
let t = time_ms()
print(\"looping\")
while time_ms() - t < 3000 { }
let name = prompt(\"name: \")
print(\"got [\" + name + \"]\")
let n = 0
try {
    while true { n = n + 1 }
} catch e {
    print(\"caught\", e)
}
";
    let mut vm = Boot::new().module("spin.bs", script).start();
    vm.expect_line("looping", BOOT);
    // Typed ahead, longer than the serial port's 16-byte FIFO.
    vm.send("typed while the script ran\r");
    vm.expect_line("got [typed while the script ran]", STEP);
    // Pressed once the script is in its loop: the print before it asks too, and the serial line shows its text
    // before the print has returned (the screen is written after it).
    std::thread::sleep(Duration::from_millis(300));
    vm.send("\u{3}");
    let error = vm.expect_line("spin.bs:", STEP).text;
    assert_eq!(error, "spin.bs:8:11: error: interrupted (Ctrl-C)");
    vm.expect_line(RESCUE, STEP);
    vm.expect_line("bootscript: rescue shell", STEP);
    // The script's globals are the shell's. (How far the loop got depends on where the count of steps stood when
    // it began: the first poll can come after a single turn.)
    shell(&mut vm, "n >= 0");
    assert_eq!(vm.expect_line("", STEP).text, "true");

    // A loop typed at the shell, stopped from the keyboard.
    shell(&mut vm, "while true { n = n + 1 }");
    vm.sendkey("ctrl-c");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:7: error: interrupted (Ctrl-C)");
    // A long wait, cut short.
    shell(&mut vm, "sleep_ms(600000)");
    vm.send("\u{3}");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:1: error: interrupted (Ctrl-C)");

    // A key derivation of minutes (50 million iterations), stopped once its progress line shows on the screen
    // (the serial transcript has only whole lines). The line ends `stopped`, and the error is at the call.
    shell(
        &mut vm,
        "let key = pbkdf2(\"sha256\", \"pw\", \"salt\", 50000000, 32)",
    );
    let deadline = Instant::now() + STEP;
    while !vm
        .screen()
        .iter()
        .any(|row| row.starts_with("deriving key ... "))
    {
        if Instant::now() > deadline {
            vm.fail("no progress line on the screen");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    vm.send("\u{3}");
    let line = vm.expect_line("deriving key ... ", STEP).text;
    assert!(line.ends_with("\rderiving key ... stopped"), "{line:?}");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:11: error: interrupted (Ctrl-C)");

    // A comparison of 2^40 items (two lists that each hold another twice, forty levels deep), stopped.
    shell(&mut vm, "let d = []");
    shell(&mut vm, "let e = []");
    shell(&mut vm, "for i in range(40) { d = [d, d] }");
    shell(&mut vm, "for i in range(40) { e = [e, e] }");
    shell(&mut vm, "d == e");
    vm.send("\u{3}");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:3: error: interrupted (Ctrl-C)");

    // A loop whose every turn makes a list of 100,000 items: their bytes count as steps, so it is asked soon.
    shell(&mut vm, "while true { let big = range(100000) }");
    vm.send("\u{3}");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:24: error: interrupted (Ctrl-C)");

    // A loop whose every turn counts the chars of a str of a MiB: the bytes it walks count as steps too.
    shell(&mut vm, "let s = \"x\"");
    shell(&mut vm, "for i in range(20) { s = s + s }");
    shell(&mut vm, "while true { let k = len(s) }");
    vm.send("\u{3}");
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:7: error: interrupted (Ctrl-C)");

    // A print of that MiB (seconds on a serial line), cut short by Ctrl-C once it shows on the screen: the rest
    // is dropped, the line ends `^C`, and the script stops at the print.
    shell(&mut vm, "print(s)");
    let started = Instant::now();
    while !vm
        .screen()
        .iter()
        .any(|row| row.len() == 80 && row.bytes().all(|b| b == b'x'))
    {
        if started.elapsed() > STEP {
            vm.fail("the print does not show on the screen");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    vm.send("\u{3}");
    let cut = vm.expect_line("^C", STEP).text;
    let printed = cut.trim_end_matches("^C");
    assert!(printed.bytes().all(|b| b == b'x'), "{cut:?}");
    assert!(
        printed.len() < 1 << 20,
        "all {} bytes printed",
        printed.len()
    );
    let error = vm.expect_line("shell:", STEP).text;
    assert_eq!(error, "shell:1:1: error: interrupted (Ctrl-C)");

    // An input left open over two lines, dropped: the next line starts afresh at the shell's own prompt.
    vm.send("fn f() {\r");
    vm.expect_line("bootscript> fn f() {", STEP);
    vm.send("return 1\r");
    vm.expect_line("... return 1", STEP);
    vm.send("\u{3}");
    vm.expect_line("... ^C", STEP);
    assert_shell_works(&mut vm);
    assert!(!vm.transcript().contains("caught"), "{}", vm.transcript());
}

/// Runaway recursions whose every call sits under as much source nesting as the parser allows (parentheses,
/// list literals, unary minus, blocks) or goes through a closure with keyword arguments: the most native stack
/// per script call. Each is a clean runtime error (caught by `try`, the last one uncaught) on the payload's
/// 512 KiB stack, and the rescue shell works afterwards.
#[test]
fn deepest_recursions_fit_the_payload_stack() {
    let n = 180;
    let nest = |open: &str, inner: &str, close: &str| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let script = [
        format!(
            "fn parens(n) {{ return {} }}",
            nest("(", "parens(n + 1)", ")")
        ),
        format!(
            "fn lists(n) {{ return {} }}",
            nest("[", "lists(n + 1)", "]")
        ),
        format!("fn negs(n) {{ return {} }}", nest("-", "negs(n + 1)", "")),
        format!(
            "fn blocks(n) {{ {} }}",
            nest("if true { ", "return blocks(n + 1)", " }")
        ),
        "fn walk(n, acc) {\n    let f = fn() { return walk(acc=acc + 1, n=n - 1) }\n    return f()\n}".into(),
        "for f in [fn() { parens(0) }, fn() { lists(0) }, fn() { negs(0) }, fn() { blocks(0) }, \
         fn() { walk(0, 0) }] {"
            .into(),
        "    try { f() } catch e { print(e) }".into(),
        "}".into(),
        "print(\"all caught\")".into(),
        "blocks(0)".into(),
    ]
    .join("\n");
    let mut vm = Boot::new().module("stack.bs", script).start();
    vm.expect_line("bootscript: phase=script", BOOT);
    let lines = vm.lines_until(RESCUE, STEP * 4);
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts.len(), 8, "{texts:#?}\n{}", vm.transcript());
    for caught in &texts[..5] {
        assert!(caught.starts_with("too many nested calls"), "{texts:#?}");
    }
    assert_eq!(texts[5], "all caught");
    assert!(
        texts[6].starts_with("stack.bs:4:") && texts[6].contains(": error: too many nested calls"),
        "{texts:#?}"
    );
    assert_shell_works(&mut vm);
}

/// Every golden script the payload can run, one boot each (about two minutes of QEMU, so not in `make test`:
/// `cargo test -p bootscript-boot-tests --test language -- --ignored`). Left out: the host-only limits (a step
/// budget, a stack size, a memory limit the script's result depends on), end of input (a serial line never
/// ends), the scripts that expect the platform primitives to be missing or `reboot()` or `halt()` to fail (in the
/// payload they reset or switch off the machine).
#[test]
#[ignore]
fn every_golden_script() {
    let root = repository_root().join("tests/scripts");
    let mut files = Vec::new();
    for dir in [
        "lexical", "grammar", "values", "builtins", "limits", "platform",
    ] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".bs"))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|n| format!("{dir}/{n}")));
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for file in &files {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let host_only = [
            "# steps: ",
            "# stack: ",
            "# memory: ",
            "error: end of input",
            "is not available",
            "reboot()",
            "halt()",
        ];
        if host_only.iter().any(|k| text.contains(k)) {
            continue;
        }
        ran += 1;
        let outcome = std::panic::catch_unwind(|| {
            let mut vm = run_golden(&[file.as_str()]);
            assert_shell_works(&mut vm);
        });
        if let Err(e) = outcome {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let first = message.lines().take(3).collect::<Vec<_>>().join(" | ");
            failed.push(format!("{file}: {first}"));
        }
    }
    assert!(ran > 80, "only {ran} scripts ran");
    assert!(
        failed.is_empty(),
        "{} of {ran} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
