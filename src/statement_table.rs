//! `StatementTable`: a source's statements, kept in Rust and handed out one at a time.
//!
//! A reload asks a few questions of a whole source (which statements changed,
//! which moved, which mention a name) and then looks closely at only the
//! statements the answers name. Turning every statement of a 20 000-function
//! module into Python objects costs more than the rest of a one-line reload,
//! so the table answers those questions here and builds a Python tuple only
//! for a statement that is asked for.

use crate::scan::{is_ident, statements, Record, Scopes};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};

/// What Python sees of one statement: first line, last line, dedented text
/// (decorators only, for a def or class), the name a def/class defines (`""`
/// otherwise), the line of its header, and the digest of its whole text.
type StatementTuple<'a> = (usize, usize, &'a str, &'a str, usize, u64);

/// New and edited statements, moved ones (old index, new index) and vanished ones.
type Changes = (Vec<usize>, Vec<(usize, usize)>, Vec<usize>);

#[pyclass(frozen, module = "hotreload._hotreload")]
pub struct StatementTable {
    source: String,
    scopes: Scopes,
    /// Byte offset at which each line starts (line n starts at `line_starts[n - 1]`).
    line_starts: Vec<usize>,
}

impl StatementTable {
    fn records(&self, scope: &str) -> &[Record] {
        self.scopes.get(scope).map_or(&[], Vec::as_slice)
    }

    fn indices<F: Fn(&Record) -> bool>(&self, scope: &str, keep: F) -> Vec<usize> {
        let records = self.records(scope);
        (0..records.len()).filter(|&i| keep(&records[i])).collect()
    }

    /// The statement's whole text as it stands in the source, body included.
    fn whole_text(&self, record: &Record) -> &[u8] {
        &self.source.as_bytes()[record.span.0..record.span.1]
    }

    /// Byte offsets at which `name` occurs as a whole name: not part of a longer
    /// name and not an attribute (`x.name`).
    fn word_offsets<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let source = self.source.as_bytes();
        self.source
            .match_indices(name)
            .map(|(start, _)| start)
            .filter(move |&start| {
                let end = start + name.len();
                let before = start.checked_sub(1).map(|i| source[i]);
                let after = source.get(end).copied();
                !name.is_empty()
                    && before.is_none_or(|c| !(is_ident(c) || c == b'.'))
                    && after.is_none_or(|c| !is_ident(c))
            })
    }
}

fn as_tuple(record: &Record) -> StatementTuple<'_> {
    (
        record.first,
        record.last,
        &record.text,
        &record.defines,
        record.header,
        record.digest,
    )
}

#[pymethods]
impl StatementTable {
    /// Cuts `source` into statements, for the module (scope `""`) and every class body
    /// (scope `"A"`, `"A.B"`).
    #[new]
    fn new(source: &str) -> Self {
        let scopes = statements(source.as_bytes());
        let mut line_starts = vec![0];
        let mut start = 0;
        for line in source.as_bytes().split_inclusive(|&c| c == b'\n') {
            start += line.len();
            if line.ends_with(b"\n") {
                line_starts.push(start);
            }
        }
        StatementTable {
            source: source.to_owned(),
            scopes,
            line_starts,
        }
    }

    /// True if `scope` has statements (a class body the source contains).
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains_key(scope)
    }

    /// How many statements `scope` has.
    fn count(&self, scope: &str) -> usize {
        self.records(scope).len()
    }

    /// The `index`-th statement of `scope`.
    fn get(&self, scope: &str, index: usize) -> PyResult<StatementTuple<'_>> {
        self.records(scope).get(index).map(as_tuple).ok_or_else(|| {
            PyIndexError::new_err(format!("no statement {index} in scope {scope:?}"))
        })
    }

    /// Every statement of `scope`, in order.
    fn all(&self, scope: &str) -> Vec<StatementTuple<'_>> {
        self.records(scope).iter().map(as_tuple).collect()
    }

    /// Indices of the statements of `scope` that are not `def` or `class`.
    fn plain(&self, scope: &str) -> Vec<usize> {
        self.indices(scope, |r| r.defines.is_empty())
    }

    /// Indices of the definitions of `scope` that have decorators.
    fn decorated(&self, scope: &str) -> Vec<usize> {
        self.indices(scope, |r| !r.defines.is_empty() && r.header > r.first)
    }

    /// True if a `def` or `class` statement of `scope` defines `name`.
    fn defines(&self, scope: &str, name: &str) -> bool {
        self.records(scope).iter().any(|r| r.defines == name)
    }

    /// Indices of the statements of `scope` that may bind `name`: the definitions
    /// of that name and the plain statements whose text contains it.
    fn candidates(&self, scope: &str, name: &str) -> Vec<usize> {
        self.indices(scope, |r| {
            if r.defines.is_empty() {
                r.text.contains(name)
            } else {
                r.defines == name
            }
        })
    }

    /// Names that more than one `def`/`class` statement of `scope` defines.
    fn redefined(&self, scope: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut twice = HashSet::new();
        for record in self.records(scope) {
            if !record.defines.is_empty() && !seen.insert(record.defines.as_str()) {
                twice.insert(record.defines.clone());
            }
        }
        twice.into_iter().collect()
    }

    /// Indices (in order, each once) of the statements of `scope` whose text,
    /// bodies included, mentions one of `names` as a whole name.
    fn mentioning(&self, scope: &str, names: Vec<String>) -> Vec<usize> {
        let records = self.records(scope);
        let mut found: Vec<usize> = names
            .iter()
            .flat_map(|name| self.word_offsets(name))
            .filter_map(|offset| {
                let index = records
                    .partition_point(|r| r.span.0 <= offset)
                    .checked_sub(1)?;
                (offset < records[index].span.1).then_some(index)
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The source to compile when only some statements run: the lines of the
    /// `(first, last)` ranges (1-based, inclusive) as they are, every other line
    /// left empty, so each line keeps its number.
    fn unit(&self, ranges: Vec<(usize, usize)>) -> String {
        let mut unit = String::with_capacity(self.line_starts.len());
        // The line the text so far ends on, and the last line copied.
        let (mut line, mut copied) = (1, 0);
        for (first, last) in ranges {
            if first <= copied || last < first || first > self.line_starts.len() {
                continue; // overlapping or outside the source: already there, or nothing
            }
            unit.extend(std::iter::repeat_n('\n', first - line));
            let start = self.line_starts[first - 1];
            let end = self
                .line_starts
                .get(last)
                .map_or(self.source.len(), |next| next - 1);
            unit.push_str(&self.source[start..end]);
            (line, copied) = (last, last);
        }
        let lines = self.line_starts.len();
        unit.extend(std::iter::repeat_n('\n', lines.saturating_sub(line)));
        unit
    }

    /// The text of line `line` (1-based), without its newline.
    fn line(&self, line: usize) -> &str {
        let Some(&start) = line.checked_sub(1).and_then(|i| self.line_starts.get(i)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.source.len(), |next| next - 1);
        self.source.get(start..end).unwrap_or("")
    }

    /// How the statements of `scope` in this (new) table relate to those of `old`.
    ///
    /// Statements are paired by digest (equal text), in source order, each old one
    /// at most once. Returns the indices of the new statements with no partner (new
    /// or edited), the pairs `(old, new)` whose first line differs (moved), and the
    /// indices of the old statements with no partner (gone or edited).
    fn changes(&self, old: PyRef<'_, Self>, scope: &str) -> Changes {
        let (olds, news) = (old.records(scope), self.records(scope));
        let mut pool: HashMap<u64, VecDeque<usize>> = HashMap::new();
        for (index, record) in olds.iter().enumerate() {
            pool.entry(record.digest).or_default().push_back(index);
        }
        let mut paired = vec![false; olds.len()];
        let (mut fresh, mut moved) = (Vec::new(), Vec::new());
        for (index, record) in news.iter().enumerate() {
            let text = self.whole_text(record);
            let partner = pool.get_mut(&record.digest).and_then(|candidates| {
                // Equal digests are confirmed by equal texts: a collision is an edit.
                let at = candidates
                    .iter()
                    .position(|&i| old.whole_text(&olds[i]) == text)?;
                candidates.remove(at)
            });
            match partner {
                Some(partner) => {
                    paired[partner] = true;
                    if olds[partner].first != record.first {
                        moved.push((partner, index));
                    }
                }
                None => fresh.push(index),
            }
        }
        let gone = (0..olds.len()).filter(|&i| !paired[i]).collect();
        (fresh, moved, gone)
    }
}
