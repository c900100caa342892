//! The public API other crates use: values, the interpreter's globals, check, the shell, help.

use bootscript_lang::{
    help, script_text, Config, ErrorKind, Interpreter, Platform, Primitive, Shell, Value,
};

#[derive(Default)]
struct Console {
    out: String,
    lines: Vec<String>,
    calls: Vec<(Primitive, Vec<Value>)>,
}

impl Platform for Console {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
    }
    /// Like a console: the typed line is shown only with echo, the line always ends.
    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        if self.lines.is_empty() {
            return Err("end of input".into());
        }
        let line = self.lines.remove(0);
        if echo {
            self.out.push_str(&line);
        }
        self.out.push('\n');
        Ok(line)
    }
    fn time_ms(&mut self) -> u64 {
        7
    }
    fn sleep_ms(&mut self, _: u64) {}
    fn reboot(&mut self) -> String {
        "cannot reboot".into()
    }
    fn halt(&mut self) -> String {
        "cannot halt".into()
    }
    fn keymap(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn primitive(&mut self, which: Primitive, args: Vec<Value>, _: usize) -> Result<Value, String> {
        self.calls.push((which, args));
        match which {
            Primitive::Disks => Ok(Value::list(vec![Value::map(vec![
                ("name".into(), Value::str("hd0")),
                ("size".into(), Value::Int(1 << 20)),
                ("kind".into(), Value::str("disk")),
            ])])),
            Primitive::Read => Ok(Value::bytes(b"kernel".to_vec())),
            // As a disk's text may come back in an error: a LUKS header's cipher name, say.
            Primitive::LuksOpen => Err("unknown cipher 'aes\u{1b}[2J\u{9b}'".into()),
            _ => Err(format!("{} failed", which.name())),
        }
    }
}

#[test]
fn values_build_and_read_back() {
    assert_eq!(Value::str("a").as_str(), Some("a"));
    assert_eq!(Value::bytes(vec![1, 2]).as_bytes(), Some(&[1u8, 2][..]));
    assert_eq!(Value::str("é").as_bytes(), Some("é".as_bytes()));
    assert_eq!(Value::Int(5).as_int(), Some(5));
    assert_eq!(Value::True.as_bool(), Some(true));
    assert!(Value::Nil.is_nil() && Value::Int(0).truthy() && !Value::Nil.truthy());
    let list = Value::list(vec![Value::Int(1), Value::str("x")]);
    assert_eq!(list.list_items().unwrap().len(), 2);
    assert_eq!(list.type_name(), "list");
    let map = Value::map(vec![
        ("b".into(), Value::Int(1)),
        ("a".into(), Value::Int(2)),
        ("b".into(), Value::Int(3)),
    ]);
    let entries = map.map_entries().unwrap();
    assert_eq!(
        entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(map.map_get("b"), Some(Value::Int(3)));
    assert_eq!(map.map_get("zz"), None);
    assert_eq!(format!("{map}"), "{b: 3, a: 2}");
    assert_eq!(format!("{:?}", Value::str("q\"")), "\"q\\\"\"");
    assert_eq!(format!("{}", Value::str("q\"")), "q\"");
    assert_eq!(
        Value::list(vec![Value::Int(1)]),
        Value::list(vec![Value::Int(1)])
    );
}

#[test]
fn primitives_get_bound_arguments_and_their_results_reach_the_script() {
    let mut console = Console::default();
    let mut interpreter = Interpreter::new(Config::default());
    let source = "print(disks()[0].name, text(read(\"/k\")))\n\
                  try { aes_setup(\"root\", \"hd0p2\", x\"00\", size=8) } catch e { print(e) }\n\
                  try { exec(\"/k\", initrd=[\"/i\"]) } catch e { print(e) }";
    interpreter.run("p.bs", source, &mut console).unwrap();
    assert_eq!(console.out, "hd0 kernel\naes_setup failed\nexec failed\n");
    let (which, args) = &console.calls[2];
    assert_eq!(*which, Primitive::AesSetup);
    assert_eq!(
        Primitive::AesSetup.params(),
        ["name", "device", "key", "cipher", "offset", "size", "skip"]
    );
    let expected = [
        Value::str("root"),
        Value::str("hd0p2"),
        Value::bytes(vec![0]),
        Value::str("aes-xts-plain64"),
        Value::Int(0),
        Value::Int(8),
        Value::Int(0),
    ];
    assert_eq!(args[..], expected[..]);
    let (which, args) = &console.calls[3];
    assert_eq!(*which, Primitive::Exec);
    assert_eq!(
        args[..],
        [
            Value::str("/k"),
            Value::str(""),
            Value::list(vec![Value::str("/i")]),
            Value::Nil
        ][..]
    );
    // A primitive's error shows the control characters it holds as escapes, caught or not.
    console.out.clear();
    let source = "try { luks_open(\"hd0\", \"pw\", \"x\") } catch e { print(e) }\nluks_open(\"hd0\", \"pw\", \"x\")";
    let err = interpreter.run("q.bs", source, &mut console).unwrap_err();
    assert_eq!(console.out, "unknown cipher 'aes\\x1b[2J\\xc2\\x9b'\n");
    assert_eq!(
        err.to_string(),
        "q.bs:2:1: error: unknown cipher 'aes\\x1b[2J\\xc2\\x9b'"
    );
}

#[test]
fn globals_persist_between_runs_and_can_be_set() {
    let mut console = Console::default();
    let mut interpreter = Interpreter::new(Config::default());
    interpreter
        .run(
            "a.bs",
            "let x = 1\nfn bump() { x = x + 1; return x }",
            &mut console,
        )
        .unwrap();
    assert_eq!(
        interpreter.eval_line("shell", "bump()", &mut console),
        Ok(Some(Value::Int(2)))
    );
    assert_eq!(
        interpreter.eval_line("shell", "x = 10", &mut console),
        Ok(None)
    );
    assert_eq!(
        interpreter.eval_line("shell", "bump()", &mut console),
        Ok(Some(Value::Int(11)))
    );
    interpreter.set_global("extra", Value::str("e"));
    assert_eq!(interpreter.global("extra"), Some(Value::str("e")));
    assert_eq!(interpreter.global("x"), Some(Value::Int(11)));
    assert_eq!(interpreter.global("never"), None);
    // An error raised inside a function of the first file names that file.
    interpreter
        .run("a2.bs", "fn bad() {\n  return 1 / 0\n}", &mut console)
        .unwrap();
    let err = interpreter
        .eval_line("shell", "bad()", &mut console)
        .unwrap_err();
    assert_eq!(err.to_string(), "a2.bs:2:12: error: division by zero");
    assert_eq!(err.kind, ErrorKind::Runtime);
    assert_eq!(
        (err.line, err.col, err.message.as_str()),
        (2, 12, "division by zero")
    );
}

/// `args` reads the command line as Linux reads its own: a quoted value or word keeps its white space and loses
/// its quotes, and an unclosed quote runs to the end. (GRUB passes quotes only around a whole word, as the
/// golden script platform/cmdline_quotes.bs has them; other loaders pass the line as typed.)
#[test]
fn args_reads_quoted_words_as_linux_does() {
    let mut console = Console::default();
    for (line, expected) in [
        (
            r#"name="two words" k2="" "k3=v w" "bare word" x="#,
            r#"{name: "two words", k2: "", k3: "v w", "bare word": true, x: ""}"#,
        ),
        ("a=1 b a=2", r#"{a: "2", b: true}"#),
        ("t=\"open\ttab more", r#"{t: "open\ttab more"}"#),
        (r#"q=a"b"c"#, r#"{q: "a\"b\"c"}"#),
        ("  ", "{}"),
    ] {
        let mut interpreter = Interpreter::new(Config::default());
        interpreter.set_cmdline(line);
        interpreter
            .run("a.bs", "print(args)", &mut console)
            .unwrap();
        assert_eq!(console.out.lines().last(), Some(expected), "{line}");
        assert_eq!(interpreter.global("cmdline"), Some(Value::str(line)));
    }
}

#[test]
fn incomplete_input_is_recognised() {
    let interpreter = Interpreter::new(Config::default());
    for text in [
        "if true {",
        "let x =",
        "print(1,",
        "[1, 2",
        "{a: 1",
        "1 +",
        "fn f() { return",
    ] {
        assert!(interpreter.is_incomplete(text), "{text}");
    }
    for text in ["print(1)", "let x = 1", ")", "\"open string", "1 < 2 < 3"] {
        assert!(!interpreter.is_incomplete(text), "{text}");
    }
}

#[test]
fn shell_gathers_lines_prints_values_and_keeps_history() {
    let mut console = Console::default();
    let mut interpreter = Interpreter::new(Config::default());
    let mut shell = Shell::new();
    assert_eq!(shell.prompt(), "bootscript> ");
    shell.line(&mut interpreter, "fn twice(v) {", &mut console);
    assert_eq!(shell.prompt(), "... ");
    shell.line(&mut interpreter, "  return v * 2", &mut console);
    shell.line(&mut interpreter, "}", &mut console);
    assert_eq!(shell.prompt(), "bootscript> ");
    shell.line(&mut interpreter, "twice(21)", &mut console);
    shell.line(&mut interpreter, "[\"a\", nil]", &mut console);
    shell.line(&mut interpreter, "nil", &mut console);
    shell.line(&mut interpreter, "", &mut console);
    shell.line(&mut interpreter, "twice(", &mut console);
    shell.cancel();
    shell.line(&mut interpreter, "1 / 0", &mut console);
    assert_eq!(
        console.out,
        "42\n[\"a\", nil]\nshell:1:3: error: division by zero\n"
    );
    assert_eq!(shell.recall(1), Some("1 / 0"));
    assert_eq!(shell.recall(4), Some("twice(21)"));
    assert_eq!(shell.recall(5), Some("fn twice(v) {\n  return v * 2\n}"));
    assert_eq!(shell.recall(6), None);
    assert_eq!(shell.history().len(), 5);

    // An input goes on where the language lets a newline go on: after a binary operator, before `catch` (and
    // `else`); not after a unary operator or a `.`, where the error comes at once.
    console.out.clear();
    for line in [
        "1 +",
        "2",
        "try { error(\"e\") }",
        "catch e { print(e) }",
        "not",
        "-",
        "[1].",
    ] {
        shell.line(&mut interpreter, line, &mut console);
        assert_eq!(
            shell.prompt(),
            if line.ends_with('+') || line.starts_with("try") {
                "... "
            } else {
                "bootscript> "
            },
            "{line}"
        );
    }
    assert_eq!(
        console.out,
        "3\ne\nshell:1:4: error: expected an expression near end of input\n\
         shell:1:2: error: expected an expression near end of input\n\
         shell:1:5: error: expected a name near end of input\n"
    );
}

#[test]
fn the_shell_history_keeps_the_last_64_inputs_without_repeats() {
    let mut console = Console::default();
    let mut interpreter = Interpreter::new(Config::default());
    let mut shell = Shell::new();
    // An input entered again right after itself is kept once (an earlier one again is kept again).
    for line in ["1", "1", "2", "1"] {
        shell.line(&mut interpreter, line, &mut console);
    }
    assert_eq!(shell.history(), ["1", "2", "1"]);
    // The oldest inputs go once 64 are kept.
    for i in 0..70 {
        shell.line(&mut interpreter, &i.to_string(), &mut console);
    }
    assert_eq!(shell.history().len(), 64);
    assert_eq!(shell.history()[0], "6");
    assert_eq!(shell.recall(1), Some("69"));
    assert_eq!(shell.recall(64), Some("6"));
    assert_eq!(shell.recall(65), None);
}

#[test]
fn an_unfinished_shell_input_takes_no_global_name() {
    let mut console = Console::default();
    // How many names a new interpreter has: a script of MAX_GLOBALS new names fails at the first one past the limit.
    let lets = |n: usize| {
        (0..n)
            .map(|i| format!("let g{i} = 0\n"))
            .collect::<String>()
    };
    let e = Interpreter::new(Config::default())
        .run("fill.bs", &lets(bootscript_lang::MAX_GLOBALS), &mut console)
        .unwrap_err();
    assert!(e.message.starts_with("too many global names"), "{e}");
    let room = e.line as usize - 1;
    // One name short of the limit.
    let mut interpreter = Interpreter::new(Config::default());
    interpreter
        .run("fill.bs", &lets(room - 1), &mut console)
        .unwrap();
    // Each line of an input that goes on is parsed to see whether it does: the names it names are not kept. The
    // input is dropped (Ctrl-C), and the last name the limit allows is still free.
    let mut shell = Shell::new();
    shell.line(&mut interpreter, "[never_entered,", &mut console);
    assert_eq!(shell.prompt(), "... ");
    shell.cancel();
    shell.line(&mut interpreter, "let last = 1", &mut console);
    assert_eq!(console.out, "");
    assert_eq!(interpreter.global("last"), Some(Value::Int(1)));
    // (The limit is where it was: one name more is refused.)
    shell.line(&mut interpreter, "let one_more = 1", &mut console);
    assert!(
        console.out.contains("error: too many global names"),
        "{}",
        console.out
    );
}

#[test]
fn a_hidden_prompt_never_writes_the_passphrase() {
    let mut console = Console {
        lines: vec!["hunter2".into()],
        ..Console::default()
    };
    let mut interpreter = Interpreter::new(Config::default());
    interpreter
        .run(
            "p.bs",
            "let p = prompt(\"Pass: \", echo=false)\nprint(len(p))",
            &mut console,
        )
        .unwrap();
    assert_eq!(console.out, "Pass: \n7\n");
}

#[test]
fn the_shell_does_not_echo_a_hidden_input() {
    let mut console = Console {
        lines: vec!["hunter2".into()],
        ..Console::default()
    };
    let mut interpreter = Interpreter::new(Config::default());
    let mut shell = Shell::new();
    shell.line(
        &mut interpreter,
        "let p = prompt(\"Pass: \", echo=false)",
        &mut console,
    );
    shell.line(&mut interpreter, "p", &mut console);
    shell.line(&mut interpreter, "len(p)", &mut console);
    assert_eq!(console.out, "Pass: \n(hidden input)\n7\n");
}

#[test]
fn help_has_a_line_for_every_built_in() {
    let text = help();
    let names = [
        "print",
        "str",
        "int",
        "len",
        "type",
        "hex",
        "unhex",
        "bytes",
        "text",
        "slice",
        "push",
        "pop",
        "keys",
        "remove",
        "contains",
        "split",
        "join",
        "trim",
        "range",
        "error",
        "assert",
        "time_ms",
        "sleep_ms",
        "help",
        "prompt",
        "keymap",
        "reboot",
        "halt",
        "sha1",
        "sha256",
        "sha512",
        "ripemd160",
        "hmac",
        "pbkdf2",
        "aes_setup",
        "luks_open",
        "disks",
        "mount",
        "umount",
        "ls",
        "read",
        "exists",
        "stat",
        "exec",
    ];
    assert_eq!(text.lines().count(), names.len());
    for name in names {
        let line = format!("{name}(");
        assert!(text.lines().any(|l| l.starts_with(&line)), "{name} missing");
        // Every built-in is also a global of a new interpreter.
        assert!(
            Interpreter::new(Config::default()).global(name).is_some(),
            "{name}"
        );
    }
    assert!(text.contains(
        "aes_setup(name, device, key, cipher=\"aes-xts-plain64\", offset=0, size?, skip=0)"
    ));
}

#[test]
fn step_budget_is_per_run() {
    let mut console = Console::default();
    let config = Config {
        step_limit: Some(100),
        ..Config::default()
    };
    let mut interpreter = Interpreter::new(config);
    // (80 turns, and 10 steps for the 2,560 bytes of the range's list: see BYTES_PER_STEP.)
    for _ in 0..3 {
        interpreter
            .run("s.bs", "for i in range(80) { }", &mut console)
            .unwrap();
    }
    let err = interpreter
        .run("s.bs", "for i in range(101) { }", &mut console)
        .unwrap_err();
    assert_eq!(err.message, "step budget exhausted");
}

/// The reference (docs/language.md) documents every built-in `help()` lists, and no built-in that does not exist:
/// each bullet of its built-in section names one or more of them as `` `NAME(``.
#[test]
fn the_reference_documents_every_built_in() {
    let docs = include_str!("../../../docs/language.md");
    let section = docs
        .split("\n## Built-in functions")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/language.md has a section \"## Built-in functions\"");
    let help = help();
    let built_ins: Vec<&str> = help
        .lines()
        .map(|line| line.split('(').next().unwrap())
        .collect();
    for name in &built_ins {
        assert!(
            section.contains(&format!("`{name}(")),
            "docs/language.md does not document {name}()"
        );
    }
    for bullet in section.lines().filter(|line| line.starts_with("- `")) {
        for part in bullet.split('`').skip(1).step_by(2) {
            if let Some((name, _)) = part.split_once('(') {
                if name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    assert!(
                        built_ins.contains(&name),
                        "docs/language.md documents {name}(), which is no built-in"
                    );
                }
            }
        }
    }
}

#[test]
fn a_file_that_is_not_utf8_is_a_syntax_error_at_its_first_bad_byte() {
    assert_eq!(
        script_text("ok.bs", "print(\"é\")\n".as_bytes()).unwrap(),
        "print(\"é\")\n"
    );
    // Columns count chars, as the lexer's do: `é` is one.
    for (bytes, at) in [
        (&b"\xff"[..], "bad.bs:1:1:"),
        (b"print(1)\n\xc3\xa9\xe9\n", "bad.bs:2:2:"),
        (b"a\nb\n\nlet s = \"\xc3\"\n", "bad.bs:4:10:"),
        // After a byte order mark, as `run` counts the first line.
        (b"\xef\xbb\xbfab\xff", "bad.bs:1:3:"),
    ] {
        let e = script_text("bad.bs", bytes).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        let text = e.to_string();
        assert!(text.starts_with(at), "{text}");
        assert!(text.contains(": error: not UTF-8 text (byte 0x"), "{text}");
    }
}
