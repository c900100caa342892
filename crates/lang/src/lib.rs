//! bootscript-lang: the boot script language (see docs/language.md), a tree-walking interpreter that runs the
//! same on the host and in the payload; it reaches the world only through [`Platform`].
//!
//! ```
//! use bootscript_lang::{Config, Interpreter, Platform};
//! struct Out(String);
//! impl Platform for Out {
//!     fn write(&mut self, text: &str) { self.0.push_str(text) }
//!     fn read_line(&mut self, _: bool) -> Result<String, String> { Err("end of input".into()) }
//!     fn time_ms(&mut self) -> u64 { 0 }
//!     fn sleep_ms(&mut self, _: u64) {}
//!     fn reboot(&mut self) -> String { "cannot reboot".into() }
//!     fn halt(&mut self) -> String { "cannot halt".into() }
//!     fn keymap(&mut self, _: &str) -> Result<(), String> { Ok(()) }
//! }
//! let mut out = Out(String::new());
//! let mut interpreter = Interpreter::new(Config::default());
//! interpreter.run("demo.bs", "print(1 + 2, [\"a\"])", &mut out).unwrap();
//! assert_eq!(out.0, "3 [\"a\"]\n");
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod ast;
mod builtins;
mod eval;
mod lexer;
mod parser;
mod shell;
mod value;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

pub use ast::Pos;
pub use builtins::{help_text, hide, Platform, Primitive};
pub use parser::{MAX_GLOBALS, MAX_LOCALS, MAX_MAP_ENTRIES};
pub use shell::{Shell, ECHO_LIMIT};
pub use value::{held_bytes, Blob, Closure, List, Map, Text, Value, MAX_VALUE_DEPTH};

use ast::Stmt;
use eval::{Flow, Machine};
use parser::{parse, Globals};

/// Script calls that may be nested (at least 200 must work).
pub const MAX_CALL_DEPTH: u32 = 250;
/// Nesting of the source: brackets, blocks, operator chains (at least 100 levels must work).
pub const MAX_NESTING: u32 = 200;
/// The memory a script may hold by default (strings, bytes, list items, map entries and keys, functions).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// A source may be at most this part of the memory limit: its syntax tree, which no limit counts, takes up to
/// about 65 bytes a byte of source (measured: `-1` on each line), so the tree stays within twice the limit (the
/// payload's heap is four times it). In the payload's smallest configuration, 512 KiB of script: a hundred and
/// twenty-eight times a boot script of 4 KiB.
pub const SOURCE_SHARE: usize = 32;
/// A running script asks the platform whether the user interrupted it (Ctrl-C) once every this many steps
/// (loop turns and calls): a few milliseconds in the payload, and nothing its loops would notice.
pub const POLL_STEPS: u64 = 1 << 16;
/// An operator or core built-in that makes a value (a long str, a list of many items) takes a step for each this
/// many bytes it holds: about as long to make as a step takes. A search (a str's chars counted, a map's keys
/// looked through) takes as many for the bytes it walks. The step budget then bounds the time a script runs,
/// and Ctrl-C is asked about as often, in a loop whose every turn makes or searches a megabyte too.
pub const BYTES_PER_STEP: usize = 256;
/// The native stack nested script calls may use by default (a release build takes about 1 KiB per script
/// call). The thread that runs a script needs this plus headroom for one call's deepest expression, parsing
/// and the platform: about 128 KiB more. The payload sets its own.
pub const DEFAULT_STACK_LIMIT: usize = 512 << 10;

/// Limits for an interpreter.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Bytes the script may hold (a runtime error beyond).
    pub memory_limit: usize,
    /// Loop iterations and calls one `run` may make (a runtime error, that `try` cannot catch, beyond).
    pub step_limit: Option<u64>,
    /// Bytes of native stack that nested calls may use below the frame that called `run`.
    pub stack_limit: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            step_limit: None,
            stack_limit: DEFAULT_STACK_LIMIT,
        }
    }
}

/// Whether an error was found before anything ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Found by the parser or the static check: nothing ran.
    Syntax,
    Runtime,
}

/// A syntax or runtime error; displays as `FILE:LINE:COL: error: MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
    pub kind: ErrorKind,
    /// A syntax error at the end of the input (the shell reads another line).
    pub(crate) incomplete: bool,
    /// Not catchable by `try` (the step budget).
    pub(crate) fatal: bool,
}

impl core::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// An interpreter: its globals persist from one `run` to the next (the rescue shell runs its lines in the
/// global scope of the script that ran before).
// The names first (`repr(C)`): the parser is lent them by the interpreter's own address.
#[repr(C)]
pub struct Interpreter {
    names: Globals,
    values: Vec<Option<Value>>,
    config: Config,
}

impl Interpreter {
    pub fn new(config: Config) -> Interpreter {
        let mut names = Globals::default();
        let mut values = Vec::new();
        for i in 0..builtins::COUNT {
            names.slot(builtins::field_name(i, 0));
            values.push(Some(Value::Builtin(i)));
        }
        let mut interpreter = Interpreter {
            config,
            names,
            values,
        };
        interpreter.set_cmdline("");
        interpreter
    }

    /// Sets the globals `cmdline` (the text) and `args` (its `key=value` words as a map; a word without `=`
    /// maps to `true`; a later word wins, in the first one's place, as a map literal's repeated key does).
    /// Words are read as Linux reads its own command line: white space inside double quotes does not split
    /// them, and the quotes around a value (`key="a b"`) or a word are not part of it.
    pub fn set_cmdline(&mut self, text: &str) {
        let map = value::new_map();
        // (Byte by byte: the quotes and white space that matter are ASCII.)
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at].is_ascii_whitespace() {
                at += 1;
                continue;
            }
            let mut start = at;
            let mut open = false;
            while at < bytes.len() && (open || !bytes[at].is_ascii_whitespace()) {
                open ^= bytes[at] == b'"';
                at += 1;
            }
            // Its quotes: one that opens the word or its value, and the one that closes it. Found by index in
            // the word's bytes, `start..at`: `start` past an opening quote, `first` where the value or the bare
            // word begins, `end` before a closing quote (every cut at an ASCII byte: no slice below can fail).
            let mut quoted = false;
            if bytes[start] == b'"' {
                quoted = true;
                start += 1;
            }
            // The first `=` splits (found byte by byte: `split_once` brings a char searcher).
            let eq = bytes[start..at].iter().position(|&b| b == b'=');
            let mut first = start;
            if let Some(i) = eq {
                first += i + 1;
                if first < at && bytes[first] == b'"' {
                    quoted = true;
                    first += 1;
                }
            }
            let mut end = at;
            if quoted && end > first && bytes[end - 1] == b'"' {
                end -= 1;
            }
            // The key up to the `=`, or the bare word; its value after the `=`, or true.
            let key = &text[start..eq.map_or(end, |i| start + i)];
            let value = match eq {
                Some(_) => Value::str(&text[first..end]),
                None => Value::True,
            };
            map.set(key, value);
        }
        self.set_global("cmdline", Value::str(text));
        self.set_global("args", Value::Map(map));
    }

    /// How many bytes more scripts may hold (see [`Config::memory_limit`]).
    pub(crate) fn room_left(&self) -> usize {
        self.config.memory_limit.saturating_sub(value::held_bytes())
    }

    /// The value of a global, if it is defined.
    pub fn global(&self, name: &str) -> Option<Value> {
        self.names
            .find(name)
            .and_then(|g| self.values.get(g as usize).cloned().flatten())
    }

    /// Sets a global, defining it if need be. (Out of line in the payload: its two calls in `set_cmdline` are
    /// smaller so, measured.)
    #[cfg_attr(not(feature = "std"), inline(never))]
    pub fn set_global(&mut self, name: &str, value: Value) {
        let g = self.names.slot(name) as usize;
        eval::grow(&mut self.values, g + 1);
        self.values[g] = Some(value);
    }

    /// Runs a script: nothing runs if it has a syntax error.
    pub fn run(
        &mut self,
        file: &str,
        source: &str,
        platform: &mut dyn Platform,
    ) -> Result<(), ScriptError> {
        self.execute(file, without_bom(source), platform)
            .map(|_| ())
    }

    /// Runs a line of the shell: the value of its last statement when that is an expression.
    pub fn eval_line(
        &mut self,
        file: &str,
        source: &str,
        platform: &mut dyn Platform,
    ) -> Result<Option<Value>, ScriptError> {
        self.execute(file, source, platform)
    }

    fn execute(
        &mut self,
        file: &str,
        source: &str,
        platform: &mut dyn Platform,
    ) -> Result<Option<Value>, ScriptError> {
        let file: Rc<str> = Rc::from(file);
        // Every error, of the syntax or of the run, leaves here: the file is given where none is yet.
        self.parse_and_run(&file, source, platform)
            .map_err(|mut e| {
                eval::in_file(&mut e, &file);
                *e
            })
    }

    fn parse_and_run(
        &mut self,
        file: &Rc<str>,
        source: &str,
        platform: &mut dyn Platform,
    ) -> Result<Option<Value>, Box<ScriptError>> {
        self.fits(source)?;
        // The tree, and nothing kept for the static check (see `parser::Keep`).
        let (main, ()) = parse(file, source, &mut self.names)?;
        eval::grow(&mut self.values, self.names.names.len());
        let mut machine = Machine {
            globals: &mut self.values,
            global_names: &self.names.names,
            // A stack of its own for each run (one kept from run to run cost more code than the allocation).
            stack: Vec::new(),
            base: 0,
            closure: None,
            depth: 0,
            steps_left: self.config.step_limit.unwrap_or(u64::MAX),
            memory_limit: self.config.memory_limit,
            stack_floor: eval::stack_address().saturating_sub(self.config.stack_limit),
            ret: Value::Nil,
            platform,
            error: Cell::new(None),
            stopped: false,
        };
        eval::fill(&mut machine.stack, main.slots as usize);
        let result = machine.statements(&main.body);
        // Taken apart: what is left of it needs no drop of the whole.
        let Machine {
            ret,
            error,
            closure,
            ..
        } = machine;
        // Every call gave back the closure it replaced: none is left (nothing to drop).
        core::mem::forget(closure);
        // The last statement indexed (as `last()`, its address was checked against null too).
        let body = &main.body;
        let n = body.len();
        match result {
            Flow::Error => Err(error
                .into_inner()
                .unwrap_or_else(|| eval::error(String::new()))),
            Flow::Normal if n > 0 && matches!(body[n - 1], Stmt::Expr(_)) => Ok(Some(ret)),
            _ => Ok(None),
        }
    }

    /// Refuses a source longer than [`SOURCE_SHARE`] allows, as a syntax error at its start (nothing runs).
    fn fits(&self, source: &str) -> Result<(), Box<ScriptError>> {
        let most = self.config.memory_limit / SOURCE_SHARE;
        if source.len() <= most {
            return Ok(());
        }
        let mut message = String::from("script too large: more than ");
        value::push_int(&mut message, most as i64);
        message.push_str(" bytes");
        let mut e = eval::runtime_error(message, Pos { line: 1, col: 1 });
        e.kind = ErrorKind::Syntax;
        Err(e)
    }

    /// Is this the start of an input that goes on (an open bracket, a trailing operator)?
    pub fn is_incomplete(&self, source: &str) -> bool {
        incomplete(source, &mut self.names.clone())
    }

    /// [`Self::is_incomplete`] for the shell, which can lend the parser the names themselves rather than a copy
    /// (the copy and its drop were 100 bytes of the payload): a parse only adds names, and those are cut off after it.
    pub(crate) fn goes_on(&mut self, source: &str) -> bool {
        let known = self.names.names.len();
        let goes_on = incomplete(source, &mut self.names);
        self.names.names.truncate(known);
        goes_on
    }

    /// Static checks: the syntax, names that are never defined, names the top level uses before it declares them,
    /// and calls with arguments that cannot bind, of built-ins and of the functions the script's top level
    /// declares with `fn` (and sets nowhere else).
    pub fn check(&self, file: &str, source: &str) -> Vec<ScriptError> {
        let mut names = self.names.clone();
        let file_rc: Rc<str> = Rc::from(file);
        let source = without_bom(source);
        let parsed = self
            .fits(source)
            .and_then(|()| parse(&file_rc, source, &mut names));
        let parsed: parser::Record = match parsed {
            Ok((_, record)) => record,
            Err(mut e) => {
                eval::in_file(&mut e, file);
                return vec![*e];
            }
        };
        let mut errors = Vec::new();
        let mut report = |pos: Pos, message: String| {
            let fatal = false;
            errors.push(ScriptError {
                file: String::from(file),
                line: pos.line,
                col: pos.col,
                message,
                kind: ErrorKind::Syntax,
                incomplete: false,
                fatal,
            });
        };
        let defined = |g: u32| {
            parsed.declared.contains(&g) || matches!(self.values.get(g as usize), Some(Some(_)))
        };
        for (g, pos) in &parsed.uses {
            if !defined(*g) {
                let name = names.names.get(*g as usize).map_or("?", |n| n);
                report(*pos, eval::fault(&["unknown name '", name, "'"]));
            }
        }
        // A function the top level declares with `fn NAME` and nothing else sets (no other `let` or `fn` of the
        // name at the top level, no assignment to it anywhere) is that function wherever a call names it; a name
        // set more than once may hold another value at a call, which only the run knows. (A built-in's name
        // declared by the script is left alone too: a call before the declaration runs calls the built-in.)
        let function = |g: u32| {
            let once = parsed.declared.iter().filter(|&&d| d == g).count() == 1
                && !parsed.assigned.contains(&g);
            let found = parsed.functions.iter().find(|(f, _)| *f == g);
            found.filter(|_| once && g as usize >= builtins::COUNT)
        };
        // The top level runs in order: a global it reads or assigns before the file declares it (outside every
        // function, whose body runs only when called) is not there yet when that statement runs.
        for (g, pos) in &parsed.early {
            let later = parsed.declared_at.iter().find(|(d, _)| d == g);
            if let (Some((_, at)), false) =
                (later, matches!(self.values.get(*g as usize), Some(Some(_))))
            {
                let line = 1 + source.as_bytes()[..*at as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                let name = names.names.get(*g as usize).map_or("?", |n| n);
                report(
                    *pos,
                    alloc::format!("'{name}' is used before its declaration (line {line})"),
                );
            }
        }
        for call in &parsed.calls {
            let i = call.global as usize;
            let mut args = vec![Value::Nil; call.positional + call.keywords.len()];
            let bound = if let Some((_, def)) = function(call.global) {
                let params = &def.params;
                let name = |k: usize| params.get(k).map_or(&*def.name, |p| p);
                eval::bind_frame(
                    &mut args,
                    0,
                    params.len(),
                    &name,
                    params.len(),
                    &call.keywords,
                )
                .map(drop)
            } else if i >= builtins::COUNT || parsed.declared.contains(&call.global) {
                continue;
            } else {
                builtins::bind_builtin(i, &mut args, 0, &call.keywords)
            };
            if let Err(e) = bound {
                report(call.pos, e.message);
            }
        }
        // In source order (a plain insertion sort: the library sort costs the payload kilobytes).
        for i in 1..errors.len() {
            let mut j = i;
            while j > 0 && (errors[j - 1].line, errors[j - 1].col) > (errors[j].line, errors[j].col)
            {
                errors.swap(j - 1, j);
                j -= 1;
            }
        }
        errors
    }
}

/// Whether the parse of `source` ends in the middle of something.
fn incomplete(source: &str, names: &mut Globals) -> bool {
    matches!(parse::<()>(&Rc::from(""), source, names), Err(e) if e.incomplete)
}

/// A script file's text without the byte order mark some editors write at its start: as in Lua, it is not part of
/// the text (the first token is at column 1 after it).
fn without_bom(source: &str) -> &str {
    source.strip_prefix('\u{feff}').unwrap_or(source)
}

/// A script file's bytes as its text, or the syntax error at the first byte that is not UTF-8 (scripts are UTF-8
/// text), with its line and column as the lexer counts them.
pub fn script_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, ScriptError> {
    core::str::from_utf8(bytes).map_err(|e| {
        let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // (The first line's columns count from after a byte order mark, as `run` skips it.)
        let line = good.get(line_start..).unwrap_or_default();
        let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        let count =
            |bytes: &[u8], f: fn(u8) -> bool| bytes.iter().filter(|&&b| f(b)).count() as u32;
        ScriptError {
            file: file.into(),
            line: 1 + count(good, |b| b == b'\n'),
            col: 1 + count(line, |b| b & 0xc0 != 0x80),
            message: alloc::format!(
                "not UTF-8 text (byte {:#04x})",
                bytes.get(e.valid_up_to()).copied().unwrap_or_default()
            ),
            kind: ErrorKind::Syntax,
            incomplete: false,
            fatal: false,
        }
    })
}

/// One line per built-in function.
pub fn help() -> String {
    help_text()
}
