//! A fast scanner that splits Python source into logical lines.
//!
//! Deciding which top-level statements an edit changed must not cost a full
//! `ast.parse` (slower than compiling the module). Statements are runs of
//! logical lines, and a logical line only needs strings, comments, brackets and
//! backslash continuations to be recognised, which one pass over the bytes does.

use pyo3::prelude::*;

/// One logical line as found: 1-based first and last physical line,
/// indentation (in columns, tabs to multiples of 8), byte offsets of its text.
type Found = (usize, usize, usize, usize, usize);

/// One logical line as returned: first line, last line, indentation, text.
type LogicalLine = (usize, usize, usize, String);

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

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Splits `source` into logical lines: `(first_line, last_line, indent, text)`,
/// with 1-based lines; the text has no trailing comment or newline. Blank and
/// comment-only lines are left out.
#[pyfunction]
pub fn logical_lines(source: &str) -> Vec<LogicalLine> {
    let bytes = source.as_bytes();
    Scanner {
        src: bytes,
        pos: 0,
        line: 1,
    }
    .scan()
    .into_iter()
    .map(|(first, last, indent, start, end)| {
        let text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
        (first, last, indent, text)
    })
    .collect()
}
