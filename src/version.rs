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
//!   version is only ever touched through `_PyFunction_SetVersion`.
//!
//! On 3.9 and 3.10 there is no function version and these are no-ops.

use pyo3::prelude::*;

#[cfg(Py_3_11)]
use crate::function::raw;

#[cfg(all(Py_3_13, not(Py_3_14)))]
extern "C" {
    // Exported by libpython 3.13 (declared in Include/internal/pycore_function.h).
    fn _PyFunction_SetVersion(func: *mut pyo3::ffi::PyFunctionObject, version: u32);
}

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
/// that describes that shape: `new`'s own on 3.12 and 3.13, a lazily assigned
/// fresh one on 3.11.
pub(crate) fn adopt(old: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) {
    #[cfg(Py_3_12)]
    set(old, get(new));
    #[cfg(not(Py_3_12))]
    let _ = (old, new);
}
