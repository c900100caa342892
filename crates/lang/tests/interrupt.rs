//! Ctrl-C stops a running script: the interpreter asks the platform every `POLL_STEPS` steps (a comparison's
//! too), after a `sleep_ms` and each primitive, and when a prompt fails; the error it raises is one that `try`
//! does not catch.

use bootscript_lang::{Config, Interpreter, Platform, Primitive, ScriptError, Value, POLL_STEPS};

mod common {
    pub mod quiet;
}
use common::quiet;

/// A console whose user presses Ctrl-C at the `at`-th time the interpreter asks (never when `at` is 0), at the
/// prompt when `at_prompt`, during a `sleep_ms` when `at_sleep` (which then ends early, as the payload's), or
/// during a primitive when `at_primitive`. Its `sha1` succeeds; its other primitives fail (as a key derivation
/// the user stopped does).
#[derive(Default)]
struct Keys {
    out: String,
    asked: u64,
    at: u64,
    at_prompt: bool,
    at_sleep: bool,
    at_primitive: bool,
    pressed: bool,
}

impl Platform for Keys {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
    }
    fn read_line(&mut self, _echo: bool) -> Result<String, String> {
        if self.at_prompt {
            self.pressed = true;
            return Err("interrupted (Ctrl-C)".into());
        }
        Ok("typed".into())
    }
    fn time_ms(&mut self) -> u64 {
        0
    }
    fn sleep_ms(&mut self, _: u64) {
        self.pressed |= self.at_sleep;
    }
    fn reboot(&mut self) -> String {
        "cannot reboot".into()
    }
    fn halt(&mut self) -> String {
        "cannot halt".into()
    }
    fn keymap(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn primitive(&mut self, which: Primitive, _: Vec<Value>, _: usize) -> Result<Value, String> {
        self.pressed |= self.at_primitive;
        match which {
            Primitive::Sha1 => Ok(Value::Nil),
            _ => Err(format!("{} failed", which.name())),
        }
    }
    fn interrupted(&mut self) -> bool {
        self.asked += 1;
        std::mem::take(&mut self.pressed) || self.asked == self.at
    }
}

/// A step budget far past where Ctrl-C is pressed, so that a script that does not stop fails rather than hangs.
const SAFETY_NET: Option<u64> = Some(100 * POLL_STEPS);

fn run(
    source: &str,
    keys: &mut Keys,
    steps: Option<u64>,
) -> (Interpreter, Result<(), ScriptError>) {
    let mut interpreter = Interpreter::new(Config {
        step_limit: steps,
        ..Config::default()
    });
    let result = interpreter.run("i.bs", source, keys);
    (interpreter, result)
}

fn int(interpreter: &Interpreter, name: &str) -> i64 {
    match interpreter.global(name) {
        Some(Value::Int(n)) => n,
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn an_endless_loop_stops_at_ctrl_c_with_its_position() {
    let mut keys = Keys {
        at: 2,
        ..Keys::default()
    };
    let (interpreter, result) = run(
        "let n = 0\nwhile true { n = n + 1 }\n",
        &mut keys,
        SAFETY_NET,
    );
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:2:7: error: interrupted (Ctrl-C)");
    // Asked once every POLL_STEPS turns: pressed at the second time, so between one and two rounds of it ran.
    assert_eq!(keys.asked, 2);
    let n = int(&interpreter, "n") as u64;
    assert!((POLL_STEPS..2 * POLL_STEPS).contains(&n), "{n} turns");
}

#[test]
fn try_does_not_catch_ctrl_c() {
    let source = "\
fn spin(k) { if k > 0 { return spin(k - 1) } return 0 }
try {
    while true { spin(50) }
} catch e {
    print(\"caught\", e)
}
print(\"after\")
";
    let mut keys = Keys {
        at: 3,
        ..Keys::default()
    };
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert!(
        e.to_string().ends_with(": error: interrupted (Ctrl-C)"),
        "{e}"
    );
    assert_eq!(keys.out, "");
}

#[test]
fn ctrl_c_at_a_prompt_stops_a_loop_that_asks_again() {
    // A passphrase loop that catches every error and asks again: Ctrl-C at the prompt must still get out.
    let source = "\
while true {
    try {
        let p = prompt(\"passphrase: \", echo=false)
        break
    } catch e {
        print(\"wrong:\", e)
    }
}
print(\"after\")
";
    let mut keys = Keys {
        at_prompt: true,
        ..Keys::default()
    };
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:3:17: error: interrupted (Ctrl-C)");
    assert_eq!(keys.out, "passphrase: ");

    // A prompt that fails otherwise (here: the end of the input) is an error `try` catches, as before.
    let out = quiet::run(
        Config::default(),
        "try { prompt(\"> \") } catch e { print(e) }",
    );
    assert_eq!(out.unwrap(), "> end of input\n");
}

#[test]
fn without_ctrl_c_loops_run_on_and_the_step_budget_still_counts_exactly() {
    // Asked about once per POLL_STEPS steps, and nothing changes when the answer is no.
    let mut keys = Keys::default();
    let (interpreter, result) = run(
        "let n = 0\nfor i in range(200000) { n = n + 1 }\n",
        &mut keys,
        None,
    );
    result.unwrap();
    assert_eq!(int(&interpreter, "n"), 200000);
    assert_eq!(keys.asked, 200000 / POLL_STEPS);

    // A budget that is not a multiple of POLL_STEPS runs out where it says, asked or not on the way.
    for budget in [
        POLL_STEPS - 1,
        POLL_STEPS,
        POLL_STEPS + 1,
        3 * POLL_STEPS + 7,
    ] {
        let mut keys = Keys::default();
        let (interpreter, result) = run(
            "let n = 0\nwhile true { n = n + 1 }\n",
            &mut keys,
            Some(budget),
        );
        let e = result.unwrap_err();
        assert_eq!(e.to_string(), "i.bs:2:7: error: step budget exhausted");
        assert_eq!(int(&interpreter, "n") as u64, budget, "budget {budget}");
    }
}

#[test]
fn ctrl_c_during_a_wait_stops_the_script_after_it() {
    // "Booting in 3 s, Ctrl-C for the shell": the wait ends early and the script stops at the call, before the
    // statement after it could hand off.
    let source = "print(\"booting\")\ntry { sleep_ms(3000) } catch e { print(\"caught\") }\nprint(\"exec\")\n";
    let mut keys = Keys {
        at_sleep: true,
        ..Keys::default()
    };
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:2:7: error: interrupted (Ctrl-C)");
    assert_eq!(keys.out, "booting\n");

    // Without Ctrl-C the wait is only a wait.
    let mut keys = Keys::default();
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    result.unwrap();
    assert_eq!(keys.out, "booting\nexec\n");
}

#[test]
fn ctrl_c_during_a_primitive_stops_the_script_at_the_call() {
    // A key derivation the user stopped fails; the script stops there, inside a `try` too.
    let source = "try {\n    let key = pbkdf2(\"sha256\", \"pw\", \"salt\", 1000000, 32)\n} catch e {\n    print(\"caught\", e)\n}\n";
    let mut keys = Keys {
        at_primitive: true,
        ..Keys::default()
    };
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:2:15: error: interrupted (Ctrl-C)");
    assert_eq!(keys.out, "");

    // A primitive that fails otherwise raises its own error, which `try` catches.
    let mut keys = Keys::default();
    let (_, result) = run(source, &mut keys, SAFETY_NET);
    result.unwrap();
    assert_eq!(keys.out, "caught pbkdf2 failed\n");
    // (After the primitive, and after the print.)
    assert_eq!(keys.asked, 2);
}

#[test]
fn ctrl_c_stops_a_comparison_of_values_that_share_parts() {
    // 2^40 item comparisons in one `==` (or `contains`), where the payload has no step budget: Ctrl-C ends it,
    // looked for as the comparison's steps pass each POLL_STEPS.
    let setup = "let a = []\nlet b = []\nfor i in range(40) {\n    a = [a, a]\n    b = [b, b]\n}\n";
    for (test, error) in [
        (
            "try { print(a == b) } catch e { print(e) }",
            "i.bs:7:15: error: interrupted (Ctrl-C)",
        ),
        (
            "try { print(contains([a], b)) } catch e { print(e) }",
            "i.bs:7:13: error: interrupted (Ctrl-C)",
        ),
    ] {
        let mut keys = Keys {
            at: 3,
            ..Keys::default()
        };
        let (_, result) = run(&format!("{setup}{test}\n"), &mut keys, SAFETY_NET);
        assert_eq!(result.unwrap_err().to_string(), error);
        assert_eq!(keys.asked, 3);
        assert_eq!(keys.out, "");
    }
}

#[test]
fn a_loop_of_primitives_asks_after_each() {
    // A primitive (a disk read, a hash) takes long next to a step: a loop of them is asked after each call, not
    // only every POLL_STEPS steps.
    let mut keys = Keys {
        at: 3,
        ..Keys::default()
    };
    let (_, result) = run("while true {\n    sha1(\"x\")\n}\n", &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:2:5: error: interrupted (Ctrl-C)");
    assert_eq!(keys.asked, 3);
}

#[test]
fn making_large_values_takes_steps() {
    // Each turn makes a list of 10,000 items (320,000 bytes: 1,250 steps), so the loop is asked about Ctrl-C every
    // few dozen turns, not every 21,845 (its three steps a turn).
    let source = "let n = 0\nwhile true {\n    let big = range(10000)\n    n = n + 1\n}\n";
    let mut keys = Keys {
        at: 3,
        ..Keys::default()
    };
    let (interpreter, result) = run(source, &mut keys, SAFETY_NET);
    assert_eq!(
        result.unwrap_err().to_string(),
        "i.bs:3:15: error: interrupted (Ctrl-C)"
    );
    let n = int(&interpreter, "n") as u64;
    assert!(n <= 3 * POLL_STEPS / 1250, "{n} turns");

    // A step budget of 5,000 ends at the first list of 100,001 items (12,500 steps), not 1,666 lists later.
    let source = source.replace("10000", "100001");
    let (interpreter, result) = run(&source, &mut Keys::default(), Some(5000));
    assert_eq!(
        result.unwrap_err().to_string(),
        "i.bs:3:15: error: step budget exhausted"
    );
    assert_eq!(int(&interpreter, "n"), 0);
}

#[test]
fn searching_large_values_takes_steps() {
    // A str and bytes of 16 KiB, two maps of 512 entries and a list of 512 items; then a loop whose every turn searches one
    // of them (a char count, a key's search, a comparison) and makes nothing. Such a turn takes at least the steps
    // listed (a step per 256 bytes of a str, per 8 entries of a map searched or walked in a comparison of maps,
    // per item compared), so a budget of 250,000 ends within 250,000 / that many turns; without the charge, a
    // turn takes two or three steps.
    let setup = "\
let s = \"x\"
for i in range(14) { s = s + s }
let b = bytes(s)
let m = {}
let twin = {}
for i in range(512) {
    m[str(i)] = i
    twin[str(i)] = i
}
let l = range(512)
let n = 0
";
    for (body, steps) in [
        ("let x = s[16000]", 64),
        ("let x = len(s)", 64),
        ("let x = slice(s, 16000, 16001)", 64),
        ("let x = contains(s, \"y\")", 64),
        ("let x = s < s", 64),
        ("let x = s == s", 64),
        ("let x = contains(b, bytes(\"y\"))", 64),
        ("let x = b < b", 64),
        ("let x = b == b", 64),
        ("let x = m[\"511\"]", 64),
        ("m[\"511\"] = n", 64),
        ("let x = m.absent", 64),
        ("let x = contains(m, \"absent\")", 64),
        ("let x = remove(m, \"absent\")", 64),
        ("let x = m == twin", 512 * 511 / 2 / 8),
        ("let x = contains(l, -1)", 512),
    ] {
        let source = format!("{setup}while true {{\n    {body}\n    n = n + 1\n}}\n");
        let (interpreter, result) = run(&source, &mut Keys::default(), Some(250_000));
        let e = result.unwrap_err().to_string();
        assert!(e.ends_with("error: step budget exhausted"), "{body}: {e}");
        let n = int(&interpreter, "n");
        assert!((1..=250_000 / steps).contains(&n), "{body}: {n} turns");
    }

    // Ctrl-C is asked about as often: at the third question, within 3 * POLL_STEPS / 64 turns.
    let source = format!("{setup}while true {{\n    let x = len(s)\n    n = n + 1\n}}\n");
    let mut keys = Keys {
        at: 3,
        ..Keys::default()
    };
    let (interpreter, result) = run(&source, &mut keys, SAFETY_NET);
    let e = result.unwrap_err().to_string();
    assert_eq!(e, "i.bs:12:7: error: interrupted (Ctrl-C)");
    let n = int(&interpreter, "n") as u64;
    assert!(n <= 3 * POLL_STEPS / 64, "{n} turns");
}

#[test]
fn a_loop_of_prints_asks_after_each() {
    // A console can take long to show a line (a serial one at 115200 baud): a loop of prints is asked after each,
    // not only every POLL_STEPS steps. (The first question is the loop's first step's.)
    let mut keys = Keys {
        at: 3,
        ..Keys::default()
    };
    let (_, result) = run("while true {\n    print(\"x\")\n}\n", &mut keys, SAFETY_NET);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "i.bs:2:5: error: interrupted (Ctrl-C)");
    assert_eq!(keys.out, "x\nx\n");
    assert_eq!(keys.asked, 3);
}
