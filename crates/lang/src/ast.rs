//! The syntax tree the parser builds and the evaluator walks; names are already resolved to slots.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::value::Value;

/// A place in the source: line and column, both from 1.
// Aligned to a word, so that a position is passed to a function in one register (a pair of u32s took two,
// and the errors' helpers, which take a position after other arguments, ran out of registers): 250 bytes less
// in the payload. `Var` and `Capture` are aligned for the same reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(8))]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Where a variable lives: a slot of the running function's frame, a variable the running closure captured,
/// or a global of the interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(8))] // One register (see `Pos`).
pub(crate) enum Var {
    Local(u32),
    Upvalue(u32),
    Global(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

pub(crate) struct Expr {
    pub pos: Pos,
    pub kind: ExprKind,
}

// A tag of its own (rather than one folded into the constant's value) makes the dispatch on it one load.
// The kinds `eval` does itself come first, those of `eval_rare` last: each one's jump table then covers only
// its own kinds (a table has a word per kind).
#[repr(u8)]
pub(crate) enum ExprKind {
    Const(Value),
    Var(Var),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// Boxed: the largest node, and a call is costly anyway; inline it would make every node this big.
    Call(Box<Call>),
    Index(Box<Expr>, Box<Expr>),
    /// `base.name`: an item whose key is the name as a constant str (laid out as `Index`, so that both share
    /// the evaluator's item path and the drop code); a field only tells its own error when it is read.
    Field(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    // Literals of lists and maps, and fields, are boxed so that a node stays at three words after its tag. The
    // extra allocation is made once per literal at parse time; a boxed slice instead costs more code (the
    // shrink of `into_boxed_slice`).
    #[allow(clippy::box_collection)]
    List(Box<Vec<Expr>>),
    #[allow(clippy::box_collection)]
    Map(Box<Vec<(Rc<str>, Expr)>>),
    Func(Rc<FnDef>),
    Neg(Box<Expr>),
}

/// A call: `callee(positional..., name = keyword...)`. Its arguments are in one list, the keyword ones last,
/// and the names of those in another: the evaluator pushes them all in one loop and binds by the names (pairs
/// of a name and a node were a type of their own, with their own drop code).
// The callee first (`repr(C)`; the compiler put it last): the evaluator then hands it on by the box's address
// (no offset to add).
#[repr(C)]
pub(crate) struct Call {
    pub callee: Expr,
    pub args: Vec<Expr>,
    pub names: Vec<Rc<str>>,
}

/// Whether a closure captured a local variable (then each declaration makes a fresh cell for it): known only
/// at the end of the block that declares it, where the parser sets it (a flag shared with the parser, in a cell
/// of its own, cost an allocation per declaration and code to make, share and drop it).
pub(crate) type Captured = bool;

#[repr(u8)]
pub(crate) enum Stmt {
    Expr(Expr),
    /// `let`: the name is bound after the value is made (`let x = x + 1` reads the x from before). (The value
    /// lies where an assignment's does, so that the drop glue shares the path that drops it.)
    Let {
        var: Var,
        value: Expr,
        captured: Captured,
    },
    /// `fn NAME`: the name is bound before the function is made, so that it can call itself. A variant of its
    /// own rather than a flag in `Let`: a byte between the tag and the fields made every move of a statement
    /// a run of unaligned copies.
    LetFn {
        var: Var,
        value: Expr,
        captured: Captured,
    },
    /// The target (a place) is boxed: two nodes inline would make every statement that big.
    Assign(Box<Expr>, Expr),
    /// The arms in order; an `else` is the last, with a constant true for its condition (a list of its own
    /// cost a test and a drop in the evaluator).
    If(Vec<(Expr, Vec<Stmt>)>),
    /// The condition is boxed, for the same reason as an assignment's target.
    While(Box<Expr>, Vec<Stmt>),
    /// `for var in iterable { body }`: the iterable is boxed, as a loop's condition (the two drop alike).
    For {
        // (First, in the room after the tag: the enum is `repr(u8)`, its fields lie in the order written.)
        captured: Captured,
        var: u32,
        iterable: Box<Expr>,
        body: Vec<Stmt>,
    },
    /// `try { body } catch var { handler }`: not boxed, as it fits in a statement (no allocation to make, and
    /// its drop is that of its two blocks).
    Try {
        // (First, in the room after the tag: see `For`.)
        captured: Captured,
        var: u32,
        body: Vec<Stmt>,
        handler: Vec<Stmt>,
    },
    /// `return` alone returns a constant nil.
    Return(Expr),
    Break,
    Continue,
}

/// How a new closure gets a captured variable: from a slot of the frame that makes it, or from the captures of
/// the closure that makes it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(8))] // One register (see `Pos`).
pub(crate) enum Capture {
    Local(u32),
    Upvalue(u32),
}

/// A function as written: its parameters are slots 0..n of its frame.
// In this order (`repr(C)`): behind an `Rc`'s two counts, what a call reads lies in the first 128 bytes, where
// an offset takes one byte in an instruction (the compiler's order put `slots` past them); the file, read only
// by an error, is last.
#[repr(C)]
pub(crate) struct FnDef {
    pub name: Rc<str>,
    pub params: Vec<Rc<str>>,
    pub captures: Vec<Capture>,
    pub body: Vec<Stmt>,
    /// Which parameters a closure captured, bit i for parameter i (they are moved into cells at the call).
    pub params_captured: u64,
    pub slots: u32,
    pub file: Rc<str>,
}

// The parser moves nodes by value and the evaluator copies and matches on them: their size is code in the
// payload (a node of 72 bytes and a statement of 152 cost about 600 bytes more). Keep them this small.
const _: () = assert!(core::mem::size_of::<Expr>() <= 32 && core::mem::size_of::<Stmt>() <= 56);
