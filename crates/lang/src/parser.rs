//! The parser: tokens to a syntax tree, resolving every name to a frame slot, a captured variable or a global
//! as it goes (so the evaluator never looks a name up by its text).

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;

use crate::ast::{Call, Capture, Expr, ExprKind, FnDef, Op, Pos, Stmt, Var};
use crate::lexer::{Kind, Lexer, Span, Token};
use crate::value::Value;
use crate::{ScriptError, MAX_NESTING};

/// Locals one function may declare (names are found by a linear search while parsing).
pub const MAX_LOCALS: usize = 1000;
/// Distinct global names of an interpreter.
pub const MAX_GLOBALS: usize = 10_000;
/// Entries of one map literal (a repeated key is found by a linear search while parsing: bounded so that parsing
/// stays fast; a literal of 150,000 entries took 79 s). A larger map is built by assignments, which run as steps.
pub const MAX_MAP_ENTRIES: usize = 1000;

/// The interpreter's global names: a global is an index into its table of values. A plain list (names are few,
/// and a map type would cost the payload kilobytes of code).
#[derive(Default, Clone)]
pub(crate) struct Globals {
    pub names: Vec<Rc<str>>,
}

impl Globals {
    pub fn slot(&mut self, name: &str) -> u32 {
        let mut i = 0;
        while i < self.names.len() && &*self.names[i] != name {
            i += 1;
        }
        if i == self.names.len() {
            self.names.push(Rc::from(name));
        }
        i as u32
    }
    pub fn find(&self, name: &str) -> Option<u32> {
        let mut i = 0;
        while i < self.names.len() {
            if &*self.names[i] == name {
                return Some(i as u32);
            }
            i += 1;
        }
        None
    }
}

/// Declares the syntax errors, each with its message: the kinds in `Syntax`, and their messages in the same
/// order in `MESSAGE_LIST`.
macro_rules! syntax_errors {
    ($($kind:ident: $message:literal,)*) => {
        /// What a syntax error says (before where it is): a kind is one byte to pass at each of the places that
        /// raise it, where a message would be two words.
        #[derive(Clone, Copy, Debug)]
        pub(crate) enum Syntax {
            $($kind,)*
        }

        /// The messages, in the order of the kinds (only the compiler reads it, to make `MESSAGES`).
        const MESSAGE_LIST: &[&str] = &[$($message,)*];

        #[cfg(test)]
        const SYNTAX_KINDS: &[Syntax] = &[$(Syntax::$kind,)*];
    };
}

syntax_errors! {
    UnexpectedCharacter: "unexpected character",
    UnfinishedString: "unfinished string",
    ExpectedName: "expected a name",
    ExpectedExpression: "expected an expression",
    ExpectedKey: "expected a key",
    ExpectedEnd: "expected the end of the statement",
    ExpectedLParen: "expected '('",
    ExpectedRParen: "expected ')'",
    ExpectedRBracket: "expected ']'",
    ExpectedLBrace: "expected '{'",
    ExpectedRBrace: "expected '}'",
    ExpectedColon: "expected ':'",
    ExpectedAssign: "expected '='",
    ExpectedIn: "expected 'in'",
    ExpectedCatch: "expected 'catch'",
    NotInLoop: "not inside a loop",
    CannotAssign: "cannot assign to this",
    ComparisonsDoNotChain: "comparisons do not chain",
    PositionalAfterKeyword: "positional argument after keyword arguments",
    RepeatedParameter: "repeated parameter",
    TooManyParameters: "too many parameters",
    TooManyLocals: "too many local variables in one function",
    TooManyGlobals: "too many global names",
    TooDeeplyNested: "too deeply nested",
    MalformedNumber: "malformed number",
    NumberTooLarge: "number too large",
    MalformedHexEscape: "malformed \\x escape",
    UnknownEscape: "unknown escape",
    NotUtf8: "string is not valid UTF-8",
    NotHexDigit: "not a hex digit in a byte string",
    OddHexDigits: "odd number of hex digits",
    TooManyEntries: "too many entries in one map literal",
    // (Not errors: what `fail` adds after a message, found in the same table.)
    NearEnd: " near end of input",
    NearEndOfLine: " near end of line",
    NearToken: " near '",
}

/// The messages in one string, each after its length (a table of slices would take 16 bytes a message).
const MESSAGES: &str =
    match core::str::from_utf8(&pack::<{ packed_len(MESSAGE_LIST) }>(MESSAGE_LIST)) {
        Ok(messages) => messages,
        Err(_) => panic!("a message is not UTF-8"),
    };

/// The length of `list` packed by `pack`.
const fn packed_len(list: &[&str]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < list.len() {
        len += 1 + list[i].len();
        i += 1;
    }
    len
}

/// The strings of `list` one after the other, each after its length (a byte).
const fn pack<const N: usize>(list: &[&str]) -> [u8; N] {
    let mut out = [0; N];
    let mut at = 0;
    let mut i = 0;
    while i < list.len() {
        let message = list[i].as_bytes();
        assert!(message.len() <= u8::MAX as usize);
        out[at] = message.len() as u8;
        at += 1;
        let mut j = 0;
        while j < message.len() {
            out[at] = message[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

impl Syntax {
    /// The message, found by skipping those before it (only when an error is raised). The table is made at
    /// compile time, so its indices hold.
    fn message(self) -> &'static str {
        // (Each length read once, the message's own too: a read of it apart was checked against the end.)
        let mut at = 0;
        let mut before = self as u8;
        loop {
            let len = MESSAGES.as_bytes()[at] as usize;
            if before == 0 {
                return Span {
                    start: at as u32 + 1,
                    end: (at + 1 + len) as u32,
                }
                .text(MESSAGES);
            }
            at += 1 + len;
            before -= 1;
        }
    }
}

/// A call of a global by name, kept for the static check of built-ins' argument counts.
pub(crate) struct CallSite {
    pub global: u32,
    pub positional: usize,
    pub keywords: Vec<Rc<str>>,
    pub pos: Pos,
}

/// What a parse keeps besides the tree: nothing (`()`, the parse that runs a file: the payload's only one) or,
/// for the static check, a `Record`. Nothing is a type of no size, so that parse neither moves nor drops lists.
pub(crate) trait Keep: Default {
    /// Where to keep it, if anywhere (the parser skips the work for it when not).
    fn record(&mut self) -> Option<&mut Record>;
}

impl Keep for () {
    fn record(&mut self) -> Option<&mut Record> {
        None
    }
}

/// What the static check needs of a file's parse.
#[derive(Default)]
pub(crate) struct Record {
    /// Globals this file declares at its top level, each time one is declared (with where its name is: a byte
    /// offset in the source).
    pub declared: Vec<u32>,
    pub declared_at: Vec<(u32, u32)>,
    /// Globals the top level (outside every function) reads or assigns before the file declares them: the first
    /// place of each.
    pub early: Vec<(u32, Pos)>,
    /// Globals this file reads or assigns, with the first place.
    pub uses: Vec<(u32, Pos)>,
    pub calls: Vec<CallSite>,
    /// The functions this file's top level declares with `fn NAME`: the global and the function.
    pub functions: Vec<(u32, Rc<FnDef>)>,
    /// Globals an assignment statement (`NAME = ...`) sets, anywhere in the file.
    pub assigned: Vec<u32>,
}

impl Keep for Record {
    fn record(&mut self) -> Option<&mut Record> {
        Some(self)
    }
}

struct Local<'a> {
    /// Its name, in the source (a copy of the text was made and dropped for each local, and made the list of
    /// locals one that needs dropping; a span of it took a call to find the text at each look-up).
    name: &'a str,
    slot: u32,
    /// Whether a closure captured it (the declaration is told at the end of its block).
    captured: bool,
}

/// The state of one function being parsed (the file's top level is the outermost).
#[derive(Default)]
struct Scope {
    /// Where its locals start in the parser's list.
    locals: usize,
    /// The function's captured variables (the list becomes the definition's). Every scope is popped by
    /// `function`, which hands the list to the definition: not dropped with the scope, the list of scopes needs no
    /// dropping item by item at the parse's end (when it is always empty).
    captures: ManuallyDrop<Vec<Capture>>,
}

type R<T> = Result<T, Box<ScriptError>>;

/// Of the function being parsed: the loops open around the current token, and the most frame slots in use at
/// once (its frame's size). One word, saved and given back in one move (two fields took a move each).
#[derive(Default, Clone, Copy)]
#[repr(C, align(8))]
struct Frame {
    loops: u32,
    max_slots: u32,
}

// In this order (not the compiler's): the fields used all the time come first, where the code reaches them with
// a one-byte offset (from 128 bytes on, an offset takes four, in each of hundreds of instructions).
#[repr(C)]
struct Parser<'a, K: Keep> {
    tok: Token,
    depth: u32,
    /// Whether newlines are skipped inside the innermost open bracket (yes in `(`, `[` and map literals, no in
    /// blocks and outside all brackets). Each rule that opens a bracket keeps the outer one's and gives it back
    /// at the close.
    skip_newlines: bool,
    /// Of the function being parsed (a function saves its outer one's and gives it back). (The slots in use are
    /// its locals in sight: a local's slot is its place among them.)
    frame: Frame,
    scopes: Vec<Scope>,
    /// The locals in sight, of all the functions being parsed, innermost last: one list, so that the
    /// innermost declaration of a name is the last one of that name.
    locals: Vec<Local<'a>>,
    /// The first error (see `fail`).
    error: Option<Box<ScriptError>>,
    /// (Its text is the source's: the parser keeps no copy of the reference.)
    lexer: Lexer<'a>,
    /// The token after the current one, read ahead (the grammar looks at it after `fn` and in arguments): read
    /// once, where a look at it read it twice. If it could not be read, the lexer's message is still its own
    /// (nothing is read past it before it is current).
    next: Token,
    globals: &'a mut Globals,
    file: &'a Rc<str>,
    kept: K,
}

/// Parses a file: its top-level code as a function without parameters, and what `K` keeps (a parser of each
/// kind: the payload never checks, so it has only the one that keeps nothing).
pub(crate) fn parse<'a, K: Keep>(
    file: &'a Rc<str>,
    src: &'a str,
    globals: &'a mut Globals,
) -> R<(Rc<FnDef>, K)> {
    // (A stand-in until the first token is read: any kind but `Error`; all zeros, cheapest to write.)
    let none = Token {
        kind: Kind::Int,
        span: Span { start: 0, end: 0 },
        at: Pos::default(),
    };
    let mut p = Parser::<K> {
        file,
        lexer: Lexer::new(src),
        tok: none,
        next: none,
        skip_newlines: false,
        frame: Frame::default(),
        depth: 0,
        scopes: Vec::new(),
        locals: Vec::new(),
        globals,
        kept: K::default(),
        error: None,
    };
    // (The first token is read ahead, then made current.)
    p.lexer.next(&mut p.next);
    p.advance();
    let main = p.function("main", true);
    let parsed = (main, p.kept);
    // Made whole either way, so that the error path drops it in one piece.
    match p.error {
        Some(e) => Err(e),
        None => Ok(parsed),
    }
}

/// The binary operators, in the order of their kinds from `and` on: precedence, and the operation (none for `and`
/// and `or`, which are nodes of their own).
const BINARY: [(u8, Option<Op>); 13] = [
    (2, None),
    (1, None),
    (4, Some(Op::Eq)),
    (4, Some(Op::Ne)),
    (4, Some(Op::Lt)),
    (4, Some(Op::Le)),
    (4, Some(Op::Gt)),
    (4, Some(Op::Ge)),
    (5, Some(Op::Add)),
    (5, Some(Op::Sub)),
    (6, Some(Op::Mul)),
    (6, Some(Op::Div)),
    (6, Some(Op::Rem)),
];

// `BINARY` is indexed by the kind: the operators' kinds must stay together, from `And` to `Percent`.
const _: () = assert!(Kind::Percent as usize - Kind::And as usize + 1 == BINARY.len());
// `expr` finds a comparison by its kind, from `Eq` to `Ge`: the six must stay together.
const _: () = assert!(Kind::Ge as usize - Kind::Eq as usize == 5);

/// The precedence of a `-` operand: above every binary operator's, so that its `expr` is a unary one.
const UNARY: u8 = 7;

fn binary_op(kind: Kind) -> Option<(u8, Option<Op>)> {
    BINARY
        .get((kind as usize).wrapping_sub(Kind::And as usize))
        .copied()
}

/// What a missing token of each kind is reported as, for the tokens the grammar requires (`expect_then`): the
/// message is found from the kind, in a table, so that each place that expects a token passes only its kind.
/// (`in` is the one other kind expected.)
const EXPECTED: [Syntax; Kind::Error as usize + 1] = {
    let mut table = [Syntax::ExpectedIn; Kind::Error as usize + 1];
    table[Kind::Name as usize] = Syntax::ExpectedName;
    table[Kind::LParen as usize] = Syntax::ExpectedLParen;
    table[Kind::RParen as usize] = Syntax::ExpectedRParen;
    table[Kind::RBracket as usize] = Syntax::ExpectedRBracket;
    table[Kind::LBrace as usize] = Syntax::ExpectedLBrace;
    table[Kind::RBrace as usize] = Syntax::ExpectedRBrace;
    table[Kind::Colon as usize] = Syntax::ExpectedColon;
    table[Kind::Assign as usize] = Syntax::ExpectedAssign;
    table
};

/// One out-of-line place that moves an expression to the heap (inlined, each site copied all of it).
#[inline(never)]
fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// A constant with no place (it has no error to place): a field's name, the true condition of an `else`, and
/// nil, the value of a bare `return` and what a rule that failed gives back (never evaluated then: the parse has
/// failed). Out of line: one place that makes one.
#[inline(never)]
fn constant(value: Value) -> Expr {
    Expr {
        pos: Pos::default(),
        kind: ExprKind::Const(value),
    }
}

/// A new empty list on the heap, for a list or map literal: one out-of-line place (the copies for the two
/// kinds of items are the same code, which the linker keeps once).
#[inline(never)]
#[allow(clippy::box_collection)] // (The tree's lists are boxed: see `ExprKind::List`.)
fn new_list<T>() -> Box<Vec<T>> {
    Box::default()
}

/// One out-of-line place that pushes onto a list, for the lists the parser fills at several places
/// (statements, `if` arms, expressions): inlined, each place had its own copy of the push and of its growth
/// path. The copies of equal-sized items are identical and the linker keeps one (so the copy for expressions
/// is also `Vec::push` of the alloc crate's own). The host's tool inlines it, for speed. (The locals are pushed
/// at one place, `declare`, where the push is inlined: no other list has items of their size to share a copy.)
#[cfg_attr(feature = "std", inline(always))]
#[cfg_attr(not(feature = "std"), inline(never))]
fn push<T>(list: &mut Vec<T>, item: T) {
    list.push(item);
}

/// The escapes of one letter in a string, and the bytes they stand for.
const ESCAPES: &[u8; 6] = b"nrt0\\\"";
const ESCAPED: &[u8; 6] = b"\n\r\t\0\\\"";

/// Decimal or `0x` digits as an int, counted towards `sign` (1 or -1) digit by digit (down from 0 for a negative
/// one, which reaches i64::MIN, so that the number needs no conversion at the end); with `spaced`, a `_` may
/// follow a digit. One loop for int literals and `int()`, which ignores which error it is (the first found: a
/// wrong or missing digit, or a number that does not fit). By hand rather than `from_str_radix`: the digits are
/// checked here anyway.
pub(crate) fn parse_digits(text: &[u8], sign: i64, spaced: bool) -> (i64, Option<Syntax>) {
    let (digits, radix) = match text {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (text, 10),
    };
    let mut n = 0i64;
    let mut last_digit = false;
    for &c in digits {
        if c == b'_' && last_digit && spaced {
            last_digit = false;
            continue;
        }
        let Some(digit) = (c as char).to_digit(radix) else {
            return (0, Some(Syntax::MalformedNumber));
        };
        let Some(next) = n
            .checked_mul(i64::from(radix))
            .and_then(|n| n.checked_add(sign * i64::from(digit)))
        else {
            return (0, Some(Syntax::NumberTooLarge));
        };
        n = next;
        last_digit = true;
    }
    (n, (!last_digit).then_some(Syntax::MalformedNumber))
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

impl<'a, K: Keep> Parser<'a, K> {
    /// The one place that builds syntax errors: `MESSAGE near 'TOKEN'` at the current token's position (a rule
    /// that blames an earlier token makes it current again first). The first error is kept and the current
    /// token becomes one that no rule accepts, so the parser winds up without reading further (every rule
    /// returns a stand-in value) and `parse` reports that error: the code has no error path at each step.
    #[inline(never)]
    fn fail(&mut self, message: Syntax) {
        if self.error.is_none() {
            let mut text = String::from(message.message());
            // A character outside ASCII is named too: many look like a space or like nothing (a no-break or
            // zero-width space, a second byte order mark).
            if let (Syntax::UnexpectedCharacter, Some(c)) = (message, self.text().chars().next()) {
                if !c.is_ascii() {
                    text.push_str(" U+");
                    // At least four digits: a character below U+10000 as its two bytes' digits.
                    let n = c as u32;
                    if n > 0xffff {
                        crate::value::push_hex_number(&mut text, n.into());
                    } else {
                        crate::value::push_hex(&mut text, &(n as u16).to_be_bytes());
                    }
                }
            }
            let quoted = !matches!(self.tok.kind, Kind::Eof | Kind::Newline);
            text.push_str(
                match self.tok.kind {
                    Kind::Eof => Syntax::NearEnd,
                    Kind::Newline => Syntax::NearEndOfLine,
                    _ => Syntax::NearToken,
                }
                .message(),
            );
            if quoted {
                // At most 24 characters of a long token: it is cut before the 25th character's first byte.
                let token = self.text();
                let mut end = 0;
                let mut chars = 0;
                for &b in token.as_bytes() {
                    if b & 0xc0 != 0x80 {
                        if chars == 24 {
                            break;
                        }
                        chars += 1;
                    }
                    end += 1;
                }
                crate::value::push_visible(&mut text, (Span { start: 0, end }).text(token));
                text.push('\'');
            }
            // Made by the evaluator's builder of errors (one place that boxes them) at the token, then made a syntax
            // error. (Its file is given by the callers of `parse`, as they give it to a runtime error.)
            let mut error = crate::eval::runtime_error(text, self.tok.at);
            error.kind = crate::ErrorKind::Syntax;
            error.incomplete = self.tok.kind == Kind::Eof;
            // (There is none yet: an assignment would drop the old one, code for a value known to be absent.)
            self.error.get_or_insert(error);
        }
        self.tok.kind = Kind::Error;
    }

    /// Has the parser failed? (Then the current token is one no rule accepts.)
    fn failed(&self) -> bool {
        self.tok.kind == Kind::Error
    }

    fn pos(&self) -> Pos {
        self.tok.at
    }

    /// The current token's text.
    fn text(&self) -> &'a str {
        self.tok.span.text(self.lexer.src)
    }

    /// Moves to the next token (not after an error: the parser stays at the token it failed at).
    fn advance(&mut self) {
        while !self.failed() {
            self.tok = self.next;
            // (Its message is the lexer's still: nothing was read after it.)
            if self.failed() {
                self.fail(self.lexer.message);
            }
            self.lexer.next(&mut self.next);
            if self.tok.kind != Kind::Newline || !self.skip_newlines {
                return;
            }
        }
    }

    fn skip_newlines(&mut self) {
        while self.tok.kind == Kind::Newline {
            self.advance();
        }
    }

    fn expect(&mut self, kind: Kind) {
        self.expect_then(kind, self.skip_newlines);
    }

    /// Expects a token of `kind` (else fails with its message, found in `EXPECTED`), and reads the ones after it
    /// skipping newlines or not (`skip`): the one place that steps over a bracket, or any token the grammar
    /// requires.
    #[inline(never)]
    fn expect_then(&mut self, kind: Kind, skip: bool) {
        if self.tok.kind != kind {
            return self.fail(EXPECTED[kind as usize]);
        }
        self.skip_newlines = skip;
        self.advance();
    }

    /// Opens a bracket: `skip` says whether newlines inside it are skipped. Gives back whether they were
    /// outside it, for `close`.
    // (Inlined at its two places, measured: smaller.)
    #[inline(always)]
    fn open(&mut self, kind: Kind, skip: bool) -> bool {
        let outer = self.skip_newlines;
        self.expect_then(kind, skip);
        outer
    }

    /// Opens the bracket that is the current token (its kind is known), one inside which newlines are skipped.
    fn open_bracket(&mut self) -> bool {
        let outer = self.skip_newlines;
        self.skip_newlines = true;
        self.advance();
        outer
    }

    /// Closes a bracket: the token after it is read as the surrounding bracket reads newlines (`outer`).
    fn close(&mut self, kind: Kind, outer: bool) {
        self.expect_then(kind, outer);
    }

    /// A name: its text in the source (what a declaration keeps).
    fn name(&mut self) -> &'a str {
        let name = self.tok.span;
        self.expect(Kind::Name);
        name.text(self.lexer.src)
    }

    /// Counts one level of nesting (source nesting is limited so that parsing and evaluation cannot overflow
    /// the stack: after the error, no rule goes deeper).
    fn enter(&mut self) {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.fail(Syntax::TooDeeplyNested);
        }
    }

    fn scope(&mut self) -> &mut Scope {
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// Takes the last local in sight out of sight (its slot is free again): whether a closure captured it (known
    /// now). Every local goes this way, the last first: at the end of its block (one that declares it with `let`
    /// or `fn`; the variable of a `for` or a `catch`, after the block, which took its own off), or of the
    /// function whose parameter it is. (Out of line in the payload: one place for the four.)
    #[cfg_attr(not(feature = "std"), inline(never))]
    fn pop_local(&mut self) -> bool {
        self.locals.pop().is_some_and(|l| l.captured)
    }

    /// Declares a name in the current block: a global at the file's top level (at depth 0: each block and each
    /// function inside counts a level), else a new frame slot ([`Self::local`]).
    fn declare(&mut self, name: &'a str) -> Var {
        if self.depth == 0 {
            let global = self.global(name);
            if let Some(record) = self.kept.record() {
                // (The name's offset in the source: it is a part of it in a parse that succeeds, whose record
                // is read.)
                let at = (name.as_ptr() as usize).wrapping_sub(self.lexer.src.as_ptr() as usize);
                record.declared.push(global);
                record.declared_at.push((global, at as u32));
            }
            return Var::Global(global);
        }
        Var::Local(self.local(name))
    }

    /// Declares a name as a new frame slot: its slot. (The variable of a `for` or a `catch`, declared before its
    /// block opens, and a parameter are always locals.)
    fn local(&mut self, name: &'a str) -> u32 {
        // Its slot is its place among the function's locals in sight (blocks and functions give back their
        // locals, and with them their slots, when they close).
        let slot = self.locals.len() - self.scope().locals;
        // Names are looked up by a linear search while parsing: bounded so that parsing stays fast.
        if slot >= MAX_LOCALS {
            self.fail(Syntax::TooManyLocals);
        }
        let slot = slot as u32;
        self.frame.max_slots = self.frame.max_slots.max(slot + 1);
        self.locals.push(Local {
            name,
            slot,
            captured: false,
        });
        slot
    }

    /// The global called `name` (a new one if need be; none after an error: the tree is thrown away then, and
    /// the table of names must not grow).
    fn global(&mut self, name: &str) -> u32 {
        if self.failed() {
            return 0;
        }
        let names = self.globals.names.len();
        let global = self.globals.slot(name);
        // A new name beyond the limit is taken back (one search, where a search for the limit came first).
        if global as usize == names && names >= MAX_GLOBALS {
            self.globals.names.truncate(names);
            self.fail(Syntax::TooManyGlobals);
            return 0;
        }
        global
    }

    /// The variable `name` stands for. (Inlined in the payload, at its one call: smaller, measured.)
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn resolve(&mut self, name: &str, pos: Pos) -> Var {
        let mut i = self.locals.len();
        while i > 0 {
            i -= 1;
            if self.locals[i].name != name {
                continue;
            }
            let local = &mut self.locals[i];
            let mut var = Var::Local(local.slot);
            let mut capture = Capture::Local(local.slot);
            // The functions opened since it was declared (those whose locals start after it) are inside the one
            // that declares it: each captures it, from the one around it.
            for scope in &mut self.scopes {
                if scope.locals > i {
                    local.captured = true;
                    let mut index = 0;
                    while index < scope.captures.len() && scope.captures[index] != capture {
                        index += 1;
                    }
                    if index == scope.captures.len() {
                        // (Out of line, the push is one the linker already has: the handoff's `Vec<u64>`.)
                        push(&mut scope.captures, capture);
                    }
                    let index = index as u32;
                    capture = Capture::Upvalue(index);
                    var = Var::Upvalue(index);
                }
            }
            return var;
        }
        let global = self.global(name);
        let top = self.scopes.len() == 1;
        if let Some(record) = self.kept.record() {
            if !record.uses.iter().any(|(g, _)| *g == global) {
                record.uses.push((global, pos));
            }
            if top
                && !record.declared.contains(&global)
                && !record.early.iter().any(|(g, _)| *g == global)
            {
                record.early.push((global, pos));
            }
        }
        Var::Global(global)
    }

    // program := stmt*   (and the statements of a block, which also end at its `}`: in a block, at a depth
    // above 0, as the file's top level is the only place at depth 0)
    fn statements(&mut self) -> Vec<Stmt> {
        let first = self.locals.len();
        let mut body = Vec::new();
        loop {
            while matches!(self.tok.kind, Kind::Newline | Kind::Semicolon) {
                self.advance();
            }
            if matches!(self.tok.kind, Kind::Eof | Kind::Error)
                || (self.depth != 0 && self.tok.kind == Kind::RBrace)
            {
                break;
            }
            push(&mut body, self.statement());
        }
        // Now that the block ends, whether a closure captured each of its locals is known: they are declared
        // by its `let` and `fn` statements, in order (the file's top level declares none: globals). They go out
        // of sight here, taken off the list from the last, and their slots are free again (the file's top level
        // and a function's body leave what was there before them: none, or the parameters; each `for` and
        // `catch` takes off its variable itself).
        for stmt in body.iter_mut().rev() {
            if let Stmt::Let { captured, .. } | Stmt::LetFn { captured, .. } = stmt {
                *captured = self.pop_local();
            }
        }
        debug_assert_eq!(self.locals.len(), first);
        body
    }

    // block := '{' stmt* '}'
    fn block(&mut self) -> Vec<Stmt> {
        self.enter();
        let outer = self.open(Kind::LBrace, false);
        let body = self.statements();
        self.close(Kind::RBrace, outer);
        self.depth -= 1;
        body
    }

    /// A simple statement must end at a newline, `;`, `}` or the end of the file (the list of statements steps
    /// over the newlines and `;`). (Inlined at its one call, the end of `statement`: measured smaller now.)
    #[inline(always)]
    fn end_of_statement(&mut self) {
        if !matches!(
            self.tok.kind,
            Kind::Newline | Kind::Semicolon | Kind::RBrace | Kind::Eof
        ) {
            self.fail(Syntax::ExpectedEnd);
        }
    }

    // stmt := 'let' NAME '=' expr | place '=' expr | 'fn' NAME '(' names? ')' block | if | while | for | try
    //       | 'return' expr? | 'break' | 'continue' | expr
    #[inline(never)]
    fn statement(&mut self) -> Stmt {
        let start = self.tok;
        let stmt = match start.kind {
            Kind::Let => self.let_statement(false),
            // A function ends at its block's `}`, like the other compound statements.
            Kind::Fn if self.next.kind == Kind::Name => return self.let_statement(true),
            Kind::If => return self.if_statement(),
            Kind::While => {
                self.advance();
                let cond = self.boxed_expr(1);
                let body = self.loop_body();
                return Stmt::While(cond, body);
            }
            Kind::For => return self.for_statement(),
            Kind::Try => return self.try_statement(),
            Kind::Return => {
                self.advance();
                match self.tok.kind {
                    // A bare `return` returns a constant nil (an optional value cost a test in the evaluator).
                    Kind::Newline | Kind::Semicolon | Kind::RBrace | Kind::Eof => {
                        Stmt::Return(constant(Value::Nil))
                    }
                    _ => Stmt::Return(self.expr(1)),
                }
            }
            Kind::Break | Kind::Continue => {
                if self.frame.loops == 0 {
                    self.fail(Syntax::NotInLoop);
                }
                self.advance();
                if start.kind == Kind::Break {
                    Stmt::Break
                } else {
                    Stmt::Continue
                }
            }
            _ => {
                let target = self.expr(1);
                if self.tok.kind == Kind::Assign {
                    if !is_place(&target) {
                        self.fail(Syntax::CannotAssign);
                    }
                    if let (Some(record), ExprKind::Var(Var::Global(global))) =
                        (self.kept.record(), &target.kind)
                    {
                        record.assigned.push(*global);
                    }
                    self.advance();
                    self.skip_newlines();
                    Stmt::Assign(boxed(target), self.expr(1))
                } else {
                    Stmt::Expr(target)
                }
            }
        };
        self.end_of_statement();
        stmt
    }

    // 'let' NAME '=' expr | 'fn' NAME '(' names? ')' block   (a function is `early`)
    // (Inlined at its two places, each with `early` known, measured: smaller than one copy out of line.)
    #[inline(always)]
    fn let_statement(&mut self, early: bool) -> Stmt {
        self.advance();
        let pos = self.pos();
        let name = self.name();
        if early {
            // Bound before its value is made, so that the function can call itself.
            let var = self.declare(name);
            let def = self.function(name, false);
            if let (Some(record), Var::Global(global)) = (self.kept.record(), var) {
                record.functions.push((global, def.clone()));
            }
            let kind = ExprKind::Func(def);
            return Stmt::LetFn {
                var,
                captured: false,
                value: Expr { pos, kind },
            };
        }
        self.expect(Kind::Assign);
        self.skip_newlines();
        let value = self.expr(1);
        // Declared after its value, so `let x = x + 1` reads the x from before.
        let var = self.declare(name);
        Stmt::Let {
            var,
            captured: false,
            value,
        }
    }

    /// The block of a `while` or `for`, inside which `break` and `continue` are allowed. (Inlined at both, now
    /// that `let_statement` is: measured, a little smaller.)
    #[inline(always)]
    fn loop_body(&mut self) -> Vec<Stmt> {
        self.frame.loops += 1;
        let body = self.block();
        self.frame.loops -= 1;
        body
    }

    // if := 'if' expr block ('else' 'if' expr block)* ('else' block)?
    fn if_statement(&mut self) -> Stmt {
        let mut arms = Vec::new();
        loop {
            self.advance(); // 'if'
            let cond = self.expr(1);
            push(&mut arms, (cond, self.block()));
            // A newline may stand before `else`. (Skipped whatever follows: the statement ends at the `}`, and
            // the list of statements skips the newlines after it anyway.)
            self.skip_newlines();
            if self.tok.kind != Kind::Else {
                break;
            }
            self.advance(); // 'else'
            if self.tok.kind != Kind::If {
                let always = constant(Value::True);
                push(&mut arms, (always, self.block()));
                break;
            }
        }
        Stmt::If(arms)
    }

    // for := 'for' NAME 'in' expr block
    fn for_statement(&mut self) -> Stmt {
        self.advance();
        let name = self.name();
        self.expect(Kind::In);
        let iterable = self.boxed_expr(1);
        let var = self.local(name);
        let body = self.loop_body();
        let captured = self.pop_local();
        Stmt::For {
            captured,
            var,
            iterable,
            body,
        }
    }

    // try := 'try' block 'catch' NAME block
    fn try_statement(&mut self) -> Stmt {
        self.advance();
        let body = self.block();
        // A newline may stand before `catch`: the tokens past the newlines are made current as they are (a token
        // the lexer could not read raises no error of its own), and without a `catch` there the error is at the
        // first newline.
        // (What the error shows of the first newline: its kind and place; a newline's text is not shown.)
        let (kind, at) = (self.tok.kind, self.tok.at);
        while self.tok.kind == Kind::Newline {
            self.tok = self.next;
            self.lexer.next(&mut self.next);
        }
        if self.tok.kind != Kind::Catch {
            // (At the end of the input, the error is there: the shell then waits for the `catch` line.)
            if self.tok.kind != Kind::Eof {
                (self.tok.kind, self.tok.at) = (kind, at);
            }
            self.fail(Syntax::ExpectedCatch);
        }
        self.advance();
        let name = self.name();
        let var = self.local(name);
        let handler = self.block();
        let captured = self.pop_local();
        Stmt::Try {
            body,
            handler,
            var,
            captured,
        }
    }

    // function := '(' (NAME (',' NAME)*)? ')' block
    // (And the file's top level, `top`: its statements, as a function without parameters: one place that
    // makes the definition of a function.)
    fn function(&mut self, name: &str, top: bool) -> Rc<FnDef> {
        let name: Rc<str> = Rc::from(name);
        // (Out of line, the push is one the linker already has: the one for expressions.)
        push(
            &mut self.scopes,
            Scope {
                locals: self.locals.len(),
                ..Scope::default()
            },
        );
        // `break` and `continue` in the function do not leave the loops around it; its slots are a frame of
        // its own.
        let saved = core::mem::take(&mut self.frame);
        let mut params: Vec<Rc<str>> = Vec::new();
        let body = if top {
            // (At depth 0.)
            self.statements()
        } else {
            // A level deeper, from its parameters to the end of its block.
            self.enter();
            let outer = self.open(Kind::LParen, true);
            // (After an error the failed token is no comma: one turn at most, whose work is thrown away.)
            while self.tok.kind != Kind::RParen {
                let at = self.pos();
                let span = self.tok.span;
                let name = self.name();
                // (The first that applies: one place that blames the parameter.)
                let wrong = if params.len() >= 64 {
                    Some(Syntax::TooManyParameters)
                } else if params.iter().any(|param| **param == *name) {
                    Some(Syntax::RepeatedParameter)
                } else {
                    None
                };
                if let Some(message) = wrong {
                    // (The parameter made current again, from what was kept of it: a name, or the token that
                    // failed to be one, whose kind is `Error` after the failure either way.)
                    self.tok = Token {
                        kind: Kind::Name,
                        span,
                        at,
                    };
                    self.fail(message);
                }
                params.push(Rc::from(name));
                // (In a function of its own, so a local.)
                self.local(name);
                if self.tok.kind != Kind::Comma {
                    break;
                }
                self.advance();
            }
            self.close(Kind::RParen, outer);
            let body = self.block();
            self.depth -= 1;
            body
        };
        let scope = self
            .scopes
            .pop()
            .expect("a scope per function being parsed");
        // What is left of the function's locals are its parameters: taken off from the last, each one's bit
        // shifted in below those after it (bit i for parameter i). (A 65th, past `too many parameters`, is still
        // there: the first one's bit is shifted out, in a function the failed parse throws away.)
        let mut params_captured = 0;
        while self.locals.len() > scope.locals {
            let captured = self.pop_local();
            params_captured = params_captured << 1 | u64::from(captured);
        }
        let def = Rc::new(FnDef {
            name,
            file: self.file.clone(),
            params,
            params_captured,
            slots: self.frame.max_slots,
            captures: ManuallyDrop::into_inner(scope.captures),
            body,
        });
        self.frame = saved;
        def
    }

    // expr := 'not' expr | unary (BINOP unary)*, by precedence: or < and < not < comparisons < + - < * / %
    fn expr(&mut self, min: u8) -> Expr {
        self.enter();
        let depth = self.depth;
        // The precedence of a unary operator's operand (`not` and `-`), or 0 for none: one place that makes both.
        let operand_min = match self.tok.kind {
            Kind::Not if min <= 3 => 3,
            Kind::Minus => {
                // unary := '-' unary | postfix: the operand is an expression above every binary operator (one
                // rule for both, where `unary` was a function of its own). Its level is counted here, at the `-`
                // (as `unary` did), and the operand's `expr` counts it again: taken back.
                self.enter();
                self.depth -= 1;
                UNARY
            }
            _ => 0,
        };
        let mut left = if operand_min != 0 {
            let pos = self.pos();
            self.advance();
            let operand = self.boxed_expr(operand_min);
            'unary: {
                if operand_min == 3 {
                    break 'unary Expr {
                        pos,
                        kind: ExprKind::Not(operand),
                    };
                }
                // On the host, a negative literal is folded, so that its evaluation needs no negation. The
                // payload evaluates the negation, for size: the same value, and never an error (the literal is
                // at most i64::MAX), nor deeper at a call (the literal holds none).
                #[cfg(feature = "std")]
                if let ExprKind::Const(Value::Int(n)) = &operand.kind {
                    break 'unary Expr {
                        pos,
                        kind: ExprKind::Const(Value::Int(-n)),
                    };
                }
                Expr {
                    pos,
                    kind: ExprKind::Neg(operand),
                }
            }
        } else {
            self.postfix()
        };
        while let Some((prec, op)) = binary_op(self.tok.kind) {
            if prec < min {
                break;
            }
            let pos = self.pos();
            self.advance();
            self.skip_newlines();
            let right = self.boxed_expr(prec + 1);
            let left_box = boxed(left);
            left = Expr {
                pos,
                kind: match op {
                    None if prec == 1 => ExprKind::Or(left_box, right),
                    None => ExprKind::And(left_box, right),
                    Some(op) => ExprKind::Binary(op, left_box, right),
                },
            };
            // (The comparisons' kinds are together, from `Eq` to `Ge`.)
            if prec == 4 && (Kind::Eq as u8..=Kind::Ge as u8).contains(&(self.tok.kind as u8)) {
                self.fail(Syntax::ComparisonsDoNotChain);
            }
            // A long chain nests as deeply as brackets would.
            self.enter();
        }
        self.depth = depth - 1;
        left
    }

    /// An expression onto the heap (through `boxed`, which has the copy into the allocation: one of it).
    #[inline(never)]
    fn boxed_expr(&mut self, min: u8) -> Box<Expr> {
        boxed(self.expr(min))
    }

    /// An expression straight onto the end of a list (one place that moves it there).
    fn push_expr(&mut self, list: &mut Vec<Expr>) {
        push(list, self.expr(1));
    }

    // postfix := primary ( '(' args? ')' | '[' expr ']' | '.' NAME )*
    // (Out of line in the payload, rather than in `expr`: measured smaller, the packed file too.)
    #[cfg_attr(not(feature = "std"), inline(never))]
    fn postfix(&mut self) -> Expr {
        let depth = self.depth;
        let mut e = self.primary();
        loop {
            let pos = e.pos;
            let kind = match self.tok.kind {
                Kind::LParen => {
                    let call = self.call(e);
                    if let (Some(record), ExprKind::Var(Var::Global(global))) =
                        (self.kept.record(), &call.callee.kind)
                    {
                        record.calls.push(CallSite {
                            global: *global,
                            positional: call.args.len() - call.names.len(),
                            keywords: call.names.clone(),
                            pos,
                        });
                    }
                    ExprKind::Call(call)
                }
                Kind::LBracket => {
                    let outer = self.open_bracket();
                    let index = self.boxed_expr(1);
                    self.close(Kind::RBracket, outer);
                    ExprKind::Index(boxed(e), index)
                }
                Kind::Dot => {
                    self.advance();
                    // (A constant has no error to place.)
                    let key = constant(Value::str(self.name()));
                    ExprKind::Field(boxed(e), boxed(key))
                }
                _ => break,
            };
            e = Expr { pos, kind };
            self.enter();
        }
        self.depth = depth;
        e
    }

    // args := '(' (expr (',' expr)* (',' NAME '=' expr)* | NAME '=' expr (',' NAME '=' expr)*)? ','? ')'
    // (The call is made first and its arguments parsed into it, so that they are not moved.)
    fn call(&mut self, callee: Expr) -> Box<Call> {
        let mut call = Box::new(Call {
            callee,
            args: Vec::new(),
            names: Vec::new(),
        });
        let Call { args, names, .. } = &mut *call;
        self.items(args, Some(names));
        call
    }

    /// The arguments of a call (`names` is where the names of its keyword arguments go; their values follow the
    /// positional ones in `items`) or the items of a list, from the opening bracket to the closing one: one loop
    /// for both.
    #[inline(never)]
    fn items(&mut self, items: &mut Vec<Expr>, mut names: Option<&mut Vec<Rc<str>>>) {
        let close = match names {
            Some(_) => Kind::RParen,
            None => Kind::RBracket,
        };
        let outer = self.open_bracket();
        while self.tok.kind != close {
            match &mut names {
                Some(names) if self.tok.kind == Kind::Name && self.assign_follows() => {
                    names.push(Rc::from(self.text()));
                    // (The name, then the `=`.)
                    self.advance();
                    self.advance();
                }
                // (The parse of the argument after it then stops at once, at the failed token.)
                Some(names) if !names.is_empty() => self.fail(Syntax::PositionalAfterKeyword),
                _ => {}
            }
            self.push_expr(items);
            if self.tok.kind != Kind::Comma {
                break;
            }
            self.advance();
        }
        self.close(close, outer);
    }

    /// Whether the token after the current one is an `=`, past newlines (a call's brackets skip them): the
    /// current name is then a keyword argument's, as in `f(a\n= 1)`. (Read ahead on a copy of the lexer.)
    fn assign_follows(&self) -> bool {
        let mut lexer = self.lexer.clone();
        let mut next = self.next;
        while next.kind == Kind::Newline {
            lexer.next(&mut next);
        }
        next.kind == Kind::Assign
    }

    // primary := INT | STRING | BYTES | 'true' | 'false' | 'nil' | NAME | '(' expr ')' | list | map
    //          | 'fn' '(' names? ')' block
    fn primary(&mut self) -> Expr {
        let kind = match self.tok.kind {
            Kind::Int => ExprKind::Const(Value::Int(self.int())),
            Kind::Str | Kind::Bytes => ExprKind::Const(self.literal()),
            Kind::Nil => ExprKind::Const(Value::Nil),
            Kind::False => ExprKind::Const(Value::False),
            Kind::True => ExprKind::Const(Value::True),
            Kind::Name => ExprKind::Var(self.resolve(self.text(), self.pos())),
            Kind::LParen => {
                let outer = self.open_bracket();
                let e = self.expr(1);
                self.close(Kind::RParen, outer);
                return e;
            }
            Kind::LBracket => return self.list(self.pos()),
            Kind::LBrace => return self.map(self.pos()),
            Kind::Fn => {
                let pos = self.pos();
                self.advance();
                return Expr {
                    pos,
                    kind: ExprKind::Func(self.function("fn", false)),
                };
            }
            _ => {
                self.fail(Syntax::ExpectedExpression);
                return constant(Value::Nil);
            }
        };
        // At the token still (the decoders do not move), and made before moving on.
        let e = Expr {
            pos: self.pos(),
            kind,
        };
        self.advance();
        e
    }

    // list := '[' (expr (',' expr)* ','?)? ']'
    fn list(&mut self, pos: Pos) -> Expr {
        // Boxed first and filled in place (not moved).
        let mut items = new_list();
        self.items(&mut items, None);
        Expr {
            pos,
            kind: ExprKind::List(items),
        }
    }

    // map := '{' ((NAME | STRING) ':' expr (',' (NAME | STRING) ':' expr)* ','?)? '}'
    fn map(&mut self, pos: Pos) -> Expr {
        let outer = self.open_bracket();
        // Boxed first and filled in place (not moved).
        let mut entries: Box<Vec<(Rc<str>, Expr)>> = new_list();
        while self.tok.kind != Kind::RBrace {
            if entries.len() >= MAX_MAP_ENTRIES {
                self.fail(Syntax::TooManyEntries);
            }
            let mut key: Rc<str> = match self.tok.kind {
                Kind::Name => Rc::from(self.text()),
                Kind::Str => Rc::from(self.literal().as_str().unwrap_or_default()),
                _ => {
                    self.fail(Syntax::ExpectedKey);
                    break;
                }
            };
            self.advance();
            self.expect(Kind::Colon);
            // A repeated key is the first one's `Rc`: the evaluator knows it by its address, and gives the first
            // place the later value (as Python does), every value evaluated in order.
            if let Some((first, _)) = entries.iter().find(|(k, _)| **k == *key) {
                key = first.clone();
            }
            // (Through the out-of-line push: a push of its own, inlined, cost more.)
            push(&mut entries, (key, self.expr(1)));
            if self.tok.kind != Kind::Comma {
                break;
            }
            self.advance();
        }
        self.close(Kind::RBrace, outer);
        Expr {
            pos,
            kind: ExprKind::Map(entries),
        }
    }

    fn int(&mut self) -> i64 {
        let (n, error) = parse_digits(self.text().as_bytes(), 1, true);
        if let Some(error) = error {
            self.fail(error);
        }
        n
    }

    /// The value of a string literal (what is between its quotes, escapes decoded) or of a byte string (pairs
    /// of hex digits, blanks skipped), the current token: one loop for both, as a `\x` escape is such a pair too.
    fn literal(&mut self) -> Value {
        let bytes = self.tok.kind == Kind::Bytes;
        let text = self.text().as_bytes();
        let inner = text
            .get(1 + bytes as usize..text.len().saturating_sub(1))
            .unwrap_or(&[]);
        // (The capacities are those the values are made with: the memory they hold counts it.)
        let mut out = Vec::with_capacity(if bytes { 0 } else { inner.len() });
        // The hex digits still to read of the byte being made, and what was read of it.
        let mut digits = 0;
        let mut byte = 0;
        let mut chars = inner.iter().copied();
        while let Some(c) = chars.next() {
            if bytes {
                if c.is_ascii_whitespace() {
                    continue;
                }
                if digits == 0 {
                    digits = 2;
                }
            } else if digits == 0 {
                if c != b'\\' {
                    out.push(c);
                    continue;
                }
                let e = chars.next().unwrap_or(0);
                if let Some(i) = ESCAPES.iter().position(|&letter| letter == e) {
                    out.push(ESCAPED[i]);
                    continue;
                }
                if e != b'x' {
                    self.fail(Syntax::UnknownEscape);
                    break;
                }
                digits = 2;
                continue;
            }
            let Some(d) = hex_digit(c) else {
                self.fail(if bytes {
                    Syntax::NotHexDigit
                } else {
                    Syntax::MalformedHexEscape
                });
                break;
            };
            byte = byte << 4 | d;
            digits -= 1;
            if digits == 0 {
                out.push(byte);
            }
        }
        // (After an error, a second one changes nothing: the first is reported.)
        if digits != 0 {
            self.fail(if bytes {
                Syntax::OddHexDigits
            } else {
                Syntax::MalformedHexEscape
            });
        }
        if bytes {
            return Value::bytes(out);
        }
        match String::from_utf8(out) {
            Ok(text) => Value::string(text),
            Err(_) => {
                self.fail(Syntax::NotUtf8);
                Value::Nil
            }
        }
    }
}

/// place := NAME ( '[' expr ']' | '.' NAME )*
fn is_place(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Var(_) => true,
        ExprKind::Index(base, _) => is_place(base),
        ExprKind::Field(base, _) => is_place(base),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of syntax error finds its own message in the packed table.
    #[test]
    fn each_syntax_error_finds_its_message() {
        assert_eq!(SYNTAX_KINDS.len(), MESSAGE_LIST.len());
        for (&kind, &message) in SYNTAX_KINDS.iter().zip(MESSAGE_LIST) {
            assert_eq!(kind.message(), message, "{kind:?}");
        }
        assert_eq!(
            Syntax::UnexpectedCharacter.message(),
            "unexpected character"
        );
        assert_eq!(Syntax::OddHexDigits.message(), "odd number of hex digits");
    }

    /// Each kind the grammar expects finds its own message (as each place passed it before).
    #[test]
    fn each_expected_kind_finds_its_message() {
        for (kind, message) in [
            (Kind::Name, "expected a name"),
            (Kind::LParen, "expected '('"),
            (Kind::RParen, "expected ')'"),
            (Kind::RBracket, "expected ']'"),
            (Kind::LBrace, "expected '{'"),
            (Kind::RBrace, "expected '}'"),
            (Kind::Colon, "expected ':'"),
            (Kind::Assign, "expected '='"),
            (Kind::In, "expected 'in'"),
        ] {
            assert_eq!(EXPECTED[kind as usize].message(), message, "{kind:?}");
        }
    }

    /// The table of operators follows the order of their kinds (a reordering of `Kind` must not swap them).
    #[test]
    fn each_operator_kind_finds_its_operation() {
        let table = [
            (Kind::And, 2, None),
            (Kind::Or, 1, None),
            (Kind::Eq, 4, Some(Op::Eq)),
            (Kind::Ne, 4, Some(Op::Ne)),
            (Kind::Lt, 4, Some(Op::Lt)),
            (Kind::Le, 4, Some(Op::Le)),
            (Kind::Gt, 4, Some(Op::Gt)),
            (Kind::Ge, 4, Some(Op::Ge)),
            (Kind::Plus, 5, Some(Op::Add)),
            (Kind::Minus, 5, Some(Op::Sub)),
            (Kind::Star, 6, Some(Op::Mul)),
            (Kind::Slash, 6, Some(Op::Div)),
            (Kind::Percent, 6, Some(Op::Rem)),
        ];
        for (kind, prec, op) in table {
            assert_eq!(binary_op(kind), Some((prec, op)), "{kind:?}");
        }
        for kind in [Kind::Assign, Kind::Newline, Kind::Name, Kind::Not] {
            assert_eq!(binary_op(kind), None, "{kind:?}");
        }
    }
}
