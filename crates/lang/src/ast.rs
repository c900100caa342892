//! The syntax tree the parser builds and the evaluator walks; names are already resolved to slots.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;

use crate::value::Value;

/// A place in the source: line and column, both from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Where a variable lives: a slot of the running function's frame, a variable the running closure captured,
/// or a global of the interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[repr(u8)]
pub(crate) enum ExprKind {
    Const(Value),
    Var(Var),
    List(Vec<Expr>),
    Map(Vec<(Rc<str>, Expr)>),
    Func(Rc<FnDef>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>, Vec<(Rc<str>, Expr)>),
    Index(Box<Expr>, Box<Expr>),
    Field(Box<Expr>, Rc<str>),
}

/// Whether a closure captured a local variable: known only once the function around it is parsed, so the
/// `let` shares this flag with the parser.
pub(crate) type Captured = Rc<Cell<bool>>;

#[repr(u8)]
pub(crate) enum Stmt {
    Expr(Expr),
    /// `let` (and `fn NAME`, with `early`: the name is bound before the value is made, for recursion).
    Let {
        var: Var,
        captured: Captured,
        value: Expr,
        early: bool,
    },
    Assign(Expr, Expr),
    If(Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
    While(Expr, Vec<Stmt>),
    For {
        var: u32,
        captured: Captured,
        iterable: Expr,
        body: Vec<Stmt>,
    },
    Try {
        body: Vec<Stmt>,
        var: u32,
        captured: Captured,
        handler: Vec<Stmt>,
    },
    Return(Option<Expr>),
    Break,
    Continue,
}

/// How a new closure gets a captured variable: from a slot of the frame that makes it, or from the captures of
/// the closure that makes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Capture {
    Local(u32),
    Upvalue(u32),
}

/// A function as written: its parameters are slots 0..n of its frame.
pub(crate) struct FnDef {
    pub name: Rc<str>,
    pub file: Rc<str>,
    pub params: Vec<Rc<str>>,
    /// Which parameters a closure captured, bit i for parameter i (they are moved into cells at the call).
    pub params_captured: u64,
    pub slots: u32,
    pub captures: Vec<Capture>,
    pub body: Vec<Stmt>,
}
