//! The atomic swap of a function's state, and snapshots that undo it.
//!
//! A function's behaviour lives in a handful of pointers inside its
//! `PyFunctionObject`: code, closure, globals, builtins, defaults, keyword
//! defaults, doc, `__dict__`, annotations, type parameters and (3.14+) the
//! annotate function. `exchange_into`
//! replaces all of them with plain pointer writes, so no Python code can run
//! (and no other thread can be scheduled) while the function is half-updated.
//! The values taken out are owned by the caller and released only at the very
//! end, because releasing one can run a finalizer that calls the function.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::mem::ManuallyDrop;
use std::ptr::null_mut;
#[cfg(Py_3_11)]
use std::sync::Mutex;

use crate::version;

/// Positions in `Fields` (the order of `slots`; the code is at 1).
const CLOSURE: usize = 0;
#[cfg(Py_3_11)]
const GLOBALS: usize = 2;
const DICT: usize = 3;
const DEFAULTS: usize = 4;
const KWDEFAULTS: usize = 5;
#[cfg(Py_3_14)]
const ANNOTATIONS: usize = 7;
#[cfg(Py_3_11)]
const BUILTINS: usize = 8;
#[cfg(not(Py_3_10))]
const SLOTS: usize = 8;
#[cfg(all(Py_3_10, not(Py_3_12)))]
const SLOTS: usize = 9;
#[cfg(all(Py_3_12, not(Py_3_14)))]
const SLOTS: usize = 10;
#[cfg(Py_3_14)]
const ANNOTATE: usize = 10;
#[cfg(Py_3_14)]
const SLOTS: usize = 11;

/// The addresses of the fields `update_function` replaces, in `Fields` order.
///
/// # Safety
/// `f` points to a live function object.
unsafe fn slots(f: *mut ffi::PyFunctionObject) -> [*mut *mut ffi::PyObject; SLOTS] {
    // SAFETY: guaranteed by the caller; only addresses are taken, nothing is read.
    unsafe {
        [
            &raw mut (*f).func_closure,
            &raw mut (*f).func_code,
            &raw mut (*f).func_globals,
            &raw mut (*f).func_dict,
            &raw mut (*f).func_defaults,
            &raw mut (*f).func_kwdefaults,
            &raw mut (*f).func_doc,
            &raw mut (*f).func_annotations,
            #[cfg(Py_3_10)]
            &raw mut (*f).func_builtins,
            #[cfg(Py_3_12)]
            &raw mut (*f).func_typeparams,
            #[cfg(Py_3_14)]
            &raw mut (*f).func_annotate,
        ]
    }
}

/// Every field of a function that `update_function` replaces: each one null or
/// a strong reference that this value owns and releases when dropped.
///
/// Raw pointers rather than `Py` handles: the update path moves and releases a
/// few dozen references per call, and `Py`'s drop consults a thread-local to
/// find out whether the GIL is held, which is most of the cost of a swap.
pub(crate) struct Fields([*mut ffi::PyObject; SLOTS]);

// SAFETY: a `Fields` is only created, read, moved into a function and dropped
// with the GIL held: on the stack of functions that hold a `Python` token, or
// inside a `FunctionState`, which CPython deallocates with the GIL held.
unsafe impl Send for Fields {}
// SAFETY: as above; shared access only reads the pointers, under the GIL.
unsafe impl Sync for Fields {}

impl Drop for Fields {
    fn drop(&mut self) {
        for ptr in self.0 {
            // SAFETY: each pointer is null or a strong reference owned by `self`,
            // released exactly once here; the GIL is held (see `Send` above).
            unsafe { ffi::Py_XDECREF(ptr) };
        }
    }
}

/// True if `obj` is a plain `types.FunctionType` (the only kind `raw` may be used on).
pub(crate) fn is_function(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is a live object; PyFunction_Check only reads its type pointer.
    unsafe { ffi::PyFunction_Check(obj.as_ptr()) == 1 }
}

/// Checks that `obj` is a `types.FunctionType`, naming the argument otherwise.
pub(crate) fn expect_function(obj: &Bound<'_, PyAny>, argument: &str) -> PyResult<()> {
    if is_function(obj) {
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

impl Fields {
    /// New strong references to every field of `func`.
    pub(crate) fn read(func: &Bound<'_, PyAny>) -> Fields {
        // SAFETY: `func` is a live function object (checked by the callers) and the
        // GIL is held (`func` is bound); every field is null or a strong reference
        // owned by `func`, of which we take one more.
        unsafe {
            Fields(slots(raw(func)).map(|slot| {
                let ptr = *slot;
                ffi::Py_XINCREF(ptr);
                ptr
            }))
        }
    }

    fn clone_ref(&self, _py: Python<'_>) -> Fields {
        Fields(self.0.map(|ptr| {
            // SAFETY: `ptr` is null or a live object owned by `self`; the GIL is
            // held (`_py`). The new reference is owned by the returned value.
            unsafe { ffi::Py_XINCREF(ptr) };
            ptr
        }))
    }

    /// Replaces the defaults and keyword defaults (owned, or None for null).
    pub(crate) fn set_defaults(
        &mut self,
        defaults: Option<Py<PyAny>>,
        kwdefaults: Option<Py<PyAny>>,
    ) {
        self.set(DEFAULTS, defaults);
        self.set(KWDEFAULTS, kwdefaults);
    }

    /// Replaces the field at `index` with `value` (owned, or None for null).
    fn set(&mut self, index: usize, value: Option<Py<PyAny>>) {
        let previous =
            std::mem::replace(&mut self.0[index], value.map_or(null_mut(), Py::into_ptr));
        // SAFETY: `previous` was owned by `self`; a `Fields` is only used with the
        // GIL held. Nothing refers to it any more, so it is released once, here.
        unsafe { ffi::Py_XDECREF(previous) };
    }

    /// Puts these fields into `func` and returns the ones it had.
    ///
    /// Pointer moves only: nothing is released and no Python code runs, so the
    /// whole exchange is atomic for other threads. The caller drops the result
    /// once the function is consistent again.
    fn exchange_into(self, func: &Bound<'_, PyAny>) -> Fields {
        let incoming = ManuallyDrop::new(self);
        let mut outgoing = [null_mut(); SLOTS];
        // SAFETY: `func` is a live function object and the GIL is held; each slot
        // holds a strong reference or null. The reference in each slot moves to
        // `outgoing`, the one in `incoming` moves into the slot (so `incoming` is
        // not dropped): no count changes, nothing is released.
        unsafe {
            for ((slot, new), out) in slots(raw(func))
                .into_iter()
                .zip(incoming.0)
                .zip(outgoing.iter_mut())
            {
                *out = std::ptr::replace(slot, new);
            }
        }
        Fields(outgoing)
    }
}

/// One function of an update: `old` is to take `fields` (new's, with the merged
/// closure and `__dict__`); once installed, `fields` holds what `old` had.
pub(crate) struct Plan<'py> {
    old: Bound<'py, PyAny>,
    new: Bound<'py, PyAny>,
    fields: Fields,
    version_before: u32,
}

impl<'py> Plan<'py> {
    pub(crate) fn new(old: &Bound<'py, PyAny>, new: &Bound<'py, PyAny>, fields: Fields) -> Self {
        Plan {
            old: old.clone(),
            new: new.clone(),
            fields,
            version_before: 0,
        }
    }

    /// Swaps `fields` with the function's own. Pointer moves only.
    fn exchange(&mut self) {
        let fields = std::mem::replace(&mut self.fields, Fields([null_mut(); SLOTS]));
        self.fields = fields.exchange_into(&self.old);
    }
}

/// Installs every planned function of one `update_function` call at once.
///
/// Order, and why:
/// 1. every field of every function in the tree (a decorated function and the
///    function it wraps, say) is exchanged by pointer moves, with no Python code
///    in between, so no other thread ever sees the new code with the old closure,
///    or an old wrapper calling a new wrapped function;
/// 2. each version is reset with its exchange, so no call site specialized for
///    the old shape trusts it;
/// 3. the `__code__` setter runs with the code already in place: it fires the
///    audit event and the function watchers (3.12+), finds the closure length
///    right and sees no change of kind (so 3.13 does not warn). If it refuses
///    (an audit hook), every function is put back;
/// 4. the version describing the new shape is set last (3.12 collisions, 3.13
///    de-specialization);
/// 5. the previous values are released only now: a finalizer may call anything.
pub(crate) fn install(plans: &mut [Plan<'_>]) -> PyResult<()> {
    for plan in plans.iter_mut() {
        plan.version_before = version::get(&plan.old);
        plan.exchange();
        version::reset(&plan.old);
    }
    for i in 0..plans.len() {
        // SAFETY: the code pointer of a live function is a live code object (or
        // null); this takes a reference of our own to pass to the setter.
        let code = unsafe {
            Bound::from_borrowed_ptr_or_opt(plans[i].old.py(), (*raw(&plans[i].old)).func_code)
        };
        if let Some(code) = code {
            if let Err(err) = set_code(&plans[i].old, &code) {
                // Put every function back, newest exchange first.
                for plan in plans.iter_mut().rev() {
                    plan.exchange();
                    version::set(&plan.old, plan.version_before);
                }
                return Err(err);
            }
        }
    }
    for plan in plans.iter() {
        version::adopt(&plan.old, &plan.new);
        retire_globals(plan.old.py(), &plan.fields, &plan.old);
    }
    Ok(())
}

/// `old.__code__ = code` through CPython's own setter (`func_set_code`): the audit
/// event, the function watchers (3.12+), the closure-length check and the
/// version reset all happen as for a Python assignment. The setter is taken from
/// the `__code__` descriptor once and called directly, which skips the attribute
/// lookup of `PyObject_SetAttr` (a good part of the cost of a swap).
fn set_code(old: &Bound<'_, PyAny>, code: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = old.py();
    match code_setter(py) {
        Some((setter, closure)) => {
            // SAFETY: `setter` is the `set` slot of the `__code__` getset descriptor
            // of `types.FunctionType`, called with its own closure as
            // `getset_set` would, after the same check (`old` is a function).
            // Both objects are live and the GIL is held.
            let status = unsafe { setter(old.as_ptr(), code.as_ptr(), closure as *mut _) };
            if status < 0 {
                return Err(PyErr::fetch(py));
            }
            Ok(())
        }
        None => old.setattr(intern!(py, "__code__"), code),
    }
}

/// The C setter of `types.FunctionType.__code__` and its closure, if it is the
/// plain getset descriptor CPython defines (always, on 3.9-3.13).
fn code_setter(py: Python<'_>) -> Option<(ffi::setter, usize)> {
    static SETTER: PyOnceLock<Option<(ffi::setter, usize)>> = PyOnceLock::new();
    *SETTER.get_or_init(py, || {
        // SAFETY: PyFunction_Type is a static type object that lives forever.
        let function_type = unsafe {
            Bound::from_borrowed_ptr(py, (&raw mut ffi::PyFunction_Type).cast::<ffi::PyObject>())
        };
        let descriptor = function_type
            .getattr(intern!(py, "__dict__"))
            .and_then(|d| d.get_item(intern!(py, "__code__")))
            .ok()?;
        // SAFETY: only the type pointer of a live object is compared.
        let is_getset =
            unsafe { ffi::Py_TYPE(descriptor.as_ptr()) == &raw mut ffi::PyGetSetDescr_Type };
        if !is_getset {
            return None;
        }
        // SAFETY: `descriptor` is a live getset descriptor (checked above), whose
        // `d_getset` points to the static PyGetSetDef of `func_getsetlist`.
        unsafe {
            let def = (*descriptor.as_ptr().cast::<ffi::PyGetSetDescrObject>()).d_getset;
            (*def).set.map(|setter| (setter, (*def).closure as usize))
        }
    })
}

/// Globals and builtins dicts that functions stopped using, kept alive while a
/// frame may still read them.
///
/// Frames of 3.11+ borrow their globals and builtins from the function that
/// started them (a suspended generator can hold such a frame indefinitely), so
/// when `update_function` gives a function new dicts, the old ones must outlive
/// every frame started before. Every such frame holds a counted reference to
/// the code the function had when it started (checked on 3.11-3.15), and a
/// function only gets that code from an update or a snapshot restore, both of
/// which come through `retire_globals`. So each retirement records (weakly)
/// the code the function gave up, with the dicts it ran with, and keeps the
/// dicts exactly as long as something it cannot account for holds that code.
///
/// "Accounted for": functions reachable from the retired dicts themselves (the
/// new function of a hotfix or an `exec` namespace lives in its own namespace,
/// which would keep the code, and so the namespace, alive forever otherwise).
/// Every function counted holds exactly one reference to its code, so when the
/// counts match no frame, generator or traceback holds it and no frame can
/// borrow the dicts. Anything else (a frame, a generator, a cache, a function
/// found past the scan's budget) keeps them: an error costs memory, never a
/// dangling pointer. One entry per distinct (code, globals, builtins).
///
/// Not covered: a function whose `__code__` was reassigned by hand between two
/// updates; frames started with the hand-set code are not recorded.
///
/// Sweeps are amortised (see `retired::Registry`).
#[cfg(Py_3_11)]
static RETIRED_NAMESPACES: std::sync::LazyLock<Mutex<retired::Registry>> =
    std::sync::LazyLock::new(|| Mutex::new(retired::Registry::default()));

#[cfg(Py_3_11)]
mod retired {
    use super::{is_function, raw};
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::{PyTuple, PyWeakrefMethods, PyWeakrefReference};
    use std::collections::{HashMap, HashSet};
    use std::os::raw::{c_int, c_void};

    /// The registry is swept in full when it reaches at least this many entries.
    const MIN_SWEEP: usize = 8;
    /// Objects one sweep may look at while counting the functions that hold a code.
    const SCAN_BUDGET: usize = 50_000;
    /// How far from a retired dict the count looks (dict, function, closure,
    /// cell; or function, code, nested code).
    const SCAN_DEPTH: u8 = 5;

    /// (code, globals, builtins) addresses: alive while their entry holds them
    /// (the code weakly: a dead code's entry is replaced, see `add`).
    type Key = (usize, usize, usize);

    /// A code a function gave up (weakly) and the dicts its frames may have borrowed.
    pub(super) struct Entry {
        code: Py<PyWeakrefReference>,
        dicts: Vec<Py<PyAny>>,
    }

    /// What the registry holds, and when it looks at it again.
    ///
    /// Most retired dicts are free as soon as the change that retired them is
    /// over: until then its undo snapshot holds the code (so a sweep during
    /// the change would find it held). So `settle`, called when a change has
    /// committed, looks at the entries added since the previous settle (each
    /// gets two chances: a frame of another thread may still be finishing);
    /// a full sweep looks at every entry once the registry has doubled since
    /// the last one, which bounds what a frame held for long can keep. The
    /// cost of a full sweep is amortised over the additions that triggered it.
    #[derive(Default)]
    pub(super) struct Registry {
        entries: HashMap<Key, Entry>,
        /// Entries still to be looked at by `settle`, with the settle they were added before.
        recent: Vec<(Key, u64)>,
        settles: u64,
        full_at: usize,
        /// Dicts kept for good: retired with a code that could not be weakly referenced.
        forever: Vec<Py<PyAny>>,
    }

    impl Registry {
        /// Records that frames may have borrowed `globals` and `builtins` while
        /// running `code`; returns what the registry let go of, for the caller to
        /// release once the lock is no longer held (a finalizer may run).
        pub(super) fn add(
            &mut self,
            py: Python<'_>,
            code: &Bound<'_, PyAny>,
            globals: *mut ffi::PyObject,
            builtins: *mut ffi::PyObject,
        ) -> Vec<Entry> {
            let key = (code.as_ptr() as usize, globals as usize, builtins as usize);
            let mut released = Vec::new();
            if let Some(existing) = self.entries.get(&key) {
                if existing
                    .code
                    .bind(py)
                    .upgrade()
                    .is_some_and(|alive| alive.is(code))
                {
                    return released; // the same code and dicts: already kept
                }
            }
            let mut dicts = Vec::with_capacity(2);
            for dict in [globals, builtins] {
                if !dict.is_null() && dicts.iter().all(|d: &Py<PyAny>| d.as_ptr() != dict) {
                    // SAFETY: `dict` is a live dict the caller holds; the GIL is
                    // held. The registry takes a reference of its own.
                    dicts.push(unsafe { Bound::from_borrowed_ptr(py, dict).unbind() });
                }
            }
            let Ok(weak) = PyWeakrefReference::new(code) else {
                // CPython's code objects can always be weakly referenced; if one
                // cannot, its dicts are kept for good (the safe side).
                for dict in dicts {
                    if self
                        .forever
                        .iter()
                        .all(|kept| kept.as_ptr() != dict.as_ptr())
                    {
                        self.forever.push(dict);
                    }
                }
                return released;
            };
            let entry = Entry {
                code: weak.unbind(),
                dicts,
            };
            // An entry under the same key whose code died: that address was reused.
            released.extend(self.entries.insert(key, entry));
            self.recent.push((key, self.settles));
            if self.entries.len() >= self.full_at.max(MIN_SWEEP) {
                let keys: Vec<Key> = self.entries.keys().copied().collect();
                released.extend(self.sweep(py, &keys));
                self.recent
                    .retain(|(key, _)| self.entries.contains_key(key));
                self.full_at = self.entries.len() * 2;
            }
            released
        }

        /// Sweeps the entries added since the previous settle and those that
        /// survived one settle; returns what it let go of (see `add`).
        pub(super) fn settle(&mut self, py: Python<'_>) -> Vec<Entry> {
            if self.recent.is_empty() {
                return Vec::new();
            }
            let keys: Vec<Key> = self.recent.iter().map(|(key, _)| *key).collect();
            let released = self.sweep(py, &keys);
            // Entries added since the previous settle get one more chance.
            let (entries, this_settle) = (&self.entries, self.settles);
            self.recent
                .retain(|(key, settle)| *settle == this_settle && entries.contains_key(key));
            self.settles += 1;
            released
        }

        /// Removes and returns the entries among `keys` that no frame can need any more.
        ///
        /// Reads reference counts and walks objects with `tp_traverse`, as the
        /// garbage collector does: no Python code runs and nothing is released.
        fn sweep(&mut self, py: Python<'_>, keys: &[Key]) -> Vec<Entry> {
            // For each live code: the references held by something else than the
            // temporary one `upgrade` made.
            let mut codes: HashMap<usize, (Bound<'_, PyAny>, isize)> = HashMap::new();
            let mut free: Vec<Key> = Vec::new();
            for key in keys {
                let Some(entry) = self.entries.get(key) else {
                    continue;
                };
                match entry.code.bind(py).upgrade() {
                    None => free.push(*key),
                    Some(code) => {
                        codes.entry(key.0).or_insert_with(|| {
                            // SAFETY: `code` is alive (we hold it) and the GIL is held.
                            let total = unsafe { ffi::Py_REFCNT(code.as_ptr()) };
                            (code, total - 1)
                        });
                    }
                }
            }
            let mut held: HashMap<usize, isize> = codes
                .iter()
                .filter(|(_, (_, outside))| *outside > 0)
                .map(|(&code, &(_, outside))| (code, outside))
                .collect();
            let to_scan: Vec<&Entry> = keys
                .iter()
                .filter(|key| held.contains_key(&key.0))
                .filter_map(|key| self.entries.get(key))
                .collect();
            if !to_scan.is_empty() {
                let wanted: HashSet<usize> = held.keys().copied().collect();
                let found = count_holders(py, &to_scan, &wanted);
                held.retain(|code, outside| found.get(code).copied().unwrap_or(0) < *outside);
            }
            free.extend(
                keys.iter()
                    .filter(|key| codes.contains_key(&key.0) && !held.contains_key(&key.0)),
            );
            drop(codes);
            free.iter()
                .filter_map(|key| self.entries.remove(key))
                .collect()
        }
    }

    /// For each code in `wanted`, how many distinct functions reachable from the
    /// dicts of `entries` have it as their `__code__`.
    fn count_holders(
        py: Python<'_>,
        entries: &[&Entry],
        wanted: &HashSet<usize>,
    ) -> HashMap<usize, isize> {
        let mut scan = Scan {
            wanted,
            found: HashMap::new(),
            seen: HashSet::new(),
            queue: Vec::new(),
        };
        for entry in entries {
            for dict in &entry.dicts {
                scan.push(dict.bind(py).as_ptr(), 0);
            }
        }
        let mut budget = SCAN_BUDGET;
        while let Some((obj, depth)) = scan.queue.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            // SAFETY: every queued pointer was reached from a live object during
            // this scan, with the GIL held and no Python code run since, so it
            // is still alive.
            unsafe { scan.visit(py, obj, depth) };
        }
        scan.found
    }

    struct Scan<'a> {
        wanted: &'a HashSet<usize>,
        found: HashMap<usize, isize>,
        seen: HashSet<usize>,
        queue: Vec<(*mut ffi::PyObject, u8)>,
    }

    impl Scan<'_> {
        fn push(&mut self, obj: *mut ffi::PyObject, depth: u8) {
            if !obj.is_null() && depth <= SCAN_DEPTH && self.seen.insert(obj as usize) {
                self.queue.push((obj, depth));
            }
        }

        /// Counts `obj` if it is a function holding a wanted code, and queues
        /// what may hold more such functions or codes: a function's code (its
        /// constants hold the codes of nested functions), closure and
        /// `__dict__`, a class's own dict, a container's items. Not a
        /// function's globals (another namespace) and not modules.
        ///
        /// # Safety
        /// `obj` is a live object and the GIL is held.
        unsafe fn visit(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, depth: u8) {
            // SAFETY: guaranteed by the caller; only fields of live objects are
            // read, and `tp_traverse` is called as the collector calls it.
            unsafe {
                let bound = Bound::from_borrowed_ptr(py, obj);
                if is_function(&bound) {
                    let func = raw(&bound);
                    let code = (*func).func_code as usize;
                    if self.wanted.contains(&code) {
                        *self.found.entry(code).or_default() += 1;
                    }
                    self.push((*func).func_code, depth + 1);
                    self.push((*func).func_closure, depth + 1);
                    self.push((*func).func_dict, depth + 1);
                    return;
                }
                if ffi::PyCode_Check(obj) != 0 {
                    self.visit_constants(&bound, depth);
                    return;
                }
                if ffi::PyType_Check(obj) != 0 {
                    let ty = obj.cast::<ffi::PyTypeObject>();
                    if ffi::PyType_HasFeature(ty, ffi::Py_TPFLAGS_HEAPTYPE) != 0 {
                        self.push((*ty).tp_dict, depth + 1);
                    }
                    return;
                }
                if ffi::PyModule_Check(obj) != 0 || ffi::PyObject_IS_GC(obj) == 0 {
                    return;
                }
                let Some(traverse) = (*ffi::Py_TYPE(obj)).tp_traverse else {
                    return;
                };
                let mut children: Vec<*mut ffi::PyObject> = Vec::new();
                traverse(obj, collect, (&raw mut children).cast::<c_void>());
                for child in children {
                    self.push(child, depth + 1);
                }
            }
        }
    }

    impl Scan<'_> {
        /// Counts the wanted codes among a code's constants (a nested `def`
        /// holds its code there) and queues the other nested codes.
        fn visit_constants(&mut self, code: &Bound<'_, PyAny>, depth: u8) {
            // `co_consts` is a plain member of the (final) code type: no Python
            // code runs to read it.
            let Ok(constants) = code.getattr(pyo3::intern!(code.py(), "co_consts")) else {
                return;
            };
            let Ok(constants) = constants.cast_into::<PyTuple>() else {
                return;
            };
            // Each tuple's slots are counted once, even if code objects share it.
            if !self.seen.insert(constants.as_ptr() as usize) {
                return;
            }
            for constant in constants.iter() {
                let address = constant.as_ptr() as usize;
                if self.wanted.contains(&address) {
                    *self.found.entry(address).or_default() += 1;
                } else {
                    // SAFETY: `constant` is a live object; only its type is read.
                    if unsafe { ffi::PyCode_Check(constant.as_ptr()) } != 0 {
                        self.push(constant.as_ptr(), depth + 1);
                    }
                }
            }
        }
    }

    /// The `visitproc` passed to `tp_traverse`: appends each referent to a `Vec`.
    unsafe extern "C" fn collect(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `Vec` passed by `Scan::visit`, alive for the call.
        unsafe { (*arg.cast::<Vec<*mut ffi::PyObject>>()).push(obj) };
        0
    }
}

/// Records that `func` gave up the code and dicts in `previous` (see
/// `RETIRED_NAMESPACES`), and releases what no frame can need any more.
fn retire_globals(py: Python<'_>, previous: &Fields, func: &Bound<'_, PyAny>) {
    #[cfg(Py_3_11)]
    {
        /// Where the code is in `Fields` (see `slots`).
        const CODE: usize = 1;
        let now = raw(func);
        // SAFETY: `func` is a live function object; only its pointers are read.
        let (globals, builtins) = unsafe { ((*now).func_globals, (*now).func_builtins) };
        let was_code = previous.0[CODE];
        let (was_globals, was_builtins) = (previous.0[GLOBALS], previous.0[BUILTINS]);
        // Frames borrow the dicts, not the code: while the function still holds
        // the same dicts, nothing a frame borrowed can go away.
        if was_code.is_null() || (was_globals == globals && was_builtins == builtins) {
            return;
        }
        // SAFETY: `was_code` is a live object owned by `previous`; the GIL is held.
        // Held by `previous` alone, the code is in no frame: no frame started
        // with it can borrow the dicts it ran with.
        if unsafe { ffi::Py_REFCNT(was_code) } <= 1 {
            return;
        }
        // SAFETY: as above.
        let was_code = unsafe { Bound::from_borrowed_ptr(py, was_code) };
        let released = RETIRED_NAMESPACES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .add(py, &was_code, was_globals, was_builtins);
        // Released outside the lock: a finalizer may update functions too.
        drop(released);
    }
    // 3.9 and 3.10 frames own their globals and builtins: nothing to keep.
    #[cfg(not(Py_3_11))]
    let _ = (py, previous, func);
}

/// Lets go of the retired globals and builtins that no frame can need any
/// more: called once a change has committed and its undo snapshots are gone
/// (see `RETIRED_NAMESPACES`).
#[pyfunction]
pub fn release_retired_namespaces(py: Python<'_>) {
    #[cfg(Py_3_11)]
    {
        let released = RETIRED_NAMESPACES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .settle(py);
        // Released outside the lock: a finalizer may update functions too.
        drop(released);
    }
    // 3.9 and 3.10 keep no retired dicts.
    #[cfg(not(Py_3_11))]
    let _ = py;
}

/// Builds the fields `old` will take from `new`: everything of `new`'s but the
/// closure and `__dict__`, which the caller has merged.
///
/// On 3.14+ a function with an annotate function (PEP 649/749) keeps its
/// `__annotations__` as a cache that the first read fills from `__annotate__`.
/// `old` takes `new`'s annotate function without that cache: it computes its
/// own dict on first read, instead of sharing (and mutating) `new`'s.
pub(crate) fn target_fields(
    new: &Bound<'_, PyAny>,
    closure: Option<Py<PyAny>>,
    dict: Option<Py<PyAny>>,
) -> Fields {
    let mut fields = Fields::read(new);
    fields.set(CLOSURE, closure);
    fields.set(DICT, dict);
    #[cfg(Py_3_14)]
    if !fields.0[ANNOTATE].is_null() {
        fields.set(ANNOTATIONS, None);
    }
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
