//! The line editor leaves no copy of a typed line (a passphrase) in memory it gives back: an allocator that
//! looks through every block freed finds none.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bootscript_system::line::{Edit, LineEditor};

const MARKER: &[u8] = b"Tq7-line-wipe";
/// The first character typed (one no other part of the test holds): for a while the only one in the buffer, so a
/// buffer given back then, as one that moved after the first key would be, holds it alone.
const FIRST: &str = "\u{10fffd}";

/// Counts the freed blocks that still hold [`MARKER`] or [`FIRST`].
struct Scanning;

static FOUND: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; `dealloc` only reads the block before freeing it.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the block is `layout.size()` bytes the caller owned until now (and still allocated).
        let block = unsafe { std::slice::from_raw_parts(pointer, layout.size()) };
        if block.windows(MARKER.len()).any(|w| w == MARKER)
            || block.windows(FIRST.len()).any(|w| w == FIRST.as_bytes())
        {
            FOUND.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: as in `alloc`.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

#[test]
fn a_typed_line_is_wiped_from_every_buffer_the_editor_frees() {
    let mut editor = LineEditor::new();
    // Long enough to outgrow any first buffer, with the marker typed first (after one character), then erased and
    // typed again. (Made in one buffer: a buffer of the test's own that grew would be found too.)
    let mut typed = String::with_capacity(FIRST.len() + MARKER.len() + 200);
    typed.push_str(FIRST);
    typed.push_str(std::str::from_utf8(MARKER).unwrap());
    typed.extend(std::iter::repeat_n('x', 200));
    for c in typed.chars() {
        assert_eq!(editor.feed(c), Edit::Insert(c));
    }
    for _ in 0..typed.len() {
        editor.feed('\u{8}');
    }
    for c in typed.chars() {
        editor.feed(c);
    }
    editor.feed('\u{15}');
    for c in typed.chars() {
        editor.feed(c);
    }
    let mut line = editor.into_text();
    assert_eq!(line, typed);
    // (What the caller does with the line it gets is its own: the interpreter wipes it with the str.)
    zeroize(&mut line);
    drop(line);
    assert_eq!(FOUND.load(Ordering::SeqCst), 0);
}

fn zeroize(text: &mut String) {
    // SAFETY: zeros are valid UTF-8.
    unsafe { text.as_mut_vec().iter_mut().for_each(|b| *b = 0) };
}
