//! Moving functions from the scratch namespace a reload executes in to the module's own.
//!
//! A reload runs the new source in a fresh namespace so that no other thread sees
//! a half-executed module. Every function it creates captures that namespace as
//! its `__globals__`, which has no setter; once the namespace has been reconciled
//! into the module, those functions are pointed at the module's dict instead.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::function::{self, is_function};

/// Points every function in `functions` whose `__globals__` is `scratch` at
/// `globals` instead, and returns how many were moved. Builtins are unchanged:
/// the scratch namespace was made from the module's dict and shares its
/// `__builtins__`. The caller keeps `scratch` alive for as long as a frame
/// started from it may still run (3.11+ frames borrow their globals).
#[pyfunction]
pub fn rebind_globals(
    functions: &Bound<'_, PyList>,
    scratch: &Bound<'_, PyDict>,
    globals: &Bound<'_, PyDict>,
) -> PyResult<usize> {
    let mut moved = 0;
    for func in functions.iter() {
        if !is_function(&func) {
            return Err(PyTypeError::new_err("rebind_globals() expects functions"));
        }
        let raw = function::raw(&func);
        // SAFETY: `func` is a live function object and the GIL is held. The slot
        // holds a strong reference to `scratch`, which is replaced by a new strong
        // reference to `globals`; the one to `scratch` is released last, and the
        // caller's own reference keeps the scratch dict alive regardless.
        unsafe {
            if (*raw).func_globals != scratch.as_ptr() {
                continue;
            }
            let previous =
                std::ptr::replace(&raw mut (*raw).func_globals, globals.clone().into_ptr());
            ffi::Py_DECREF(previous);
        }
        moved += 1;
    }
    Ok(moved)
}
