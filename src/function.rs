//! The atomic swap of a function's state, and snapshots that undo it.
//!
//! A function's behaviour lives in a handful of pointers inside its
//! `PyFunctionObject`: code, closure, globals, builtins, defaults, keyword
//! defaults, doc, `__dict__`, annotations and type parameters. `exchange_fields`
//! replaces all of them with plain pointer writes, so no Python code can run
//! (and no other thread can be scheduled) while the function is half-updated.
//! The values taken out are owned by the caller and released only at the very
//! end, because releasing one can run a finalizer that calls the function.

#[cfg(Py_3_11)]
use once_cell::sync::Lazy;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
#[cfg(Py_3_11)]
use std::collections::HashMap;
#[cfg(Py_3_11)]
use std::sync::Mutex;

use crate::version;

/// Every field of a function that `update_function` replaces, as owned references.
pub(crate) struct Fields {
    code: Option<Py<PyAny>>,
    globals: Option<Py<PyAny>>,
    #[cfg(Py_3_10)]
    builtins: Option<Py<PyAny>>,
    defaults: Option<Py<PyAny>>,
    kwdefaults: Option<Py<PyAny>>,
    closure: Option<Py<PyAny>>,
    doc: Option<Py<PyAny>>,
    dict: Option<Py<PyAny>>,
    annotations: Option<Py<PyAny>>,
    #[cfg(Py_3_12)]
    type_params: Option<Py<PyAny>>,
}

/// Checks that `obj` is a `types.FunctionType`, naming the argument otherwise.
pub(crate) fn expect_function(obj: &Bound<'_, PyAny>, argument: &str) -> PyResult<()> {
    // SAFETY: `obj` is a live object; PyFunction_Check only reads its type pointer.
    if unsafe { ffi::PyFunction_Check(obj.as_ptr()) } == 1 {
        return Ok(());
    }
    let type_name = obj
        .get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    Err(PyTypeError::new_err(format!(
        "update_function() argument '{argument}' must be a function (types.FunctionType), not {type_name}"
    )))
}

/// The raw struct behind a function object. Callers check `expect_function` first.
pub(crate) fn raw(func: &Bound<'_, PyAny>) -> *mut ffi::PyFunctionObject {
    func.as_ptr().cast::<ffi::PyFunctionObject>()
}

/// A new strong reference to the object behind a possibly-null borrowed pointer.
///
/// # Safety
/// `ptr` is null or points to a live object, and the GIL is held.
unsafe fn owned(py: Python<'_>, ptr: *mut ffi::PyObject) -> Option<Py<PyAny>> {
    // SAFETY: guaranteed by the caller; from_borrowed_ptr_or_opt takes its own reference.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, ptr).map(Bound::unbind) }
}

/// Writes `value` (owned, or None for null) into `slot` and hands back what was there.
///
/// # Safety
/// `slot` is a field of a live function object holding a strong reference or null,
/// and the GIL is held. No Python code runs here: only pointer moves.
unsafe fn exchange(
    py: Python<'_>,
    slot: *mut *mut ffi::PyObject,
    value: Option<Py<PyAny>>,
) -> Option<Py<PyAny>> {
    let new_ptr = value.map_or(std::ptr::null_mut(), Py::into_ptr);
    // SAFETY: `slot` is valid for reads and writes (caller); the reference it held
    // moves into the returned `Py`, the one `value` held moves into the slot.
    unsafe {
        let old_ptr = std::ptr::replace(slot, new_ptr);
        Bound::from_owned_ptr_or_opt(py, old_ptr).map(Bound::unbind)
    }
}

impl Fields {
    /// New strong references to every field of `func`.
    pub(crate) fn read(func: &Bound<'_, PyAny>) -> Fields {
        let py = func.py();
        let f = raw(func);
        // SAFETY: `func` is a live function object (checked by the callers) and the
        // GIL is held; every field is null or a strong reference owned by `func`.
        unsafe {
            Fields {
                code: owned(py, (*f).func_code),
                globals: owned(py, (*f).func_globals),
                #[cfg(Py_3_10)]
                builtins: owned(py, (*f).func_builtins),
                defaults: owned(py, (*f).func_defaults),
                kwdefaults: owned(py, (*f).func_kwdefaults),
                closure: owned(py, (*f).func_closure),
                doc: owned(py, (*f).func_doc),
                dict: owned(py, (*f).func_dict),
                annotations: owned(py, (*f).func_annotations),
                #[cfg(Py_3_12)]
                type_params: owned(py, (*f).func_typeparams),
            }
        }
    }

    fn clone_ref(&self, py: Python<'_>) -> Fields {
        let c = |v: &Option<Py<PyAny>>| v.as_ref().map(|o| o.clone_ref(py));
        Fields {
            code: c(&self.code),
            globals: c(&self.globals),
            #[cfg(Py_3_10)]
            builtins: c(&self.builtins),
            defaults: c(&self.defaults),
            kwdefaults: c(&self.kwdefaults),
            closure: c(&self.closure),
            doc: c(&self.doc),
            dict: c(&self.dict),
            annotations: c(&self.annotations),
            #[cfg(Py_3_12)]
            type_params: c(&self.type_params),
        }
    }

    /// Puts these fields into `func` and returns the ones it had.
    ///
    /// Pointer moves only: nothing is released and no Python code runs, so the
    /// whole exchange is atomic for other threads. The caller drops the result
    /// once the function is consistent again.
    fn exchange_into(self, func: &Bound<'_, PyAny>) -> Fields {
        let py = func.py();
        let f = raw(func);
        // SAFETY: `func` is a live function object and the GIL is held; each slot
        // holds a strong reference or null, which `exchange` moves out.
        unsafe {
            Fields {
                closure: exchange(py, &raw mut (*f).func_closure, self.closure),
                code: exchange(py, &raw mut (*f).func_code, self.code),
                globals: exchange(py, &raw mut (*f).func_globals, self.globals),
                #[cfg(Py_3_10)]
                builtins: exchange(py, &raw mut (*f).func_builtins, self.builtins),
                defaults: exchange(py, &raw mut (*f).func_defaults, self.defaults),
                kwdefaults: exchange(py, &raw mut (*f).func_kwdefaults, self.kwdefaults),
                doc: exchange(py, &raw mut (*f).func_doc, self.doc),
                dict: exchange(py, &raw mut (*f).func_dict, self.dict),
                annotations: exchange(py, &raw mut (*f).func_annotations, self.annotations),
                #[cfg(Py_3_12)]
                type_params: exchange(py, &raw mut (*f).func_typeparams, self.type_params),
            }
        }
    }
}

/// Installs `target` (new's fields with the merged closure and `__dict__`) into `old`.
///
/// Order, and why:
/// 1. every field is exchanged by pointer moves, so no thread ever sees the new
///    code with the old closure or the reverse;
/// 2. the version is reset, so no call site specialized for the old shape trusts it;
/// 3. the `__code__` setter runs with the code already in place: it fires the audit
///    event and the function watchers (3.12+) and finds the closure length right.
///    If it refuses (an audit hook), every field is put back;
/// 4. the version of `new` is copied last (3.12 collisions, 3.13 de-specialization);
/// 5. the previous values are released only now.
pub(crate) fn install(
    old: &Bound<'_, PyAny>,
    new: &Bound<'_, PyAny>,
    target: Fields,
) -> PyResult<()> {
    let py = old.py();
    let code = target.code.as_ref().map(|c| c.clone_ref(py));
    let version_before = version::get(old);
    let previous = target.exchange_into(old);
    version::reset(old);
    if let Some(code) = code {
        if let Err(err) = old.setattr(intern!(py, "__code__"), code) {
            let refused = previous.exchange_into(old);
            version::set(old, version_before);
            drop(refused);
            return Err(err);
        }
    }
    version::adopt(old, new);
    retire_globals(py, &previous, old);
    drop(previous);
    Ok(())
}

/// Globals and builtins dicts that functions used to run with, kept alive forever.
///
/// Frames of 3.11+ borrow their globals and builtins from the function that
/// started them, and a suspended generator can hold such a frame indefinitely,
/// so a dict a function no longer uses may still be read. Each distinct dict is
/// kept once (keyed by address), which bounds the cost by the number of
/// namespaces ever replaced, not by the number of updates.
#[cfg(Py_3_11)]
static RETIRED_NAMESPACES: Lazy<Mutex<HashMap<usize, Py<PyAny>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

fn retire_globals(py: Python<'_>, previous: &Fields, func: &Bound<'_, PyAny>) {
    #[cfg(Py_3_11)]
    {
        let now = raw(func);
        // SAFETY: `func` is a live function object; only its pointers are compared.
        let (globals, builtins) = unsafe { ((*now).func_globals, (*now).func_builtins) };
        let gone = [(&previous.globals, globals), (&previous.builtins, builtins)];
        if gone
            .iter()
            .all(|(was, is)| was.as_ref().is_none_or(|w| w.as_ptr() == *is))
        {
            return;
        }
        let mut retired = RETIRED_NAMESPACES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (was, is) in gone {
            if let Some(dict) = was.as_ref().filter(|w| w.as_ptr() != is) {
                retired
                    .entry(dict.as_ptr() as usize)
                    .or_insert_with(|| dict.clone_ref(py));
            }
        }
    }
    // 3.9 and 3.10 frames own their globals and builtins: nothing to keep.
    #[cfg(not(Py_3_11))]
    let _ = (py, previous, func);
}

/// Builds the fields `old` will take from `new`: everything of `new`'s but the
/// closure and `__dict__`, which the caller has merged.
pub(crate) fn target_fields(
    new: &Bound<'_, PyAny>,
    closure: Option<Py<PyAny>>,
    dict: Option<Py<PyAny>>,
) -> Fields {
    let mut fields = Fields::read(new);
    fields.closure = closure;
    fields.dict = dict;
    fields
}

/// Everything `update_function` may change in one function, captured so that it
/// can be put back exactly. Calling the snapshot restores it.
#[pyclass(module = "hotreload._hotreload", frozen)]
pub struct FunctionState {
    function: Py<PyAny>,
    fields: Fields,
    version: u32,
}

impl FunctionState {
    pub(crate) fn capture(func: &Bound<'_, PyAny>) -> FunctionState {
        FunctionState {
            function: func.clone().unbind(),
            fields: Fields::read(func),
            version: version::get(func),
        }
    }

    /// Puts the captured fields back. Pointer moves only, so it cannot fail.
    pub(crate) fn restore_now(&self, py: Python<'_>) {
        let func = self.function.bind(py);
        let replaced = self.fields.clone_ref(py).exchange_into(func);
        version::set(func, self.version);
        // Frames started since the capture may borrow the namespaces taken out.
        retire_globals(py, &replaced, func);
        drop(replaced);
    }
}

#[pymethods]
impl FunctionState {
    /// Snapshot of `func`'s code, closure, globals, defaults and attributes.
    #[new]
    fn py_new(func: &Bound<'_, PyAny>) -> PyResult<Self> {
        expect_function(func, "func")?;
        Ok(Self::capture(func))
    }

    /// The function this snapshot belongs to.
    #[getter]
    fn function(&self, py: Python<'_>) -> Py<PyAny> {
        self.function.clone_ref(py)
    }

    /// Restores the function byte for byte to the captured state.
    fn restore(&self, py: Python<'_>) {
        self.restore_now(py);
    }

    fn __call__(&self, py: Python<'_>) {
        self.restore_now(py);
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let name = self
            .function
            .bind(py)
            .getattr(intern!(py, "__qualname__"))
            .map(|n| n.to_string())
            .unwrap_or_default();
        format!("<FunctionState of {name}>")
    }
}
