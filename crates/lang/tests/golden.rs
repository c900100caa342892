//! The golden test runner: every `tests/scripts/**/*.bs` runs, and its output must match its inline
//! expectations:
//! - `# expect: LINE`: the next line the script prints;
//! - `# expect error: TEXT`: the script stops with an error whose `FILE:LINE:COL: error: MESSAGE` ends in TEXT;
//! - `# expect check: TEXT`: `check` reports an error ending in TEXT (all such lines, in order, and no others);
//! - `# input: LINE`: a line for `prompt` to read; `# cmdline: TEXT`: the command line;
//! - `# steps: N`, `# memory: N`, `# stack: N`: the limits of the run.

use std::path::{Path, PathBuf};

use bootscript_lang::{Config, Interpreter, Platform};

mod common {
    pub mod directives;
}
use common::directives::directives;

struct Recorder {
    output: String,
    input: Vec<String>,
    clock: u64,
}

impl Platform for Recorder {
    fn write(&mut self, text: &str) {
        self.output.push_str(text);
    }
    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        if self.input.is_empty() {
            return Err("end of input".into());
        }
        let line = self.input.remove(0);
        if echo {
            self.output.push_str(&line);
        }
        self.output.push('\n');
        Ok(line)
    }
    fn time_ms(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
    fn sleep_ms(&mut self, ms: u64) {
        self.clock += ms;
    }
    fn reboot(&mut self) -> String {
        "reboot failed".into()
    }
    fn halt(&mut self) -> String {
        "halt failed".into()
    }
    fn keymap(&mut self, name: &str) -> Result<(), String> {
        match name {
            "us" | "uk" | "de" | "fr" => Ok(()),
            _ => Err(format!("unknown keymap '{name}'")),
        }
    }
}

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/scripts")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scripts(&path, out);
        } else if path.extension().is_some_and(|e| e == "bs") {
            out.push(path);
        }
    }
}

/// Runs one script; returns what differs from its expectations.
fn run_one(path: &Path) -> Option<String> {
    let source = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut expected = Vec::new();
    let mut expected_error = None;
    let mut expected_checks = Vec::new();
    let mut input = Vec::new();
    // Debug builds take about ten times the stack per call that release builds take.
    let mut config = Config {
        stack_limit: 32 << 20,
        ..Config::default()
    };
    let mut cmdline = String::new();
    for (key, v) in directives(&source) {
        match key {
            "# expect: " => expected.push(v),
            "# expect error: " => expected_error = Some(v),
            "# expect check: " => expected_checks.push(v),
            "# input: " => input.push(v),
            "# cmdline: " => cmdline = v,
            "# steps: " => config.step_limit = Some(v.trim().parse().unwrap()),
            "# memory: " => config.memory_limit = v.trim().parse().unwrap(),
            _ => config.stack_limit = v.trim().parse().unwrap(),
        }
    }
    let mut interpreter = Interpreter::new(config);
    interpreter.set_cmdline(&cmdline);
    let mut problems = String::new();
    if !expected_checks.is_empty() {
        let found: Vec<String> = interpreter
            .check(&name, &source)
            .iter()
            .map(|e| e.to_string())
            .collect();
        if expected_checks == ["ok"] {
            expected_checks.clear();
        }
        let matches = found.len() == expected_checks.len()
            && found
                .iter()
                .zip(&expected_checks)
                .all(|(f, e)| f.ends_with(e.as_str()));
        if !matches {
            problems +=
                &format!("check: expected {expected_checks:?}\n       found    {found:?}\n");
        }
    }
    let mut platform = Recorder {
        output: String::new(),
        input,
        clock: 0,
    };
    let result = interpreter.run(&name, &source, &mut platform);
    let printed: Vec<&str> = platform.output.lines().collect();
    if printed != expected {
        problems += &format!("output: expected {expected:#?}\n        printed {printed:#?}\n");
    }
    match (&result, &expected_error) {
        (Ok(()), None) => {}
        (Err(e), Some(want)) if e.to_string().ends_with(want.as_str()) => {}
        (Err(e), _) => problems += &format!("error: expected {expected_error:?}, got '{e}'\n"),
        (Ok(()), Some(want)) => problems += &format!("error: expected '{want}', got none\n"),
    }
    (!problems.is_empty()).then_some(problems)
}

#[test]
fn golden_scripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scripts");
    let mut paths = Vec::new();
    scripts(&root, &mut paths);
    assert!(
        paths.len() > 10,
        "too few golden scripts under {}",
        root.display()
    );
    // The deep-recursion scripts need more stack than a test thread has by default.
    let failures = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut failures = Vec::new();
            for path in &paths {
                if let Some(problem) = run_one(path) {
                    failures.push(format!("{}:\n{problem}", path.display()));
                }
            }
            failures
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        failures.is_empty(),
        "{} golden script(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
