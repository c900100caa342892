//! `bootscript`: checks and runs boot scripts on a workstation, and offers the rescue shell on the terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode};
use std::time::Instant;

use bootscript_lang::{Config, ErrorKind, Interpreter, Platform, ScriptError, Shell};

/// Exit status for a syntax error (sysexits EX_DATAERR).
const EXIT_SYNTAX: u8 = 65;
/// Exit status for an uncaught runtime error (sysexits EX_SOFTWARE).
const EXIT_RUNTIME: u8 = 70;
/// Exit status for a wrong command line (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// The host gives the script thread a big stack; the interpreter's own limit stays well below it.
const THREAD_STACK: usize = 64 << 20;
const SCRIPT_STACK_LIMIT: usize = 16 << 20;

const USAGE: &str = "usage:
  bootscript check FILE.bs
  bootscript run FILE.bs [--disk IMAGE]... [--cmdline TEXT] [--steps N]
  bootscript repl
  bootscript bench-parse FILE N
  bootscript help";

/// The host side of the seam: stdout for the consoles, stdin for `prompt`.
struct Host {
    start: Instant,
    stdin: std::io::StdinLock<'static>,
    /// Disk images given with --disk: hd0, hd1, ... once the disk primitives are wired in.
    #[allow(dead_code)]
    disks: Vec<String>,
    /// halt() or reboot() was called: the run ends successfully.
    stopped: bool,
}

impl Platform for Host {
    fn write(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        // Never echo a passphrase: turn the terminal's echo off while it is typed.
        let hide = !echo && std::io::stdin().is_terminal();
        if hide {
            let _ = Command::new("stty").arg("-echo").status();
        }
        let mut line = String::new();
        let result = self.stdin.read_line(&mut line);
        if hide {
            let _ = Command::new("stty").arg("echo").status();
        }
        match result {
            Ok(0) => Err("end of input".into()),
            Ok(_) => {
                let trimmed = line.trim_end_matches(['\n', '\r']).len();
                line.truncate(trimmed);
                Ok(line)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn time_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn sleep_ms(&mut self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    fn reboot(&mut self) -> String {
        self.stopped = true;
        "reboot".into()
    }

    fn halt(&mut self) -> String {
        self.stopped = true;
        "halt".into()
    }

    fn keymap(&mut self, name: &str) -> Result<(), String> {
        match name {
            "us" | "uk" | "de" | "fr" => Ok(()),
            _ => Err(format!("unknown keymap '{name}'")),
        }
    }
}

fn host(disks: Vec<String>) -> Host {
    Host {
        start: Instant::now(),
        stdin: std::io::stdin().lock(),
        disks,
        stopped: false,
    }
}

fn read(path: &str) -> Result<String, u8> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("bootscript: cannot read {path}: {e}");
        EXIT_USAGE
    })
}

fn report(e: &ScriptError) -> u8 {
    eprintln!("{e}");
    match e.kind {
        ErrorKind::Syntax => EXIT_SYNTAX,
        ErrorKind::Runtime => EXIT_RUNTIME,
    }
}

fn check(path: &str) -> Result<(), u8> {
    let source = read(path)?;
    let errors = Interpreter::new(Config::default()).check(path, &source);
    for e in &errors {
        eprintln!("{e}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EXIT_SYNTAX)
    }
}

fn run(args: &[String]) -> Result<(), u8> {
    let mut file = None;
    let mut disks = Vec::new();
    let mut cmdline = String::new();
    let mut steps = None;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned();
        match (args[i].as_str(), value) {
            ("--disk", Some(v)) => disks.push(v),
            ("--cmdline", Some(v)) => cmdline = v,
            ("--steps", Some(v)) => steps = Some(v.parse().map_err(|_| EXIT_USAGE)?),
            (arg, _) if file.is_none() && !arg.starts_with("--") => {
                file = Some(arg.to_string());
                i += 1;
                continue;
            }
            _ => return Err(usage()),
        }
        i += 2;
    }
    let path = file.ok_or_else(usage)?;
    let source = read(&path)?;
    let config = Config {
        step_limit: steps,
        stack_limit: SCRIPT_STACK_LIMIT,
        ..Config::default()
    };
    let mut interpreter = Interpreter::new(config);
    interpreter.set_cmdline(&cmdline);
    let mut platform = host(disks);
    match interpreter.run(&path, &source, &mut platform) {
        Err(_) if platform.stopped => Ok(()),
        Err(e) => Err(report(&e)),
        Ok(()) => Ok(()),
    }
}

fn repl() -> Result<(), u8> {
    let config = Config {
        stack_limit: SCRIPT_STACK_LIMIT,
        ..Config::default()
    };
    let mut interpreter = Interpreter::new(config);
    let mut platform = host(Vec::new());
    let mut shell = Shell::new();
    loop {
        platform.write(shell.prompt());
        match platform.read_line(true) {
            Ok(line) => shell.line(&mut interpreter, &line, &mut platform),
            Err(_) => {
                platform.write("\n");
                return Ok(());
            }
        }
        if platform.stopped {
            return Ok(());
        }
    }
}

/// Parses (and checks) a file N times, for the parse benchmark.
fn bench_parse(args: &[String]) -> Result<(), u8> {
    let (Some(path), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        return Err(usage());
    };
    let source = read(path)?;
    let interpreter = Interpreter::new(Config::default());
    for _ in 0..n {
        if interpreter.is_incomplete(&source) {
            return Err(EXIT_SYNTAX);
        }
    }
    Ok(())
}

fn usage() -> u8 {
    eprintln!("{USAGE}");
    EXIT_USAGE
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let worker = std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let rest = args.get(1..).unwrap_or(&[]);
            match args.first().map(String::as_str) {
                Some("check") if rest.len() == 1 => check(&rest[0]),
                Some("run") => run(rest),
                Some("repl") => repl(),
                Some("bench-parse") => bench_parse(rest),
                Some("help") => {
                    print!("{}", bootscript_lang::help());
                    Ok(())
                }
                _ => Err(usage()),
            }
        });
    match worker.map(|w| w.join()) {
        Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
        Ok(Ok(Err(code))) => ExitCode::from(code),
        _ => ExitCode::from(EXIT_RUNTIME),
    }
}
