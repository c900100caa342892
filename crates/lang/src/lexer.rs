//! The lexer: turns source text into tokens that are spans of it, with line and column (both from 1).

/// What a token is. Literals keep only their span; the parser decodes them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Int,
    Str,
    Bytes,
    Name,
    // Keywords.
    Let,
    Fn,
    Return,
    If,
    Else,
    While,
    For,
    In,
    Break,
    Continue,
    Try,
    Catch,
    And,
    Or,
    Not,
    True,
    False,
    Nil,
    // Punctuation.
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Colon,
    Semicolon,
    Assign,
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
    Newline,
    Eof,
    /// Stands in the parser for a token the lexer could not make (no grammar rule accepts it).
    Error,
}

const KEYWORDS: [(&str, Kind); 18] = [
    ("nil", Kind::Nil),
    ("let", Kind::Let),
    ("fn", Kind::Fn),
    ("return", Kind::Return),
    ("if", Kind::If),
    ("else", Kind::Else),
    ("while", Kind::While),
    ("for", Kind::For),
    ("in", Kind::In),
    ("break", Kind::Break),
    ("continue", Kind::Continue),
    ("try", Kind::Try),
    ("catch", Kind::Catch),
    ("and", Kind::And),
    ("or", Kind::Or),
    ("not", Kind::Not),
    ("true", Kind::True),
    ("false", Kind::False),
];

pub(crate) fn is_keyword(name: &str) -> bool {
    KEYWORDS.iter().any(|(k, _)| *k == name)
}

/// The punctuation characters, and per character its token alone and followed by `=` (`!` is one only with `=`:
/// `Eof` stands for none).
const PUNCTUATION: &[u8; 19] = b"()[]{},.:;+-*/%=<>!";
const PUNCTUATION_KINDS: [(Kind, Kind); 19] = [
    (Kind::LParen, Kind::LParen),
    (Kind::RParen, Kind::RParen),
    (Kind::LBracket, Kind::LBracket),
    (Kind::RBracket, Kind::RBracket),
    (Kind::LBrace, Kind::LBrace),
    (Kind::RBrace, Kind::RBrace),
    (Kind::Comma, Kind::Comma),
    (Kind::Dot, Kind::Dot),
    (Kind::Colon, Kind::Colon),
    (Kind::Semicolon, Kind::Semicolon),
    (Kind::Plus, Kind::Plus),
    (Kind::Minus, Kind::Minus),
    (Kind::Star, Kind::Star),
    (Kind::Slash, Kind::Slash),
    (Kind::Percent, Kind::Percent),
    (Kind::Assign, Kind::Eq),
    (Kind::Lt, Kind::Le),
    (Kind::Gt, Kind::Ge),
    (Kind::Eof, Kind::Ne),
];

/// A token: its kind and where it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    /// A position of this line whose column is known, so columns are counted incrementally.
    col_at: usize,
    col: u32,
    /// What was wrong with the last token of kind `Error`.
    pub message: &'static str,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src: src.as_bytes(),
            pos: 0,
            line: 1,
            col_at: 0,
            col: 1,
            message: "",
        }
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// The next token; after the end, `Eof` again and again. A token of kind `Error` is what could not be read
    /// (its span shows it), `message` says why.
    pub fn next(&mut self) -> Token {
        // Skip blanks and comments (not newlines: they end statements).
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        self.col += self.src[self.col_at..start]
            .iter()
            .filter(|&&b| b & 0xc0 != 0x80)
            .count() as u32;
        self.col_at = start;
        let mut token = Token {
            kind: Kind::Eof,
            start: start as u32,
            end: start as u32,
            line: self.line,
            col: self.col,
        };
        if start >= self.src.len() {
            return token;
        }
        let c = self.src[start];
        self.pos += 1;
        token.kind = match c {
            b'\n' => {
                self.line += 1;
                self.col_at = self.pos;
                self.col = 1;
                Kind::Newline
            }
            b'x' if self.peek(0) == b'"' => {
                self.pos += 1;
                self.string(Kind::Bytes)
            }
            b'"' => self.string(Kind::Str),
            // A number runs on like a name (its digits are checked when the parser decodes it).
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                if c.is_ascii_digit() {
                    Kind::Int
                } else {
                    KEYWORDS
                        .iter()
                        .find(|(k, _)| k.as_bytes() == word)
                        .map_or(Kind::Name, |(_, kind)| *kind)
                }
            }
            // A table rather than an arm per character: a jump table of 8 bytes a byte value costs more.
            _ if let Some(i) = PUNCTUATION.iter().position(|&p| p == c) => {
                let (one, two) = PUNCTUATION_KINDS[i];
                if two != one && self.peek(0) == b'=' {
                    self.pos += 1;
                    two
                } else if one == Kind::Eof {
                    self.unexpected()
                } else {
                    one
                }
            }
            _ => self.unexpected(),
        };
        token.end = self.pos as u32;
        token
    }

    #[inline(never)]
    fn unexpected(&mut self) -> Kind {
        // Step over a whole UTF-8 character so that the error shows it.
        while self.peek(0) & 0xc0 == 0x80 {
            self.pos += 1;
        }
        self.message = "unexpected character";
        Kind::Error
    }

    /// Scans to the closing quote (escapes are checked when the parser decodes the literal): a literal of
    /// `kind`, or `Error` when the line or the text ends first.
    fn string(&mut self, kind: Kind) -> Kind {
        loop {
            match self.peek(0) {
                b'"' => {
                    self.pos += 1;
                    return kind;
                }
                b'\\' if self.pos + 1 < self.src.len() && self.src[self.pos + 1] != b'\n' => {
                    self.pos += 2
                }
                b'\n' | 0 if self.pos >= self.src.len() || self.src[self.pos] == b'\n' => {
                    self.message = "unfinished string";
                    return Kind::Error;
                }
                _ => self.pos += 1,
            }
        }
    }
}
