//! The evaluator: walks the resolved syntax tree. Locals live in one value stack (a frame per call), captured
//! variables in shared cells, globals in a table indexed at parse time.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use crate::ast::{Call, Capture, Expr, ExprKind, FnDef, Op, Pos, Stmt, Var};
use crate::builtins::{range_len, RANGE};
use crate::value::{
    copy, discard, equal, hand_over, held_bytes, put, relay, take, take_steps, Closure, Steps,
    Value, ITEM_BYTES,
};
use crate::{Platform, ScriptError, BYTES_PER_STEP, MAX_CALL_DEPTH, POLL_STEPS};

/// The evaluator's result: a value, or an error raised, which waits in [`Machine::error`]. A result of a value
/// or this marker is a value's two words, which come back in registers; a `Result` that held the error came back
/// through memory, at every node the evaluator walks.
pub(crate) type R<T> = Result<T, Raised>;
/// An error was raised: [`Machine::error`] holds it.
#[derive(Debug)]
pub(crate) struct Raised;
/// An error without a position yet: the node that sees it adds its own.
pub(crate) type Fault = String;

/// A message made of parts (cheaper in code than `format!`). Out of line on the host; the payload lets the
/// compiler place it (measured smaller).
#[cold]
#[cfg_attr(feature = "std", inline(never))]
pub(crate) fn fault(parts: &[&str]) -> Fault {
    parts.concat()
}

/// Gives an error the file it happened in, if it has none yet.
#[cold]
#[inline(never)]
pub(crate) fn in_file(e: &mut ScriptError, file: &str) {
    if e.file.is_empty() {
        e.file.push_str(file);
    }
}

/// A runtime error at no position yet (the call adds its own).
#[cold]
#[inline(never)]
pub(crate) fn error(message: Fault) -> Box<ScriptError> {
    runtime_error(message, Pos::default())
}

/// A runtime error at `pos` (line 0: at no position yet).
#[cold]
#[inline(never)]
pub(crate) fn runtime_error(message: Fault, pos: Pos) -> Box<ScriptError> {
    Box::new(ScriptError {
        file: String::new(),
        line: pos.line,
        col: pos.col,
        message,
        kind: crate::ErrorKind::Runtime,
        incomplete: false,
        fatal: false,
    })
}

const OUT_OF_MEMORY: &str = "out of memory: the script holds too much";

/// How a statement ended. The error is a case of its own (rather than `Result<Flow, _>`), so that this is one
/// byte. `Normal` and `Continue` come first: a loop goes on after either, which one comparison then tells.
pub(crate) enum Flow {
    Normal,
    Continue,
    Break,
    Return,
    /// An error was raised: [`Machine::error`] holds it.
    Error,
}

/// `?` for functions that return a [`Flow`].
macro_rules! attempt {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(Raised) => return Flow::Error,
        }
    };
}

/// The running state: owned by the interpreter between runs, lent to the machine during one.
// In the payload, in this order (`repr(C)`): the fields the evaluator uses most come first, where their offsets
// take one byte in an instruction (past 127 they take four). The host keeps the compiler's order, which
// measured a little faster.
#[cfg_attr(not(feature = "std"), repr(C))]
pub(crate) struct Machine<'p> {
    pub stack: Vec<Value>,
    pub base: usize,
    pub closure: Option<Rc<Closure>>,
    pub ret: Value,
    /// The interpreter's globals, lent: the run made a place for each before it began (a run adds none).
    pub globals: &'p mut [Option<Value>],
    /// The steps the script may still take (a countdown: one field, and a test against zero).
    pub steps_left: u64,
    /// The error raised last (see [`Raised`]); a cell, so that code that only reads the machine can raise one.
    pub error: Cell<Option<Box<ScriptError>>>,
    pub depth: u32,
    /// A comparison stopped for Ctrl-C (see the [`Steps`] of a machine), which also ended the step budget. (Here,
    /// beside `depth`, in the room it leaves before the next word: an offset of one byte.)
    pub stopped: bool,
    pub platform: &'p mut dyn Platform,
    /// The lowest address nested calls may take the native stack to: where `run` was, less its stack limit
    /// (one field and one comparison per call, rather than the distance from the top and the limit).
    pub stack_floor: usize,
    pub memory_limit: usize,
    /// The globals' names, read only by an error: the list itself is lent (one word, where a slice of it is two
    /// that `run` stores and an error reads at four-byte offsets, past the first 128 bytes).
    pub global_names: &'p Vec<Rc<str>>,
}

/// A comparison's steps are the script's: it looks for Ctrl-C as [`Machine::step`] does, when the count passes a
/// multiple of [`POLL_STEPS`] (one comparison can take billions of them: `a = [a, a]` forty times over).
impl Steps for Machine<'_> {
    fn take(&mut self, n: usize) -> Option<()> {
        let before = self.steps_left;
        take_steps(&mut self.steps_left, n)?;
        // (The bits above POLL_STEPS's differ.)
        if (before ^ self.steps_left) >= POLL_STEPS && self.platform.interrupted() {
            // Ended as the budget ends (see `Machine::exhausted`).
            (self.stopped, self.steps_left) = (true, 0);
            return None;
        }
        Some(())
    }
}

/// Where a variable is (see `Machine::locate`).
enum Place<'a> {
    /// A slot of the frame or a global.
    Slot(&'a mut Value),
    /// The cell of a captured variable.
    Cell(&'a RefCell<Value>),
}

/// Where this function's frame is on the native stack (to measure how much of it the script uses).
#[inline(always)]
pub(crate) fn stack_address() -> usize {
    let marker = 0u8;
    core::ptr::addr_of!(marker) as usize
}

/// Index `i` (negative: from the end) into a sequence of `len`.
pub(crate) fn index_in(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    if i >= 0 && (i as usize) < len {
        Some(i as usize)
    } else {
        None
    }
}

/// The `i`th item (negative: from the end) of a list, bytes or str, for an index and for a `for` (which walks
/// a str by an iterator of its own, kept from turn to turn), or the `i`th key of a map, for a `for`: one copy
/// of the way to an item for both in the payload (inlined on the host, a call less per turn of a `for`).
#[cfg_attr(feature = "std", inline(always))]
#[cfg_attr(not(feature = "std"), inline(never))]
fn nth(seq: &Value, i: i64) -> Option<Value> {
    match seq {
        Value::List(l) => {
            let items = l.items.borrow();
            index_in(i, items.len()).map(|i| dup(&items[i]))
        }
        Value::Bytes(b) => index_in(i, b.0.len()).map(|i| Value::Int(b.0[i] as i64)),
        // One walk to the char (the chars are counted first only for an index from the end).
        Value::Str(t) => {
            let mut chars = t.0.chars();
            let mut left = if i < 0 {
                i + chars.clone().count() as i64
            } else {
                i
            };
            loop {
                let c = chars.next()?;
                if left == 0 {
                    return Some(char_value(c));
                }
                left -= 1;
            }
        }
        // (Only a `for` asks a map: its keys in order.)
        Value::Map(m) => m
            .entries
            .borrow()
            .get(i as usize)
            .map(|(k, _)| Value::str(k)),
        _ => None,
    }
}

/// A str of one character (as a `for` over a str and an index into one make it).
#[inline(never)]
fn char_value(c: char) -> Value {
    let mut s = String::new();
    s.push(c);
    hand_over!(take_string, s)
}

/// A new cell for a captured variable (out of line on the host: the value is passed in registers, where
/// `Rc::new` takes the cell through memory). Inline in `declare`, its one caller, in the payload (measured
/// smaller).
#[cfg_attr(feature = "std", inline(never))]
#[cfg_attr(not(feature = "std"), inline(always))]
fn new_cell(v: Value) -> Rc<RefCell<Value>> {
    Rc::new(RefCell::new(v))
}

/// A copy of a value: with an int copied inline on the host (see `copy`); the payload calls `clone`, for size.
#[inline(always)]
fn dup(v: &Value) -> Value {
    if cfg!(feature = "std") {
        copy(v)
    } else {
        v.clone()
    }
}

/// Stores a value just made: by `put` on the host (see there); the payload assigns, for size.
#[inline(always)]
fn store(slot: &mut Value, v: Value) {
    if cfg!(feature = "std") {
        put(slot, v)
    } else {
        *slot = v
    }
}

/// Whether a value is true, consuming it with scalars dropped inline.
#[inline(always)]
fn truth(v: Value) -> bool {
    let t = v.truthy();
    discard(v);
    t
}

impl Machine<'_> {
    /// Drops the stack down to `base`, scalars inline on the host (the payload calls `truncate`, for size).
    #[inline(always)]
    pub(crate) fn pop_to(&mut self, base: usize) {
        if !cfg!(feature = "std") {
            self.stack.truncate(base);
            return;
        }
        while self.stack.len() > base {
            if let Some(v) = self.stack.pop() {
                discard(v);
            }
        }
    }

    /// Raises an error.
    #[cold]
    #[inline(never)]
    pub(crate) fn raise(&self, e: Box<ScriptError>) -> Raised {
        self.error.set(Some(e));
        Raised
    }

    /// Raises an error at no position yet (the call adds its own).
    #[cold]
    #[inline(never)]
    pub(crate) fn fail(&self, message: Fault) -> Raised {
        self.raise(error(message))
    }

    /// Raises an error at `pos` (line 0: at no position yet), its message made of `parts` here (rather than
    /// by each caller).
    #[cold]
    #[inline(never)]
    pub(crate) fn at(&self, parts: &[&str], pos: Pos) -> Raised {
        self.raise(runtime_error(fault(parts), pos))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at_str(&self, message: &str, pos: Pos) -> Raised {
        self.at(&[message], pos)
    }

    /// Raises an error at `pos` about the type of `v`: `message` then the type's name.
    #[cold]
    #[inline(never)]
    fn wrong(&self, message: &str, v: &Value, pos: Pos) -> Raised {
        self.at(&[message, v.type_name()], pos)
    }

    /// Gives the raised error the position of the node it passes through, if it has none yet.
    #[cold]
    #[inline(never)]
    fn place(&mut self, pos: Pos) -> Raised {
        if let Some(e) = self.error.get_mut() {
            if e.line == 0 {
                e.line = pos.line;
                e.col = pos.col;
            }
        }
        Raised
    }

    /// Refuses to let the script hold `bytes` more past its memory limit: the error at `pos`. Making them is work,
    /// counted as a step per [`BYTES_PER_STEP`] (for the step budget, and for Ctrl-C, which a loop that makes large
    /// values would otherwise wait long for: see the [`Steps`] of a machine).
    #[inline(never)]
    pub(crate) fn hold(&mut self, bytes: usize, pos: Pos) -> R<()> {
        self.fits(bytes, pos)?;
        if self.take(bytes / BYTES_PER_STEP).is_none() {
            return Err(self.exhausted(pos));
        }
        Ok(())
    }

    /// Counts the work of a search in `v` (see [`Value::extent`]) as a step per [`BYTES_PER_STEP`], as making
    /// values is counted. Past the budget, or at Ctrl-C, the script stops at its next step (a loop's turn, a
    /// call): the search itself is done by then, and it has no way out of its own to keep.
    pub(crate) fn walk(&mut self, v: &Value) {
        self.walk_over(v.extent());
    }

    /// Counts the work of a walk over `bytes` bytes (of a search, or of a bytes' or a str's), as [`Machine::walk`]
    /// does.
    #[inline(never)]
    pub(crate) fn walk_over(&mut self, bytes: usize) {
        let _ = self.take(bytes / BYTES_PER_STEP);
    }

    /// Refuses to let the script hold `bytes` more past its memory limit (the error at `pos`), without counting
    /// them as work: for a value checked again and again as it grows, whose work is counted once it is made.
    pub(crate) fn fits(&mut self, bytes: usize, pos: Pos) -> R<()> {
        if self.too_much(bytes) {
            return Err(self.at_str(OUT_OF_MEMORY, pos));
        }
        Ok(())
    }

    /// How many bytes more the script may hold.
    pub(crate) fn room_left(&self) -> usize {
        self.memory_limit.saturating_sub(held_bytes())
    }

    /// Whether holding `bytes` more would take the script past its memory limit.
    fn too_much(&self, bytes: usize) -> bool {
        held_bytes().saturating_add(bytes) > self.memory_limit
    }

    /// Whether two values are equal (`==`): `None` when they nest too deeply. The lists and maps it compares take
    /// steps (see [`equal`]); past the budget, the error at `pos`.
    #[inline(always)]
    pub(crate) fn same(&mut self, a: &Value, b: &Value, pos: Pos) -> R<Option<bool>> {
        let same = equal(a, b, 0, self);
        if same.is_none() && self.steps_left == 0 {
            return Err(self.exhausted(pos));
        }
        Ok(same)
    }

    /// Counts a step (a loop's turn, a call). Every [`POLL_STEPS`] steps (the one test the hot path makes, as
    /// the count reaches 0 at a multiple of it), [`Self::poll`]: past the budget or interrupted, an error at `pos`.
    #[inline(always)]
    fn step(&mut self, pos: Pos) -> R<()> {
        if self.steps_left.is_multiple_of(POLL_STEPS) {
            self.poll(pos)?;
        }
        self.steps_left -= 1;
        Ok(())
    }

    /// Stops the script when its step budget is spent or the user interrupted it (see
    /// [`crate::Platform::interrupted`]).
    #[cold]
    #[inline(never)]
    fn poll(&mut self, pos: Pos) -> R<()> {
        if self.steps_left == 0 {
            return Err(self.exhausted(pos));
        }
        self.interruption(pos)
    }

    /// Stops the script when the user interrupted it (see [`crate::Platform::interrupted`]).
    #[cold]
    #[inline(never)]
    pub(crate) fn interruption(&mut self, pos: Pos) -> R<()> {
        if self.platform.interrupted() {
            return Err(self.fatal("interrupted (Ctrl-C)", pos));
        }
        Ok(())
    }

    /// The error of a script past its step budget, or of a comparison stopped by Ctrl-C (which ends the budget).
    fn exhausted(&mut self, pos: Pos) -> Raised {
        let message = if self.stopped {
            "interrupted (Ctrl-C)"
        } else {
            "step budget exhausted"
        };
        self.fatal(message, pos)
    }

    /// An error that stops the script: fatal (a `try` does not catch it).
    #[cold]
    #[inline(never)]
    fn fatal(&mut self, message: &str, pos: Pos) -> Raised {
        // Raised as any error at a place, then made fatal where it lies.
        let raised = self.at_str(message, pos);
        if let Some(e) = self.error.get_mut() {
            e.fatal = true;
        }
        raised
    }

    /// The error of a global read or written before it is defined: inline in `locate`, its one caller, in the
    /// payload (for size).
    #[cold]
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn unknown(&self, global: u32, pos: Pos) -> Raised {
        let name = self.global_names.get(global as usize).map_or("?", |n| n);
        self.at(&["unknown name '", name, "'"], pos)
    }

    /// Where a variable's value is, for `read` and `write` (one way to each kind of variable for both), or the
    /// error of an unknown global. A captured variable (of this frame or of the running closure) is in its cell.
    /// Parsed code names no place out of reach (a frame has a slot for each of its locals, made by the run or the
    /// call; a closure has an upvalue for each capture, and each is a cell, since `capture` takes the cell of a
    /// local the parser marked captured before the code ran, or that of the enclosing closure):
    /// the machine's `ret` stands for such a place, rather than a kind of place of its own that each read and
    /// write would test for.
    /// Inlined on the host (a call less per read and assignment); the payload keeps one copy, for size.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline(never))]
    fn locate(&mut self, var: Var, pos: Pos) -> R<Place<'_>> {
        let slot = match var {
            Var::Local(slot) => self.stack.get_mut(self.base + slot as usize),
            Var::Upvalue(i) => {
                return Ok(
                    match self
                        .closure
                        .as_ref()
                        .and_then(|c| c.upvalues.get(i as usize))
                    {
                        Some(Value::Cell(c)) => Place::Cell(c),
                        _ => Place::Slot(&mut self.ret),
                    },
                )
            }
            Var::Global(g) => {
                if !matches!(self.globals.get(g as usize), Some(Some(_))) {
                    return Err(self.unknown(g, pos));
                }
                self.globals.get_mut(g as usize).and_then(Option::as_mut)
            }
        };
        Ok(match slot {
            Some(Value::Cell(c)) => Place::Cell(c),
            Some(v) => Place::Slot(v),
            None => Place::Slot(&mut self.ret),
        })
    }

    /// The value of a variable.
    #[inline(always)]
    fn read(&mut self, var: Var, pos: Pos) -> R<Value> {
        Ok(match self.locate(var, pos)? {
            Place::Slot(v) => dup(v),
            Place::Cell(c) => c.borrow().clone(),
        })
    }

    #[cfg_attr(not(feature = "std"), inline(always))]
    fn write(&mut self, var: Var, value: Value, pos: Pos) -> R<()> {
        match self.locate(var, pos)? {
            Place::Slot(slot) => store(slot, value),
            // (The old value dropped once the cell is let go: its drop cannot reach the cell.)
            Place::Cell(c) => drop(c.replace(value)),
        }
        Ok(())
    }

    /// Declares a variable: a fresh cell when a closure captures it, so each declaration (and each loop
    /// iteration) binds a new variable.
    fn declare(&mut self, var: Var, captured: bool, value: Value) {
        let value = if captured {
            Value::Cell(new_cell(value))
        } else {
            value
        };
        // Indexed: the frame has a slot for each of its locals, and every global the script names has its place
        // (the run made them all after the parse). A declaration is never of a captured variable of the closure
        // (taken as a global here, for one test less).
        match var {
            Var::Local(slot) => store(&mut self.stack[self.base + slot as usize], value),
            Var::Global(g) | Var::Upvalue(g) => self.globals[g as usize] = Some(value),
        }
    }

    /// Runs a block, then lets go of its locals (see [`Self::let_go`]).
    pub fn block(&mut self, body: &[Stmt]) -> Flow {
        let flow = self.statements(body);
        self.let_go(body);
        flow
    }

    /// Runs statements until one does not end normally. A function's body and the file's top level run so:
    /// the frame goes with the call, and the top level's names are globals.
    pub fn statements(&mut self, body: &[Stmt]) -> Flow {
        for stmt in body {
            let flow = self.exec(stmt);
            if !matches!(flow, Flow::Normal) {
                return flow;
            }
        }
        Flow::Normal
    }

    /// Lets go of the values of the locals a block declared, as it ends (however it ends): out of sight, they
    /// no longer count against the memory limit, and a passphrase held in one is freed (and wiped) now, not
    /// when the slot is used again or the function returns. (Those of the file's top level are globals.) Out of
    /// line on the host; in `block`, its one caller, in the payload (measured smaller).
    #[cfg_attr(feature = "std", inline(never))]
    fn let_go(&mut self, body: &[Stmt]) {
        for stmt in body {
            if let Stmt::Let { var, .. } | Stmt::LetFn { var, .. } = stmt {
                self.clear(*var);
            }
        }
    }

    /// Puts nil in a local's slot (a global is left as it is).
    fn clear(&mut self, var: Var) {
        if let Var::Local(slot) = var {
            store(&mut self.stack[self.base + slot as usize], Value::Nil);
        }
    }

    fn exec(&mut self, stmt: &Stmt) -> Flow {
        match stmt {
            // An expression's value is kept as the line's value (the shell prints it); a return's is the result.
            Stmt::Expr(e) | Stmt::Return(e) => {
                let v = attempt!(self.operand(e));
                store(&mut self.ret, v);
                if let Stmt::Return(_) = stmt {
                    return Flow::Return;
                }
            }
            Stmt::Let {
                var,
                captured,
                value,
            }
            | Stmt::LetFn {
                var,
                captured,
                value,
            } => {
                // A function that calls itself must find its own name bound while it is being made (bound
                // early whether a closure captured it or not: making a function reads no uncaptured variable,
                // and one test is less code).
                let early = matches!(stmt, Stmt::LetFn { .. });
                if early {
                    self.declare(*var, *captured, Value::Nil);
                }
                if early {
                    // (A function is made: no `+` to append.)
                    attempt!(self.set(*var, value, value.pos));
                } else {
                    let v = attempt!(self.eval(value));
                    self.declare(*var, *captured, v);
                }
            }
            Stmt::Assign(target, value) => attempt!(self.assign(target, value)),
            Stmt::If(arms) => {
                for (cond, body) in arms {
                    if attempt!(self.test(cond)) {
                        // `if ... { return x }` returns without a call of `block` on the host (the payload
                        // calls it, for size).
                        if let ([Stmt::Return(e)], true) = (&body[..], cfg!(feature = "std")) {
                            let v = attempt!(self.operand(e));
                            store(&mut self.ret, v);
                            return Flow::Return;
                        }
                        return self.block(body);
                    }
                }
            }
            // Here on the host (a call less per loop); the payload lets the loop of `for` take its turns, for
            // size.
            Stmt::While(cond, body) if cfg!(feature = "std") => {
                while attempt!(self.test(cond)) {
                    attempt!(self.step(cond.pos));
                    match self.block(body) {
                        Flow::Break => break,
                        Flow::Normal | Flow::Continue => {}
                        other => return other,
                    }
                }
            }
            Stmt::While(..) | Stmt::For { .. } | Stmt::Try { .. } => return self.exec_rare(stmt),
            Stmt::Break => return Flow::Break,
            Stmt::Continue => return Flow::Continue,
        }
        Flow::Normal
    }

    /// `for`, `try` and, in the payload, `while`: on the host out of line, so that `exec`'s frame stays small;
    /// the payload has them in `block`, its one caller, for size (its frame then takes 64 bytes more, per nested
    /// block, well within the stack the payload lets calls use).
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn exec_rare(&mut self, stmt: &Stmt) -> Flow {
        match stmt {
            // A `while` takes its turns in the loop of a `for` (one loop: the step and the block's flow once),
            // its condition tested where a `for` takes its next item. `head`: the iterable or the condition.
            Stmt::While(head, body)
            | Stmt::For {
                iterable: head,
                body,
                ..
            } => {
                let is_for = matches!(stmt, Stmt::For { .. });
                // On the host, a `for` over a range of int leaves walks the ints; the payload makes the list (the
                // same checks, the same bytes counted), for size.
                let mut ints = if cfg!(feature = "std") && is_for {
                    self.range_bounds(head)
                } else {
                    None
                };
                let bytes = ints.map_or(0, |(a, b)| range_len(a, b).saturating_mul(ITEM_BYTES));
                let seq = match ints {
                    Some(_) => {
                        attempt!(self.hold(bytes, head.pos));
                        Value::Nil
                    }
                    None if is_for => attempt!(self.eval(head)),
                    None => Value::Nil,
                };
                // The bytes the list of a `range` would hold are held while the loop runs (nothing to hold
                // otherwise: the payload has no count to make).
                let _held = ints.map(|_| Held::new(bytes));
                // A str's characters are walked by one iterator, kept from turn to turn.
                let mut chars = match &seq {
                    Value::Str(t) => t.0.chars(),
                    _ => "".chars(),
                };
                let mut i = 0usize;
                // (The loop's flow once it ends, its variable let go of in one place.)
                let flow = loop {
                    if let Stmt::For { var, captured, .. } = stmt {
                        let item = match &seq {
                            _ if ints.is_some() => match ints {
                                Some((a, b)) if a < b => {
                                    ints = Some((a + 1, b));
                                    Some(Value::Int(a))
                                }
                                _ => None,
                            },
                            Value::Str(_) => chars.next().map(char_value),
                            Value::List(_) | Value::Bytes(_) | Value::Map(_) => nth(&seq, i as i64),
                            other => {
                                self.wrong("cannot iterate over ", other, head.pos);
                                return Flow::Error;
                            }
                        };
                        let Some(item) = item else {
                            break Flow::Normal;
                        };
                        i += 1;
                        self.declare(Var::Local(*var), *captured, item);
                    } else if !attempt!(self.test(head)) {
                        break Flow::Normal;
                    }
                    // (A `for` takes the step after the item is bound: when the budget is out, the frame drops
                    // the item with the rest (the error is fatal), and there is no drop of it here.)
                    attempt!(self.step(head.pos));
                    match self.block(body) {
                        Flow::Break => break Flow::Normal,
                        Flow::Normal | Flow::Continue => {}
                        other => break other,
                    }
                };
                // A `for`'s variable, as the loop ends: as a block's locals (see [`Self::let_go`]).
                if let Stmt::For { var, .. } = stmt {
                    self.clear(Var::Local(*var));
                }
                return flow;
            }
            Stmt::Try {
                body,
                var,
                captured,
                handler,
            } => {
                // A call gives back the frame base, depth and closure as it returns, with an error too; only
                // the stack may still hold what an unfinished expression pushed (the arguments of a call).
                let stack = self.stack.len();
                let result = self.block(body);
                if let Flow::Error = result {
                    // A fatal error stays raised.
                    if let Some(mut e) = self.error.get_mut().take_if(|e| !e.fatal) {
                        self.stack.truncate(stack);
                        let message = Value::take_string(&mut e.message);
                        self.declare(Var::Local(*var), *captured, message);
                        let flow = self.block(handler);
                        self.clear(Var::Local(*var));
                        return flow;
                    }
                }
                return result;
            }
            _ => {}
        }
        Flow::Normal
    }

    /// The bounds of `range(...)` of int leaves (constants, locals holding ints): a `for` over it walks them
    /// without making the list. The list is still checked and counted as if it were made (see `Held`): the
    /// script sees no difference, as the list is out of its reach. Leaves have no effects, so looking at them
    /// first changes nothing when the loop goes the general way.
    fn range_bounds(&self, e: &Expr) -> Option<(i64, i64)> {
        let ExprKind::Call(call) = &e.kind else {
            return None;
        };
        let ExprKind::Var(Var::Global(g)) = call.callee.kind else {
            return None;
        };
        let range = matches!(
            self.globals.get(g as usize),
            Some(Some(Value::Builtin(RANGE)))
        );
        if !range || !call.names.is_empty() {
            return None;
        }
        match &call.args[..] {
            [n] => self.int_leaf(n).map(|n| (0, n)),
            [a, b] => self.int_leaf(a).zip(self.int_leaf(b)),
            _ => None,
        }
    }

    /// An assignment: inline in `exec`, its one caller, in the payload (measured smaller); out of line on the
    /// host.
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn assign(&mut self, target: &Expr, value: &Expr) -> R<()> {
        match &target.kind {
            ExprKind::Var(var) => self.set(*var, value, target.pos),
            // An item or a field (the parser lets no other place through: `item` does nothing with another).
            // (A store gives back a nil: nothing to drop.)
            _ => self.item(target, Some(value)).map(core::mem::forget),
        }
    }

    /// `var = value`, for an assignment and for `fn NAME` once its name is bound (`pos`: where an unknown global
    /// is named): one copy of `write`, inlined here in the payload.
    #[inline(never)]
    fn set(&mut self, var: Var, value: &Expr, pos: Pos) -> R<()> {
        if let (Var::Local(slot), ExprKind::Binary(Op::Add, ..)) = (var, &value.kind) {
            let holds_str = matches!(
                self.stack.get(self.base + slot as usize),
                Some(Value::Str(_))
            );
            if holds_str && self.append(slot, value)? {
                return Ok(());
            }
        }
        let v = self.eval(value)?;
        self.write(var, v, pos)
    }

    /// `s = s + a + b ...` on a local str that nothing else holds appends in place, so that building a string in
    /// a loop takes linear time. The parts are evaluated first, in order, each checked as `+` would; they cannot
    /// change the local (only a closure could, and then it would be a cell). Returns false when this does not
    /// apply (the normal way then evaluates everything). Inline in `assign`, its one caller, in the payload (for
    /// size), out of line on the host (a smaller frame for `assign`).
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn append(&mut self, slot: u32, value: &Expr) -> R<bool> {
        let index = self.base + slot as usize;
        // The parts wait on the stack; an error leaves them to whoever unwinds it, as it does a call's arguments.
        let top = self.stack.len();
        let Some(total) = self.parts(value, slot)? else {
            return Ok(false);
        };
        self.hold(total, value.pos)?;
        let (frame, parts) = self.stack.split_at_mut(top);
        while let Some(Value::Str(text)) = frame.get_mut(index) {
            let Some(t) = Rc::get_mut(text) else {
                // Shared: a copy of its own, with room for the parts (then appended to as the next turn).
                let mut s = String::with_capacity(text.0.len() + total);
                s.push_str(&text.0);
                frame[index] = hand_over!(take_string, s);
                continue;
            };
            let before = t.0.capacity();
            for part in parts.iter() {
                if let Value::Str(p) = part {
                    t.0.push_str(&p.0);
                }
            }
            crate::value::count(t.0.capacity(), before);
            break;
        }
        self.pop_to(top);
        Ok(true)
    }

    /// Pushes the right operands of `value`, a chain of `+` nested to the left (`((s + a) + b) + ...`), in
    /// order, each checked to be a str as `+` would, when the chain starts at the local `slot`: their length
    /// then; none, with nothing evaluated, when it starts elsewhere. (A recursion as deep as the chain, in
    /// frames smaller than those of `arithmetic`, which the normal way nests as deep.)
    #[inline(never)]
    fn parts(&mut self, value: &Expr, slot: u32) -> R<Option<usize>> {
        let ExprKind::Binary(Op::Add, left, right) = &value.kind else {
            return Ok(
                matches!(value.kind, ExprKind::Var(Var::Local(s)) if s == slot).then_some(0),
            );
        };
        let Some(total) = self.parts(left, slot)? else {
            return Ok(None);
        };
        let part = self.eval(right)?;
        let Value::Str(p) = &part else {
            return Err(self.wrong("cannot add str and ", &part, value.pos));
        };
        let total = total + p.0.len();
        self.stack.push(part);
        Ok(Some(total))
    }

    /// Stores `v` under `key` in a list or map: inline in `item`, its one caller, in the payload (as `append`).
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn set_item(&mut self, container: &Value, key: Value, v: Value, pos: Pos) -> R<()> {
        let (message, what) = match (container, &key) {
            (Value::List(l), Value::Int(i)) => {
                let mut items = l.items.borrow_mut();
                let len = items.len();
                match index_in(*i, len) {
                    Some(i) => items[i] = v,
                    None => return Err(self.at_str("index out of range", pos)),
                }
                return Ok(());
            }
            (Value::Map(m), Value::Str(k)) => {
                // (A new entry's key is counted too: see `Map::recount`.)
                self.hold(ITEM_BYTES + k.0.len(), pos)?;
                m.set(&k.0, v);
                return Ok(());
            }
            (Value::List(_), _) => ("a list index must be an int, not ", &key),
            (Value::Map(_), _) => ("a map key must be a str, not ", &key),
            _ => ("cannot assign into ", container),
        };
        Err(self.wrong(message, what, pos))
    }

    /// The truth of a condition: on the host, a comparison of int leaves (`i < n`) is decided without a call
    /// of `eval` and a bool value; the payload asks `eval`. Inlined into `if` and `while` (a call less per test
    /// on the host; in the payload, where a test is a call of `eval` and a drop, that is smaller too).
    #[inline(always)]
    fn test(&mut self, e: &Expr) -> R<bool> {
        if let (ExprKind::Binary(op, left, right), true) = (&e.kind, cfg!(feature = "std")) {
            if !matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem) {
                if let (Some(x), Some(y)) = (self.int_leaf(left), self.int_leaf(right)) {
                    return Ok(compare(*op, x, y));
                }
            }
        }
        Ok(truth(self.eval(e)?))
    }

    /// The int a leaf (an int constant, or a local that holds an int) stands for.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline(never))]
    fn int_leaf(&self, e: &Expr) -> Option<i64> {
        match &e.kind {
            ExprKind::Const(Value::Int(i)) => Some(*i),
            ExprKind::Var(Var::Local(slot)) => match self.stack.get(self.base + *slot as usize) {
                Some(Value::Int(i)) => Some(*i),
                _ => None,
            },
            _ => None,
        }
    }

    /// Evaluates an operand: on the host, leaves (constants and locals) and int operations of int leaves here,
    /// operations and calls straight in their own functions, the rest through `eval`, all inlined; in the
    /// payload, `eval`.
    #[inline(always)]
    fn operand(&mut self, e: &Expr) -> R<Value> {
        // The payload lets `eval`, which does the same (and goes on to `arithmetic` and `call_expr` by a jump),
        // do it all: one copy, for size.
        if !cfg!(feature = "std") {
            return self.eval(e);
        }
        match &e.kind {
            ExprKind::Const(v) => Ok(copy(v)),
            ExprKind::Var(Var::Local(slot)) => {
                Ok(match self.stack.get(self.base + *slot as usize) {
                    Some(Value::Cell(c)) => c.borrow().clone(),
                    Some(v) => copy(v),
                    None => Value::Nil,
                })
            }
            // Int leaves without a call of `arithmetic` (as in `f(n - 1)`).
            ExprKind::Binary(op, left, right) => {
                if let (Some(x), Some(y)) = (self.int_leaf(left), self.int_leaf(right)) {
                    if let Some(v) = quick(*op, x, y) {
                        return Ok(v);
                    }
                }
                self.arithmetic(e)
            }
            ExprKind::Call(..) => self.call_expr(e),
            _ => self.eval(e),
        }
    }

    /// Evaluates an expression. Leaves are read here; everything else goes on to functions of their own, by a
    /// jump: `eval` then needs no frame (a frame less per nesting level), and each node pays only for the frame
    /// it needs. (`not`, `and` and `or`, which would need one here, are among the rare ones in the payload.)
    pub fn eval(&mut self, e: &Expr) -> R<Value> {
        Ok(match &e.kind {
            ExprKind::Const(v) => dup(v),
            ExprKind::Var(var) => self.read(*var, e.pos)?,
            ExprKind::Binary(..) => return self.arithmetic(e),
            ExprKind::Call(..) => return self.call_expr(e),
            ExprKind::Index(..) | ExprKind::Field(..) => return self.item(e, None),
            // Here on the host (a call less for the conditions made of them).
            ExprKind::Not(first) | ExprKind::And(first, _) | ExprKind::Or(first, _)
                if cfg!(feature = "std") =>
            {
                return self.logic(e, first)
            }
            _ => return self.eval_rare(e),
        })
    }

    /// `x[i]` and `x.name` (a field is read as the item of its name, a constant key, with an error of its own),
    /// read, or given the value of `value` (then a nil comes back): the container, the key, the value. One
    /// function for both, which find the item alike. When both are leaves (constants, or locals that are not
    /// captured cells), the host reads the item where they are: no reference to the list or map is taken and
    /// dropped.
    #[inline(never)]
    fn item(&mut self, e: &Expr, value: Option<&Expr>) -> R<Value> {
        let (base, index) = match &e.kind {
            ExprKind::Index(base, index) | ExprKind::Field(base, index) => (&**base, &**index),
            _ => return Ok(Value::Nil),
        };
        // On the host (the payload takes the general way, for size).
        // (Not for a str or map big enough to take a step to search: that one the general way charges.)
        if let (Some(container), Some(key), None, true) = (
            self.leaf(base),
            self.leaf(index),
            value,
            cfg!(feature = "std"),
        ) {
            if container.extent() < BYTES_PER_STEP {
                return self.index(container, key, e);
            }
        }
        let container = self.eval(base)?;
        // A str is walked to the char, a map searched for the key: work that grows with their size.
        self.walk(&container);
        let key = self.eval(index)?;
        if let Some(value) = value {
            let v = self.eval(value)?;
            self.set_item(&container, key, v, e.pos)?;
            return Ok(Value::Nil);
        }
        self.index(&container, &key, e)
    }

    /// The value of a leaf where it is: a constant, or a local that is not a captured cell.
    fn leaf<'a>(&'a self, e: &'a Expr) -> Option<&'a Value> {
        match &e.kind {
            ExprKind::Const(v) => Some(v),
            ExprKind::Var(Var::Local(slot)) => match self.stack.get(self.base + *slot as usize) {
                Some(Value::Cell(_)) => None,
                v => v,
            },
            _ => None,
        }
    }

    /// A binary operation: the common int cases here on the host, everything else (and every error) in
    /// `binary`.
    #[inline(never)]
    fn arithmetic(&mut self, e: &Expr) -> R<Value> {
        let ExprKind::Binary(op, left, right) = &e.kind else {
            return Ok(Value::Nil);
        };
        // Int leaves are read as ints (no value is made, so none is copied through memory); a leaf has no
        // effects, so reading both before either is evaluated changes nothing. On the host (the payload takes
        // the general way, for size).
        if let (Some(x), Some(y), true) = (
            self.int_leaf(left),
            self.int_leaf(right),
            cfg!(feature = "std"),
        ) {
            if let Some(v) = quick(*op, x, y) {
                return Ok(v);
            }
        }
        let a = self.operand(left)?;
        let b = self.operand(right)?;
        // Ints without a call of `binary` on the host (the payload lets `binary` do them, for size).
        if let (Value::Int(x), Value::Int(y), true) = (&a, &b, cfg!(feature = "std")) {
            if let Some(v) = quick(*op, *x, *y) {
                core::mem::forget(a);
                core::mem::forget(b);
                return Ok(v);
            }
        }
        let v = self.binary(e, a, b);
        // Relayed on the host (see `relay`); the payload passes it on as it is, for size.
        if cfg!(feature = "std") {
            v.map(relay)
        } else {
            v
        }
    }

    /// A call: the callee, then the arguments (straight onto the stack, where the positional ones become the
    /// callee's first slots; the keyword ones follow them, and the call binds them by their names).
    #[inline(never)]
    fn call_expr(&mut self, e: &Expr) -> R<Value> {
        let ExprKind::Call(call) = &e.kind else {
            return Ok(Value::Nil);
        };
        let Call {
            callee,
            args,
            names,
        } = &**call;
        // A named function is read here rather than through `eval` on the host (a call saved per call; the
        // payload makes it, for size).
        let f = match callee.kind {
            ExprKind::Var(Var::Global(g)) if cfg!(feature = "std") => {
                match self.globals.get(g as usize) {
                    Some(Some(Value::Func(f))) => Value::Func(f.clone()),
                    Some(Some(Value::Builtin(b))) => Value::Builtin(*b),
                    _ => self.eval(callee)?,
                }
            }
            _ => self.eval(callee)?,
        };
        let base = self.stack.len();
        for arg in args {
            let v = self.operand(arg)?;
            self.stack.push(v);
        }
        self.call(f, base, names)
            .map_err(|Raised| self.place(e.pos))
    }

    /// `not`, `and`, `or` and `-x`: in `eval_rare` (`not`, `and` and `or` in `eval` on the host). Their first
    /// operands lie alike: one evaluation of it for all.
    #[inline(always)]
    fn logic(&mut self, e: &Expr, first: &Expr) -> R<Value> {
        let a = self.eval(first)?;
        Ok(match &e.kind {
            ExprKind::And(_, right) | ExprKind::Or(_, right) => {
                // `and` stops at a false value, `or` at a true one.
                if a.truthy() == matches!(e.kind, ExprKind::Or(..)) {
                    return Ok(a);
                }
                return self.eval(right);
            }
            ExprKind::Neg(_) => {
                let Value::Int(n) = a else {
                    return Err(self.wrong("cannot negate ", &a, e.pos));
                };
                // An int owns nothing: no drop to call.
                core::mem::forget(a);
                Value::Int(
                    n.checked_neg()
                        .ok_or_else(|| self.at_str("integer overflow", e.pos))?,
                )
            }
            _ => Value::bool(!a.truthy()),
        })
    }

    /// The less common expressions, out of line so that `eval` needs no frame.
    #[inline(never)]
    fn eval_rare(&mut self, e: &Expr) -> R<Value> {
        Ok(match &e.kind {
            ExprKind::Not(first)
            | ExprKind::And(first, _)
            | ExprKind::Or(first, _)
            | ExprKind::Neg(first) => return self.logic(e, first),
            ExprKind::Func(def) => {
                self.hold(Closure::bytes(def.captures.len()), e.pos)?;
                let mut upvalues = Vec::with_capacity(def.captures.len());
                for c in &def.captures {
                    upvalues.push(self.capture(*c));
                }
                Value::Func(Rc::new(Closure::new(def.clone(), upvalues)))
            }
            ExprKind::List(_) | ExprKind::Map(_) => {
                // Both literals hold an item's bytes per element (one check for both).
                let n = match &e.kind {
                    ExprKind::List(items) => items.len(),
                    ExprKind::Map(entries) => entries.len(),
                    _ => 0,
                };
                self.hold(n * ITEM_BYTES, e.pos)?;
                return self.literal(e);
            }
            _ => Value::Nil,
        })
    }

    /// A list or map literal, once its bytes are held.
    #[inline(always)]
    fn literal(&mut self, e: &Expr) -> R<Value> {
        Ok(match &e.kind {
            ExprKind::List(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items.iter() {
                    list.push(self.eval(item)?);
                }
                hand_over!(take_list, list)
            }
            ExprKind::Map(entries) => {
                let mut map: Vec<(Rc<str>, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries.iter() {
                    let v = self.eval(value)?;
                    // A repeated key is the first one's `Rc` (see the parser): its value goes to the first place.
                    match map.iter_mut().find(|(k, _)| Rc::ptr_eq(k, key)) {
                        Some(entry) => entry.1 = v,
                        None => map.push((key.clone(), v)),
                    }
                }
                Value::map_of(map)
            }
            _ => Value::Nil,
        })
    }

    /// The cell a new closure captures. (Out of line on the host; the payload lets the compiler choose: measured
    /// smaller.)
    #[cfg_attr(feature = "std", inline(never))]
    fn capture(&mut self, capture: Capture) -> Value {
        let cell = match capture {
            // A cell: each captured variable is declared as one (a parameter made one by the call), as the
            // parser marks them all before the code runs.
            Capture::Local(slot) => self.stack.get(self.base + slot as usize),
            Capture::Upvalue(i) => self
                .closure
                .as_ref()
                .and_then(|c| c.upvalues.get(i as usize)),
        };
        // (A place out of reach, which parsed code cannot name, gives nil: an upvalue out of reach too, see
        // `locate`.)
        match cell {
            Some(c) => c.clone(),
            None => Value::Nil,
        }
    }

    /// `container[key]`, or the field of `e` (then `key` is nil): inlined into `item`, its one caller (since
    /// `nth` reads the items, that is smaller in the payload too).
    #[inline(always)]
    fn index(&self, container: &Value, key: &Value, e: &Expr) -> R<Value> {
        let pos = e.pos;
        let found = match (container, key) {
            (Value::Map(m), Value::Str(k)) => return Ok(m.get(&k.0).unwrap_or_default()),
            // (A field's key is its name, a constant str.)
            (_, Value::Str(name)) if matches!(e.kind, ExprKind::Field(..)) => {
                let what = [
                    "cannot read field '",
                    &name.0,
                    "' of ",
                    container.type_name(),
                ];
                return Err(self.at(&what, pos));
            }
            (Value::List(_) | Value::Bytes(_) | Value::Str(_), Value::Int(i)) => nth(container, *i),
            _ => {
                let (message, what) = match container {
                    Value::Map(_) => ("a map key must be a str, not ", key),
                    Value::List(_) | Value::Str(_) | Value::Bytes(_) => {
                        ("an index must be an int, not ", key)
                    }
                    _ => ("cannot index ", container),
                };
                return Err(self.wrong(message, what, pos));
            }
        };
        found.ok_or_else(|| self.at_str("index out of range", pos))
    }

    /// A binary operation that `arithmetic` did not do itself: on other values than ints, on ints in the
    /// payload, or an int error (which `quick` does not tell apart). Every error of an operator is made here,
    /// at the node's position. (The node, rather than its operator and position: the arguments then fit in
    /// registers.) The payload has it in `arithmetic`, its one caller there.
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn binary(&mut self, e: &Expr, a: Value, b: Value) -> R<Value> {
        let (ExprKind::Binary(op, ..), pos) = (&e.kind, e.pos) else {
            return Ok(Value::Nil);
        };
        let op = *op;
        let message = match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => match quick(op, *x, *y) {
                Some(v) => return Ok(v),
                None if *y == 0 && matches!(op, Op::Div | Op::Rem) => "division by zero",
                None => "integer overflow",
            },
            _ if matches!(op, Op::Eq | Op::Ne) => match self.same(&a, &b, pos)? {
                Some(same) => return Ok(Value::bool(same == (op == Op::Eq))),
                None => "values nested too deeply to compare",
            },
            (Value::Str(x), Value::Str(y)) if op == Op::Add => {
                self.hold(x.0.len() + y.0.len(), pos)?;
                let mut joined = [&x.0[..], &y.0[..]].concat();
                return Ok(hand_over!(take_string, joined));
            }
            (Value::Bytes(x), Value::Bytes(y)) if op == Op::Add => {
                self.hold(x.0.len() + y.0.len(), pos)?;
                // (Rather than `concat`, which is inlined for bytes: a loop over the parts.)
                let mut joined = Vec::with_capacity(x.0.len() + y.0.len());
                joined.extend_from_slice(&x.0);
                joined.extend_from_slice(&y.0);
                return Ok(hand_over!(take_bytes, joined));
            }
            (Value::List(x), Value::List(y)) if op == Op::Add => {
                let (x, y) = (x.items.borrow(), y.items.borrow());
                self.hold((x.len() + y.len()) * ITEM_BYTES, pos)?;
                let mut joined = x.to_vec();
                for v in y.iter() {
                    joined.push(v.clone());
                }
                return Ok(hand_over!(take_list, joined));
            }
            // An order of strs or bytes is that of their bytes.
            (Value::Str(_), Value::Str(_)) | (Value::Bytes(_), Value::Bytes(_))
                if op as u8 >= Op::Lt as u8 =>
            {
                // (Walked as far as they agree: counted as a search in `a`, for bytes too, which are otherwise
                // indexed at once and count nothing as a search.)
                let (x, y) = (
                    a.as_bytes().unwrap_or_default(),
                    b.as_bytes().unwrap_or_default(),
                );
                self.walk_over(x.len());
                let order = x.cmp(y);
                return Ok(Value::bool(compare(op, order as i64, 0)));
            }
            _ => {
                // (The names first: the verb, looked up after the calls, is not kept across them.)
                let (x, y) = (a.type_name(), b.type_name());
                let what = [VERBS[op as usize], x, " and ", y];
                return Err(self.at(&what, pos));
            }
        };
        Err(self.at_str(message, pos))
    }

    /// Calls a function with the arguments on the stack from `base`: the positional ones, then the values of
    /// the keyword arguments named by `names` (they are consumed; after an error, they are left to whoever
    /// unwinds it).
    #[inline(always)]
    pub fn call(&mut self, f: Value, base: usize, names: &[Rc<str>]) -> R<Value> {
        match f {
            Value::Func(closure) => self.call_closure(closure, base, names),
            Value::Builtin(b) => {
                // `forget`: a built-in owns nothing, and its drop was a call of the drop glue.
                core::mem::forget(f);
                self.builtin(b, base, names)
            }
            // The arguments stay on the stack, as with any error: whoever unwinds it (a `try`, the run) drops them.
            other => Err(self.wrong("cannot call ", &other, Pos::default())),
        }
    }

    /// Inlined into `call_expr`, its one caller (in the payload too: smaller, and one frame less per call).
    #[inline(always)]
    fn call_closure(&mut self, closure: Rc<Closure>, base: usize, names: &[Rc<str>]) -> R<Value> {
        let def: &FnDef = &closure.def;
        let n = def.params.len();
        // The host binds only calls that are not the exact positional ones; the payload binds every call, for
        // size (`bind_frame` then moves nothing, and allocates nothing for the keyword values).
        if !cfg!(feature = "std") || self.stack.len() - base != n || !names.is_empty() {
            self.bind_closure(def, base, names)?;
        }
        fill(&mut self.stack, base + def.slots as usize);
        let deep = stack_address() < self.stack_floor;
        if self.depth >= MAX_CALL_DEPTH || deep {
            return Err(self.limit());
        }
        self.step(Pos::default())?;
        self.depth += 1;
        // Only a closure that captured variables is needed while it runs (to reach them): the host keeps only
        // those (no count to change per call of the others); the payload keeps each one, without the test, for
        // size (one without captures has no upvalue to reach).
        let own = (!cfg!(feature = "std") || !def.captures.is_empty()).then(|| closure.clone());
        let saved = (
            core::mem::replace(&mut self.base, base),
            core::mem::replace(&mut self.closure, own),
        );
        // A captured parameter's argument becomes its cell, as a captured local's declaration makes one.
        let mut captured = def.params_captured;
        while captured != 0 {
            let slot = captured.trailing_zeros();
            let v = core::mem::take(&mut self.stack[base + slot as usize]);
            self.declare(Var::Local(slot), true, v);
            captured &= captured - 1;
        }
        let result = self.statements(&closure.def.body);
        self.depth -= 1;
        (self.base, self.closure) = saved;
        self.pop_to(base);
        match result {
            Flow::Return => Ok(take(&mut self.ret)),
            Flow::Error => Err(self.located(&closure.def.file)),
            _ => Ok(Value::Nil),
        }
    }

    /// Gives the raised error the file of the function it left, if it has a position (one without a position is
    /// placed by the call, which is in the caller's file).
    #[cold]
    #[inline(never)]
    fn located(&mut self, file: &str) -> Raised {
        if let Some(e) = self.error.get_mut() {
            if e.line != 0 {
                in_file(e, file);
            }
        }
        Raised
    }

    /// Binds a call's arguments to the parameters (the frame gets one slot per parameter), or says what is
    /// wrong: on the host when they are not exactly the positional ones, in the payload on every call. Inline in
    /// `call_closure`, its one caller, in the payload (for size); the host keeps its hot path free of it.
    #[cfg_attr(feature = "std", cold, inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn bind_closure(&mut self, def: &FnDef, base: usize, names: &[Rc<str>]) -> R<()> {
        let n = def.params.len();
        // Past the parameters: the function's own name (see `bind_frame`).
        let name = |i: usize| -> &str { def.params.get(i).unwrap_or(&def.name) };
        if let Err(e) = bind_frame(&mut self.stack, base, n, &name, n, names) {
            return Err(self.raise(e));
        }
        Ok(())
    }

    /// The error of a call past a limit: call depth or native stack. Inline
    /// in `call_closure` in the payload, as `bind_closure`.
    #[cold]
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline(always))]
    fn limit(&mut self) -> Raised {
        // One text for both (the first message is the start of the second: one address, two lengths).
        const NESTED: &str = "too many nested calls for the stack";
        // (Cut at compile time: cut here, it took a call of a checked slice.)
        const DEPTH: &str = NESTED.split_at(NESTED.len() - " for the stack".len()).0;
        let m = if self.depth >= MAX_CALL_DEPTH {
            DEPTH
        } else {
            NESTED
        };
        self.at_str(m, Pos::default())
    }
}

/// What `binary` says an operator cannot do, by operator (`==` and `!=` do anything), with the words around it
/// (fewer parts to pass).
const VERBS: [&str; 11] = [
    "cannot add ",
    "cannot subtract ",
    "cannot multiply ",
    "cannot divide ",
    "cannot take the remainder of ",
    "",
    "",
    "cannot compare ",
    "cannot compare ",
    "cannot compare ",
    "cannot compare ",
];

/// The operations on ints, but for the errors (overflow, division by zero: `binary` says which). Inlined
/// on the host; in the payload only `binary` asks it.
#[cfg_attr(feature = "std", inline(always))]
fn quick(op: Op, x: i64, y: i64) -> Option<Value> {
    match op {
        Op::Add => x.checked_add(y).map(Value::Int),
        Op::Sub => x.checked_sub(y).map(Value::Int),
        Op::Mul => x.checked_mul(y).map(Value::Int),
        // `/` and `%` as one division where it cannot fail (the compiler then needs one way to it), then
        // the cases where it could: `i64::MIN % -1` is 0, the rest overflow or divide by zero.
        Op::Div | Op::Rem if y != 0 && (x != i64::MIN || y != -1) => {
            Some(Value::Int(if op == Op::Div { x / y } else { x % y }))
        }
        Op::Rem if y != 0 => Some(Value::Int(0)),
        Op::Div | Op::Rem => None,
        _ => Some(Value::bool(compare(op, x, y))),
    }
}

/// A comparison of ints (`op` is one of the comparisons): the order of the two picks a bit of the operator's
/// mask, without a branch (a `match` on the operator made a jump table in each place this is inlined). Inlined
/// on the host, and in the payload too (into `arithmetic`, where both its uses are: measured smaller than the
/// call the compiler made of it).
#[inline(always)]
fn compare(op: Op, x: i64, y: i64) -> bool {
    let order = (x > y) as u32 + (x >= y) as u32; // 0 less, 1 equal, 2 greater
    (ORDERS[op as usize] >> order) & 1 != 0
}

/// Which orders satisfy each operator: bit 0 less, bit 1 equal, bit 2 greater (the arithmetic operators are
/// never compared; they have the mask of `!=`).
const ORDERS: [u8; 11] = [
    0b101, 0b101, 0b101, 0b101, 0b101, // + - * / %
    0b010, 0b101, // == !=
    0b001, 0b011, 0b100, 0b110, // < <= > >=
];

/// Grows the globals to `n` places, if they have fewer (`resize` would clone its `None` in code of its own).
#[inline(never)]
pub(crate) fn grow(globals: &mut Vec<Option<Value>>, n: usize) {
    while globals.len() < n {
        globals.push(None);
    }
}

/// Grows a stack to `n` values with nils (it has at most `n`). The payload pushes them (`resize` was code of its
/// own, for this alone); the host keeps `resize`, which measured faster on calls. Inlined in both (in the
/// payload a loop of a push is as small as the call, and packs better).
#[inline(always)]
pub(crate) fn fill(stack: &mut Vec<Value>, n: usize) {
    if cfg!(feature = "std") {
        stack.resize(n, Value::Nil);
        return;
    }
    while stack.len() < n {
        stack.push(Value::Nil);
    }
}

/// Bytes counted as held by the script until this is dropped.
struct Held(usize);

impl Held {
    fn new(bytes: usize) -> Held {
        crate::value::count(bytes, 0);
        Held(bytes)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        crate::value::count(0, self.0);
    }
}

/// Binds the arguments on `args` from `base` (the positional ones, then the values of the keyword arguments
/// named by `names`) to `n` parameters named by `name`, the first `required` of which must get a value: the
/// frame from `base` then has a slot per parameter, nil where none was given. Returns which parameters got a
/// value (bit i), or what is wrong with this call (the whole message). `name(usize::MAX)` is the callee's name,
/// asked for only by an error (a built-in's is looked up in the help text).
pub(crate) fn bind_frame<'n>(
    args: &mut Vec<Value>,
    base: usize,
    n: usize,
    name: &dyn Fn(usize) -> &'n str,
    required: usize,
    names: &[Rc<str>],
) -> Result<u64, Box<ScriptError>> {
    let given = args.len() - names.len() - base;
    // Every error is a word between two parts (the second ends in " to ", before the callee's name): one place
    // makes the message.
    let (before, word, after) = 'check: {
        if given > n {
            break 'check ("too many arguments", "", " to ");
        }
        let mut values = args.split_off(base + given);
        fill(args, base + n);
        // What is wrong, if anything: `values` is then dropped in one place for both outcomes.
        let outcome = 'bind: {
            let mut filled: u64 = if given >= 64 {
                u64::MAX
            } else {
                (1u64 << given) - 1
            };
            for (key, v) in names.iter().zip(values.iter_mut()) {
                let key: &str = key;
                let mut i = 0;
                while i < n && name(i) != key {
                    i += 1;
                }
                if i == n {
                    break 'bind Err(("unknown argument '", key, "' to "));
                }
                // (A function has at most 64 parameters, as the parser checks; a built-in at most 7.)
                let bit = 1u64 << i;
                if filled & bit != 0 {
                    break 'bind Err(("argument '", key, "' given twice to "));
                }
                filled |= bit;
                // The slot holds the nil it was made with (a keyword fills a parameter not given yet): the swap
                // leaves that to `values`, which drops it, so nothing is dropped here.
                if let Some(slot) = args.get_mut(base + i) {
                    core::mem::swap(slot, v);
                }
            }
            for i in given..required {
                if filled & (1 << i) == 0 {
                    break 'bind Err(("missing argument '", name(i), "' to "));
                }
            }
            Ok(filled)
        };
        drop(values);
        match outcome {
            Ok(filled) => return Ok(filled),
            Err(wrong) => wrong,
        }
    };
    // Made into the error here: a box comes back in a register (the message would come back through memory).
    Err(error(fault(&[before, word, after, name(usize::MAX)])))
}
