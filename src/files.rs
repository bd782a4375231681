//! Reading a module's source bytes on import, as cheaply as possible.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The bytes of the file at `path`, or None if it cannot be read.
///
/// The finder calls this for every import once installed, to remember the
/// source a module was loaded from; a Python file object would cost three
/// times as much.
#[pyfunction]
pub fn read_file<'py>(py: Python<'py>, path: &str) -> Option<Bound<'py, PyBytes>> {
    std::fs::read(path).ok().map(|data| PyBytes::new(py, &data))
}
