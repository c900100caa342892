//! Script values: small to clone (one word of tag plus an `Rc`), with the memory the script holds counted.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
#[cfg(not(feature = "std"))]
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::ast::FnDef;
use crate::BYTES_PER_STEP;

/// Bytes held by all live script strings, byte strings, lists and maps of this process (of this thread with the
/// `std` feature: values are `Rc`s, so they never leave their thread). Not one counter per interpreter, because
/// values outlive and cross interpreters freely; the payload runs one script at a time.
#[cfg(not(feature = "std"))]
static HELD: AtomicUsize = AtomicUsize::new(0);
#[cfg(feature = "std")]
std::thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// What a list item or map entry is counted as (the value plus the vector's share).
pub(crate) const ITEM_BYTES: usize = 32;

/// The bytes all live script values hold now.
pub fn held_bytes() -> usize {
    #[cfg(not(feature = "std"))]
    return HELD.load(Ordering::Relaxed);
    #[cfg(feature = "std")]
    return HELD.with(Cell::get);
}

pub(crate) fn count(add: usize, sub: usize) {
    #[cfg(not(feature = "std"))]
    let _ = HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
        Some(held.saturating_add(add).saturating_sub(sub))
    });
    #[cfg(feature = "std")]
    HELD.with(|held| held.set(held.get().saturating_add(add).saturating_sub(sub)));
}

/// A script value.
///
/// Build one with the constructors ([`Value::str`], [`Value::bytes`], [`Value::list`], [`Value::map`]) or the
/// plain variants `Nil`, `True`, `False` and `Int` ([`Value::bool`] makes one of a Rust bool); read one with
/// the accessors. `Func`, `Builtin` and `Cell` are opaque:
/// the interpreter makes them.
// A full-word tag puts every payload at offset 8: values then move as two words (a byte tag made the compiler
// copy the bytes after it in overlapping pieces, which stalled store forwarding: fib ran twice as slow).
// Every payload is one word (a bool is two variants, a built-in's index a usize): a value is then a pair of
// scalars, which the compiler moves in two registers (a one-byte payload made it a block of memory to copy:
// 640 bytes more code in the payload).
#[derive(Clone, Default)]
#[repr(u64)]
pub enum Value {
    #[default]
    Nil,
    False,
    True,
    Int(i64),
    Str(Rc<Text>),
    Bytes(Rc<Blob>),
    List(Rc<List>),
    Map(Rc<Map>),
    Func(Rc<Closure>),
    /// A built-in function: its index in the table of built-ins.
    Builtin(usize),
    /// A variable a closure captured (never seen by a script: reading the variable reads through it).
    #[doc(hidden)]
    Cell(Rc<RefCell<Value>>),
}

/// The text of a `str` value, and whether it was typed at a hidden prompt (`prompt(echo=false)`): an error
/// never quotes such a text (see `builtins::hide`).
pub struct Text(pub(crate) String, pub(crate) Cell<bool>);
/// The content of a `bytes` value.
// Laid out as a `Text` (the flag unused): the code that makes and frees one is then the same as a str's, which the
// linker keeps once.
pub struct Blob(pub(crate) Vec<u8>, #[allow(dead_code)] Cell<bool>);
/// The items of a `list` value (shared: every name sees changes).
pub struct List {
    pub(crate) items: RefCell<Vec<Value>>,
    counted: Cell<usize>,
}
/// The entries of a `map` value: string keys in insertion order.
pub struct Map {
    pub(crate) entries: RefCell<Vec<(Rc<str>, Value)>>,
    /// The bytes counted for it: [`ITEM_BYTES`] an entry plus its key's (see [`Map::recount`]).
    pub(crate) counted: Cell<usize>,
}
/// A function made by `fn`: its code and the variables it captured.
// The captures at the offset of a list's items (after the code, as after a list's borrow flag): `drop_all`
// takes both through one path.
#[repr(C)]
pub struct Closure {
    pub(crate) def: Rc<FnDef>,
    /// Each a `Value::Cell`: a closure's captures then die like a list's items.
    pub(crate) upvalues: Vec<Value>,
}

// A script's passphrases and keys are strs and bytes: wipe every one when it dies, whole capacity included.
impl Drop for Text {
    fn drop(&mut self) {
        count(0, self.0.capacity());
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}
impl Drop for Blob {
    fn drop(&mut self) {
        count(0, self.0.capacity());
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}
impl Drop for List {
    fn drop(&mut self) {
        count(0, self.counted.get());
        drop_all(self.items.get_mut());
    }
}
impl Drop for Map {
    fn drop(&mut self) {
        count(0, self.counted.get());
        let mut work = Vec::new();
        take_entries(&mut work, self.entries.get_mut());
        drop_all(&mut work);
    }
}
impl Drop for Closure {
    fn drop(&mut self) {
        // (By the capacity, which `drop_all` leaves as it was when it takes the captures out.)
        count(0, Closure::bytes(self.upvalues.capacity()));
        drop_all(&mut self.upvalues);
    }
}

impl Closure {
    /// What a closure with `captures` captured variables is counted as: an item for itself and one for each
    /// (its slot and its share of the variable's cell). Uncounted, a list of closures that each captured dozens
    /// of variables took the heap while the count said 32 bytes an item.
    pub(crate) fn bytes(captures: usize) -> usize {
        (1 + captures) * ITEM_BYTES
    }

    /// A new closure, counted (its bytes held already: see `Machine::hold`).
    pub(crate) fn new(def: Rc<FnDef>, upvalues: Vec<Value>) -> Closure {
        count(Closure::bytes(upvalues.capacity()), 0);
        Closure { def, upvalues }
    }
}

/// Moves the values of a map's entries to a work list (the keys are only strings: they stay, with nil values).
fn take_entries(work: &mut Vec<Value>, entries: &mut [(Rc<str>, Value)]) {
    for (_, v) in entries.iter_mut() {
        work.push(core::mem::take(v));
    }
}

/// Moves a list's items (or a closure's captures) to a work list, one by one (in reverse, which does not
/// matter): `append` took a reserve and a copy of its own.
fn take_items(work: &mut Vec<Value>, items: &mut Vec<Value>) {
    while let Some(item) = items.pop() {
        work.push(item);
    }
}

/// Drops the values of a work list without recursion, so that a list nested a million deep cannot overflow the
/// stack: a container that dies here (no one else holds it) first gives its items to the work list, and is then
/// dropped empty. The list is lent, not given: a dying list's own vector serves as one (no move of it to a new
/// one), and its owner frees the vector after.
fn drop_all(work: &mut Vec<Value>) {
    while let Some(mut value) = work.pop() {
        match &mut value {
            Value::List(rc) => {
                if let Some(list) = Rc::get_mut(rc) {
                    take_items(work, list.items.get_mut());
                }
            }
            Value::Map(rc) => {
                if let Some(map) = Rc::get_mut(rc) {
                    take_entries(work, map.entries.get_mut());
                }
            }
            Value::Func(rc) => {
                if let Some(closure) = Rc::get_mut(rc) {
                    take_items(work, &mut closure.upvalues);
                }
            }
            Value::Cell(rc) => {
                if let Some(cell) = Rc::get_mut(rc) {
                    work.push(core::mem::take(cell.get_mut()));
                }
            }
            _ => {}
        }
        drop(value);
    }
}

/// What a str, bytes, list or map value holds, made from its content (a str's and bytes' counted here, a list's
/// and map's by the function that makes the value: their `recount` differs, a map's keys being counted too). A str
/// and bytes are laid out alike, and so are a list and a map: the two copies of [`shared`] for each pair are the
/// same code, which the compiler keeps once.
trait Counted {
    type Content: Default;
    fn of(content: Self::Content) -> Self;
    /// Counts a str's or bytes' content before it is moved into its `Rc` (a list's or map's items are counted
    /// where they lie, by the caller: see [`List::recount`]).
    fn count_content(_: &Self::Content) {}
}
impl Counted for Text {
    type Content = String;
    fn of(text: String) -> Text {
        Text(text, Cell::new(false))
    }
    fn count_content(text: &String) {
        count(text.capacity(), 0);
    }
}
impl Counted for Blob {
    type Content = Vec<u8>;
    fn of(data: Vec<u8>) -> Blob {
        Blob(data, Cell::new(false))
    }
    fn count_content(data: &Vec<u8>) {
        count(data.capacity(), 0);
    }
}
impl Counted for List {
    type Content = Vec<Value>;
    fn of(items: Vec<Value>) -> List {
        List {
            items: RefCell::new(items),
            counted: Cell::new(0),
        }
    }
}
impl Counted for Map {
    type Content = Vec<(Rc<str>, Value)>;
    fn of(entries: Vec<(Rc<str>, Value)>) -> Map {
        Map {
            entries: RefCell::new(entries),
            counted: Cell::new(0),
        }
    }
}

/// A new value's content, taken out of `content` (left empty: nothing to free), in its `Rc` (see [`Counted`]). Out of
/// line in the payload only (the host keeps making values inline, as before). Taken through a reference: a
/// vector moved into a call lost what told the compiler when its place on the stack was in use, so that in
/// `Machine::builtin` each built-in's vector or string took a stack slot of its own.
#[cfg_attr(not(feature = "std"), inline(never))]
fn shared<T: Counted>(content: &mut T::Content) -> Rc<T> {
    let content = core::mem::take(content);
    T::count_content(&content);
    Rc::new(T::of(content))
}

/// A new value made of a local string or vector, handed over by reference (`take_string`, `take_bytes` or
/// `take_list`, see [`shared`]); the local, left empty, is forgotten (its drop would be a call). Not moved into a
/// call: a moved vector lost what told the compiler when its place on the stack was in use.
macro_rules! hand_over {
    ($take:ident, $content:ident) => {{
        let made = $crate::value::Value::$take(&mut $content);
        core::mem::forget($content);
        made
    }};
}
pub(crate) use hand_over;

/// [`shared`] of content given by value.
#[inline(always)]
fn made<T: Counted>(mut content: T::Content) -> Rc<T> {
    let rc = shared(&mut content);
    // Left empty: nothing to free (its drop would be a call).
    core::mem::forget(content);
    rc
}

/// A new empty map (nothing to count).
pub(crate) fn new_map() -> Rc<Map> {
    made(Vec::new())
}

/// A new str's or bytes' content copied from `content`. A str and bytes are made alike: the two copies of this
/// function are the same code, which the compiler keeps once.
#[cfg_attr(not(feature = "std"), inline(never))]
fn copied<T: Counted, C: ?Sized + alloc::borrow::ToOwned<Owned = T::Content>>(
    content: &C,
) -> Rc<T> {
    made(content.to_owned())
}

impl List {
    /// Brings the counted bytes in line with the length after a change.
    pub(crate) fn recount(&self) {
        let now = self.items.borrow().len() * ITEM_BYTES;
        count(now, self.counted.replace(now));
    }
}
impl Map {
    /// As a list's, with each key's bytes too: a key is a string of its own (copied from the str that named it,
    /// which may die), and keys of a kilobyte each made the heap run out while the count said 32 bytes an entry.
    pub(crate) fn recount(&self) {
        let entries = self.entries.borrow();
        let now = entries
            .iter()
            .fold(entries.len() * ITEM_BYTES, |n, (k, _)| n + k.len());
        count(now, self.counted.replace(now));
    }
    /// Where the entry of `key` is, if there is one (the one search of get, set, `remove` and `contains`).
    #[cfg_attr(feature = "std", inline)]
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        self.entries
            .borrow()
            .iter()
            .position(|(k, _)| same_key(k, key))
    }
    /// The value under `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<Value> {
        // (`find` gives an index of the entries.)
        let i = self.find(key)?;
        Some(self.entries.borrow()[i].1.clone())
    }
    /// Sets `key`: in place when present, else appended (insertion order). The key's `Rc` is made only for a new
    /// entry (made by each caller, it was dropped again when the key was there).
    pub fn set(&self, key: &str, value: Value) {
        let found = self.find(key);
        let mut entries = self.entries.borrow_mut();
        if let Some(entry) = found.and_then(|i| entries.get_mut(i)) {
            entry.1 = value;
            return;
        }
        entries.push((Rc::from(key), value));
        // Counted by what it adds (a recount would walk every key again: each new key's set took time that grows
        // with the map).
        let add = ITEM_BYTES + key.len();
        self.counted.set(self.counted.get() + add);
        count(add, 0);
    }
}

/// Whether two map keys are the same: on the host the last bytes first, which tells most keys apart (keys often
/// share a prefix) without a call of `memcmp`; the payload compares them plainly, for size (placed by the
/// compiler: out of line it was 5 bytes more).
#[cfg_attr(feature = "std", inline(always))]
fn same_key(a: &str, b: &str) -> bool {
    // The last bytes indexed (compared as `last()`s, their addresses were checked against null too).
    let (a, b, n) = (a.as_bytes(), b.as_bytes(), a.len());
    (!cfg!(feature = "std") || n == b.len() && (n == 0 || a[n - 1] == b[n - 1])) && a == b
}

/// A copy of a value with an int copied inline (the derived clone is an out-of-line call; in `fib` it took a
/// tenth of the time). Only the int: with `Bool` and `Nil` inline too, the compiler copied all three as one
/// 16-byte load, and that load stalls on a variable just stored word by word (see [`put`]).
#[inline(always)]
pub(crate) fn copy(v: &Value) -> Value {
    match v {
        Value::Int(i) => fresh_int(*i),
        other => other.clone(),
    }
}

/// An int value built from its number: the compiler, seeing that it equals the value the number was read
/// from, would otherwise copy that as one 16-byte load (the stall [`put`] describes). `black_box` hides the
/// equality; what it costs is one store and load of the number, which forward.
#[inline(always)]
fn fresh_int(i: i64) -> Value {
    Value::Int(core::hint::black_box(i))
}

/// Drops a value, with the scalar cases inline (they own nothing; the drop glue is an out-of-line call).
#[inline(always)]
pub(crate) fn discard(v: Value) {
    if matches!(v, Value::Int(_) | Value::True | Value::False | Value::Nil) {
        core::mem::forget(v);
    } else {
        drop(v);
    }
}

/// Stores a value that was just made, such as a function's result: those are written as two words, and a
/// 16-byte load of two separate stores cannot be forwarded from them, it waits until they reach the cache (in
/// `x = x + 1` that wait was two thirds of the time). An int is moved as its two words; anything else is moved
/// out of line, where the copy is no longer right behind the stores.
#[cfg_attr(feature = "std", inline(always))]
#[cfg_attr(not(feature = "std"), inline(never))]
pub(crate) fn put(slot: &mut Value, v: Value) {
    // `forget`: a scalar owns nothing, and its drop would be a call of the drop glue.
    match &v {
        Value::Int(i) => {
            let i = *i;
            core::mem::forget(v);
            set(slot, fresh_int(i));
        }
        Value::Nil => {
            core::mem::forget(v);
            set(slot, Value::Nil);
        }
        _ => put_other(slot, v),
    }
}

/// Overwrites a slot; a scalar there is overwritten without being read whole (only its tag).
#[inline(always)]
fn set(slot: &mut Value, new: Value) {
    if matches!(
        slot,
        Value::Int(_) | Value::True | Value::False | Value::Nil
    ) {
        core::mem::forget(core::mem::replace(slot, new));
    } else {
        *slot = new;
    }
}

#[inline(never)]
fn put_other(slot: &mut Value, v: Value) {
    *slot = v;
}

/// Passes on a value just made (see [`put`]): an int, bool or nil as scalars.
#[cfg_attr(feature = "std", inline(always))]
#[cfg_attr(not(feature = "std"), inline(never))]
pub(crate) fn relay(v: Value) -> Value {
    match &v {
        Value::Int(i) => {
            let i = *i;
            core::mem::forget(v);
            fresh_int(i)
        }
        Value::Nil => {
            core::mem::forget(v);
            Value::Nil
        }
        _ => v,
    }
}

/// Takes a value out of a slot, as [`put`] stores one (the payload, for size, as any other value).
#[inline(always)]
pub(crate) fn take(slot: &mut Value) -> Value {
    if !cfg!(feature = "std") {
        return take_other(slot);
    }
    if let Value::Int(i) = *slot {
        core::mem::forget(core::mem::take(slot));
        fresh_int(i)
    } else {
        take_other(slot)
    }
}

#[inline(never)]
fn take_other(slot: &mut Value) -> Value {
    core::mem::take(slot)
}

impl Value {
    /// A `str` value.
    pub fn str(text: &str) -> Value {
        Value::Str(copied(text))
    }
    /// A `bytes` value of a copy of `data`.
    pub(crate) fn bytes_of(data: &[u8]) -> Value {
        Value::Bytes(copied(data))
    }
    /// A `str` value that takes the string.
    pub fn string(text: String) -> Value {
        Value::Str(made(text))
    }
    /// A `bytes` value.
    pub fn bytes(data: Vec<u8>) -> Value {
        Value::Bytes(made(data))
    }
    /// A `list` value. (Inlined in the payload: its callers then share `made`'s code, measured smaller.)
    #[cfg_attr(not(feature = "std"), inline(always))]
    pub fn list(items: Vec<Value>) -> Value {
        let list: Rc<List> = made(items);
        list.recount();
        Value::List(list)
    }
    /// A `str` value of the text taken out of `text` (see [`shared`]: the caller's string stays in its place).
    pub(crate) fn take_string(text: &mut String) -> Value {
        Value::Str(shared(text))
    }
    /// The text of a str typed at a hidden prompt (`prompt(echo=false)`), which an error must not quote (see
    /// [`crate::hide`]).
    pub fn hidden_text(&self) -> Option<&str> {
        match self {
            Value::Str(t) if t.1.get() => Some(&t.0),
            _ => None,
        }
    }
    /// A `bytes` value of the bytes taken out of `data`.
    pub(crate) fn take_bytes(data: &mut Vec<u8>) -> Value {
        Value::Bytes(shared(data))
    }
    /// A `list` value of the items taken out of `items`.
    pub(crate) fn take_list(items: &mut Vec<Value>) -> Value {
        let list: Rc<List> = shared(items);
        list.recount();
        Value::List(list)
    }
    /// A `map` value; a later entry with the same key wins (its first place is kept).
    pub fn map(mut entries: Vec<(String, Value)>) -> Value {
        let map: Rc<Map> = made(Vec::new());
        // The values are taken out in place: a vector's iterator would bring its own drop code.
        for (k, v) in entries.iter_mut() {
            map.set(k, core::mem::take(v));
        }
        Value::Map(map)
    }
    pub(crate) fn map_of(entries: Vec<(Rc<str>, Value)>) -> Value {
        let map: Rc<Map> = made(entries);
        map.recount();
        Value::Map(map)
    }
    /// The text of a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(t) => Some(&t.0),
            _ => None,
        }
    }
    /// The bytes a search in this value walks over (see [`crate::BYTES_PER_STEP`]): a str's, whose chars are
    /// counted from the start, and [`ITEM_BYTES`] an entry of a map, searched one by one for a key. None for the
    /// others, whose items are reached at once.
    pub(crate) fn extent(&self) -> usize {
        match self {
            Value::Str(t) => t.0.len(),
            Value::Map(m) => m.entries.borrow().len() * ITEM_BYTES,
            _ => 0,
        }
    }
    /// The content of a `bytes`, or the UTF-8 of a `str`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(&b.0),
            Value::Str(t) => Some(t.0.as_bytes()),
            _ => None,
        }
    }
    /// The number of an `int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// A `bool`.
    pub fn bool(b: bool) -> Value {
        if b {
            Value::True
        } else {
            Value::False
        }
    }
    /// The truth of a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::True => Some(true),
            Value::False => Some(false),
            _ => None,
        }
    }
    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
    /// The items of a `list` (a snapshot: the values themselves are shared).
    pub fn list_items(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.items.borrow().clone()),
            _ => None,
        }
    }
    /// The entries of a `map`, in insertion order.
    pub fn map_entries(&self) -> Option<Vec<(String, Value)>> {
        match self {
            Value::Map(m) => Some(
                m.entries
                    .borrow()
                    .iter()
                    .map(|(k, v)| (String::from(&**k), v.clone()))
                    .collect(),
            ),
            _ => None,
        }
    }
    /// The value under `key` of a `map` (`None` if it is no map or has no such key).
    pub fn map_get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }
    /// Only `false` and `nil` are false.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::False)
    }
    /// The name `type(x)` returns.
    pub fn type_name(&self) -> &'static str {
        // The names one after another, and where each variant's is (its start times 8 plus its length): one
        // lookup rather than a table of jumps to an arm per variant, which took more code and data.
        const NAMES: &str = "nilboolintstrbyteslistmapfn";
        const SPANS: [u8; 10] = [
            3,           // nil
            3 << 3 | 4,  // bool (false)
            3 << 3 | 4,  // bool (true)
            7 << 3 | 3,  // int
            10 << 3 | 3, // str
            13 << 3 | 5, // bytes
            18 << 3 | 4, // list
            22 << 3 | 3, // map
            25 << 3 | 2, // fn (a closure)
            25 << 3 | 2, // fn (a built-in)
        ];
        const _: () = {
            let mut k = 0;
            while k < SPANS.len() {
                assert!((SPANS[k] >> 3) + (SPANS[k] & 7) <= NAMES.len() as u8);
                k += 1;
            }
        };
        let variant = match self {
            Value::Nil => 0,
            Value::False => 1,
            Value::True => 2,
            Value::Int(_) => 3,
            Value::Str(_) => 4,
            Value::Bytes(_) => 5,
            Value::List(_) => 6,
            Value::Map(_) => 7,
            Value::Func(_) => 8,
            Value::Builtin(_) => 9,
            Value::Cell(c) => return c.borrow().type_name(),
        };
        let span = usize::from(SPANS[variant]);
        &NAMES[span >> 3..(span >> 3) + (span & 7)]
    }
}

/// How deep `==` and the text form follow nested lists and maps (a list that holds itself stops here).
pub const MAX_VALUE_DEPTH: u32 = 200;

/// What a comparison of values spends: a step for each value it compares, and for the strs and bytes it compares
/// and the map entries it walks to find a key, as many as a search takes (see [`Value::extent`]).
pub(crate) trait Steps {
    /// Takes `n` steps; `None` stops the comparison (too few left, or Ctrl-C).
    fn take(&mut self, n: usize) -> Option<()>;
}

/// A plain count of steps.
impl Steps for u64 {
    fn take(&mut self, n: usize) -> Option<()> {
        take_steps(self, n)
    }
}

/// Deep equality; `None` when the values nest deeper than [`MAX_VALUE_DEPTH`], or when `steps` stops it: each
/// value compared takes a step from it (values that share parts can take exponentially many, `a = [a, a]` forty
/// times over), and the strs and bytes compared and the map entries walked to find a key (a map's keys are each
/// searched for in the other) take as many as a search does.
pub(crate) fn equal(a: &Value, b: &Value, depth: u32, steps: &mut impl Steps) -> Option<bool> {
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    steps.take(1 + a.as_bytes().map_or(0, <[u8]>::len) / BYTES_PER_STEP)?;
    // Values of two types differ; the arms below then need not tell the type of `b` again.
    if core::mem::discriminant(a) != core::mem::discriminant(b) {
        return Some(false);
    }
    Some(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::True, Value::True) | (Value::False, Value::False) => true,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.0 == y.0,
        (Value::Bytes(x), Value::Bytes(y)) => x.0 == y.0,
        (Value::List(x), Value::List(y)) => {
            if Rc::ptr_eq(x, y) {
                return Some(true);
            }
            let (x, y) = (x.items.borrow(), y.items.borrow());
            if x.len() != y.len() {
                return Some(false);
            }
            for (p, q) in x.iter().zip(y.iter()) {
                if !equal(p, q, depth + 1, steps)? {
                    return Some(false);
                }
            }
            true
        }
        (Value::Map(m), Value::Map(n)) => {
            if Rc::ptr_eq(m, n) {
                return Some(true);
            }
            let (x, y) = (m.entries.borrow(), n.entries.borrow());
            if x.len() != y.len() {
                return Some(false);
            }
            for (k, v) in x.iter() {
                // (`find` gives an index of `y`; it walked the entries up to it, counted as a search is: see
                // `Value::extent`.)
                let Some(i) = n.find(k) else {
                    return Some(false);
                };
                steps.take(i * ITEM_BYTES / BYTES_PER_STEP)?;
                if !equal(v, &y[i].1, depth + 1, steps)? {
                    return Some(false);
                }
            }
            true
        }
        (Value::Func(x), Value::Func(y)) => Rc::ptr_eq(x, y),
        (Value::Builtin(x), Value::Builtin(y)) => x == y,
        _ => false,
    })
}

/// Takes `n` from `steps`, or leaves it at 0 when it has fewer.
pub(crate) fn take_steps(steps: &mut u64, n: usize) -> Option<()> {
    let Some(left) = steps.checked_sub(n as u64) else {
        *steps = 0;
        return None;
    };
    *steps = left;
    Some(())
}

/// Appends an int in decimal (no `format!`: it is on the hot path of `str()` and `print`).
pub(crate) fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_digits(out, n.unsigned_abs(), 10);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a number's digits in base 10 or 16 (hex in lowercase; the decimal digits are the first of [`HEX`]):
/// the ones before the last first, by recursion (at most 20 deep), where a buffer filled from its end took a
/// loop to fill it and one to copy it.
fn push_digits(out: &mut String, m: u64, base: u64) {
    if m >= base {
        push_digits(out, m / base, base);
    }
    out.push(char::from(HEX[(m % base) as usize & 15]));
}

/// Appends `text` with each control character as its escape (`\x1b`): text from outside (a script's bytes in a
/// syntax error, a disk's in a primitive's error) is never written to a console as it is, where an ESC would drive
/// the terminal.
#[inline(never)]
pub(crate) fn push_visible(out: &mut String, text: &str) {
    push_quoted(out, text, false, usize::MAX);
}

/// Appends `text` with each control character as its escape (see [`push_visible`]), and with `quote` in literal
/// syntax, stopping once `out` is longer than `limit` (an escape takes up to four bytes a byte: see
/// `write_value`; a text cut so has no closing quote). One loop for both forms.
fn push_quoted(out: &mut String, text: &str, quote: bool, limit: usize) {
    if quote {
        out.push('"');
    }
    for c in text.chars() {
        if out.len() > limit {
            return;
        }
        // A backslash and one letter for the common escapes (pushed one by one: the string grows just as
        // with two-byte pieces, and its capacity is what the held bytes count).
        let escape = match c {
            '"' | '\\' => c,
            '\n' => 'n',
            '\r' => 'r',
            '\t' => 't',
            '\0' => '0',
            _ => ' ',
        };
        if quote && escape != ' ' {
            out.push('\\');
            out.push(escape);
        } else if c.is_control() {
            // (U+0000 to U+001F, U+007F to U+009F as `\xHH` escapes, which read back as the character: each byte
            // of its UTF-8, as the text form writes it, a C1 character's being 0xc2, then its low byte.)
            if c > '\x7f' {
                out.push_str("\\xc2");
            }
            out.push_str("\\x");
            push_hex(out, &[c as u8]);
        } else {
            out.push(c);
        }
    }
    if quote {
        out.push('"');
    }
}

pub(crate) fn push_hex(out: &mut String, data: &[u8]) {
    for &b in data {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// Appends a number's hex digits, without leading zeros (`0` for zero). Room for all of them is made at once, as
/// one push of them would make it: the held bytes count the capacity.
pub(crate) fn push_hex_number(out: &mut String, n: u64) {
    let digits = (67 - (n | 1).leading_zeros()) / 4;
    out.reserve(digits as usize);
    push_digits(out, n, 16);
}

/// Whether a map key can be written bare: a name that is no keyword (bytes suffice: a non-ASCII one is no name).
fn is_name(key: &str) -> bool {
    let key_bytes = key.as_bytes();
    !matches!(key_bytes.first(), None | Some(b'0'..=b'9'))
        && key_bytes
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !crate::lexer::is_keyword(key)
}

/// Why a text form was cut short.
pub(crate) enum Cut {
    /// It nests deeper than [`MAX_VALUE_DEPTH`].
    Deep,
    /// It would grow past the limit it was given.
    Long,
}

/// Appends the text form of a value (`quote`: strs in literal syntax, as inside lists and maps), or says why it
/// stopped short. The text is cut as it grows past `limit` bytes, rather than checked once made: values that
/// share parts (`a = [a, a]`, forty times over) have a text far larger than the memory they hold. (A quoted str
/// stops within a few bytes past it, and the text ends as if it had not: the caller checks the length too.)
pub(crate) fn write_value(
    out: &mut String,
    value: &Value,
    quote: bool,
    depth: u32,
    limit: usize,
) -> Result<(), Cut> {
    if depth > MAX_VALUE_DEPTH {
        return Err(Cut::Deep);
    }
    if out.len() > limit {
        return Err(Cut::Long);
    }
    // Each arm leaves its last piece to the one push at the end.
    let last = match value {
        Value::Nil => "nil",
        Value::True => "true",
        Value::False => "false",
        Value::Int(i) => {
            push_int(out, *i);
            return Ok(());
        }
        Value::Str(t) if quote => {
            push_quoted(out, &t.0, true, limit);
            return Ok(());
        }
        // (A str as it is, and bytes, are not begun past the limit: their length in the text is known.)
        Value::Str(t) if out.len() + t.0.len() > limit => return Err(Cut::Long),
        Value::Str(t) => &t.0,
        Value::Bytes(b) if out.len() + 2 * b.0.len() > limit => return Err(Cut::Long),
        Value::Bytes(b) => {
            out.push_str("x\"");
            push_hex(out, &b.0);
            "\""
        }
        Value::List(l) => {
            out.push('[');
            // The separator before each item but the first (an empty push changes nothing).
            let mut sep = "";
            for item in l.items.borrow().iter() {
                out.push_str(sep);
                sep = ", ";
                write_value(out, item, true, depth + 1, limit)?;
            }
            "]"
        }
        Value::Map(m) => {
            out.push('{');
            let mut sep = "";
            for (k, v) in m.entries.borrow().iter() {
                out.push_str(sep);
                sep = ", ";
                if is_name(k) {
                    out.push_str(k);
                } else {
                    push_quoted(out, k, true, limit);
                }
                out.push_str(": ");
                write_value(out, v, true, depth + 1, limit)?;
            }
            "}"
        }
        Value::Func(_) | Value::Builtin(_) => {
            out.push_str("<fn ");
            out.push_str(match value {
                Value::Func(f) => &f.def.name,
                // (A built-in value is made only for an index of the table: its name is there.)
                Value::Builtin(b) => crate::builtins::field_name(*b, 0),
                _ => "",
            });
            ">"
        }
        Value::Cell(c) => return write_value(out, &c.borrow(), quote, depth, limit),
    };
    out.push_str(last);
    Ok(())
}

impl Value {
    /// The text form: `str(x)` without `quote`, the shell's echo (strings quoted) with it; `...` where it
    /// nests too deeply, or where it grows past [`crate::DEFAULT_MEMORY_LIMIT`] bytes. Built directly rather
    /// than through `{:?}`, so that the payload can be compiled with `-Zfmt-debug=none` (which empties every
    /// `{:?}`) without changing what the shell prints.
    pub fn text(&self, quote: bool) -> String {
        self.text_within(quote, crate::DEFAULT_MEMORY_LIMIT)
    }

    /// [`Self::text`], or where it is longer than `limit` bytes, its first `limit` bytes (to a character's
    /// start) and then `...`.
    pub(crate) fn text_within(&self, quote: bool, limit: usize) -> String {
        let mut out = String::new();
        // (The text is made up to the piece that crosses the limit, or that would: cut back to it here.)
        if write_value(&mut out, self, quote, 0, limit).is_err() || out.len() > limit {
            let mut end = limit.min(out.len());
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push_str("...");
        }
        out
    }
}

impl core::fmt::Display for Value {
    /// The text form of `str(x)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.text(false))
    }
}

impl core::fmt::Debug for Value {
    /// The shell's form (strings quoted).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.text(true))
    }
}

impl PartialEq for Value {
    /// Equality as `==` has it (too deep counts as unequal), without a step budget.
    fn eq(&self, other: &Value) -> bool {
        equal(self, other, 0, &mut { u64::MAX }).unwrap_or(false)
    }
}
