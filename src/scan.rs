//! A fast scanner that cuts Python source into statements.
//!
//! Deciding which top-level statements an edit changed must not cost a full
//! `ast.parse` (slower than compiling the module). Statements are runs of
//! logical lines, and a logical line only needs strings, comments, brackets and
//! backslash continuations to be recognised, which one pass over the bytes does.

use std::collections::HashMap;

/// One logical line as found: 1-based first and last physical line,
/// indentation (in columns, tabs to multiples of 8), byte offsets of its text.
type Found = (usize, usize, usize, usize, usize);

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

/// What a byte means to the scanner of a logical line (see `CLASSES`).
#[derive(Clone, Copy, PartialEq)]
enum Class {
    /// Part of a token that is not a string, a bracket or a comment.
    Plain,
    /// Space, tab, carriage return, form feed: not part of the text's end.
    Blank,
    Newline,
    Comment,
    Backslash,
    Open,
    Close,
    Quote,
}

/// The class of every byte, so the inner loop is one table lookup per byte.
const CLASSES: [Class; 256] = {
    let mut table = [Class::Plain; 256];
    table[b' ' as usize] = Class::Blank;
    table[b'\t' as usize] = Class::Blank;
    table[b'\r' as usize] = Class::Blank;
    table[0x0c] = Class::Blank;
    table[b'\n' as usize] = Class::Newline;
    table[b'#' as usize] = Class::Comment;
    table[b'\\' as usize] = Class::Backslash;
    table[b'(' as usize] = Class::Open;
    table[b'[' as usize] = Class::Open;
    table[b'{' as usize] = Class::Open;
    table[b')' as usize] = Class::Close;
    table[b']' as usize] = Class::Close;
    table[b'}' as usize] = Class::Close;
    table[b'\'' as usize] = Class::Quote;
    table[b'"' as usize] = Class::Quote;
    table
};

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn bump(&mut self) {
        if self.src[self.pos] == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
    }

    /// Moves to the next newline (or the end), as after a `#`.
    fn skip_comment(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
    }

    /// Skips a string literal whose opening quote is at `pos`. Its prefix (`r`,
    /// `b`, `f`...) needs no attention: it was scanned as plain text, and a
    /// backslash escapes the next byte in every kind of string, raw ones
    /// included (for quotes).
    fn skip_string(&mut self) {
        let src = self.src;
        let quote = src[self.pos];
        let triple = self.peek(1) == quote && self.peek(2) == quote;
        let width = if triple { 3 } else { 1 };
        let mut pos = self.pos + width;
        let mut newlines = 0;
        let closed = loop {
            let Some(&c) = src.get(pos) else {
                break src.len();
            };
            if c == b'\\' {
                if src.get(pos + 1) == Some(&b'\n') {
                    newlines += 1;
                }
                pos = (pos + 2).min(src.len());
            } else if c == quote
                && (!triple
                    || (src.get(pos + 1) == Some(&quote) && src.get(pos + 2) == Some(&quote)))
            {
                break pos + width;
            } else if c == b'\n' {
                if !triple {
                    break pos; // unterminated: let the compiler report it
                }
                newlines += 1;
                pos += 1;
            } else {
                pos += 1;
            }
        };
        self.pos = closed;
        self.line += newlines;
    }

    fn scan(&mut self) -> Vec<Found> {
        let mut lines = Vec::new();
        while self.pos < self.src.len() {
            // Start of a physical line outside any logical line: measure indentation.
            let mut indent = 0;
            while matches!(self.peek(0), b' ' | b'\t' | b'\x0c') {
                indent = if self.peek(0) == b'\t' {
                    (indent / 8 + 1) * 8
                } else {
                    indent + 1
                };
                self.bump();
            }
            match self.peek(0) {
                0 => break,
                b'\n' | b'\r' => {
                    self.bump();
                    continue;
                }
                b'#' => {
                    self.skip_comment();
                    continue;
                }
                _ => {}
            }
            let (start, first_line) = (self.pos, self.line);
            let end = self.scan_logical_line();
            let mut last_line = self.line;
            if self.pos > 0 && self.src[self.pos - 1] == b'\n' {
                last_line -= 1;
            }
            lines.push((first_line, last_line, indent, start, end));
        }
        lines
    }

    /// Consumes one logical line and returns the end offset of its text.
    fn scan_logical_line(&mut self) -> usize {
        let src = self.src;
        let mut depth: usize = 0;
        let mut end = self.pos;
        while let Some(&c) = src.get(self.pos) {
            match CLASSES[c as usize] {
                Class::Plain => {
                    // Names, numbers and operators: the bulk of a source, in one run.
                    let run = src[self.pos..]
                        .iter()
                        .position(|&c| CLASSES[c as usize] != Class::Plain)
                        .unwrap_or(src.len() - self.pos);
                    self.pos += run;
                    end = self.pos;
                }
                Class::Blank => self.pos += 1,
                Class::Quote => {
                    self.skip_string();
                    end = self.pos;
                }
                Class::Comment => self.skip_comment(),
                Class::Backslash if matches!(self.peek(1), b'\n' | b'\r') => {
                    self.bump();
                    while matches!(self.peek(0), b'\r' | b'\n') {
                        let newline = self.peek(0) == b'\n';
                        self.bump();
                        if newline {
                            break;
                        }
                    }
                }
                Class::Backslash => {
                    self.pos += 1;
                    end = self.pos;
                }
                Class::Open => {
                    depth += 1;
                    self.pos += 1;
                    end = self.pos;
                }
                Class::Close => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                    end = self.pos;
                }
                Class::Newline => {
                    self.bump();
                    if depth == 0 {
                        return end;
                    }
                }
            }
        }
        end
    }
}

pub fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// One statement of a scope, as cut from the source.
pub struct Record {
    /// 1-based first line (its first decorator, for a decorated definition).
    pub first: usize,
    /// 1-based last line, body included.
    pub last: usize,
    /// The text with the scope's indentation removed; for a `def` or `class`,
    /// the text of its decorators only (definitions are matched by name).
    pub text: String,
    /// The name a `def`, `async def` or `class` statement defines (`""` otherwise).
    pub defines: String,
    /// The line of the `def`/`class` header itself, below any decorators.
    pub header: usize,
    /// A digest of the statement's whole text, body included: equal digests,
    /// unchanged statement (one that only moved still has its digest).
    pub digest: u64,
    /// Byte offsets of the whole statement in the source.
    pub span: (usize, usize),
}

/// Statements by scope: `""` for the module, the class path (`"A.B"`) for class bodies.
pub type Scopes = HashMap<String, Vec<Record>>;

/// Cuts `source` into statements, for the module and for every class body.
///
/// A statement is a logical line at the scope's indentation together with the
/// more indented lines below it (its body), the decorators above it and the
/// `else`/`elif`/`except`/`finally` clauses that continue it.
pub fn statements(src: &[u8]) -> Scopes {
    let lines = Scanner {
        src,
        pos: 0,
        line: 1,
    }
    .scan();
    let mut out = Scopes::new();
    collect(src, &lines, "", &mut out);
    out
}

fn text_of<'a>(src: &'a [u8], line: &Found) -> &'a [u8] {
    &src[line.3..line.4]
}

fn starts_with_word(text: &[u8], word: &[u8]) -> bool {
    text.starts_with(word) && text.get(word.len()).is_none_or(|c| !is_ident(*c))
}

fn continues_compound(text: &[u8]) -> bool {
    match text.first() {
        Some(b'e') => [&b"else"[..], b"elif", b"except"]
            .iter()
            .any(|w| starts_with_word(text, w)),
        Some(b'f') => starts_with_word(text, b"finally"),
        _ => false,
    }
}

/// The name after `keyword` in a header such as `class Name(...):`, if `text` is one.
fn defined_name<'a>(text: &'a [u8], keyword: &[u8]) -> Option<&'a str> {
    let rest = text.strip_prefix(keyword)?;
    let trimmed = rest.trim_ascii_start();
    if trimmed.len() == rest.len() {
        return None; // "classic = ..." is not a class statement
    }
    let end = trimmed
        .iter()
        .position(|c| !is_ident(*c))
        .unwrap_or(trimmed.len());
    std::str::from_utf8(&trimmed[..end])
        .ok()
        .filter(|n| !n.is_empty())
}

/// The name a `def`, `async def` or `class` header defines.
fn definition(text: &[u8]) -> Option<&str> {
    let after_async = text
        .strip_prefix(b"async")
        .map(|rest| rest.trim_ascii_start())
        .filter(|rest| rest.len() + 5 < text.len())
        .unwrap_or(text);
    defined_name(after_async, b"def").or_else(|| defined_name(text, b"class"))
}

/// A digest of a statement's text, eight bytes at a time (a multiply-fold
/// mix in the manner of wyhash). Statements are compared by it within one
/// process only, and a pairing by digest is confirmed by comparing the texts
/// (see `StatementTable::changes`), so speed matters more than strength.
pub fn digest(text: &[u8]) -> u64 {
    const SEEDS: [u64; 3] = [
        0xa076_1d64_78bd_642f,
        0xe703_7ed1_a0b4_28db,
        0x8ebc_6af0_9c88_c6e3,
    ];
    fn mix(a: u64, b: u64) -> u64 {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    }
    let mut state = mix(SEEDS[0] ^ text.len() as u64, SEEDS[1]);
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        state = mix(state ^ word, SEEDS[1]);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(state ^ u64::from_le_bytes(tail), SEEDS[2])
}

fn collect(src: &[u8], lines: &[Found], scope: &str, out: &mut Scopes) {
    let Some(first) = lines.first() else { return };
    let indent = first.2;
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let head = i;
        while i < lines.len() && lines[i].2 == indent && text_of(src, &lines[i]).starts_with(b"@") {
            i += 1;
        }
        let header = i.min(lines.len() - 1);
        i = header + 1;
        while i < lines.len()
            && (lines[i].2 > indent
                || (lines[i].2 == indent && continues_compound(text_of(src, &lines[i]))))
        {
            i += 1;
        }
        let group = &lines[head..i];
        let last_line = group.last().map_or(first.1, |l| l.1);
        let header_text = text_of(src, &lines[header]);
        let defines = definition(header_text).unwrap_or_default().to_owned();
        // A definition is matched by its name, never by its text: only its
        // decorators are kept, which saves making thousands of strings.
        let kept = if defines.is_empty() {
            group
        } else {
            &lines[head..header]
        };
        let mut text = Vec::new();
        for (n, line) in kept.iter().enumerate() {
            if n > 0 {
                text.push(b'\n');
            }
            text.resize(text.len() + line.2.saturating_sub(indent), b' ');
            text.extend_from_slice(text_of(src, line));
        }
        let span = (group[0].3, group.last().map_or(group[0].4, |l| l.4));
        records.push(Record {
            first: group[0].0,
            last: last_line,
            text: String::from_utf8(text)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
            defines,
            header: lines[header].0,
            digest: digest(&src[span.0..span.1]),
            span,
        });
        if let Some(name) = defined_name(header_text, b"class") {
            if header + 1 < i {
                let inner = if scope.is_empty() {
                    name.to_owned()
                } else {
                    format!("{scope}.{name}")
                };
                collect(src, &lines[header + 1..i], &inner, out);
            }
        }
    }
    out.entry(scope.to_owned()).or_default().extend(records);
}
