//! A small strict JSON parser for LUKS2 metadata: RFC 8259 without floating point (LUKS2 writes only
//! integers, and big ones as strings), with a nesting limit. A few hundred lines instead of serde keep
//! the payload small.

use crate::CryptoError;
use alloc::string::String;
use alloc::vec::Vec;

/// Deepest nesting of arrays and objects accepted (LUKS2 metadata needs 4).
pub const MAX_DEPTH: usize = 32;

/// Most values in a document (cryptsetup's metadata has a few hundred): a hostile 4 MiB JSON area of `[0,0,...]`
/// would otherwise become two million values, 80 MB of memory, more than a small machine's heap.
pub const MAX_VALUES: usize = 65_536;

/// A parsed JSON value. Objects keep their members in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// An integer; fractions and exponents are refused.
    Number(i64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (the first, if a document repeats it).
    #[optimize(size)]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    #[optimize(size)]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    #[optimize(size)]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    #[optimize(size)]
    pub fn members(&self) -> &[(String, Value)] {
        match self {
            Value::Object(members) => members,
            _ => &[],
        }
    }

    #[optimize(size)]
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            _ => &[],
        }
    }
}

/// Parses one JSON document; only whitespace may follow the value.
#[optimize(size)]
pub fn parse(text: &[u8]) -> Result<Value, CryptoError> {
    let mut parser = Parser {
        text,
        at: 0,
        values: 0,
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.at != text.len() {
        return Err(parser.error("text after the end of the document"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    /// Values begun so far (see [`MAX_VALUES`]).
    values: usize,
}

impl Parser<'_> {
    #[optimize(size)]
    fn error(&self, message: &'static str) -> CryptoError {
        CryptoError::BadJson {
            offset: self.at,
            message,
        }
    }

    #[optimize(size)]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    #[optimize(size)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    #[optimize(size)]
    fn expect(&mut self, byte: u8, message: &'static str) -> Result<(), CryptoError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    #[optimize(size)]
    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, CryptoError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("unknown word"))
        }
    }

    // value -> object | array | string | number | true | false | null
    #[optimize(size)]
    fn value(&mut self, depth: usize) -> Result<Value, CryptoError> {
        self.skip_whitespace();
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.error("too many values"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of the document")),
        }
    }

    // object -> '{' [ string ':' value { ',' string ':' value } ] '}'
    #[optimize(size)]
    fn object(&mut self, depth: usize) -> Result<Value, CryptoError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "expected ':' after a member name")?;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    // array -> '[' [ value { ',' value } ] ']'
    #[optimize(size)]
    fn array(&mut self, depth: usize) -> Result<Value, CryptoError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    // number -> [ '-' ] ( '0' | [1-9] digit* ), no fraction or exponent
    #[optimize(size)]
    fn number(&mut self) -> Result<Value, CryptoError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut value: i64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(digit - b'0')))
                .ok_or_else(|| self.error("number too large"))?;
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 {
            return Err(self.error("expected a digit"));
        }
        if digits > 1 && self.text[start] == b'0' {
            return Err(self.error("leading zero in a number"));
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(self.error("fractional numbers are not supported"));
        }
        Ok(Value::Number(if negative { -value } else { value }))
    }

    #[optimize(size)]
    fn hex4(&mut self) -> Result<u32, CryptoError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.error("bad \\u escape")),
            };
            value = value * 16 + u32::from(digit);
            self.at += 1;
        }
        Ok(value)
    }

    // string -> '"' { char | '\' escape } '"'
    #[optimize(size)]
    fn string(&mut self) -> Result<String, CryptoError> {
        self.at += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let byte = self
                .peek()
                .ok_or_else(|| self.error("unterminated string"))?;
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.at += 1;
                    let simple = match escape {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => return Err(self.error("bad escape")),
                    };
                    if escape != b'u' {
                        out.push(simple);
                        continue;
                    }
                    let mut code = self.hex4()?;
                    if (0xD800..0xDC00).contains(&code) {
                        if !self.text[self.at..].starts_with(b"\\u") {
                            return Err(self.error("lone surrogate"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(self.error("lone surrogate"));
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    let c = char::from_u32(code).ok_or_else(|| self.error("lone surrogate"))?;
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> &'static str {
        match parse(text.as_bytes()) {
            Err(CryptoError::BadJson { message, .. }) => message,
            other => panic!("{text:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn parses_luks2_shapes() {
        let value = parse(
            br#" {"a": {"b": [1, -2, "3"], "c": true, "d": null}, "e": "x\u00e9\ud83d\ude00\n"} "#,
        )
        .unwrap();
        let a = value.get("a").unwrap();
        assert_eq!(
            a.get("b").unwrap().items(),
            &[
                Value::Number(1),
                Value::Number(-2),
                Value::String("3".into())
            ]
        );
        assert_eq!(a.get("c"), Some(&Value::Bool(true)));
        assert_eq!(a.get("d"), Some(&Value::Null));
        assert_eq!(value.get("e").unwrap().as_str(), Some("x\u{e9}\u{1f600}\n"));
        assert_eq!(parse(b"[]").unwrap(), Value::Array(Vec::new()));
    }

    #[test]
    fn refuses_what_rfc_8259_refuses() {
        assert_eq!(error_of("{\"a\":1,}"), "expected a member name");
        assert_eq!(error_of("[1,]"), "expected a value");
        assert_eq!(error_of("[1 2]"), "expected ',' or ']'");
        assert_eq!(error_of("01"), "leading zero in a number");
        assert_eq!(error_of("1.5"), "fractional numbers are not supported");
        assert_eq!(error_of("99999999999999999999"), "number too large");
        assert_eq!(error_of("\"a\tb\""), "control character in a string");
        assert_eq!(error_of("\"\\ud800\""), "lone surrogate");
        assert_eq!(error_of("\"\\x\""), "bad escape");
        assert_eq!(error_of("\"abc"), "unterminated string");
        assert_eq!(error_of("tru"), "unknown word");
        assert_eq!(error_of("{} {}"), "text after the end of the document");
        assert_eq!(error_of(""), "unexpected end of the document");
        assert_eq!(error_of("-"), "expected a digit");
        assert_eq!(error_of("\"\\u12\""), "bad \\u escape");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        parse(deep.as_bytes()).unwrap();
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(error_of(&deeper), "nested too deeply");
        let hostile = "[".repeat(100_000);
        assert_eq!(error_of(&hostile), "nested too deeply");
    }

    #[test]
    fn the_number_of_values_is_bounded() {
        // The array itself and MAX_VALUES - 1 items: the most a document holds.
        let most = format!("[{}0]", "0,".repeat(MAX_VALUES - 2));
        assert_eq!(
            parse(most.as_bytes()).unwrap().items().len(),
            MAX_VALUES - 1
        );
        let more = format!("[{}0]", "0,".repeat(MAX_VALUES - 1));
        assert_eq!(error_of(&more), "too many values");
        // A 4 MiB area of them (cryptsetup's largest) stops there too.
        let hostile = format!("[{}0]", "0,".repeat(2 << 20));
        assert_eq!(error_of(&hostile), "too many values");
    }
}
