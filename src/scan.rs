//! A fast scanner that cuts Python source into statements.
//!
//! Deciding which top-level statements an edit changed must not cost a full
//! `ast.parse` (slower than compiling the module). Statements are runs of
//! logical lines, and a logical line only needs strings, comments, brackets and
//! backslash continuations to be recognised, which one pass over the bytes does.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::Hasher;

/// One logical line as found: 1-based first and last physical line,
/// indentation (in columns, tabs to multiples of 8), byte offsets of its text.
type Found = (usize, usize, usize, usize, usize);

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

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

    /// Skips a string literal whose opening quote is at `pos`.
    fn skip_string(&mut self) {
        let quote = self.peek(0);
        let triple = self.peek(1) == quote && self.peek(2) == quote;
        let width = if triple { 3 } else { 1 };
        for _ in 0..width {
            self.bump();
        }
        while self.pos < self.src.len() {
            let c = self.peek(0);
            if c == b'\\' {
                // A backslash escapes the next byte even in raw strings (for quotes).
                self.bump();
                if self.pos < self.src.len() {
                    self.bump();
                }
                continue;
            }
            if c == quote && (!triple || (self.peek(1) == quote && self.peek(2) == quote)) {
                for _ in 0..width {
                    self.bump();
                }
                return;
            }
            if c == b'\n' && !triple {
                return; // unterminated: let the compiler report it
            }
            self.bump();
        }
    }

    /// If a string prefix (r, b, f, u, t and combinations) starts at `pos` and is
    /// followed by a quote, returns its length.
    fn string_prefix(&self) -> Option<usize> {
        let mut n = 0;
        while n < 3 {
            match self.peek(n).to_ascii_lowercase() {
                b'r' | b'b' | b'f' | b'u' | b't' => {}
                b'\'' | b'"' => return Some(n),
                _ => return None,
            }
            n += 1;
        }
        None
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
                    while self.pos < self.src.len() && self.peek(0) != b'\n' {
                        self.bump();
                    }
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
        let mut depth: usize = 0;
        let mut end = self.pos;
        while self.pos < self.src.len() {
            let c = self.peek(0);
            let at_word_start = self.pos == 0 || !is_ident(self.src[self.pos - 1]);
            if at_word_start {
                if let Some(n) = self.string_prefix() {
                    self.pos += n;
                    self.skip_string();
                    end = self.pos;
                    continue;
                }
            }
            match c {
                b'#' => {
                    while self.pos < self.src.len() && self.peek(0) != b'\n' {
                        self.bump();
                    }
                }
                b'\\' if matches!(self.peek(1), b'\n' | b'\r') => {
                    self.bump();
                    while matches!(self.peek(0), b'\r' | b'\n') {
                        let newline = self.peek(0) == b'\n';
                        self.bump();
                        if newline {
                            break;
                        }
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.bump();
                    end = self.pos;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.bump();
                    end = self.pos;
                }
                b'\n' if depth == 0 => {
                    self.bump();
                    return end;
                }
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => self.bump(),
                _ => {
                    self.bump();
                    end = self.pos;
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
    [&b"else"[..], b"elif", b"except", b"finally"]
        .iter()
        .any(|w| starts_with_word(text, w))
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

/// A digest of a statement's text. Statements are compared by it within one
/// process only, so the hasher's fixed keys are enough.
fn digest(text: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(text);
    hasher.finish()
}

fn collect(src: &[u8], lines: &[Found], scope: &str, out: &mut Scopes) {
    let Some(first) = lines.first() else { return };
    let indent = first.2;
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
        out.entry(scope.to_owned()).or_default().push(Record {
            first: group[0].0,
            last: last_line,
            text: String::from_utf8_lossy(&text).into_owned(),
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
}
