//! The memory limit bounds the memory a script really takes, not only what it counts: the payload's heap is
//! four times the limit (payload/src/script.rs), so a script that allocates far past its limit before the check
//! refuses it would exhaust the heap and stop the payload. This binary counts every allocation (its own global
//! allocator) and holds its tests to that margin.

mod common {
    pub mod quiet;
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bootscript_lang::{Config, Interpreter, Shell, ECHO_LIMIT};
use common::quiet::{run, Quiet};

/// The system allocator, counting the bytes in use and the most in use since [`Peak::start`].
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator as it came; only counters change besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires it.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this binary, one at a time (the counters are the process's).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const LIMIT: usize = 1 << 20;

/// Runs `f` and gives back its result with the most bytes it had allocated at once beyond those in use before.
fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = f();
    (result, PEAK.load(Ordering::Relaxed) - before)
}

fn config() -> Config {
    Config {
        memory_limit: LIMIT,
        ..Config::default()
    }
}

/// A script that makes `text` by doubling it `times` times, then runs `then`.
fn doubled(text: &str, times: u32, then: &str) -> String {
    format!("let s = \"{text}\"\nlet i = 0\nwhile i < {times} {{ s = s + s; i = i + 1 }}\n{then}")
}

/// Runs `source` under [`LIMIT`]: it must stop with the memory error, within the heap's margin. Gives back the
/// error.
fn refused_within_margin(what: &str, source: &str) -> String {
    let (result, most) = peak(|| run(config(), source));
    let error = result.expect_err(what);
    assert!(
        error.ends_with("error: out of memory: the script holds too much"),
        "{what}: {error}"
    );
    assert!(most < 4 * LIMIT, "{what} took {most} bytes at once");
    error
}

#[test]
fn split_into_many_parts_is_refused_before_it_takes_the_heap() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 256 KiB of separators: as many parts, each a string of its own, far more than a byte each.
    let source = doubled(",", 18, "let parts = split(s, \",\")");
    assert_eq!(
        refused_within_margin("split", &source),
        "t.bs:4:13: error: out of memory: the script holds too much"
    );
    // Parts that fit are made.
    let source = doubled(",", 10, "print(len(split(s, \",\")))");
    assert_eq!(run(config(), &source).unwrap(), "1025\n");
}

/// A list that holds another twice, forty levels deep: little memory, and a text form of 2^40 items.
const SHARED: &str = "let a = [1]\nlet i = 0\nwhile i < 40 { a = [a, a]; i = i + 1 }\n";

#[test]
fn a_text_form_larger_than_the_memory_limit_is_refused_as_it_grows() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let source = format!("{SHARED}print(a)");
    assert_eq!(
        refused_within_margin("the text form", &source),
        "t.bs:4:1: error: out of memory: the script holds too much"
    );
}

#[test]
fn the_shell_cuts_the_echo_of_a_value() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut interpreter = Interpreter::new(config());
    let mut shell = Shell::new();
    let mut console = Quiet(String::new());
    for line in SHARED.lines() {
        shell.line(&mut interpreter, line, &mut console);
    }
    let ((), most) = peak(|| shell.line(&mut interpreter, "a", &mut console));
    let echo = &console.0;
    assert!(
        echo.starts_with("[[[[[[") && echo.ends_with("...\n"),
        "{}",
        &echo[..80]
    );
    // The first ECHO_LIMIT bytes of the text, then `...`.
    assert_eq!(
        echo.len(),
        ECHO_LIMIT + 4,
        "an echo of {} bytes",
        echo.len()
    );
    assert!(most < 4 * LIMIT, "the echo took {most} bytes at once");
    // A value that fits is echoed whole.
    console.0.clear();
    shell.line(&mut interpreter, "[1, \"a\"]", &mut console);
    assert_eq!(console.0, "[1, \"a\"]\n");
    // A str whose text is the limit exactly is whole, without `...`; a byte more is cut to the limit (to the
    // start of a character).
    shell.line(&mut interpreter, "let b = \"x\"", &mut console);
    for _ in 0..16 {
        shell.line(&mut interpreter, "b = b + b", &mut console);
    }
    let x = |n: usize| "x".repeat(n);
    for (input, shown) in [
        (
            format!("slice(b, 0, {})", ECHO_LIMIT - 2),
            format!("\"{}\"\n", x(ECHO_LIMIT - 2)),
        ),
        (
            format!("slice(b, 0, {})", ECHO_LIMIT - 1),
            format!("\"{}...\n", x(ECHO_LIMIT - 1)),
        ),
        (
            format!("slice(b, 0, {}) + \"\\xc3\\xa9\"", ECHO_LIMIT - 2),
            format!("\"{}...\n", x(ECHO_LIMIT - 2)),
        ),
        (
            String::from("[1, b]"),
            format!("[1, \"{}...\n", x(ECHO_LIMIT - 5)),
        ),
    ] {
        console.0.clear();
        shell.line(&mut interpreter, &input, &mut console);
        assert!(
            console.0 == shown,
            "{input}: {} bytes, ending {:?}",
            console.0.len(),
            &console.0[console.0.len().saturating_sub(8)..]
        );
    }
}

#[test]
fn a_search_counts_its_table_against_the_memory_limit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A needle of 256 KiB: its table takes 2 MiB for the search, more than the room left.
    let source = doubled("a", 18, "print(contains(s + s, s))");
    assert_eq!(
        refused_within_margin("the search", &source),
        "t.bs:4:7: error: out of memory: the script holds too much"
    );
    let source = doubled(
        "a",
        14,
        "print(contains(s + s, s + \"b\"), contains(s + s, s))",
    );
    assert_eq!(run(config(), &source).unwrap(), "false true\n");
}

#[test]
fn values_are_counted_as_they_take_the_heap() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A map's keys are strings of their own: 4 KiB keys were counted as 32 bytes an entry.
    refused_within_margin(
        "a map with long keys",
        &doubled(
            "x",
            12,
            "let m = {}\ni = 0\nwhile true { m[s + str(i)] = i; i = i + 1 }",
        ),
    );
    // A closure holds its captured variables: 32 of them were counted as 32 bytes in all.
    let names: Vec<String> = (0..32).map(|i| format!("v{i}")).collect();
    let lets: String = names.iter().map(|n| format!("let {n} = 1\n")).collect();
    let sum = names.join(" + ");
    refused_within_margin(
        "a list of closures",
        &format!("fn make() {{\n{lets}return fn() {{ return {sum} }}\n}}\nlet l = []\nwhile true {{ push(l, make()) }}"),
    );
    // Built-ins that copy their argument (hex twice over) were not checked at all.
    refused_within_margin(
        "hex and bytes",
        "let b = x\"00\"\nwhile true { b = bytes(hex(b)) }",
    );
}

#[test]
fn a_quoted_text_is_cut_as_it_grows() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 512 KiB of control characters: quoted inside a list, each takes four bytes (`\x01`).
    refused_within_margin(
        "a list of a quoted str",
        &doubled("\\x01", 19, "print([s])"),
    );
    let mut interpreter = Interpreter::new(config());
    let mut shell = Shell::new();
    let mut console = Quiet(String::new());
    for line in doubled("\\x01", 19, "").lines() {
        shell.line(&mut interpreter, line, &mut console);
    }
    let ((), most) = peak(|| shell.line(&mut interpreter, "[s]", &mut console));
    assert!(console.0.starts_with("[\"\\x01") && console.0.ends_with("...\n"));
    assert!(most < 4 * LIMIT, "the echo took {most} bytes at once");
    // Bytes take two bytes a byte in the text, and are not begun when they would not fit.
    let bytes = "let b = x\"01\"\nlet i = 0\nwhile i < 19 { b = b + b; i = i + 1 }\n";
    refused_within_margin("a list of bytes", &format!("{bytes}print([b])"));
}
