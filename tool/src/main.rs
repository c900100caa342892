//! `bootscript`: checks and runs boot scripts on a workstation, and offers the rescue shell on the terminal.

mod host;

use std::process::ExitCode;

use bootscript_lang::{Config, ErrorKind, Interpreter, Platform, ScriptError, Shell};
use bootscript_system::World;

use host::Host;

/// `eprintln!` without its panic where stderr cannot be written (`2>/dev/full`): the exit status still tells.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

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
  bootscript check FILE.bs...
  bootscript run FILE.bs [--disk IMAGE]... [--cmdline TEXT] [--steps N]
  bootscript repl [--disk IMAGE]... [--cmdline TEXT]
  bootscript bench-parse FILE N
  bootscript help";

/// What `run` and `repl` are given on the command line.
#[derive(Default)]
struct Options {
    /// The script (`run` only).
    file: Option<String>,
    disks: Vec<String>,
    cmdline: String,
    /// The step budget (`run` only).
    steps: Option<u64>,
}

/// Reads the options of `run` (`for_run`: a script and `--steps` too) or of `repl`.
fn options(args: &[String], for_run: bool) -> Result<Options, u8> {
    let mut options = Options::default();
    let mut cmdline_given = false;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned();
        match (args[i].as_str(), value) {
            ("--disk", Some(v)) => options.disks.push(v),
            ("--cmdline", Some(_)) if cmdline_given => {
                return Err(wrong("--cmdline is given once (one command line, quoted)"));
            }
            ("--cmdline", Some(v)) => {
                options.cmdline = v;
                cmdline_given = true;
            }
            ("--steps", Some(v)) if for_run => match v.parse() {
                Ok(n) => options.steps = Some(n),
                Err(_) => {
                    eprintln!("bootscript: --steps takes a count of steps, not '{v}'");
                    return Err(EXIT_USAGE);
                }
            },
            (arg, _) if for_run && options.file.is_none() && !arg.starts_with('-') => {
                options.file = Some(arg.to_string());
                i += 1;
                continue;
            }
            (option @ ("--disk" | "--cmdline" | "--steps"), None) => {
                return Err(wrong(&format!("{option} needs a value")));
            }
            (arg, _) if arg.starts_with('-') => {
                return Err(wrong(&format!("unknown option '{arg}'")));
            }
            (arg, _) => return Err(wrong(&format!("one script only, not also '{arg}'"))),
        }
        i += 2;
    }
    // The payload's disks are the four ATA positions (primary and secondary, master and slave).
    if options.disks.len() > MAX_DISKS {
        return Err(wrong(&format!(
            "at most {MAX_DISKS} --disk images: the payload's disks are the 4 ATA positions"
        )));
    }
    Ok(options)
}

/// The most `--disk` images: the payload reads the four legacy ATA positions.
const MAX_DISKS: usize = 4;

/// A wrong command line: what was wrong, then the usage.
fn wrong(what: &str) -> u8 {
    eprintln!("bootscript: {what}");
    usage()
}

/// The host as the script's platform, with the `--disk` images opened (a wrong one is a usage error, said
/// before anything runs).
fn host(disks: &[String]) -> Result<World<Host>, u8> {
    let disks = host::open_disks(disks).map_err(|e| {
        eprintln!("bootscript: {e}");
        EXIT_USAGE
    })?;
    Ok(World::new(Host::new(disks)))
}

/// A script's text: a file that cannot be read is a usage error, one that is not UTF-8 a syntax error with the
/// position of its first bad byte.
fn read(path: &str) -> Result<String, u8> {
    // No more than the longest script, and a character more (the interpreter refuses a longer one with its own
    // error): a file without end (/dev/zero) is not read into memory without end.
    let limit = Config::default().memory_limit / bootscript_lang::SOURCE_SHARE;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| {
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit as u64 + 4), &mut bytes)
    });
    read.map_err(|e| {
        eprintln!("bootscript: cannot read {path}: {e}");
        EXIT_USAGE
    })?;
    // Cut off inside a character: what is left is still too long, and said so, not that it is not UTF-8.
    if bytes.len() > limit {
        if let Err(e) = std::str::from_utf8(&bytes) {
            if e.error_len().is_none() {
                bytes.truncate(e.valid_up_to());
            }
        }
    }
    match bootscript_lang::script_text(path, &bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(report(&e)),
    }
}

fn report(e: &ScriptError) -> u8 {
    eprintln!("{e}");
    match e.kind {
        ErrorKind::Syntax => EXIT_SYNTAX,
        ErrorKind::Runtime => EXIT_RUNTIME,
    }
}

/// Checks each file, all of them whatever the others hold: the first failure's status (64 for a file that
/// cannot be read, 65 for one with errors), or success.
fn check(paths: &[String]) -> Result<(), u8> {
    if let Some(option) = paths.iter().find(|p| p.starts_with('-')) {
        return Err(wrong(&format!("check takes files only, not '{option}'")));
    }
    let mut status = Ok(());
    for path in paths {
        let checked = read(path).and_then(|source| {
            let errors = Interpreter::new(Config::default()).check(path, &source);
            for e in &errors {
                eprintln!("{e}");
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(EXIT_SYNTAX)
            }
        });
        status = status.and(checked);
    }
    status
}

fn run(args: &[String]) -> Result<(), u8> {
    let options = options(args, true)?;
    let path = options.file.ok_or_else(usage)?;
    let source = read(&path)?;
    let mut platform = host(&options.disks)?;
    host::catch_ctrl_c();
    let config = Config {
        step_limit: options.steps,
        stack_limit: SCRIPT_STACK_LIMIT,
        ..Config::default()
    };
    let mut interpreter = Interpreter::new(config);
    interpreter.set_cmdline(&options.cmdline);
    interpreter
        .run(&path, &source, &mut platform)
        .map_err(|e| report(&e))
}

/// The rescue shell on the terminal, with the disks and command line the payload's would have.
fn repl(args: &[String]) -> Result<(), u8> {
    let options = options(args, false)?;
    let mut platform = host(&options.disks)?;
    host::catch_ctrl_c();
    let config = Config {
        stack_limit: SCRIPT_STACK_LIMIT,
        ..Config::default()
    };
    let mut interpreter = Interpreter::new(config);
    interpreter.set_cmdline(&options.cmdline);
    let mut shell = Shell::new();
    loop {
        platform.write(shell.prompt());
        match platform.machine.read_shell_line(shell.history()) {
            Ok(line) => shell.line(&mut interpreter, &line, &mut platform),
            // Ctrl-C drops what was typed so far, a half-entered input of several lines too, as the payload's
            // shell does (and is not left for the next statement to see).
            Err(_) if platform.interrupted() => shell.cancel(),
            // (The line was ended where it was read.)
            Err(_) => {
                shell.end(&mut interpreter, &mut platform);
                return Ok(());
            }
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
    // Once, checked as `check` does, so that a file with a syntax error says so (the timed parses below only
    // tell whether a parse ended early).
    if let Some(e) = interpreter
        .check(path, &source)
        .iter()
        .find(|e| e.kind == ErrorKind::Syntax)
    {
        return Err(report(e));
    }
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
                Some("check") if !rest.is_empty() => check(rest),
                Some("run") => run(rest),
                Some("repl") => repl(rest),
                Some("bench-parse") => bench_parse(rest),
                Some("-h" | "--help") => {
                    host::output(&format!("{USAGE}\n"));
                    Ok(())
                }
                Some("help") => {
                    host::output(&bootscript_lang::help());
                    Ok(())
                }
                _ => Err(usage()),
            }
        });
    host::leave_ctrl_c();
    match worker.map(|w| w.join()) {
        Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
        Ok(Ok(Err(code))) => ExitCode::from(code),
        _ => ExitCode::from(EXIT_RUNTIME),
    }
}
