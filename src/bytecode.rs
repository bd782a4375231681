//! Reading which names a module's code binds at top level, from its bytecode.
//!
//! Deciding that a name was removed from a module needs the set of names the
//! new code stores. The instruction stream is a sequence of (opcode, argument)
//! byte pairs; walking it in Rust costs microseconds where a Python loop over a
//! large module costs milliseconds. Opcode numbers differ between CPython
//! versions, so the caller passes them in (from `dis.opmap`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// The entries of `names` that instructions with an opcode in `store_ops` refer
/// to, or None if an `import_star` instruction makes the set unknowable.
#[pyfunction]
#[pyo3(signature = (code, names, store_ops, extended_arg, import_star))]
pub fn stored_names<'py>(
    code: &Bound<'py, PyBytes>,
    names: &Bound<'py, PyTuple>,
    store_ops: Vec<u8>,
    extended_arg: u8,
    import_star: Option<u8>,
) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
    let mut found = Vec::new();
    let mut extended: usize = 0;
    for pair in code.as_bytes().chunks_exact(2) {
        let (op, arg) = (pair[0], extended | usize::from(pair[1]));
        if op == extended_arg {
            extended = arg << 8;
            continue;
        }
        extended = 0;
        if Some(op) == import_star {
            return Ok(None);
        }
        if store_ops.contains(&op) {
            found.push(names.get_item(arg)?);
        }
    }
    Ok(Some(found))
}
