//! The limits hold on a small stack too: deep calls and deep nesting end in errors, never in a stack overflow.

mod common {
    pub mod quiet;
}

use bootscript_lang::Config;
use common::quiet::run;

const DOWN: &str = "fn down(n) { if n == 0 { return 0 } return 1 + down(n - 1) }\n";

/// The native stack one nesting level of script calls takes (measured: the smallest limit that lets 100 calls
/// through, per call).
fn stack_per_call() -> usize {
    let source = format!("{DOWN}down(100)");
    let (mut low, mut high) = (0usize, 64 << 20);
    while high - low > 256 {
        let mid = (low + high) / 2;
        let config = Config {
            stack_limit: mid,
            ..Config::default()
        };
        if run(config, &source).is_ok() {
            high = mid;
        } else {
            low = mid;
        }
    }
    high / 100
}

#[test]
fn stack_per_script_call_is_small() {
    let per_call = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(stack_per_call)
        .unwrap()
        .join()
        .unwrap();
    eprintln!("native stack per script call: {per_call} bytes");
    // Release builds (the payload) must stay well under this; debug builds are allowed more.
    let bound = if cfg!(debug_assertions) {
        16 << 10
    } else {
        1200
    };
    assert!(
        per_call < bound,
        "{per_call} bytes of stack per script call"
    );
}

/// Runs `f` on a thread with a stack as small as the payload's might be (larger in debug builds, whose frames
/// are about ten times larger), with the interpreter limited to half of it.
fn on_small_stack(source: String) -> Result<String, String> {
    let stack = if cfg!(debug_assertions) {
        8 << 20
    } else {
        512 << 10
    };
    let config = Config {
        stack_limit: stack / 2,
        ..Config::default()
    };
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || run(config, &source))
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn two_hundred_calls_fit_a_small_stack() {
    assert_eq!(
        on_small_stack(format!("{DOWN}print(down(200))")),
        Ok("200\n".into())
    );
}

#[test]
fn endless_recursion_is_an_error_on_a_small_stack() {
    let err = on_small_stack("fn f(n) { return f(n + 1) + 1 }\nf(0)".into()).unwrap_err();
    assert!(
        err.starts_with("t.bs:1:18: error: too many nested calls"),
        "{err}"
    );
}

#[test]
fn deep_expressions_in_deep_recursion_are_an_error_on_a_small_stack() {
    // Every call level evaluates an expression nested 180 deep before it calls again.
    let nested = format!("{}f(n + 1){}", "(1 + ".repeat(90), ")".repeat(90));
    let source = format!("fn f(n) {{ return {nested} }}\nf(0)");
    let err = on_small_stack(source).unwrap_err();
    assert!(err.contains("error: too many nested calls"), "{err}");
}

#[test]
fn deep_nesting_is_a_syntax_error_on_a_small_stack() {
    for source in [
        "(".repeat(100_000),
        "[".repeat(100_000),
        "{a: ".repeat(100_000),
        "if true {".repeat(100_000),
    ] {
        let err = on_small_stack(source).unwrap_err();
        assert!(err.contains("error: too deeply nested"), "{err}");
    }
}

#[test]
fn deeply_nested_values_drop_without_recursion() {
    let source = "let l = []\nlet i = 0\nwhile i < 1000000 { l = [l]; i = i + 1 }\nlet m = {}\ni = 0\n\
                  while i < 100000 { m = {m: m}; i = i + 1 }\nlet f = fn() { return 0 }\ni = 0\n\
                  while i < 100000 { let g = f; f = fn() { return g() }; i = i + 1 }\nprint(\"done\")";
    assert_eq!(on_small_stack(source.into()), Ok("done\n".into()));
}

#[test]
fn deeply_nested_values_are_errors_in_text_and_equality() {
    let source =
        "let a = []\nlet b = []\nlet i = 0\nwhile i < 100000 { a = [a]; b = [b]; i = i + 1 }\n\
                  try { a == b } catch e { print(e) }\ntry { str(a) } catch e { print(e) }";
    assert_eq!(
        on_small_stack(source.into()),
        Ok("values nested too deeply to compare\nvalue nested too deeply\n".into())
    );
}
