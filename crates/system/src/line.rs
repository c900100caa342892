//! Line editing as a pure state machine: characters in, screen edits out (backspace, Ctrl-U, Enter, the up and
//! down arrows through the shell's history).
//!
//! A console feeds it one character at a time from whichever input has one and applies the returned [`Edit`] to
//! its screens (or not, in no-echo mode): the payload's serial line, screen and keyboard, and the host tool's
//! terminal. Keeping it free of I/O lets the host test it.

use alloc::borrow::Cow;
use alloc::string::String;

/// The longest line accepted; further printable characters are ignored (and not echoed).
pub const MAX_LINE_CHARS: usize = 4096;

/// Backspace as sent by keyboards and most terminals (BS), and as sent by others (DEL).
const BACKSPACE: char = '\u{8}';
const DELETE: char = '\u{7f}';
/// Ctrl-U: erase the whole line.
const KILL_LINE: char = '\u{15}';
/// The start of a terminal's escape sequence (arrow keys arrive as ESC [ A and ESC [ B).
const ESCAPE: char = '\u{1b}';
/// How a line break shows in a line recalled from the history (a shell input of several lines, such as a
/// function): one cell, as the editor counts every character, so that the line can be erased again as one
/// line. The pilcrow is in code page 437 (0x14), the VGA screen's. The line keeps its real line breaks.
pub const LINE_BREAK_SHOWN: char = '\u{b6}';

/// What the console feeds for the keyboard's up and down arrows (private-use characters no one types).
pub const ARROW_UP: char = '\u{e000}';
pub const ARROW_DOWN: char = '\u{e001}';

/// What the screen should do after one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Show this character at the cursor.
    Insert(char),
    /// Erase this many characters left of the cursor.
    Erase(usize),
    /// The line is complete (Enter).
    Done,
    /// Nothing to show (ignored control character, or a full line).
    Nothing,
    /// Up arrow: the caller may replace the line with an earlier one ([`LineEditor::replace`]).
    Previous,
    /// Down arrow: a later one.
    Next,
}

/// A line being typed.
#[derive(Debug, Default)]
pub struct LineEditor {
    text: String,
    chars: usize,
    /// Inside an escape sequence: 1 after ESC, 2 after ESC [ (or ESC O).
    escape: u8,
    /// How many history entries back the line comes from (0: the line being typed).
    back: usize,
}

impl LineEditor {
    /// An empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one typed character and says what the screen should do.
    pub fn feed(&mut self, c: char) -> Edit {
        match self.escape {
            // After ESC: `[` or `O` go on; anything else ends it, and is taken as typed (a lone ESC is ignored).
            1 if c == '[' || c == 'O' => {
                self.escape = 2;
                return Edit::Nothing;
            }
            1 => self.escape = 0,
            // Parameter and intermediate bytes (0x20 to 0x3f: digits, `;`, `<`, `?`) keep the sequence going; a
            // final byte (0x40 to 0x7e) ends it. Anything else (a control character such as the Enter, text)
            // ends it too, and is taken as typed.
            2 if (' '..='?').contains(&c) => return Edit::Nothing,
            2 if ('@'..='~').contains(&c) => {
                self.escape = 0;
                return match c {
                    'A' => Edit::Previous,
                    'B' => Edit::Next,
                    _ => Edit::Nothing,
                };
            }
            2 => self.escape = 0,
            _ => {}
        }
        match c {
            ESCAPE => {
                self.escape = 1;
                Edit::Nothing
            }
            ARROW_UP => Edit::Previous,
            ARROW_DOWN => Edit::Next,
            '\r' | '\n' => Edit::Done,
            BACKSPACE | DELETE => match self.text.pop() {
                Some(_) => {
                    self.chars -= 1;
                    Edit::Erase(1)
                }
                None => Edit::Nothing,
            },
            KILL_LINE => {
                let erased = self.chars;
                self.text.clear();
                self.chars = 0;
                if erased == 0 {
                    Edit::Nothing
                } else {
                    Edit::Erase(erased)
                }
            }
            c if c.is_control() => Edit::Nothing,
            c if self.chars >= MAX_LINE_CHARS => {
                let _ = c;
                Edit::Nothing
            }
            c => {
                self.room();
                self.text.push(c);
                self.chars += 1;
                Edit::Insert(c)
            }
        }
    }

    /// Replaces the line (a history entry); returns how many characters the screen must erase first.
    pub fn replace(&mut self, text: &str) -> usize {
        let erased = self.chars;
        self.text.clear();
        self.chars = 0;
        self.room();
        for c in text.chars().take(MAX_LINE_CHARS) {
            self.text.push(c);
            self.chars += 1;
        }
        erased
    }

    /// Walks the history (oldest first) one entry up ([`Edit::Previous`]) or down ([`Edit::Next`]) from the one
    /// shown, and puts that entry in the line: returns how many characters the screen must erase and the text
    /// to show instead (its line breaks shown as [`LINE_BREAK_SHOWN`]), or `None` when there is nothing to
    /// walk. Below the newest entry is an empty line.
    pub fn walk<'h>(&mut self, edit: Edit, history: &'h [String]) -> Option<(usize, Cow<'h, str>)> {
        if history.is_empty() {
            return None;
        }
        self.back = match edit {
            Edit::Previous => (self.back + 1).min(history.len()),
            Edit::Next => self.back.saturating_sub(1),
            _ => return None,
        };
        let text = match self.back {
            0 => "",
            back => history[history.len() - back].as_str(),
        };
        // As much as the line holds, and no more shown than it holds.
        let end = text
            .char_indices()
            .nth(MAX_LINE_CHARS)
            .map_or(text.len(), |(at, _)| at);
        let text = text.get(..end).unwrap_or(text);
        let shown = match text.contains('\n') {
            true => Cow::Owned(text.replace('\n', LINE_BREAK_SHOWN.encode_utf8(&mut [0; 4]))),
            false => Cow::Borrowed(text),
        };
        Some((self.replace(text), shown))
    }

    /// The text typed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The finished line (a copy of its length: the editor's buffer is wiped as it goes).
    pub fn into_text(self) -> String {
        String::from(self.text.as_str())
    }

    /// Room for the longest line, taken once: the line never moves, so no copy of it (a passphrase) is left in
    /// memory given back; the one buffer is wiped when the editor goes.
    fn room(&mut self) {
        if self.text.capacity() == 0 {
            self.text.reserve(MAX_LINE_CHARS * 4);
        }
    }
}

impl Drop for LineEditor {
    fn drop(&mut self) {
        // (The whole capacity: characters erased by backspace or Ctrl-U are still there.)
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

/// Turns bytes from a serial line into characters (UTF-8), one byte at a time.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    buffer: [u8; 4],
    length: usize,
}

impl Utf8Decoder {
    /// A decoder with nothing pending.
    pub const fn new() -> Self {
        Self {
            buffer: [0; 4],
            length: 0,
        }
    }

    /// Takes one byte; returns a character once one is complete. Invalid sequences become U+FFFD, but for one cut
    /// short by an ASCII byte, which is dropped (one byte gives at most one character: the ASCII one).
    pub fn push(&mut self, byte: u8) -> Option<char> {
        if self.length == 0 {
            if byte < 0x80 {
                return Some(byte as char);
            }
            if !(0xc2..=0xf4).contains(&byte) {
                return Some(char::REPLACEMENT_CHARACTER);
            }
        } else if byte & 0xc0 != 0x80 {
            // A new sequence started before the old one ended: drop the old one, decode this byte afresh.
            self.length = 0;
            return self.push(byte).or(Some(char::REPLACEMENT_CHARACTER));
        }
        self.buffer[self.length] = byte;
        self.length += 1;
        let needed = match self.buffer[0] {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if self.length < needed {
            return None;
        }
        let decoded = core::str::from_utf8(&self.buffer[..self.length])
            .ok()
            .and_then(|s| s.chars().next());
        self.length = 0;
        Some(decoded.unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_all(editor: &mut LineEditor, text: &str) -> alloc::vec::Vec<Edit> {
        text.chars().map(|c| editor.feed(c)).collect()
    }

    #[test]
    fn typing_and_enter() {
        let mut editor = LineEditor::new();
        assert_eq!(
            type_all(&mut editor, "ab"),
            [Edit::Insert('a'), Edit::Insert('b')]
        );
        assert_eq!(editor.feed('\r'), Edit::Done);
        assert_eq!(editor.into_text(), "ab");
    }

    #[test]
    fn backspace_erases_one_character_and_stops_at_empty() {
        let mut editor = LineEditor::new();
        type_all(&mut editor, "hé");
        assert_eq!(editor.feed('\u{7f}'), Edit::Erase(1));
        assert_eq!(editor.text(), "h");
        assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
        assert_eq!(editor.feed('\u{8}'), Edit::Nothing);
        assert_eq!(editor.text(), "");
    }

    #[test]
    fn arrows_walk_the_history_and_stop_at_its_ends() {
        let history = [String::from("first"), String::from("second")];
        let mut editor = LineEditor::new();
        let walk = |editor: &mut LineEditor, edit| {
            editor
                .walk(edit, &history)
                .map(|(erased, shown)| (erased, shown.into_owned()))
        };
        assert_eq!(LineEditor::new().walk(Edit::Previous, &[]), None);
        type_all(&mut editor, "abc");
        let shown = |erased, text: &str| Some((erased, String::from(text)));
        assert_eq!(walk(&mut editor, Edit::Previous), shown(3, "second"));
        assert_eq!(walk(&mut editor, Edit::Previous), shown(6, "first"));
        assert_eq!(walk(&mut editor, Edit::Previous), shown(5, "first"));
        assert_eq!(walk(&mut editor, Edit::Next), shown(5, "second"));
        assert_eq!(walk(&mut editor, Edit::Next), shown(6, ""));
        assert_eq!(walk(&mut editor, Edit::Next), shown(0, ""));
        assert_eq!(walk(&mut editor, Edit::Previous), shown(0, "second"));
        type_all(&mut editor, "!");
        assert_eq!(editor.into_text(), "second!");
    }

    #[test]
    fn a_recalled_input_of_several_lines_shows_on_one_line_and_runs_as_it_was() {
        let history = [String::from("fn f() {\n  return 1\n}")];
        let mut editor = LineEditor::new();
        let (erased, shown) = editor.walk(Edit::Previous, &history).unwrap();
        assert_eq!((erased, &*shown), (0, "fn f() {\u{b6}  return 1\u{b6}}"));
        // Every character shown takes the one cell the editor counts: the line erases whole.
        let cells = shown.chars().count();
        assert_eq!(editor.feed('\u{15}'), Edit::Erase(cells));
        let (_, shown) = editor.walk(Edit::Previous, &history).unwrap();
        assert!(!shown.contains('\n'));
        // A backspace takes back the last line break as one cell.
        assert_eq!(editor.feed('}'), Edit::Insert('}'));
        assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
        assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
        assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
        assert_eq!(editor.into_text(), "fn f() {\n  return 1");
    }

    #[test]
    fn ctrl_u_erases_the_line() {
        let mut editor = LineEditor::new();
        type_all(&mut editor, "secret");
        assert_eq!(editor.feed('\u{15}'), Edit::Erase(6));
        assert_eq!(editor.feed('\u{15}'), Edit::Nothing);
        type_all(&mut editor, "ok");
        assert_eq!(editor.into_text(), "ok");
    }

    #[test]
    fn control_characters_are_ignored_and_length_is_capped() {
        let mut editor = LineEditor::new();
        assert_eq!(editor.feed('\u{1}'), Edit::Nothing);
        for _ in 0..MAX_LINE_CHARS {
            assert_eq!(editor.feed('x'), Edit::Insert('x'));
        }
        assert_eq!(editor.feed('y'), Edit::Nothing);
        assert_eq!(editor.text().len(), MAX_LINE_CHARS);
    }

    #[test]
    fn arrow_keys_from_a_terminal_or_the_keyboard_walk_the_history() {
        let mut editor = LineEditor::new();
        type_all(&mut editor, "ab");
        assert_eq!(editor.feed('\u{1b}'), Edit::Nothing);
        assert_eq!(editor.feed('['), Edit::Nothing);
        assert_eq!(editor.feed('A'), Edit::Previous);
        assert_eq!(editor.feed('\u{1b}'), Edit::Nothing);
        assert_eq!(editor.feed('O'), Edit::Nothing);
        assert_eq!(editor.feed('B'), Edit::Next);
        // A sequence with parameters (Ctrl-Right: ESC [ 1 ; 5 C) is swallowed whole.
        for c in "\u{1b}[1;5C".chars() {
            assert_eq!(editor.feed(c), Edit::Nothing);
        }
        assert_eq!(editor.feed(ARROW_UP), Edit::Previous);
        assert_eq!(editor.feed(ARROW_DOWN), Edit::Next);
        assert_eq!(editor.text(), "ab");
        assert_eq!(editor.replace("let x = 1"), 2);
        assert_eq!(editor.feed('\u{8}'), Edit::Erase(1));
        assert_eq!(editor.into_text(), "let x = ");
    }

    #[test]
    fn a_lone_escape_or_a_cut_sequence_loses_no_key() {
        let mut editor = LineEditor::new();
        // ESC then a key (the keyboard's Esc key, or a terminal's): the key counts, the ESC does not.
        assert_eq!(
            type_all(&mut editor, "\u{1b}a"),
            [Edit::Nothing, Edit::Insert('a')]
        );
        assert_eq!(
            type_all(&mut editor, "\u{1b}\u{1b}[A"),
            [Edit::Nothing; 3]
                .into_iter()
                .chain([Edit::Previous])
                .collect::<alloc::vec::Vec<_>>()
        );
        // A sequence cut by the Enter: the line still ends.
        assert_eq!(
            type_all(&mut editor, "\u{1b}[\r"),
            [Edit::Nothing, Edit::Nothing, Edit::Done]
        );
        // A mouse report (ESC [ < 0 ; 1 ; 2 M) is swallowed whole.
        assert!(type_all(&mut editor, "\u{1b}[<0;1;2M")
            .iter()
            .all(|e| *e == Edit::Nothing));
        assert_eq!(editor.text(), "a");
        // ESC then Enter: the Enter ends the line.
        assert_eq!(
            type_all(&mut editor, "\u{1b}\n"),
            [Edit::Nothing, Edit::Done]
        );
    }

    #[test]
    fn a_recalled_entry_longer_than_a_line_shows_what_the_line_holds() {
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        let history = [long.clone()];
        let mut editor = LineEditor::new();
        let (erased, shown) = editor.walk(Edit::Previous, &history).unwrap();
        assert_eq!((erased, shown.len()), (0, MAX_LINE_CHARS));
        assert_eq!(editor.text(), shown);
    }

    #[test]
    fn utf8_decoding() {
        let mut decoder = Utf8Decoder::new();
        let decoded: alloc::string::String =
            "aé€😀".bytes().filter_map(|b| decoder.push(b)).collect();
        assert_eq!(decoded, "aé€😀");
        assert_eq!(decoder.push(0xff), Some(char::REPLACEMENT_CHARACTER));
        // A truncated sequence followed by ASCII: the ASCII survives.
        assert_eq!(decoder.push(0xc3), None);
        assert_eq!(decoder.push(b'z'), Some('z'));
    }
}
