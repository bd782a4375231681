//! Finding the objects that running a module's new source made, without letting
//! any other thread see the search.
//!
//! The collector is paused while a reload runs, so every object the run
//! allocates stays in the youngest generation. Listing that generation hands out
//! new references to objects other threads may be building: a tuple that
//! `tuple(genexpr)` is still filling must have one reference only, or its next
//! resize fails with `SystemError`. So the list is read and dropped inside one
//! call that runs no Python code: the GIL is never released in between, other
//! threads cannot run, and every reference count is back where it was before any
//! of them can look.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PySet};
use std::collections::HashSet;

use crate::function::{self, is_function};

/// `gc.get_objects`, looked up once (a builtin function, not a Python callback).
static GET_OBJECTS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn young_generation<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let get_objects = GET_OBJECTS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("gc")?.getattr("get_objects")?.unbind())
    })?;
    Ok(get_objects.bind(py).call1((0,))?.cast_into::<PyList>()?)
}

/// The ids of the objects in the youngest generation, as a set of ints.
#[pyfunction]
pub fn young_ids<'py>(py: Python<'py>) -> PyResult<Bound<'py, PySet>> {
    let young = young_generation(py)?;
    let ids: Vec<usize> = young.iter().map(|obj| obj.as_ptr() as usize).collect();
    drop(young);
    PySet::new(py, ids)
}

/// What the run made, found in the youngest generation: the functions whose
/// `__globals__` is `scratch`, the generators, coroutines and async generators
/// (a frame of theirs may borrow `scratch`), and the ids of every object that
/// was not there `before` (a set from `young_ids`).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn made_by_run<'py>(
    py: Python<'py>,
    scratch: &Bound<'py, PyDict>,
    before: HashSet<usize>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PySet>)> {
    let young = young_generation(py)?;
    let functions = PyList::empty(py);
    let suspendable = PyList::empty(py);
    let mut created = Vec::new();
    for obj in young.iter() {
        let address = obj.as_ptr() as usize;
        if is_function(&obj) {
            // SAFETY: `obj` is a live function object (checked above) and the GIL
            // is held; the globals pointer is only compared, never dereferenced.
            let globals = unsafe { (*function::raw(&obj)).func_globals };
            if globals == scratch.as_ptr() {
                functions.append(&obj)?;
            }
        } else {
            // SAFETY: type checks on a live object, GIL held.
            let kind = unsafe {
                ffi::PyGen_CheckExact(obj.as_ptr()) != 0
                    || ffi::PyCoro_CheckExact(obj.as_ptr()) != 0
                    || ffi::PyAsyncGen_CheckExact(obj.as_ptr()) != 0
            };
            if kind {
                suspendable.append(&obj)?;
            }
        }
        if !before.contains(&address) {
            created.push(address);
        }
    }
    drop(young);
    Ok((functions, suspendable, PySet::new(py, created)?))
}
