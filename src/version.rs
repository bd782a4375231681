//! The function version that the 3.11+ specializing interpreter keys call sites on.
//!
//! A specialized call site caches a function's `func_version` together with
//! facts about its code (argument count, frame size, defaults). Whenever the
//! code changes, the version must change too, and:
//! - 3.11 re-versions a function lazily from a private counter: resetting to 0 is enough;
//! - 3.12 re-versions lazily from a counter that can collide with the version a
//!   freshly made function got from its code object, so the new function's
//!   version is copied instead (it describes exactly the code now installed);
//! - 3.13 never re-versions a function whose version is 0 (it would stay
//!   unspecialized for good), and keeps a version-to-function cache, so the
//!   version is only ever touched through `_PyFunction_SetVersion`;
//! - 3.14 and 3.15 behave as 3.13 (a changed function stays at version 1,
//!   "cleared", and is never specialized again), but their
//!   `_PyFunction_SetVersion` only files the function under the new version: it
//!   assumes a function that never had one and leaves the cache entry of the
//!   old version pointing at it (a dangling pointer once the function dies). So
//!   the old version is first cleared through the public
//!   `PyFunction_SetVectorcall` (given the vectorcall the function already
//!   has), which is how CPython itself clears a version, cache entry included.
//!
//! On 3.9 and 3.10 there is no function version and these are no-ops.

use pyo3::prelude::*;

#[cfg(Py_3_11)]
use crate::function::raw;

#[cfg(Py_3_13)]
extern "C" {
    // Exported by libpython 3.13-3.15 (declared in Include/internal/pycore_function.h).
    fn _PyFunction_SetVersion(func: *mut pyo3::ffi::PyFunctionObject, version: u32);
}

#[cfg(Py_3_14)]
extern "C" {
    // Public since 3.12 (Include/cpython/funcobject.h); pyo3-ffi does not declare it.
    fn PyFunction_SetVectorcall(
        func: *mut pyo3::ffi::PyFunctionObject,
        vectorcall: Option<pyo3::ffi::vectorcallfunc>,
    );
}

/// 3.14+: versions 0 (never set) and 1 (cleared) are never trusted by a call site.
#[cfg(Py_3_14)]
const FIRST_VALID: u32 = 2;

/// The current version of `func` (0 on 3.9 and 3.10).
pub(crate) fn get(func: &Bound<'_, PyAny>) -> u32 {
    #[cfg(Py_3_11)]
    {
        // SAFETY: `func` is a live function object (checked by the callers); the
        // GIL is held, so the field is not being written concurrently.
        unsafe { (*raw(func)).func_version }
    }
    #[cfg(not(Py_3_11))]
    {
        let _ = func;
        0
    }
}

/// Sets the version of `func`; 0 means "no call site may trust this function".
pub(crate) fn set(func: &Bound<'_, PyAny>, version: u32) {
    #[cfg(Py_3_14)]
    {
        let f = raw(func);
        // SAFETY: `func` is a live function object and the GIL is held.
        // `PyFunction_SetVectorcall` with the function's own vectorcall changes
        // nothing but the version: it drops the cache entry of the current one
        // and marks it cleared. With that entry gone the field may be written:
        // 0 or 1 as asked, or 0 ("never set", the state `MAKE_FUNCTION` calls
        // `_PyFunction_SetVersion` in) before filing the function under `version`.
        unsafe {
            PyFunction_SetVectorcall(f, (*f).vectorcall);
            if version >= FIRST_VALID {
                (*f).func_version = 0;
                _PyFunction_SetVersion(f, version);
            } else {
                (*f).func_version = version;
            }
        }
    }
    #[cfg(all(Py_3_13, not(Py_3_14)))]
    {
        // SAFETY: `func` is a live function object and the GIL is held;
        // _PyFunction_SetVersion keeps the interpreter's version cache in step.
        unsafe { _PyFunction_SetVersion(raw(func), version) }
    }
    #[cfg(all(Py_3_11, not(Py_3_13)))]
    {
        // SAFETY: as above; on 3.11 and 3.12 the version is a plain field that
        // the interpreter itself writes directly.
        unsafe { (*raw(func)).func_version = version }
    }
    #[cfg(not(Py_3_11))]
    {
        let _ = (func, version);
    }
}

/// Resets the version so that no specialized call site trusts `func`.
pub(crate) fn reset(func: &Bound<'_, PyAny>) {
    set(func, 0);
}

/// Gives `old`, which now runs `new`'s code with `new`'s defaults, the version
/// that describes that shape.
///
/// - 3.11: left at 0, re-versioned lazily from a counter that never collides.
/// - 3.12 to 3.15: `new`'s own version when `new` still has the one
///   `MAKE_FUNCTION` gave it (its code's `co_version`: every function with that
///   version runs that code with the defaults its `def` gives). Otherwise (`new`
///   made by `types.FunctionType`, or its defaults, code or closure set since),
///   `new` has version 0 or a lazily assigned one; copying 0 would let 3.12
///   re-version `old` lazily from the counter that collides with code versions
///   (a call site specialized for another function then runs `old` with that
///   function's argument layout: segfault) and would leave `old` unspecialized
///   for good on 3.13-3.15. So `old` gets a version no function has ever had instead.
pub(crate) fn adopt(old: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) {
    #[cfg(Py_3_12)]
    {
        let theirs = get(new);
        // SAFETY: `new` is a live function object and the GIL is held; its code
        // pointer is a strong reference to a live code object.
        let made_version = unsafe { code_version((*raw(new)).func_code) };
        if theirs != 0 && theirs == made_version {
            set(old, theirs);
        } else {
            set(old, fresh(old.py()));
        }
    }
    #[cfg(not(Py_3_12))]
    let _ = (old, new);
}

/// The head of CPython's `PyCodeObject` (3.12-3.15), up to `co_version`
/// (Include/cpython/code.h, `_PyCode_DEF`; identical in all four versions).
#[cfg(Py_3_12)]
#[repr(C)]
struct CodeHead {
    ob_base: pyo3::ffi::PyVarObject,
    co_consts: *mut pyo3::ffi::PyObject,
    co_names: *mut pyo3::ffi::PyObject,
    co_exceptiontable: *mut pyo3::ffi::PyObject,
    // co_flags, co_argcount, co_posonlyargcount, co_kwonlyargcount, co_stacksize,
    // co_firstlineno, co_nlocalsplus, co_framesize, co_nlocals, co_ncellvars, co_nfreevars
    co_ints: [std::os::raw::c_int; 11],
    co_version: u32,
}

/// The version `MAKE_FUNCTION` gives functions made from `code` (0 for null).
///
/// # Safety
/// `code` is null or a live code object, and the GIL is held.
#[cfg(Py_3_12)]
unsafe fn code_version(code: *mut pyo3::ffi::PyObject) -> u32 {
    // SAFETY: `code` is non-null here and live (caller); the check reads its type only.
    if code.is_null() || unsafe { pyo3::ffi::PyCode_Check(code) } == 0 {
        return 0;
    }
    // SAFETY: `code` is a live code object (checked above), whose layout starts
    // with `CodeHead` on 3.12-3.15; the field is only read.
    unsafe { (*code.cast::<CodeHead>()).co_version }
}

/// A version that no function has ever had: CPython numbers code objects from
/// the same counter that `MAKE_FUNCTION` versions come from, so the number an
/// empty code object just took is unique. 0 if the counter ran out.
#[cfg(Py_3_12)]
fn fresh(py: Python<'_>) -> u32 {
    let _ = py;
    // SAFETY: the GIL is held (`py`); the arguments are valid C strings. The new
    // code object is owned here, read, and released exactly once.
    unsafe {
        let code = pyo3::ffi::PyCode_NewEmpty(c"<hotreload>".as_ptr(), c"<version>".as_ptr(), 0);
        if code.is_null() {
            pyo3::ffi::PyErr_Clear();
            return 0;
        }
        let code = code.cast::<pyo3::ffi::PyObject>();
        let version = code_version(code);
        pyo3::ffi::Py_DECREF(code);
        version
    }
}
