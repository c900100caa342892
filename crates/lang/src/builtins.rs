//! The built-in functions: one table of names, parameters and one-line help; the pure ones are here, the
//! platform ones go through [`Platform`].

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::ast::Pos;
use crate::eval::{bind_frame, error, fault, Fault, Machine, R};
use crate::value::{hand_over, push_hex, push_hex_number, write_value, Cut, Value, ITEM_BYTES};
use crate::ScriptError;

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
    /// Whether the user asked to stop the running script (Ctrl-C) since the last call. The interpreter asks every
    /// [`crate::POLL_STEPS`] steps (a comparison's steps too), after `sleep_ms` (which may end early for it) and
    /// each primitive (a long one may stop early for it, failing), and when `read_line` fails; then it stops the
    /// script with an error that `try` does not catch. A platform without a way to ask says no (the host tool,
    /// where Ctrl-C ends the process).
    fn interrupted(&mut self) -> bool {
        false
    }
    /// The contract's other platform primitives. `args` are bound by the interpreter from the signature table
    /// (positional and keyword, defaults filled in, in declared parameter order). `room` is how many bytes more
    /// the script may hold (its memory limit less what it holds): a primitive that makes a value of a size the
    /// outside decides (a file's content) refuses one larger, before it allocates it.
    fn primitive(
        &mut self,
        which: Primitive,
        args: Vec<Value>,
        room: usize,
    ) -> Result<Value, String> {
        let _ = (args, room);
        Err(fault(&[which.name(), " is not available"]))
    }
}

/// The platform primitives a [`Platform`] may provide, beside the console ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    Sha1,
    Sha256,
    Sha512,
    Ripemd160,
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

const PRIMITIVES: [Primitive; 16] = [
    Primitive::Sha1,
    Primitive::Sha256,
    Primitive::Sha512,
    Primitive::Ripemd160,
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
        field_name(FIRST_PRIMITIVE + self as usize, 0)
    }
    /// The names of its parameters, in the order `args` has them.
    pub fn params(self) -> Vec<&'static str> {
        let i = FIRST_PRIMITIVE + self as usize;
        (0..arity(i)).map(|k| param_name(i, k)).collect()
    }
}

/// Every built-in, in the order of their indexes, as `help()` shows them: `NAME(PARAMETERS)  WHAT IT DOES`.
/// These lines are the table itself (names, parameters and defaults are read from them), which keeps it to its
/// text: a parameter is `x` (required), `x?` (nil when left out), `x=DEFAULT` (`true`, an int or a quoted str)
/// or `x...` (any number of positional arguments). The primitives come last but one, in the order of
/// [`Primitive`].
const HELP: &str = "\
    print(values...)  print values joined by spaces, then a newline\n\
    str(x)  the text form of x\n\
    int(s)  an int, or a str of decimal or 0x digits as an int\n\
    len(x)  characters of a str, bytes of bytes, items of a list, keys of a map\n\
    type(x)  the type name: nil bool int str bytes list map fn\n\
    hex(x)  bytes or an int as lowercase hex text\n\
    unhex(s)  hex text (either case) as bytes\n\
    bytes(s)  the UTF-8 of a str (or a list of ints 0-255) as bytes\n\
    text(b)  bytes that are valid UTF-8 as a str\n\
    slice(x, start, end?)  part of a str, bytes or list (Python rules)\n\
    push(list, v)  append a value to a list\n\
    pop(list)  remove and return the last item of a list\n\
    keys(map)  the keys of a map, in insertion order\n\
    remove(map, key)  remove a key from a map, returning its value or nil\n\
    contains(x, v)  substring, sub-bytes, list item or map key?\n\
    split(s, sep?)  split a str at sep (at white space without sep)\n\
    join(list_of_str, sep=\"\")  join a list of strs with sep between them\n\
    trim(s)  a str without white space at both ends\n\
    range(a, b?)  the list 0..a-1, or a..b-1 (range(n) for one)\n\
    error(message)  raise an error with this message\n\
    assert(cond, message?)  raise an error unless cond is true\n\
    time_ms()  milliseconds since the start\n\
    sleep_ms(n)  wait this many milliseconds\n\
    help()  list the built-in functions\n\
    prompt(message, echo=true)  ask for a line (echo=false: hidden)\n\
    keymap(name)  the keyboard layout for prompt: us uk de fr\n\
    reboot()  restart the machine\n\
    sha1(x)  the SHA-1 of a str or bytes\n\
    sha256(x)  the SHA-256 of a str or bytes\n\
    sha512(x)  the SHA-512 of a str or bytes\n\
    ripemd160(x)  the RIPEMD-160 of a str or bytes (cryptsetup's plain passphrase hash)\n\
    hmac(hash, key, data)  HMAC with hash sha1, sha256, sha512 or ripemd160\n\
    pbkdf2(hash, password, salt, iterations, length)  PBKDF2 key derivation: length bytes\n\
    aes_setup(name, device, key, cipher=\"aes-xts-plain64\", offset=0, size?, skip=0)  map a plain AES volume as a new device\n\
    luks_open(device, passphrase, name)  unlock a LUKS1/LUKS2 volume as name\n\
    disks()  the block devices: list of {name, size, kind}\n\
    mount(device, path)  mount the file system of a device at path\n\
    umount(path)  unmount what is mounted at path\n\
    ls(path)  the names in a directory\n\
    read(path)  the content of a file as bytes\n\
    exists(path)  does the path exist?\n\
    stat(path)  {size, kind} of a path (kind file or dir)\n\
    exec(kernel, cmdline=\"\", initrd?, files?)  boot a Linux or Multiboot2 kernel\n\
    halt()  stop the machine\n\
";

/// The number of built-ins (the lines of [`HELP`]).
pub(crate) const COUNT: usize = 44;
const FIRST_PRIMITIVE: usize = 27;
/// The index of `range`, which a `for` loop may run without making the list.
pub(crate) const RANGE: usize = 18;

/// The arguments of a core built-in but `print`. In the payload, [`ARGS`] of them, the most any built-in takes
/// (nil after its own): an array, which the built-ins index with no check of its length (one per index took
/// a tenth of their code). The host keeps them as they are, without padding them first (which made the
/// collections benchmark 6% slower).
#[cfg(not(feature = "std"))]
type Args = [Value; ARGS];
#[cfg(feature = "std")]
type Args = [Value];
const ARGS: usize = 3;
const _: () = {
    let mut i = 1;
    while i < FIRST_PRIMITIVE {
        assert!(
            LAYOUT.1[i] & 7 <= ARGS as u8,
            "a core built-in takes more than ARGS"
        );
        i += 1;
    }
    assert!(
        LAYOUT.1[COUNT - 1] & 7 <= ARGS as u8,
        "halt takes more than ARGS"
    );
    let mut i = 1;
    while i < COUNT {
        assert!(
            LAYOUT.1[i] & VARIADIC == 0,
            "a variadic built-in other than print"
        );
        i += 1;
    }
};

/// Where each line of [`HELP`] starts (one more: past the end), and the shape of each built-in's parameters
/// ([`arity`], [`REQUIRED`], [`VARIADIC`]); worked out by the compiler, so that a call needs no search of the text.
const LAYOUT: ([u16; COUNT + 1], [u8; COUNT]) = layout();
#[cfg(feature = "std")]
static STARTS: [u16; COUNT + 1] = LAYOUT.0;
static SHAPES: [u8; COUNT] = LAYOUT.1;

/// In a shape: the number of parameters (at most 7) in the low bits, then how many of them come first without
/// a mark (they are required) times [`REQUIRED`], and [`VARIADIC`] when the first is `x...`.
const REQUIRED: u8 = 8;
const VARIADIC: u8 = 64;

const fn layout() -> ([u16; COUNT + 1], [u8; COUNT]) {
    let text = HELP.as_bytes();
    let mut starts = [0u16; COUNT + 1];
    let mut shapes = [0u8; COUNT];
    // 0: in the name, 1: in the parameters, 2: in the rest of the line.
    let (mut at, mut line, mut state) = (0, 0, 0);
    // Whether the parameter being read has a mark (`?`, `=` or `.`), and whether one before it in the line had.
    let (mut marked, mut optional) = (false, false);
    while at < text.len() {
        match (state, text[at]) {
            (0, b'(') => state = 1,
            (1, b')') if text[at - 1] == b'(' => state = 2,
            (1, b',' | b')') => {
                if marked {
                    optional = true;
                } else if !optional {
                    shapes[line] += REQUIRED;
                }
                if shapes[line] & 7 == 0 && text[at - 1] == b'.' {
                    shapes[line] |= VARIADIC;
                }
                shapes[line] += 1;
                marked = false;
                if text[at] == b')' {
                    state = 2;
                }
            }
            (1, b'=') => {
                marked = true;
                // An int default is 0, which `default` makes without reading it.
                let digit = text[at + 1];
                assert!(
                    !digit.is_ascii_digit() || digit == b'0' && !text[at + 2].is_ascii_digit(),
                    "an int default other than 0"
                );
                // A str default is read by `name_at`.
                if digit == b'"' {
                    let mut end = at + 2;
                    while text[end] != b'"' {
                        assert!(in_name(text[end]), "a str default that name_at cannot read");
                        end += 1;
                    }
                }
            }
            (1, b'?' | b'.') => marked = true,
            (_, b'\n') => {
                line += 1;
                starts[line] = (at + 1) as u16;
                (state, optional) = (0, false);
            }
            _ => {}
        }
        at += 1;
    }
    assert!(line == COUNT, "COUNT is not the number of lines of HELP");
    (starts, shapes)
}

/// Where the help line of built-in `i` starts (the end of [`HELP`] past the last): from a table on the host.
#[cfg(feature = "std")]
fn line_start(i: usize) -> usize {
    STARTS.get(i).map_or(HELP.len(), |at| usize::from(*at))
}

/// Where field `k` of the help line of built-in `i` starts in [`HELP`]: its name, then its parameters
/// (`NAME(P0, P1)`); the end of [`HELP`] if there is no such field (where [`name_at`] finds the empty name: a
/// position rather than an `Option` spares each caller a test). A plain scan of bytes: the library's splitting
/// by patterns costs the payload half a kilobyte.
#[cfg(feature = "std")]
fn field_at(i: usize, k: usize) -> usize {
    let text = HELP.as_bytes();
    // (Past the last line, `line_start` gives the end.)
    let (mut at, mut k) = (line_start(i), k);
    while k > 0 {
        let Some(&c) = text.get(at) else {
            return text.len();
        };
        at += 1;
        match c {
            b'(' => k -= 1,
            // After a comma comes a space.
            b',' => {
                at += 1;
                k -= 1;
            }
            b')' => return text.len(),
            _ => {}
        }
    }
    at
}

/// [`field_at`] in the payload: the lines before line `i` counted and its fields found in one scan (the table
/// of line starts took 88 bytes; a call of a built-in with defaults to fill in, or its name for a message, can
/// take that time). In the parameters a space comes only after a comma, so a field starts after `(` or a space.
#[cfg(not(feature = "std"))]
fn field_at(i: usize, k: usize) -> usize {
    let text = HELP.as_bytes();
    // `i` counts down the lines before line `i`; the scan of that line ends at its `)` at the latest, before its
    // newline (so the count never goes below zero).
    let (mut i, mut k) = (i, k);
    for (at, &c) in text.iter().enumerate() {
        if i == 0 {
            if k == 0 {
                return at;
            }
            match c {
                b'(' | b' ' => k -= 1,
                b')' => return text.len(),
                _ => {}
            }
        }
        i = i.wrapping_sub(usize::from(c == b'\n'));
    }
    text.len()
}

/// The name that starts at `at` in [`HELP`], a built-in's or a parameter's (or the text of a str default): up to
/// the mark of a default or the end of the field (or the closing quote). Its bytes are letters, digits, `_` (and
/// `-` in a default); all that can follow it in [`HELP`] (`(`, `)`, `,`, `?`, `=`, `.`, `"`) is punctuation below
/// the letters and `_`. `at` is never past the end of [`HELP`] (a field's start, or the byte after a default's
/// opening quote), and all its bytes are ASCII. The rest of the text from `at` is taken by `get` (its empty
/// default never used), whose code the payload has anyway (indexing brought a function of its own), and the name
/// is cut from it where its first byte that cannot be in one is (measured smaller than a loop of `get`s).
fn name_at(at: usize) -> &'static str {
    let rest = HELP.get(at..).unwrap_or_default();
    let end = rest.bytes().position(|c| !in_name(c)).unwrap_or(rest.len());
    &rest[..end]
}

/// Whether a byte can be part of what [`name_at`] reads.
const fn in_name(c: u8) -> bool {
    matches!(c, b'-' | b'0'..=b'9' | b'@'..)
}

fn shape(i: usize) -> u8 {
    SHAPES.get(i).copied().unwrap_or_default()
}

/// The number of parameters of built-in `i`.
fn arity(i: usize) -> usize {
    usize::from(shape(i) & 7)
}

/// The name of parameter `k` of built-in `i`, without its mark (`end` of `end?`).
fn param_name(i: usize, k: usize) -> &'static str {
    field_name(i, k + 1)
}

/// The name in field `field` of the help line of built-in `i` (see [`field_at`]), or "".
pub(crate) fn field_name(i: usize, field: usize) -> &'static str {
    name_at(field_at(i, field))
}

/// What parameter `k` of built-in `i` is when its argument is left out: the value after `=`, else nil. Told
/// apart by their first byte: the defaults of [`HELP`] are `true`, quoted strs and the int 0 (the only one, as
/// [`layout`] checks). The compiler chooses whether to inline it in `bind_builtin`, its one caller (kept out of
/// line once measured smaller; no longer, with `find`'s loop below as it is now).
fn default(i: usize, k: usize) -> Value {
    let at = field_at(i, k + 1);
    let text = HELP.as_bytes();
    let mark = at + name_at(at).len();
    if text.get(mark) != Some(&b'=') {
        return Value::Nil;
    }
    let v = mark + 1;
    match text.get(v) {
        Some(b't') => Value::True,
        Some(b'"') => Value::str(name_at(v + 1)),
        _ => Value::Int(0),
    }
}

/// One line per built-in: its signature and what it does.
pub fn help_text() -> String {
    String::from(HELP)
}

/// Gives built-in `i` one argument per parameter in `args` from `base` on (the first `given` there already,
/// defaults filled in), or says what is wrong (the message of a runtime error, or of the static check). A
/// variadic one takes its positional arguments as they are.
#[inline(never)]
pub(crate) fn bind_builtin(
    i: usize,
    args: &mut Vec<Value>,
    base: usize,
    names: &[Rc<str>],
) -> Result<(), Box<ScriptError>> {
    let shape = shape(i);
    if shape & VARIADIC != 0 {
        if names.is_empty() {
            return Ok(());
        }
        // (`print` is the one variadic built-in, as the table is checked to have it: its name needs no lookup.)
        return Err(error("no keyword arguments allowed to print".into()));
    }
    let n = usize::from(shape & 7);
    let required = usize::from((shape / REQUIRED) & 7);
    // Parameter k is field k + 1 of the help line; `usize::MAX` (see `bind_frame`) wraps to field 0, the name.
    // `range(n)` and `range(a, b)` are the contract's two shapes of one built-in: alone, its first is `n` too.
    // (The name's one byte compared in place: a comparison of strs is a call.)
    let n_alone = i == RANGE && matches!(names, [only] if matches!(only.as_bytes(), [b'n']));
    let name = |k: usize| match n_alone && k == 0 {
        true => "n",
        false => field_name(i, k.wrapping_add(1)),
    };
    let filled = bind_frame(args, base, n, &name, required, names)?;
    // (Indexed: `bind_frame` made the arguments from `base` on.)
    for (k, arg) in args[base..].iter_mut().enumerate() {
        if filled & (1 << k) == 0 {
            // Over the nil `resize` put there (which needs no drop).
            core::mem::forget(core::mem::replace(arg, default(i, k)));
        }
    }
    Ok(())
}

impl Machine<'_> {
    /// Binds the arguments of a built-in (on the stack from `base`) to its parameters and runs it. The
    /// arguments stay where they are: the built-in works on that part of the stack (which is lent out
    /// meanwhile; no built-in uses it). Out of line on the host; the payload lets the compiler choose
    /// (measured: 24 bytes less, now that `run_builtin` is out of line there).
    #[cfg_attr(feature = "std", inline(never))]
    pub(crate) fn builtin(&mut self, index: usize, base: usize, names: &[Rc<str>]) -> R<Value> {
        let result = self.run_builtin(index, base, names);
        self.pop_to(base);
        // Relayed on the host (see `relay`); the payload passes it on as it is, for size.
        if cfg!(feature = "std") {
            result.map(crate::value::relay)
        } else {
            result
        }
    }

    /// [`Self::builtin`] but for taking the arguments off the stack. Out of line in the payload, apart from
    /// `builtin` (measured: 35 bytes less).
    #[cfg_attr(not(feature = "std"), inline(never))]
    fn run_builtin(&mut self, i: usize, base: usize, names: &[Rc<str>]) -> R<Value> {
        if i >= COUNT {
            return Ok(Value::Nil);
        }
        // The host skips binding when all arguments are given in order (a call of `bind_builtin` finds nothing to
        // do then, which the payload leaves to it: the test cost more code than the call saves).
        if !cfg!(feature = "std") || !names.is_empty() || self.stack.len() - base != arity(i) {
            bind_builtin(i, &mut self.stack, base, names).map_err(|e| self.raise(e))?;
        }
        // The primitives sit between the core built-ins and `halt`, the last of them (`i` < COUNT here). They take
        // their arguments off the stack; the core ones work on them in place.
        if let Some(p) = PRIMITIVES.get(i.wrapping_sub(FIRST_PRIMITIVE)) {
            let args = self.stack.split_off(base);
            let room = self.room_left();
            let result = self.platform.primitive(*p, args, room);
            // Asked after each: a primitive takes long next to a step (a disk read, a hash), so a loop of them
            // would wait long for the next poll; and one the user stopped (a key derivation, by Ctrl-C) failed.
            self.interruption(Pos::default())?;
            // (Its message may hold a disk's text, a LUKS header's cipher name say: shown, not obeyed.)
            return result.map_err(|m| {
                let mut shown = String::new();
                crate::value::push_visible(&mut shown, &m);
                self.fail(shown)
            });
        }
        self.searches(base);
        // One string for those that make text: made and freed here once, not in each of them and on each of
        // their ways out (a value made of it takes its content, leaving it empty).
        let mut out = String::new();
        let mut stack = core::mem::take(&mut self.stack);
        // `print` takes all its arguments as they are (before `core_args` pads them), and leaves by the same
        // way out as the others (one drop of `out`).
        let result = if i == 0 {
            print(self, &stack[base..], &mut out)
        } else {
            match core_args(&mut stack, base) {
                Some(args) => core_builtin(self, i, args, &mut out),
                None => Ok(Value::Nil),
            }
        };
        // Back in place of the empty vector taken for it (which owns no memory: nothing to drop).
        core::mem::forget(core::mem::replace(&mut self.stack, stack));
        result
    }

    /// Counts the work of a core built-in on the strs and maps it is given (from `base` on the stack): it
    /// searches, walks or copies them (a char count, a search for a key or a substring), which takes time that
    /// grows with their size.
    #[inline(never)]
    fn searches(&mut self, base: usize) {
        let given: usize = self.stack[base..].iter().map(Value::extent).sum();
        self.walk_over(given);
    }
}

/// An error `message` with the `hidden` text (a line typed at `prompt(echo=false)`), where it quotes it
/// (`invalid int '...'`, `no device named '...'`), as `(hidden input)`: a passphrase passed by mistake (to
/// `int`, or as a device's name) is not shown on the screen, nor kept in a serial console's log. The built-ins
/// hide their arguments so; the platform's primitives (`bootscript_system`) theirs.
#[cold]
#[inline(never)]
pub fn hide(message: &mut String, hidden: &str) {
    let (bytes, text) = (message.as_bytes(), hidden.as_bytes());
    // (A plain search: messages are short, and quote an argument once.)
    let quoted = |at: usize| {
        bytes[at] == b'\''
            && bytes[at + 1..].starts_with(text)
            && bytes.get(at + 1 + text.len()) == Some(&b'\'')
    };
    if let Some(at) = (0..bytes.len()).find(|&at| quoted(at)) {
        // (At quotes, which are ASCII: both ends are char boundaries.)
        let shown = [
            &message[..at],
            "(hidden input)",
            &message[at + 2 + text.len()..],
        ]
        .concat();
        zeroize::Zeroize::zeroize(&mut core::mem::replace(message, shown));
    }
}

/// The arguments from `base` on as [`Args`] (`None` cannot happen).
#[cfg(not(feature = "std"))]
fn core_args(stack: &mut Vec<Value>, base: usize) -> Option<&mut Args> {
    while stack.len() < base + ARGS {
        stack.push(Value::Nil);
    }
    stack.get_mut(base..base + ARGS)?.try_into().ok()
}
#[cfg(feature = "std")]
fn core_args(stack: &mut [Value], base: usize) -> Option<&mut Args> {
    stack.get_mut(base..)
}

/// Runs core built-in `i` (not `print`, the primitives left out). Each takes the machine and its arguments (one
/// per parameter, defaults filled in, nil after them), and one that makes text the empty string `out` to make it
/// in; an error is raised in the machine (see [`Machine::fail`]). A match rather than a table of functions:
/// called from one place, they are all compiled into this one, which saves each its own entry and exit (200 bytes
/// of the payload).
fn core_builtin(m: &mut Machine<'_>, i: usize, args: &mut Args, out: &mut String) -> R<Value> {
    match i {
        1 => str_(m, args, out),
        2 => int(m, args),
        3 => len(m, args),
        4 => type_(m, args),
        5 => hex(m, args, out),
        6 => unhex(m, args),
        7 => bytes(m, args),
        8 => text(m, args),
        9 => slice(m, args),
        10 => push(m, args),
        11 => pop(m, args),
        12 => keys(m, args),
        13 => remove(m, args),
        14 => contains(m, args),
        15 => split(m, args),
        16 => join(m, args, out),
        17 => trim(m, args),
        18 => range(m, args),
        19 => raise(m, &args[0], out),
        20 => assert(m, args, out),
        21 => time_ms(m, args),
        22 => sleep_ms(m, args),
        23 => help(m, args),
        24 => prompt(m, args, out),
        25 => keymap(m, args),
        _ => stop(m, i == 26),
    }
}

/// The error of an argument of the wrong type. The built-ins match their arguments themselves and return this (a
/// str argument too: a helper that gave its text or the marker of an error, once smaller, measured larger than the
/// matches by the time it had six callers left).
#[cold]
fn wrong(m: &Machine<'_>, expected: &str, got: &Value) -> R<Value> {
    Err(m.at(
        &["expected ", expected, ", not ", got.type_name()],
        Pos::default(),
    ))
}

/// The error of a fixed message. A built-in's errors are raised at no position yet, by [`Machine::at_str`] here
/// and by [`Machine::at`] for those made of parts: each makes the message and raises it in one call.
#[cold]
#[inline(never)]
fn fail(m: &Machine<'_>, message: &str) -> R<Value> {
    Err(m.at_str(message, Pos::default()))
}

/// Fails with this message (raised in the machine: a value or the marker of an error comes back in two
/// registers). Out of line on the host; the payload lets the compiler choose (measured smaller).
#[cold]
#[cfg_attr(feature = "std", inline(never))]
fn refuse(m: &Machine<'_>, message: Fault) -> R<Value> {
    Err(m.fail(message))
}

/// The value of a result, or its error raised.
fn done<T>(m: &Machine<'_>, result: Result<T, Fault>) -> R<T> {
    result.map_err(|message| m.fail(message))
}

/// Refuses to let the script hold `bytes` more past its memory limit (the error at no position yet: the call
/// gives it its own).
fn room(m: &mut Machine<'_>, bytes: usize) -> R<()> {
    m.hold(bytes, Default::default())
}

/// The text form, counted against the memory limit, appended to a string of the caller's (each caller makes its
/// own: a string returned by a helper came back through memory, and took more code). It is cut once it needs more
/// than the room left: then it is refused as too much to hold (values that share parts can have a text far
/// larger than the memory they hold).
fn text_form(m: &mut Machine<'_>, v: &Value, out: &mut String) -> R<()> {
    let bytes = match write_value(out, v, false, 0, m.room_left()) {
        // (Cut within a str, it may be whole but too long: the length is checked too.)
        Ok(()) => out.len(),
        Err(Cut::Long) => usize::MAX,
        Err(Cut::Deep) => return fail(m, "value nested too deeply").map(drop),
    };
    room(m, bytes)
}

/// `print` of its arguments (where they are, on the stack taken out of the machine meanwhile).
fn print(m: &mut Machine<'_>, args: &[Value], out: &mut String) -> R<Value> {
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        text_form(m, v, out)?;
    }
    out.push('\n');
    m.platform.write(out);
    // Asked after each, as after a primitive: a console can take long to show a line (a serial one, seconds
    // for a long text, which the payload cuts short at Ctrl-C), so a loop of prints would wait long for the next
    // poll.
    m.interruption(Pos::default())?;
    Ok(Value::Nil)
}

fn str_(m: &mut Machine<'_>, args: &mut Args, out: &mut String) -> R<Value> {
    if let Value::Str(_) = &args[0] {
        // The arguments are the built-in's (the stack is cut back after it): one of the right type is moved
        // out, not cloned (here and in `bytes` and `text`).
        return Ok(core::mem::take(&mut args[0]));
    }
    text_form(m, &args[0], out)?;
    Ok(Value::take_string(out))
}

fn int(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let (s, hidden) = match &args[0] {
        Value::Int(n) => return Ok(Value::Int(*n)),
        Value::Str(t) => (&*t.0, t.1.get()),
        other => return wrong(m, "a str", other),
    };
    // Decimal or `0x` digits, with a sign and white space around allowed.
    let t = s.trim().as_bytes();
    let (sign, t) = match t {
        // (`+` and `-` are 43 and 45: 1 and -1 from 44.)
        [c @ (b'-' | b'+'), rest @ ..] => (44 - i64::from(*c), rest),
        _ => (1, t),
    };
    match crate::parser::parse_digits(t, sign, false) {
        (n, None) => Ok(Value::Int(n)),
        // (A PIN mistyped at a hidden prompt is not shown: see `hide`.)
        _ if hidden => fail(m, "invalid int (hidden input)"),
        _ => Err(m.at(&["invalid int '", s, "'"], Pos::default())),
    }
}

fn len(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let n = match &args[0] {
        Value::Str(t) => t.0.chars().count(),
        Value::Bytes(b) => b.0.len(),
        Value::List(l) => l.items.borrow().len(),
        Value::Map(m) => m.entries.borrow().len(),
        other => return wrong(m, "a str, bytes, list or map", other),
    };
    Ok(Value::Int(n as i64))
}

fn type_(_: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    Ok(Value::str(args[0].type_name()))
}

fn hex(m: &mut Machine<'_>, args: &mut Args, out: &mut String) -> R<Value> {
    match &args[0] {
        Value::Bytes(b) => {
            // Each of these that makes a new str or bytes as long as its argument (here twice) refuses it past the
            // memory limit first: unchecked, `b = bytes(hex(b))` in a loop took the heap.
            room(m, b.0.len() * 2)?;
            push_hex(out, &b.0)
        }
        Value::Int(n) => {
            if *n < 0 {
                out.push('-');
            }
            push_hex_number(out, n.unsigned_abs());
        }
        other => return wrong(m, "bytes or an int", other),
    }
    Ok(Value::take_string(out))
}

fn unhex(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Str(t) = &args[0] else {
        return wrong(m, "a str", &args[0]);
    };
    let s = t.0.as_bytes();
    room(m, s.len() / 2)?;
    let mut out = Vec::with_capacity(s.len() / 2);
    // One digit at a time (one check of a digit in the code, not one for each of a pair): each is shifted into
    // `pair`, which holds a byte's two after each second one.
    let mut pair: u8 = 0;
    for (k, &c) in s.iter().enumerate() {
        let Some(digit) = hex_value(c) else {
            return fail(m, "not a hex digit");
        };
        pair = pair << 4 | digit;
        if k % 2 != 0 {
            out.push(pair);
        }
    }
    // (Counted after the digits are checked: `"a b"` has a character that is no digit, not an odd count.)
    if s.len() % 2 != 0 {
        return fail(m, "odd number of hex digits");
    }
    Ok(hand_over!(take_bytes, out))
}

/// The value of a hex digit, either case.
fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn bytes(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    match &args[0] {
        Value::List(l) => {
            // (Made to its size at once: a byte an item, refused past the memory limit first.)
            let n = l.items.borrow().len();
            room(m, n)?;
            let mut out = Vec::with_capacity(n);
            for v in l.items.borrow().iter() {
                match v {
                    Value::Int(n @ 0..=255) => out.push(*n as u8),
                    _ => return fail(m, "a byte must be an int 0-255"),
                }
            }
            Ok(hand_over!(take_bytes, out))
        }
        Value::Bytes(_) => Ok(core::mem::take(&mut args[0])),
        Value::Str(t) => {
            room(m, t.0.len())?;
            Ok(Value::bytes_of(t.0.as_bytes()))
        }
        other => wrong(m, "a str", other),
    }
}

fn text(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    match &args[0] {
        Value::Bytes(b) => match core::str::from_utf8(&b.0) {
            Ok(s) => new_str(m, s),
            Err(_) => fail(m, "bytes are not valid UTF-8"),
        },
        Value::Str(_) => Ok(core::mem::take(&mut args[0])),
        other => wrong(m, "bytes", other),
    }
}

/// Python's slice bounds: negative counts from the end, then clamped to 0..len (`None`: not an int). Inlined at
/// both of its calls in `slice` (measured smaller in the payload).
#[cfg_attr(not(feature = "std"), inline(always))]
fn bound(v: &Value, len: usize, default: usize) -> Option<usize> {
    let i = match v {
        Value::Nil => return Some(default),
        Value::Int(i) => *i,
        _ => return None,
    };
    let len = len as i64;
    // (`i + len` for a negative `i` cannot overflow: a length is at most `i64::MAX`.)
    let i = if i < 0 { i + len } else { i };
    Some(i.max(0).min(len) as usize)
}

fn slice(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let x = &args[0];
    let len = match x {
        Value::Str(t) => t.0.chars().count(),
        Value::Bytes(b) => b.0.len(),
        Value::List(l) => l.items.borrow().len(),
        other => return wrong(m, "a str, bytes or list", other),
    };
    let Some(start) = bound(&args[1], len, 0) else {
        return wrong(m, "an int", &args[1]);
    };
    let Some(end) = bound(&args[2], len, len) else {
        return wrong(m, "an int", &args[2]);
    };
    let end = end.max(start);
    // Refused past the memory limit by what the slice holds: its bytes (a str's found from its chars), or
    // ITEM_BYTES an item.
    Ok(match x {
        Value::Str(t) => {
            // The byte offsets of chars `start` and `end` (the text's end for one past its last char), in one walk.
            // (A char starts at each byte that does not continue one, 0b10xxxxxx in UTF-8: no char is decoded.)
            let (mut from, mut to) = (t.0.len(), t.0.len());
            let mut k = 0;
            for (i, &c) in t.0.as_bytes().iter().enumerate() {
                if c & 0xc0 != 0x80 {
                    if k == start {
                        from = i;
                    }
                    if k == end {
                        to = i;
                        break;
                    }
                    k += 1;
                }
            }
            // (Both at chars, `from` no later than `to`.)
            return new_str(m, &t.0[from..to]);
        }
        Value::Bytes(b) => {
            room(m, end - start)?;
            Value::bytes_of(&b.0[start..end])
        }
        Value::List(l) => {
            room(m, (end - start) * ITEM_BYTES)?;
            // Handed over by reference (see `hand_over`), not moved into `Value::list`.
            let mut items = l.items.borrow()[start..end].to_vec();
            hand_over!(take_list, items)
        }
        _ => Value::Nil,
    })
}

fn push(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    match args.split_first_mut() {
        Some((Value::List(l), rest)) => {
            room(m, ITEM_BYTES)?;
            let v = crate::value::take(&mut rest[0]);
            l.items.borrow_mut().push(v);
            l.recount();
            Ok(Value::Nil)
        }
        Some((other, _)) => wrong(m, "a list", other),
        None => Ok(Value::Nil),
    }
}

fn pop(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    match &args[0] {
        Value::List(l) => {
            let Some(v) = l.items.borrow_mut().pop() else {
                return fail(m, "pop from an empty list");
            };
            l.recount();
            Ok(v)
        }
        other => wrong(m, "a list", other),
    }
}

fn keys(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    match &args[0] {
        Value::Map(map) => {
            // (Each key copied: the map's own count, of its entries and keys.)
            room(m, map.counted.get())?;
            let entries = map.entries.borrow();
            let mut names = Vec::with_capacity(entries.len());
            for (k, _) in entries.iter() {
                names.push(Value::str(k));
            }
            Ok(hand_over!(take_list, names))
        }
        other => wrong(m, "a map", other),
    }
}

fn remove(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Str(key) = &args[1] else {
        return wrong(m, "a str", &args[1]);
    };
    match &args[0] {
        Value::Map(map) => {
            // (Without the key, nothing changes: no count to bring in line.)
            let Some(i) = map.find(&key.0) else {
                return Ok(Value::Nil);
            };
            let (_, v) = map.entries.borrow_mut().remove(i);
            map.recount();
            Ok(v)
        }
        other => wrong(m, "a map", other),
    }
}

fn contains(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let (x, v) = (&args[0], &args[1]);
    let (hay, needle) = match (x, v) {
        (Value::Str(a), Value::Str(b)) => (a.0.as_bytes(), b.0.as_bytes()),
        (Value::Bytes(a), Value::Bytes(b)) => {
            // (Counted here: bytes count nothing in `searches`, as they are indexed at once.)
            m.walk_over(a.0.len());
            (&a.0[..], &b.0[..])
        }
        (Value::List(l), _) => {
            for item in l.items.borrow().iter() {
                // (Nested too deeply: not the same, as for `==`.)
                if m.same(item, v, Pos::default())? == Some(true) {
                    return Ok(Value::True);
                }
            }
            return Ok(Value::False);
        }
        (Value::Map(m), Value::Str(k)) => return Ok(Value::bool(m.find(&k.0).is_some())),
        (Value::Str(_), _) => return wrong(m, "a str to look for", v),
        (Value::Bytes(_), _) => return wrong(m, "bytes to look for", v),
        (Value::Map(_), _) => return wrong(m, "a str key", v),
        _ => return wrong(m, "a str, bytes, list or map", x),
    };
    Ok(Value::bool(find(m, hay, needle)?.is_some()))
}

/// Where `needle` first occurs in `hay`, in time linear in the lengths (Knuth, Morris and Pratt): a plain scan
/// takes time that grows with the two lengths multiplied, hours in one step for texts of a few megabytes, which no
/// step budget could stop. (The library's substring search is for strs only, and costs the payload a kilobyte.)
/// Bytes are matched, for strs too: a match of UTF-8 in UTF-8 starts at a char.
fn find(m: &mut Machine<'_>, hay: &[u8], needle: &[u8]) -> R<Option<usize>> {
    let n = needle.len();
    if n == 0 {
        return Ok(Some(0));
    }
    // (A needle longer than the text is not there: no table to make for it.)
    if n > hay.len() {
        return Ok(None);
    }
    // For each `i`, the length of the longest prefix of the needle that ends `needle[..=i]` and is shorter: where
    // a match goes on when the byte after `needle[..=i]` differs. Its 8 bytes a byte of the needle are refused
    // past the memory limit, as what the script holds is.
    room(m, n * 8)?;
    let mut back = alloc::vec![0; n];
    // One walk makes the table (the needle searched in itself, each entry made before it is needed) and then
    // searches: over the needle past its first byte, then the text. `k` bytes of the needle match the bytes
    // before `c`.
    let mut k = 0;
    for j in 1..n + hay.len() {
        let c = match needle.get(j) {
            Some(&c) => c,
            // (The search starts afresh at the text.)
            None => {
                if j == n {
                    k = 0;
                }
                hay[j - n]
            }
        };
        // Back along the table until the byte goes on a match, or no match is left: one comparison of the byte
        // a turn. (`k` is less than `n` here: a match of the whole needle returned.)
        loop {
            if needle.get(k) == Some(&c) {
                k += 1;
                break;
            }
            if k == 0 {
                break;
            }
            k = back[k - 1];
        }
        match back.get_mut(j) {
            Some(entry) => *entry = k,
            // (The text's byte `j - n` ends the match.)
            None if k == n => return Ok(Some(j + 1 - 2 * n)),
            None => {}
        }
    }
    Ok(None)
}

fn split(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Str(t) = &args[0] else {
        return wrong(m, "a str", &args[0]);
    };
    let s: &str = &t.0;
    room(m, s.len() * 2)?;
    // Pushed in plain loops: a `collect` per way of splitting cost the payload two copies of its loop.
    let sep = match &args[1] {
        Value::Nil => None,
        Value::Str(sep) => {
            let sep: &str = &sep.0;
            if sep.is_empty() {
                return fail(m, "empty separator");
            }
            Some(sep)
        }
        other => return wrong(m, "a str", other),
    };
    // One loop for both ways of splitting (one push of a part): the words, or the parts between separators.
    // A part ends where the text is cut (`None`: at its end); after a separator the rest goes on past it (`None`
    // past the end of the text, after the last part), after a word at the white space that follows (trimmed with
    // the next word; nothing left after the last).
    let mut parts = Vec::new();
    let mut rest = Some(s);
    while let Some(mut text) = rest {
        let (at, skip) = match sep {
            None => {
                // (Its end trimmed once: after the first word, the rest ends as the text did.)
                text = text.trim();
                if text.is_empty() {
                    break;
                }
                (white_space(text), 0)
            }
            // (Each search goes no further than the separator it finds, or to the end for the last part.)
            Some(sep) => (find(m, text.as_bytes(), sep.as_bytes())?, sep.len()),
        };
        let end = at.unwrap_or(text.len());
        rest = text.get(end + skip..);
        // (At a char: a separator's match starts at one, as white space does.)
        let part = &text[..end];
        parts.push(Value::str(part));
        // Refused as the parts are made, not once all are: a part of one byte holds far more than a byte (the
        // check above counts two), and a text of a million separators makes a million parts. (Their work is
        // counted once, for the whole list below: counted at each check, it grew with the square of the parts.)
        m.fits(parts.len() * ITEM_BYTES, Pos::default())?;
    }
    room(m, parts.len() * ITEM_BYTES)?;
    Ok(hand_over!(take_list, parts))
}

/// Where the first white space of a text is (for `split`, which has the text's words between runs of it).
fn white_space(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map(|(at, _)| at)
}

fn join(m: &mut Machine<'_>, args: &mut Args, out: &mut String) -> R<Value> {
    let Value::Str(sep) = &args[1] else {
        return wrong(m, "a str", &args[1]);
    };
    let sep: &str = &sep.0;
    let Value::List(l) = &args[0] else {
        return wrong(m, "a list", &args[0]);
    };
    for (i, item) in l.items.borrow().iter().enumerate() {
        let Value::Str(t) = item else {
            return wrong(m, "a list of strs", item);
        };
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&t.0);
        // (Its work counted once, as for `split`'s parts.)
        m.fits(out.len(), Pos::default())?;
    }
    room(m, out.len())?;
    Ok(Value::take_string(out))
}

fn trim(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Str(t) = &args[0] else {
        return wrong(m, "a str", &args[0]);
    };
    let s = t.0.trim();
    new_str(m, s)
}

/// A new str of a copy of `text`, refused past the memory limit first (for `text`, `slice` and `trim`). Out of
/// line: one check and copy for the three.
#[inline(never)]
fn new_str(m: &mut Machine<'_>, text: &str) -> R<Value> {
    room(m, text.len())?;
    Ok(Value::str(text))
}

fn range(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Int(first) = args[0] else {
        return wrong(m, "an int", &args[0]);
    };
    let (mut a, b) = match args[1] {
        Value::Nil => (0, first),
        Value::Int(b) => (first, b),
        ref other => return wrong(m, "an int", other),
    };
    let n = range_len(a, b);
    room(m, n.saturating_mul(ITEM_BYTES))?;
    let mut items = Vec::with_capacity(n);
    while a < b {
        items.push(Value::Int(a));
        a += 1;
    }
    Ok(hand_over!(take_list, items))
}

/// The number of items of `range(a, b)`.
pub(crate) fn range_len(a: i64, b: i64) -> usize {
    // (Exact: the difference of two i64 fits in a u64, as in a usize on the 64-bit targets. It saturated at
    // `i64::MAX` before, which each caller's count of bytes, saturated at that times `ITEM_BYTES`, did not tell
    // apart.)
    if a < b {
        b.abs_diff(a) as usize
    } else {
        0
    }
}

/// The error whose message is the text form of `v` (or the error of making it): `error(message)`. Inlined
/// at both of its calls, `error` and `assert` (measured: 36 bytes less in the payload).
#[cfg_attr(not(feature = "std"), inline(always))]
fn raise(m: &mut Machine<'_>, v: &Value, out: &mut String) -> R<Value> {
    text_form(m, v, out)?;
    // A copy of the text (`out` is freed with the others): taking it out cost more code.
    fail(m, out)
}

fn assert(m: &mut Machine<'_>, args: &mut Args, out: &mut String) -> R<Value> {
    if args[0].truthy() {
        return Ok(Value::Nil);
    }
    match &args[1] {
        Value::Nil => fail(m, "assertion failed"),
        v => raise(m, v, out),
    }
}

fn time_ms(m: &mut Machine<'_>, _: &mut Args) -> R<Value> {
    Ok(Value::Int(m.platform.time_ms().min(i64::MAX as u64) as i64))
}

fn sleep_ms(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Int(ms) = args[0] else {
        return wrong(m, "an int", &args[0]);
    };
    if ms < 0 {
        return fail(m, "cannot sleep a negative time");
    }
    m.platform.sleep_ms(ms as u64);
    // A wait the user cut short with Ctrl-C stops the script there.
    m.interruption(Pos::default())?;
    Ok(Value::Nil)
}

fn help(m: &mut Machine<'_>, _: &mut Args) -> R<Value> {
    m.platform.write(HELP);
    Ok(Value::Nil)
}

fn prompt(m: &mut Machine<'_>, args: &mut Args, out: &mut String) -> R<Value> {
    text_form(m, &args[0], out)?;
    let echo = args[1].truthy();
    m.platform.write(out);
    // Matched here, and handed over to its value by reference: through `done` and `Value::string`, the line
    // was copied twice more. Read where it lies in the result (moved out of it, it was copied once more); the
    // result, left with an empty string, is forgotten.
    let mut read = m.platform.read_line(echo);
    let line = match &mut read {
        Ok(line) => line,
        Err(message) => {
            let message = core::mem::take(message);
            core::mem::forget(read);
            // Ctrl-C at the prompt stops the script, as during a loop: a `try` around a prompt that asks again
            // must not catch it.
            m.interruption(Pos::default())?;
            return refuse(m, message);
        }
    };
    room(m, line.len())?;
    let made = Value::take_string(line);
    core::mem::forget(read);
    if let Value::Str(text) = &made {
        text.1.set(!echo);
    }
    Ok(made)
}

fn keymap(m: &mut Machine<'_>, args: &mut Args) -> R<Value> {
    let Value::Str(t) = &args[0] else {
        return wrong(m, "a str", &args[0]);
    };
    let mut set = m.platform.keymap(&t.0);
    if let Err(message) = &mut set {
        if t.1.get() {
            hide(message, &t.0);
        }
    }
    done(m, set)?;
    Ok(Value::Nil)
}

/// `reboot()` and `halt()`, which return only with the platform's reason why they failed (one way out for both).
fn stop(m: &mut Machine<'_>, reboot: bool) -> R<Value> {
    let why = if reboot {
        m.platform.reboot()
    } else {
        m.platform.halt()
    };
    refuse(m, why)
}

#[cfg(test)]
mod tests {
    //! The table is read from the help text: the indexes the code relies on must name the right lines.

    use super::*;

    #[test]
    fn indexes_name_their_built_ins() {
        assert_eq!(field_name(0, 0), "print");
        assert_eq!(field_name(RANGE, 0), "range");
        assert_eq!(field_name(FIRST_PRIMITIVE, 0), "sha1");
        assert_eq!(field_name(COUNT - 1, 0), "halt");
        assert_eq!(field_name(COUNT, 0), "");
        assert_eq!(Primitive::Exec.name(), "exec");
        assert_eq!(
            Primitive::AesSetup.params(),
            ["name", "device", "key", "cipher", "offset", "size", "skip"]
        );
        assert_eq!(arity(0), 1);
        assert_eq!(arity(COUNT - 1), 0);
        assert_eq!(shape(0), 1 | VARIADIC);
        assert_eq!(shape(1), 1 | REQUIRED);
        assert_eq!(shape(9), 3 | (2 * REQUIRED)); // slice(x, start, end?)
        assert_eq!(
            shape(FIRST_PRIMITIVE + Primitive::AesSetup as usize),
            7 | (3 * REQUIRED)
        );
        assert_eq!(
            shape(FIRST_PRIMITIVE + Primitive::Exec as usize),
            4 | REQUIRED
        );
        // The byte after the name of parameter k: its mark, or the end of the field.
        let mark = |i, k| HELP.as_bytes()[field_at(i, k + 1) + param_name(i, k).len()];
        for i in 0..COUNT {
            let n = arity(i);
            assert!(n == 0 || field_at(i, n) < HELP.len() && field_at(i, n + 1) == HELP.len());
            let required = (0..n).take_while(|&k| matches!(mark(i, k), b',' | b')'));
            assert_eq!(usize::from((shape(i) / REQUIRED) & 7), required.count());
            assert_eq!(shape(i) & VARIADIC != 0, n > 0 && mark(i, 0) == b'.');
        }
    }

    #[test]
    fn fields_are_found_from_the_line_starts() {
        // The fields as the table of line starts finds them: the payload's one scan must agree (it relies on a
        // space in the parameters coming only after a comma).
        let text = HELP.as_bytes();
        for i in 0..COUNT + 2 {
            for k in 0..9 {
                let mut at = LAYOUT.0.get(i).map_or(HELP.len(), |at| usize::from(*at));
                let mut left = k;
                while left > 0 && at < text.len() {
                    at += 1;
                    match text[at - 1] {
                        b'(' => left -= 1,
                        b',' => {
                            at += 1;
                            left -= 1;
                        }
                        b')' => at = text.len(),
                        _ => {}
                    }
                }
                assert_eq!(
                    field_at(i, k),
                    at.min(text.len()),
                    "built-in {i}, field {k}"
                );
            }
        }
    }

    #[test]
    fn defaults_are_read_from_the_help_text() {
        let aes = FIRST_PRIMITIVE + Primitive::AesSetup as usize;
        let exec = FIRST_PRIMITIVE + Primitive::Exec as usize;
        assert!(default(aes, 3) == Value::str("aes-xts-plain64"));
        assert!(default(aes, 4) == Value::Int(0));
        assert!(default(aes, 5).is_nil());
        assert!(default(aes, 0).is_nil());
        assert!(default(exec, 1) == Value::str(""));
        assert!(default(16, 1) == Value::str("")); // join(list_of_str, sep="")
        assert!(default(24, 1) == Value::True); // prompt(message, echo=true)
        assert_eq!(param_name(0, 0), "values");
        assert_eq!(param_name(9, 2), "end");
        assert_eq!(param_name(aes, 3), "cipher");
    }
}
