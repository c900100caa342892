//! The built-in functions: one table of names, parameters and one-line help; the pure ones are here, the
//! platform ones go through [`Platform`].

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::eval::{bind, fault, Fault, Machine, R};
use crate::value::{push_hex, write_value, Value, ITEM_BYTES};

/// The world as the interpreter sees it: consoles, clock, hand-off and the disk and crypto primitives. The
/// payload implements it with drivers, the host tool with stdin, stdout and files.
pub trait Platform {
    /// Writes text to every console.
    fn write(&mut self, text: &str);
    /// Reads one line (without its line ending) for `prompt`; `echo` false: nothing typed is shown. Either way
    /// the consoles end up on a new line (the platform writes the newline the user's Enter did not show).
    /// `Err(message)` for example at the end of input.
    fn read_line(&mut self, echo: bool) -> Result<String, String>;
    /// Milliseconds since the start.
    fn time_ms(&mut self) -> u64;
    fn sleep_ms(&mut self, ms: u64);
    /// Returns only if it failed: the error message.
    fn reboot(&mut self) -> String;
    /// Returns only if it failed: the error message.
    fn halt(&mut self) -> String;
    fn keymap(&mut self, name: &str) -> Result<(), String>;
    /// The contract's other platform primitives. `args` are bound by the interpreter from the signature table
    /// (positional and keyword, defaults filled in, in declared parameter order).
    fn primitive(&mut self, which: Primitive, args: Vec<Value>) -> Result<Value, String> {
        let _ = args;
        Err(fault(&[which.name(), " is not available"]))
    }
}

/// The platform primitives a [`Platform`] may provide, beside the console ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    Sha1,
    Sha256,
    Sha512,
    Hmac,
    Pbkdf2,
    AesSetup,
    LuksOpen,
    Disks,
    Mount,
    Umount,
    Ls,
    Read,
    Exists,
    Stat,
    Exec,
}

const PRIMITIVES: [Primitive; 15] = [
    Primitive::Sha1,
    Primitive::Sha256,
    Primitive::Sha512,
    Primitive::Hmac,
    Primitive::Pbkdf2,
    Primitive::AesSetup,
    Primitive::LuksOpen,
    Primitive::Disks,
    Primitive::Mount,
    Primitive::Umount,
    Primitive::Ls,
    Primitive::Read,
    Primitive::Exists,
    Primitive::Stat,
    Primitive::Exec,
];

impl Primitive {
    /// Its name in scripts, e.g. `aes_setup`.
    pub fn name(self) -> &'static str {
        BUILTINS[FIRST_PRIMITIVE + self as usize].name
    }
    /// The names of its parameters, in the order `args` has them.
    pub fn params(self) -> Vec<&'static str> {
        BUILTINS[FIRST_PRIMITIVE + self as usize]
            .params
            .iter()
            .map(|(n, _)| *n)
            .collect()
    }
}

/// A parameter's default.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// No default: the argument is required.
    Required,
    /// Optional, `nil` when not given.
    Nil,
    Int(i64),
    Str(&'static str),
    True,
    /// Any number of positional arguments (only `print`).
    Rest,
}

pub(crate) enum Action {
    Core(fn(&mut Machine<'_>, &mut [Value]) -> Result<Value, Fault>),
    Platform(u8),
}

pub(crate) struct Builtin {
    pub name: &'static str,
    pub params: &'static [(&'static str, Param)],
    pub action: Action,
    pub help: &'static str,
}

use Param::{Int as I, Nil as O, Required as Q, Str as S};

const fn core(
    name: &'static str,
    params: &'static [(&'static str, Param)],
    f: fn(&mut Machine<'_>, &mut [Value]) -> Result<Value, Fault>,
    help: &'static str,
) -> Builtin {
    Builtin {
        name,
        params,
        action: Action::Core(f),
        help,
    }
}

const fn platform(
    name: &'static str,
    params: &'static [(&'static str, Param)],
    which: u8,
    help: &'static str,
) -> Builtin {
    Builtin {
        name,
        params,
        action: Action::Platform(which),
        help,
    }
}

const FIRST_PRIMITIVE: usize = 27;

/// Every built-in, in the order of their indexes (the primitives last, in the order of [`Primitive`]).
pub(crate) static BUILTINS: [Builtin; 43] = [
    core(
        "print",
        &[("values", Param::Rest)],
        print,
        "print values joined by spaces, then a newline",
    ),
    core("str", &[("x", Q)], str_, "the text form of x"),
    core(
        "int",
        &[("x", Q)],
        int,
        "an int, or a str of decimal or 0x digits as an int",
    ),
    core(
        "len",
        &[("x", Q)],
        len,
        "characters of a str, bytes of bytes, items of a list, keys of a map",
    ),
    core(
        "type",
        &[("x", Q)],
        type_,
        "the type name: nil bool int str bytes list map fn",
    ),
    core(
        "hex",
        &[("x", Q)],
        hex,
        "bytes or an int as lowercase hex text",
    ),
    core(
        "unhex",
        &[("s", Q)],
        unhex,
        "hex text (either case) as bytes",
    ),
    core(
        "bytes",
        &[("x", Q)],
        bytes,
        "the UTF-8 of a str (or a list of ints 0-255) as bytes",
    ),
    core(
        "text",
        &[("b", Q)],
        text,
        "bytes that are valid UTF-8 as a str",
    ),
    core(
        "slice",
        &[("x", Q), ("start", Q), ("end", O)],
        slice,
        "part of a str, bytes or list (Python rules)",
    ),
    core(
        "push",
        &[("list", Q), ("value", Q)],
        push,
        "append a value to a list",
    ),
    core(
        "pop",
        &[("list", Q)],
        pop,
        "remove and return the last item of a list",
    ),
    core(
        "keys",
        &[("map", Q)],
        keys,
        "the keys of a map, in insertion order",
    ),
    core(
        "remove",
        &[("map", Q), ("key", Q)],
        remove,
        "remove a key from a map, returning its value or nil",
    ),
    core(
        "contains",
        &[("x", Q), ("value", Q)],
        contains,
        "substring, sub-bytes, list item or map key?",
    ),
    core(
        "split",
        &[("s", Q), ("sep", O)],
        split,
        "split a str at sep (at white space without sep)",
    ),
    core(
        "join",
        &[("list", Q), ("sep", S(""))],
        join,
        "join a list of strs with sep between them",
    ),
    core(
        "trim",
        &[("s", Q)],
        trim,
        "a str without white space at both ends",
    ),
    core(
        "range",
        &[("a", Q), ("b", O)],
        range,
        "the list 0..a-1, or a..b-1",
    ),
    core(
        "error",
        &[("message", Q)],
        error_,
        "raise an error with this message",
    ),
    core(
        "assert",
        &[("cond", Q), ("message", O)],
        assert,
        "raise an error unless cond is true",
    ),
    core("time_ms", &[], time_ms, "milliseconds since the start"),
    core(
        "sleep_ms",
        &[("ms", Q)],
        sleep_ms,
        "wait this many milliseconds",
    ),
    core("help", &[], help, "list the built-in functions"),
    core(
        "prompt",
        &[("message", Q), ("echo", Param::True)],
        prompt,
        "ask for a line (echo=false: hidden)",
    ),
    core(
        "keymap",
        &[("name", Q)],
        keymap,
        "the keyboard layout for prompt: us uk de fr",
    ),
    core("reboot", &[], reboot, "restart the machine"),
    platform("sha1", &[("x", Q)], 0, "the SHA-1 of a str or bytes"),
    platform("sha256", &[("x", Q)], 1, "the SHA-256 of a str or bytes"),
    platform("sha512", &[("x", Q)], 2, "the SHA-512 of a str or bytes"),
    platform(
        "hmac",
        &[("hash", Q), ("key", Q), ("data", Q)],
        3,
        "HMAC with hash sha1, sha256 or sha512",
    ),
    platform(
        "pbkdf2",
        &[
            ("hash", Q),
            ("password", Q),
            ("salt", Q),
            ("iterations", Q),
            ("length", Q),
        ],
        4,
        "PBKDF2 key derivation: length bytes",
    ),
    platform(
        "aes_setup",
        &[
            ("name", Q),
            ("device", Q),
            ("key", Q),
            ("cipher", S("aes-xts-plain64")),
            ("offset", I(0)),
            ("size", O),
            ("skip", I(0)),
        ],
        5,
        "map a plain AES volume as a new device",
    ),
    platform(
        "luks_open",
        &[("device", Q), ("passphrase", Q), ("name", Q)],
        6,
        "unlock a LUKS1/LUKS2 volume as name",
    ),
    platform(
        "disks",
        &[],
        7,
        "the block devices: list of {name, size, kind}",
    ),
    platform(
        "mount",
        &[("device", Q), ("path", Q)],
        8,
        "mount the file system of a device at path",
    ),
    platform(
        "umount",
        &[("path", Q)],
        9,
        "unmount what is mounted at path",
    ),
    platform("ls", &[("path", Q)], 10, "the names in a directory"),
    platform("read", &[("path", Q)], 11, "the content of a file as bytes"),
    platform("exists", &[("path", Q)], 12, "does the path exist?"),
    platform(
        "stat",
        &[("path", Q)],
        13,
        "{size, kind} of a path (kind file or dir)",
    ),
    platform(
        "exec",
        &[
            ("kernel", Q),
            ("cmdline", S("")),
            ("initrd", O),
            ("files", O),
        ],
        14,
        "boot a Linux or Multiboot2 kernel",
    ),
    core("halt", &[], halt, "stop the machine"),
];

/// One line per built-in: its signature and what it does.
pub fn help_text() -> String {
    let mut out = String::new();
    for b in BUILTINS.iter() {
        out.push_str(b.name);
        out.push('(');
        for (i, (name, default)) in b.params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
            match default {
                Param::Required => {}
                Param::Nil => out.push('?'),
                Param::Rest => out.push_str("..."),
                Param::True => out.push_str("=true"),
                Param::Int(n) => {
                    out.push('=');
                    crate::value::push_int(&mut out, *n);
                }
                Param::Str(s) => {
                    out.push_str("=\"");
                    out.push_str(s);
                    out.push('"');
                }
            }
        }
        out.push_str(")  ");
        out.push_str(b.help);
        out.push('\n');
    }
    out
}

impl Machine<'_> {
    /// Binds the arguments of a built-in (on the stack from `base`) to its parameters and runs it. The
    /// arguments stay where they are: the built-in works on that part of the stack (which is lent out
    /// meanwhile; no built-in uses it).
    #[inline(never)]
    pub(crate) fn builtin(
        &mut self,
        index: u8,
        base: usize,
        keywords: Vec<(Rc<str>, Value)>,
    ) -> R<Value> {
        let Some(b) = BUILTINS.get(index as usize) else {
            self.pop_to(base);
            return Ok(Value::Nil);
        };
        if !keywords.is_empty() || self.stack.len() - base != b.params.len() {
            if let Err(m) = self.bind_builtin(b, base, keywords) {
                self.pop_to(base);
                return Err(crate::eval::error(fault(&[&m, " to ", b.name])));
            }
        }
        let mut stack = core::mem::take(&mut self.stack);
        let result = match b.action {
            Action::Core(f) => f(self, stack.get_mut(base..).unwrap_or_default()),
            Action::Platform(which) => match PRIMITIVES.get(which as usize) {
                Some(p) => self.platform.primitive(*p, stack.drain(base..).collect()),
                None => Ok(Value::Nil),
            },
        };
        self.stack = stack;
        self.pop_to(base);
        match result {
            Ok(v) => Ok(crate::value::relay(v)),
            Err(m) => Err(crate::eval::error(m)),
        }
    }

    /// Gives a built-in one argument per parameter (defaults filled in), or says what is wrong. A variadic
    /// one takes its positional arguments as they are.
    #[inline(never)]
    fn bind_builtin(
        &mut self,
        b: &Builtin,
        base: usize,
        keywords: Vec<(Rc<str>, Value)>,
    ) -> Result<(), Fault> {
        if matches!(b.params.first(), Some((_, Param::Rest))) {
            if !keywords.is_empty() {
                return Err(String::from("no keyword arguments allowed"));
            }
            return Ok(());
        }
        let n = b.params.len();
        let given = self.stack.len() - base;
        if given > n {
            return Err(String::from("too many arguments"));
        }
        self.stack.resize(base + n, Value::Nil);
        let args = self.stack.get_mut(base..).unwrap_or_default();
        let required = b
            .params
            .iter()
            .take_while(|p| p.1 == Param::Required)
            .count();
        let filled = bind(n, &|i| b.params[i].0, required, given, args, keywords)?;
        for (i, (arg, (_, default))) in args.iter_mut().zip(b.params).enumerate() {
            if filled & (1 << i) == 0 {
                *arg = match default {
                    Param::Int(n) => Value::Int(*n),
                    Param::Str(s) => Value::str(s),
                    Param::True => Value::Bool(true),
                    _ => Value::Nil,
                };
            }
        }
        Ok(())
    }
}

fn wrong(expected: &str, got: &Value) -> Fault {
    fault(&["expected ", expected, ", not ", got.type_name()])
}

fn arg_str(args: &[Value], i: usize) -> Result<&str, Fault> {
    let v = args.get(i).unwrap_or(&Value::Nil);
    v.as_str().ok_or_else(|| wrong("a str", v))
}

fn arg_int(args: &[Value], i: usize) -> Result<i64, Fault> {
    let v = args.get(i).unwrap_or(&Value::Nil);
    v.as_int().ok_or_else(|| wrong("an int", v))
}

fn first(args: &[Value]) -> &Value {
    args.first().unwrap_or(&Value::Nil)
}

/// The text form, counted against the memory limit.
fn text_form(m: &Machine<'_>, v: &Value, out: &mut String) -> Result<(), Fault> {
    write_value(out, v, false, 0).ok_or_else(|| String::from("value nested too deeply"))?;
    m.reserve(out.len())
}

fn print(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        text_form(m, v, &mut out)?;
    }
    out.push('\n');
    m.platform.write(&out);
    Ok(Value::Nil)
}

fn str_(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    if let Value::Str(_) = first(args) {
        return Ok(first(args).clone());
    }
    let mut out = String::new();
    text_form(m, first(args), &mut out)?;
    Ok(Value::string(out))
}

fn int(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let v = first(args);
    if let Value::Int(_) = v {
        return Ok(v.clone());
    }
    let s = arg_str(args, 0)?;
    let invalid = || fault(&["invalid int '", s, "'"]);
    let t = s.trim();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    let magnitude = u64::from_str_radix(digits, radix).map_err(|_| invalid())?;
    let n = if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    n.map(Value::Int).ok_or_else(invalid)
}

fn len(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let n = match first(args) {
        Value::Str(t) => t.0.chars().count(),
        Value::Bytes(b) => b.0.len(),
        Value::List(l) => l.items.borrow().len(),
        Value::Map(m) => m.entries.borrow().len(),
        other => return Err(wrong("a str, bytes, list or map", other)),
    };
    Ok(Value::Int(n as i64))
}

fn type_(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    Ok(Value::str(first(args).type_name()))
}

fn hex(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let mut out = String::new();
    match first(args) {
        Value::Bytes(b) => push_hex(&mut out, &b.0),
        Value::Int(n) => {
            if *n < 0 {
                out.push('-');
            }
            let digits = n.unsigned_abs().to_be_bytes();
            let mut text = String::new();
            push_hex(&mut text, &digits);
            let trimmed = text.trim_start_matches('0');
            out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
        }
        other => return Err(wrong("bytes or an int", other)),
    }
    Ok(Value::string(out))
}

fn unhex(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let s = arg_str(args, 0)?.as_bytes();
    if s.len() % 2 != 0 {
        return Err(String::from("odd number of hex digits"));
    }
    m.reserve(s.len() / 2)?;
    let mut out = Vec::with_capacity(s.len() / 2);
    for pair in s.chunks(2) {
        let digit = |c: u8| {
            (c as char)
                .to_digit(16)
                .ok_or_else(|| String::from("not a hex digit"))
        };
        out.push((digit(pair[0])? << 4 | digit(pair[1])?) as u8);
    }
    Ok(Value::bytes(out))
}

fn bytes(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    match first(args) {
        Value::List(l) => {
            let mut out = Vec::new();
            for v in l.items.borrow().iter() {
                match v {
                    Value::Int(n @ 0..=255) => out.push(*n as u8),
                    _ => return Err(String::from("a byte must be an int 0-255")),
                }
            }
            Ok(Value::bytes(out))
        }
        Value::Bytes(_) => Ok(first(args).clone()),
        other => other
            .as_bytes()
            .map(|b| Value::bytes(b.to_vec()))
            .ok_or_else(|| wrong("a str", other)),
    }
}

fn text(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    match first(args) {
        Value::Bytes(b) => match core::str::from_utf8(&b.0) {
            Ok(s) => Ok(Value::str(s)),
            Err(_) => Err(String::from("bytes are not valid UTF-8")),
        },
        Value::Str(_) => Ok(first(args).clone()),
        other => Err(wrong("bytes", other)),
    }
}

/// Python's slice bounds: negative counts from the end, then clamped to 0..len.
fn bound(v: &Value, len: usize, default: usize) -> Result<usize, Fault> {
    let i = match v {
        Value::Nil => return Ok(default),
        Value::Int(i) => *i,
        other => return Err(wrong("an int", other)),
    };
    let len = len as i64;
    let i = if i < 0 {
        i.saturating_add(len).max(0)
    } else {
        i.min(len)
    };
    Ok(i as usize)
}

fn slice(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let x = first(args);
    let len = match x {
        Value::Str(t) => t.0.chars().count(),
        Value::Bytes(b) => b.0.len(),
        Value::List(l) => l.items.borrow().len(),
        other => return Err(wrong("a str, bytes or list", other)),
    };
    let start = bound(&args[1], len, 0)?;
    let end = bound(&args[2], len, len)?.max(start);
    m.reserve((end - start) * ITEM_BYTES)?;
    Ok(match x {
        Value::Str(t) => Value::string(t.0.chars().skip(start).take(end - start).collect()),
        Value::Bytes(b) => Value::bytes(b.0[start..end].to_vec()),
        Value::List(l) => Value::list(l.items.borrow()[start..end].to_vec()),
        _ => Value::Nil,
    })
}

fn push(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let [list, rest @ ..] = args else {
        return Ok(Value::Nil);
    };
    match list {
        Value::List(l) => {
            m.reserve(ITEM_BYTES)?;
            let v = rest.first_mut().map(crate::value::take).unwrap_or_default();
            l.items.borrow_mut().push(v);
            l.recount();
            Ok(Value::Nil)
        }
        other => Err(wrong("a list", other)),
    }
}

fn pop(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    match first(args) {
        Value::List(l) => {
            let v = l
                .items
                .borrow_mut()
                .pop()
                .ok_or_else(|| String::from("pop from an empty list"))?;
            l.recount();
            Ok(v)
        }
        other => Err(wrong("a list", other)),
    }
}

fn keys(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    match first(args) {
        Value::Map(map) => {
            let entries = map.entries.borrow();
            m.reserve(entries.len() * ITEM_BYTES)?;
            Ok(Value::list(
                entries.iter().map(|(k, _)| Value::str(k)).collect(),
            ))
        }
        other => Err(wrong("a map", other)),
    }
}

fn remove(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let key = arg_str(args, 1)?;
    match first(args) {
        Value::Map(map) => {
            let mut entries = map.entries.borrow_mut();
            let found = entries.iter().position(|(k, _)| &**k == key);
            let v = found.map(|i| entries.remove(i).1);
            drop(entries);
            map.recount();
            Ok(v.unwrap_or_default())
        }
        other => Err(wrong("a map", other)),
    }
}

fn contains(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let (x, v) = (first(args), &args[1]);
    let found = match (x, v) {
        (Value::Str(s), Value::Str(t)) => s.0.contains(&*t.0),
        (Value::Bytes(s), Value::Bytes(t)) => {
            t.0.is_empty() || s.0.windows(t.0.len()).any(|w| w == &t.0[..])
        }
        (Value::List(l), _) => l.items.borrow().iter().any(|item| item == v),
        (Value::Map(m), Value::Str(k)) => m.get(&k.0).is_some(),
        (Value::Str(_), _) => return Err(wrong("a str to look for", v)),
        (Value::Bytes(_), _) => return Err(wrong("bytes to look for", v)),
        (Value::Map(_), _) => return Err(wrong("a str key", v)),
        _ => return Err(wrong("a str, bytes, list or map", x)),
    };
    Ok(Value::Bool(found))
}

fn split(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let s = arg_str(args, 0)?;
    m.reserve(s.len() * 2)?;
    let parts: Vec<Value> = match &args[1] {
        Value::Nil => s.split_whitespace().map(Value::str).collect(),
        _ => {
            let sep = arg_str(args, 1)?;
            if sep.is_empty() {
                return Err(String::from("empty separator"));
            }
            s.split(sep).map(Value::str).collect()
        }
    };
    m.reserve(parts.len() * ITEM_BYTES)?;
    Ok(Value::list(parts))
}

fn join(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let sep = arg_str(args, 1)?;
    let Value::List(l) = first(args) else {
        return Err(wrong("a list", first(args)));
    };
    let mut out = String::new();
    for (i, item) in l.items.borrow().iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item.as_str().ok_or_else(|| wrong("a list of strs", item))?);
        m.reserve(out.len())?;
    }
    Ok(Value::string(out))
}

fn trim(_: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    Ok(Value::str(arg_str(args, 0)?.trim()))
}

fn range(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let (a, b) = match args[1] {
        Value::Nil => (0, arg_int(args, 0)?),
        _ => (arg_int(args, 0)?, arg_int(args, 1)?),
    };
    m.reserve(range_len(a, b).saturating_mul(ITEM_BYTES))?;
    Ok(Value::list((a..b).map(Value::Int).collect()))
}

/// The number of items of `range(a, b)`.
pub(crate) fn range_len(a: i64, b: i64) -> usize {
    b.saturating_sub(a).max(0) as usize
}

fn message(m: &Machine<'_>, v: &Value) -> Result<String, Fault> {
    let mut out = String::new();
    text_form(m, v, &mut out)?;
    Ok(out)
}

fn error_(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    Err(message(m, first(args))?)
}

fn assert(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    if first(args).truthy() {
        return Ok(Value::Nil);
    }
    match &args[1] {
        Value::Nil => Err(String::from("assertion failed")),
        v => Err(message(m, v)?),
    }
}

fn time_ms(m: &mut Machine<'_>, _: &mut [Value]) -> Result<Value, Fault> {
    Ok(Value::Int(m.platform.time_ms().min(i64::MAX as u64) as i64))
}

fn sleep_ms(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let ms = arg_int(args, 0)?;
    if ms < 0 {
        return Err(String::from("cannot sleep a negative time"));
    }
    m.platform.sleep_ms(ms as u64);
    Ok(Value::Nil)
}

fn help(m: &mut Machine<'_>, _: &mut [Value]) -> Result<Value, Fault> {
    m.platform.write(&help_text());
    Ok(Value::Nil)
}

fn prompt(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let text = message(m, first(args))?;
    let echo = args[1].truthy();
    m.platform.write(&text);
    let line = m.platform.read_line(echo)?;
    m.reserve(line.len())?;
    Ok(Value::string(line))
}

fn keymap(m: &mut Machine<'_>, args: &mut [Value]) -> Result<Value, Fault> {
    let name = arg_str(args, 0)?;
    m.platform.keymap(name)?;
    Ok(Value::Nil)
}

fn reboot(m: &mut Machine<'_>, _: &mut [Value]) -> Result<Value, Fault> {
    Err(m.platform.reboot())
}

fn halt(m: &mut Machine<'_>, _: &mut [Value]) -> Result<Value, Fault> {
    Err(m.platform.halt())
}
