//! Comparing a module's live namespace with the one a reload's run produced.
//!
//! A reload that ran a few statements of a 20 000-function module still gets
//! back a namespace of 20 000 names, nearly all holding the very objects the
//! live module holds. Telling the few that differ in a Python loop costs more
//! than the rest of such a reload; here it is one pass of dict lookups.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Keys of `new` whose value differs, and keys of `live` that `new` lacks.
type Changes<'py> = (Vec<Bound<'py, PyAny>>, Vec<Bound<'py, PyAny>>);

/// The keys of `new` whose value is not the very object `live` holds under
/// that key (or that `live` lacks), in `new`'s order; and the keys of `live`
/// that `new` lacks, in `live`'s order.
#[pyfunction]
pub fn namespace_changes<'py>(
    new: &Bound<'py, PyDict>,
    live: &Bound<'py, PyDict>,
) -> PyResult<Changes<'py>> {
    let mut changed = Vec::new();
    for (key, value) in new.iter() {
        let same = live.get_item(&key)?.is_some_and(|before| before.is(&value));
        if !same {
            changed.push(key);
        }
    }
    let mut missing = Vec::new();
    for key in live.keys() {
        if !new.contains(&key)? {
            missing.push(key);
        }
    }
    Ok((changed, missing))
}
