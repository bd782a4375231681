//! Telling that a function the reload made is exactly the one it already has.
//!
//! An edit usually touches a few functions; the rest of a module re-executes
//! into functions equal to the live ones, down to their line numbers. Those
//! need no update at all, and telling so is a handful of C comparisons.

use pyo3::ffi;
use pyo3::prelude::*;

use crate::function::{is_function, raw};

/// Borrowed view of a possibly-null field.
///
/// # Safety
/// `ptr` is null or a live object kept alive by a function the caller holds.
unsafe fn field<'py>(py: Python<'py>, ptr: *mut ffi::PyObject) -> Option<Bound<'py, PyAny>> {
    // SAFETY: guaranteed by the caller; the Bound takes its own reference.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, ptr) }
}

fn equal(a: &Option<Bound<'_, PyAny>>, b: &Option<Bound<'_, PyAny>>) -> PyResult<bool> {
    match (a, b) {
        (None, None) => Ok(true),
        (Some(a), Some(b)) => Ok(a.is(b) || a.eq(b)?),
        _ => Ok(false),
    }
}

fn empty_dict(dict: &Option<Bound<'_, PyAny>>) -> bool {
    // SAFETY: a function's `__dict__` is always a dict when set.
    dict.as_ref()
        .is_none_or(|d| unsafe { ffi::PyDict_Size(d.as_ptr()) } == 0)
}

/// True if `old` and `new` are plain functions that would behave identically
/// and look identical: same code (line numbers included), globals, builtins,
/// defaults, keyword defaults, doc, annotations, type parameters and (3.14+)
/// annotate functions, no closure and no attributes. `update_function(old, new)`
/// would change nothing.
#[pyfunction]
pub fn same_function(old: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !(is_function(old) && is_function(new)) {
        return Ok(false);
    }
    let py = old.py();
    let (o, n) = (raw(old), raw(new));
    // SAFETY: both are live function objects held by the caller and the GIL is
    // held; every field read is null or an object the function keeps alive.
    unsafe {
        if !(*o).func_closure.is_null() || !(*n).func_closure.is_null() {
            return Ok(false);
        }
        if (*o).func_globals != (*n).func_globals {
            return Ok(false);
        }
        #[cfg(Py_3_10)]
        if (*o).func_builtins != (*n).func_builtins {
            return Ok(false);
        }
        if !empty_dict(&field(py, (*o).func_dict)) || !empty_dict(&field(py, (*n).func_dict)) {
            return Ok(false);
        }
        let pairs = [
            ((*o).func_code, (*n).func_code),
            ((*o).func_defaults, (*n).func_defaults),
            ((*o).func_kwdefaults, (*n).func_kwdefaults),
            ((*o).func_doc, (*n).func_doc),
            ((*o).func_annotations, (*n).func_annotations),
            #[cfg(Py_3_12)]
            ((*o).func_typeparams, (*n).func_typeparams),
        ];
        for (a, b) in pairs {
            if !equal(&field(py, a), &field(py, b))? {
                return Ok(false);
            }
        }
        #[cfg(Py_3_14)]
        if !same_annotate(
            &field(py, (*o).func_annotate),
            &field(py, (*n).func_annotate),
        )? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// 3.14+: each execution of a `def` makes a new annotate function, so two are
/// the same when they are the same function by this very rule (same code and
/// globals, nothing captured). A cached `__annotations__` is compared above:
/// an old function whose cache was filled differs from a new one whose is not.
#[cfg(Py_3_14)]
fn same_annotate(a: &Option<Bound<'_, PyAny>>, b: &Option<Bound<'_, PyAny>>) -> PyResult<bool> {
    match (a, b) {
        (None, None) => Ok(true),
        (Some(a), Some(b)) => Ok(a.is(b) || same_function(a, b)?),
        _ => Ok(false),
    }
}
