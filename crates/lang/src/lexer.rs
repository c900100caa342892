//! The lexer: turns source text into tokens that are spans of it, with line and column (both from 1).

use crate::ast::Pos;
use crate::parser::Syntax;

/// What a token is. Literals keep only their span; the parser decodes them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    // In this order so that the parser's matches on a kind find their arms in short jump tables (a table has
    // 8 bytes for each kind from the first to the last it matches): what begins an expression first, `fn`
    // next, then what else begins a statement.
    Int,
    Str,
    Bytes,
    Name,
    // (In the order of the values they stand for, which `Value` gives 0, 1 and 2.)
    Nil,
    False,
    True,
    LParen,
    LBracket,
    LBrace,
    Fn,
    Let,
    If,
    While,
    For,
    Try,
    Return,
    Break,
    Continue,
    // The other keywords (but `and` and `or`, with the operators).
    Else,
    In,
    Catch,
    Not,
    // The other punctuation.
    RParen,
    RBracket,
    Comma,
    Dot,
    Colon,
    Assign,
    // The binary operators, together: the parser finds each one's precedence in a table (`parser::BINARY`).
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    // What ends a statement, together (one range to test), in this order: `;` and a newline (stepped over at
    // the end of a statement), `}` and the end (not).
    Semicolon,
    Newline,
    RBrace,
    Eof,
    /// Stands in the parser for a token the lexer could not make (no grammar rule accepts it).
    Error,
}

/// The keywords, each after its length, in the order of `KEYWORD_KINDS`: one string, where a table of slices
/// would take 16 bytes a keyword (24 with its kind). The lengths let the search skip a keyword without reading it.
const KEYWORDS: &[u8] = b"\x03nil\x03let\x02fn\x06return\x02if\x04else\x05while\x03for\x02in\x05break\x08continue\x03try\x05catch\x03and\x02or\x03not\x04true\x05false";
const KEYWORD_KINDS: [Kind; 18] = [
    Kind::Nil,
    Kind::Let,
    Kind::Fn,
    Kind::Return,
    Kind::If,
    Kind::Else,
    Kind::While,
    Kind::For,
    Kind::In,
    Kind::Break,
    Kind::Continue,
    Kind::Try,
    Kind::Catch,
    Kind::And,
    Kind::Or,
    Kind::Not,
    Kind::True,
    Kind::False,
];

/// The kind of the keyword `word`, or `Name` if it is none.
fn keyword(word: &[u8]) -> Kind {
    let mut rest = KEYWORDS;
    for &kind in &KEYWORD_KINDS {
        let Some((&len, after)) = rest.split_first() else {
            break;
        };
        let Some((keyword, after)) = after.split_at_checked(len as usize) else {
            break;
        };
        if keyword == word {
            return kind;
        }
        rest = after;
    }
    Kind::Name
}

pub(crate) fn is_keyword(name: &str) -> bool {
    keyword(name.as_bytes()) != Kind::Name
}

/// The punctuation characters, and per character its token alone (`!` is one only with `=`: alone, it is an
/// `Error`, an unexpected character); the last four (from `=`) are also one followed by `=`, in `WITH_EQUALS`.
const PUNCTUATION: &[u8; 19] = b"()[]{},.:;+-*/%=<>!";
const PUNCTUATION_KINDS: [Kind; 19] = [
    Kind::LParen,
    Kind::RParen,
    Kind::LBracket,
    Kind::RBracket,
    Kind::LBrace,
    Kind::RBrace,
    Kind::Comma,
    Kind::Dot,
    Kind::Colon,
    Kind::Semicolon,
    Kind::Plus,
    Kind::Minus,
    Kind::Star,
    Kind::Slash,
    Kind::Percent,
    Kind::Assign,
    Kind::Lt,
    Kind::Gt,
    Kind::Error,
];
/// The tokens of the last four punctuation characters followed by `=`.
// (A table of 19 pairs held the token twice for the 15 others.)
const WITH_EQUALS: [Kind; 4] = [Kind::Eq, Kind::Le, Kind::Ge, Kind::Ne];
/// Where the characters of `WITH_EQUALS` start in `PUNCTUATION`.
const FIRST_WITH_EQUALS: usize = PUNCTUATION.len() - WITH_EQUALS.len();

/// Where a token is in the source text, from `start` to `end` (also what the parser keeps of a name).
#[derive(Clone, Copy, Debug)]
#[repr(align(8))] // One register (see `Pos`).
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// Its text in `src` (none if it is not a part of it): one out-of-line place for the tokens' text, the
    /// names and the parser's messages.
    #[inline(never)]
    pub fn text(self, src: &str) -> &str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// A token: its kind, its span and where it is (its line and column as one word, as the lexer keeps them: the
/// parser takes a node's position from it in one move).
// The kind first (repr(C), no larger: the padding moved): the parser tests it all the time, and at offset 0 the
// test of it takes no offset byte.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Token {
    pub kind: Kind,
    pub span: Span,
    pub at: Pos,
}

// In this order: what the parser reads of it first (the lexer lies at the end of the parser, where only its
// first bytes have one-byte offsets; the other fields are reached from the lexer's own address).
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Lexer<'a> {
    /// What was wrong with the last token read, if it is of kind `Error` (the parser reads it then, before the
    /// lexer reads another).
    pub message: Syntax,
    /// The text (the parser reads its tokens' text here too: one copy of the reference).
    pub src: &'a str,
    pos: usize,
    /// The line and column of `col_at`.
    at: Pos,
    /// A position of this line whose column is known, so columns are counted incrementally.
    col_at: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            at: Pos { line: 1, col: 1 },
            col_at: 0,
            message: Syntax::UnexpectedCharacter,
        }
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.src
            .as_bytes()
            .get(self.pos + ahead)
            .copied()
            .unwrap_or(0)
    }

    /// Reads the next token into `token` (in place: a token is too big to come back in registers, and was
    /// copied from a temporary); after the end, `Eof` again and again. A token of kind `Error` is what could not
    /// be read (its span shows it), `message` says why.
    pub fn next(&mut self, token: &mut Token) {
        let src = self.src.as_bytes();
        // What is wrong with the token, if it is an `Error` (but an unfinished string): set for each token, so
        // that the `Error` of a lone `!` comes from the table.
        self.message = Syntax::UnexpectedCharacter;
        // Skip blanks and comments (not newlines: they end statements).
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    while self.pos < src.len() && src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        // (Counted by index, each byte read by `get`: a slice of the text was checked at both ends, and an index
        // took a panic path. In a local, stored once: the field was stored at each byte.)
        let mut col = self.at.col;
        for i in self.col_at..start {
            col += u32::from(src.get(i).is_some_and(|b| b & 0xc0 != 0x80));
        }
        self.at.col = col;
        self.col_at = start;
        *token = Token {
            kind: Kind::Eof,
            span: Span {
                start: start as u32,
                end: start as u32,
            },
            at: self.at,
        };
        if start >= src.len() {
            return;
        }
        let c = src[start];
        self.pos += 1;
        token.kind = match c {
            b'\n' => {
                self.at.line += 1;
                self.col_at = self.pos;
                self.at.col = 1;
                Kind::Newline
            }
            // (One call of `string` for both kinds, which the compiler then inlines: smaller than two calls.)
            b'x' | b'"' if c == b'"' || self.peek(0) == b'"' => {
                let kind = if c == b'x' {
                    self.pos += 1;
                    Kind::Bytes
                } else {
                    Kind::Str
                };
                self.string(kind)
            }
            // A table rather than an arm per character: a jump table of 8 bytes a byte value costs more.
            _ if let Some(i) = PUNCTUATION.iter().position(|&p| p == c) => {
                let one = PUNCTUATION_KINDS[i];
                if i >= FIRST_WITH_EQUALS && self.peek(0) == b'=' {
                    self.pos += 1;
                    WITH_EQUALS[i - FIRST_WITH_EQUALS]
                } else {
                    one
                }
            }
            // A word: a name, a keyword or a number, which runs on like a name (its digits are checked when the
            // parser decodes it). (Scanned from its first character, so that one test finds each of its
            // characters; nothing else begins with one.)
            _ => {
                self.pos = start;
                // (Each byte read by `get`, which tells the end apart: `peek`'s 0 for the end was tested again.)
                while let Some(&c) = src.get(self.pos) {
                    if !(c.is_ascii_alphanumeric() || c == b'_') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    self.pos += 1;
                    self.unexpected()
                } else if c.is_ascii_digit() {
                    Kind::Int
                } else {
                    // (Through the out-of-line `text`: a slice of its own took bounds checks.)
                    keyword(
                        Span {
                            start: start as u32,
                            end: self.pos as u32,
                        }
                        .text(self.src)
                        .as_bytes(),
                    )
                }
            }
        };
        token.span.end = self.pos as u32;
    }

    /// A character no token begins with. (Inlined at its one call, now that a lone `!` is a table's `Error`.)
    fn unexpected(&mut self) -> Kind {
        // Step over a whole UTF-8 character so that the error shows it.
        while self.peek(0) & 0xc0 == 0x80 {
            self.pos += 1;
        }
        Kind::Error
    }

    /// Scans to the closing quote (escapes are checked when the parser decodes the literal): a literal of
    /// `kind`, or `Error` when the line or the text ends first.
    fn string(&mut self, kind: Kind) -> Kind {
        // (Each byte read by `get`, which tells the end apart, as in the word scan: the string ends unfinished at
        // a newline or the end.)
        let src = self.src.as_bytes();
        while let Some(&c) = src.get(self.pos) {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
            if c == b'"' {
                return kind;
            }
            // An escape is stepped over whole (its letter is checked when the literal is decoded), but for a
            // newline or the end, which the next turn finds.
            if c == b'\\' && src.get(self.pos).is_some_and(|&e| e != b'\n') {
                self.pos += 1;
            }
        }
        self.message = Syntax::UnfinishedString;
        Kind::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind of the first token of `word`.
    fn first_kind(word: &str) -> Kind {
        let mut token = Token {
            span: Span { start: 0, end: 0 },
            at: Pos::default(),
            kind: Kind::Error,
        };
        Lexer::new(word).next(&mut token);
        token.kind
    }

    #[test]
    fn punctuation() {
        for (text, kind) in [
            ("=", Kind::Assign),
            ("==", Kind::Eq),
            ("<", Kind::Lt),
            ("<=", Kind::Le),
            (">", Kind::Gt),
            (">=", Kind::Ge),
            ("!=", Kind::Ne),
            ("!", Kind::Error),
            ("+=", Kind::Plus),
            ("%", Kind::Percent),
            ("(", Kind::LParen),
        ] {
            assert_eq!(first_kind(text), kind, "{text}");
        }
    }

    #[test]
    fn keywords() {
        let words =
            "nil let fn return if else while for in break continue try catch and or not true false";
        for (word, kind) in words.split(' ').zip(KEYWORD_KINDS) {
            assert_eq!(first_kind(word), kind, "{word}");
            assert!(is_keyword(word));
        }
        assert_eq!(words.split(' ').count(), KEYWORD_KINDS.len());
        for word in ["ni", "nill", "lets", "x", "falsee", "fals"] {
            assert_eq!(first_kind(word), Kind::Name, "{word}");
            assert!(!is_keyword(word));
        }
    }
}
