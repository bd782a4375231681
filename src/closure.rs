//! `update_function`: merging closures by free-variable name, recursively.
//!
//! A closure is a tuple of cells in the order of the code's `co_freevars`.
//! Cells are matched by name between the old and the new function: where both
//! hold functions, the old cell is kept and its function is updated in place
//! (so a decorator's wrapped function keeps its identity); where both hold
//! classes, the old cell is kept and the class is reconciled by the Python
//! package (`hotreload._reconcile._update_class_cell`); otherwise the new cell is used.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::function::{self, is_function, FunctionState, Plan};

/// One `update_function` call tree: cycle guard and undo log.
struct Updater<'py> {
    py: Python<'py>,
    /// A Python transaction (`record(undo)`), or None for a standalone call.
    transaction: Option<Bound<'py, PyAny>>,
    /// (old, new) pairs already being updated: closures can refer to each other.
    /// The top-level pair lives in `root`, so a call without nested functions
    /// never allocates; call trees are small, so a linear scan beats hashing.
    root: (usize, usize),
    in_progress: Vec<(usize, usize)>,
    /// Nested functions to change, planned before any function is changed, then
    /// installed together with the top-level one (which is planned last).
    plans: Vec<Plan<'py>>,
    /// `{id(new object): kept object}`: default values made by a reload that
    /// stand for objects it kept (a module's `MISSING = object()` sentinel).
    substitutions: Option<Bound<'py, PyDict>>,
}

/// What a merge decided: the closure for `old`, and new objects that were
/// folded into old ones (so that `__dict__` entries naming them can follow).
struct Merged {
    closure: Option<Py<PyAny>>,
    folded: Vec<(Py<PyAny>, Py<PyAny>)>,
}

impl<'py> Updater<'py> {
    fn update(
        &mut self,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        nested: bool,
    ) -> PyResult<()> {
        if old.is(new) {
            return Ok(());
        }
        if nested {
            let pair = (old.as_ptr() as usize, new.as_ptr() as usize);
            if pair == self.root || self.in_progress.contains(&pair) {
                return Ok(());
            }
            self.in_progress.push(pair);
        }
        let merged = self.merge_closure(old, new)?;
        let dict = copy_dict(new, &merged.folded)?;
        let mut fields = function::target_fields(new, merged.closure, dict);
        if let Some(substitutions) = &self.substitutions {
            if let Some((defaults, kwdefaults)) = substitute_defaults(new, substitutions)? {
                fields.set_defaults(defaults, kwdefaults);
            }
        }
        self.remember(old)?;
        let mut plan = Plan::new(old, new, fields);
        if nested {
            self.plans.push(plan);
            return Ok(());
        }
        // The whole tree is planned: install it at once. The previous values
        // come back in the plans and are released with them, once every
        // function is consistent again.
        if self.plans.is_empty() {
            function::install(std::slice::from_mut(&mut plan))
        } else {
            self.plans.push(plan);
            function::install(&mut self.plans)
        }
    }

    /// Records in the transaction, if any, how to put `old` back. Nothing has
    /// been changed yet: every function is installed only once all are planned,
    /// and `function::install` puts them all back itself if it fails.
    fn remember(&mut self, old: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Some(tx) = &self.transaction {
            let state = Bound::new(self.py, FunctionState::capture(old))?;
            // An undo list is appended to directly; anything else gets `record(state)`.
            match tx.cast::<PyList>() {
                Ok(undo) => undo.append(state)?,
                Err(_) => {
                    tx.call_method1(intern!(self.py, "record"), (state,))?;
                }
            }
        }
        Ok(())
    }

    fn merge_closure(
        &mut self,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
    ) -> PyResult<Merged> {
        let py = self.py;
        // SAFETY: both are live function objects (checked by the entry points);
        // the closure pointers are borrowed and stay alive while we hold `old` and `new`.
        let (old_closure, new_closure) = unsafe {
            (
                Bound::from_borrowed_ptr_or_opt(py, (*function::raw(old)).func_closure),
                Bound::from_borrowed_ptr_or_opt(py, (*function::raw(new)).func_closure),
            )
        };
        let Some(new_closure) = new_closure else {
            return Ok(Merged {
                closure: None,
                folded: Vec::new(),
            });
        };
        let new_closure = new_closure.cast_into::<PyTuple>()?;
        let new_names = free_variables(new)?;
        check_closure(new, &new_closure, &new_names)?;
        let Some(old_closure) = old_closure else {
            return Ok(Merged {
                closure: Some(new_closure.into_any().unbind()),
                folded: Vec::new(),
            });
        };
        let old_closure = old_closure.cast_into::<PyTuple>()?;
        let old_names = free_variables(old)?;

        let mut cells = Vec::with_capacity(new_closure.len());
        let mut folded = Vec::new();
        for (name, new_cell) in new_names.iter().zip(new_closure.iter()) {
            let old_cell = old_names
                .iter()
                .position(|n| n.as_ptr() == name.as_ptr() || n.eq(&name).unwrap_or(false))
                .map(|i| old_closure.get_item(i))
                .transpose()?;
            let kept = match old_cell {
                Some(old_cell) => self.merge_cell(&old_cell, &new_cell, &mut folded)?,
                None => None,
            };
            cells.push(kept.unwrap_or(new_cell));
        }
        let closure = PyTuple::new(py, cells)?;
        check_closure(new, &closure, &new_names)?;
        Ok(Merged {
            closure: Some(closure.into_any().unbind()),
            folded,
        })
    }

    /// Returns the old cell when it is kept, after updating what it holds.
    fn merge_cell(
        &mut self,
        old_cell: &Bound<'py, PyAny>,
        new_cell: &Bound<'py, PyAny>,
        folded: &mut Vec<(Py<PyAny>, Py<PyAny>)>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if old_cell.is(new_cell) {
            return Ok(Some(old_cell.clone()));
        }
        let (Some(old_value), Some(new_value)) = (cell_contents(old_cell), cell_contents(new_cell))
        else {
            return Ok(None);
        };
        if is_function(&old_value) && is_function(&new_value) {
            self.update(&old_value, &new_value, true)?;
        } else if is_class(&old_value) && is_class(&new_value) {
            if old_value.is(&new_value) {
                return Ok(Some(old_cell.clone()));
            }
            // Classes are reconciled by the Python package, looked up where it is
            // needed (rarely): no callback is registered into this module.
            let updater = self
                .py
                .import(intern!(self.py, "hotreload._reconcile"))?
                .getattr(intern!(self.py, "_update_class_cell"))?;
            let tx = self
                .transaction
                .clone()
                .map_or_else(|| self.py.None(), |t| t.unbind());
            updater.call1((&old_value, &new_value, tx))?;
        } else {
            return Ok(None);
        }
        folded.push((new_value.unbind(), old_value.unbind()));
        Ok(Some(old_cell.clone()))
    }
}

fn is_class(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is live; the check reads its type pointer only.
    unsafe { ffi::PyType_Check(obj.as_ptr()) == 1 }
}

/// The value in a cell, or None for an empty cell.
fn cell_contents<'py>(cell: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    // SAFETY: `cell` is a cell (checked by `check_closure`); PyCell_Get returns a
    // new reference, or null without an exception for an empty cell.
    unsafe { Bound::from_owned_ptr_or_opt(cell.py(), ffi::PyCell_Get(cell.as_ptr())) }
}

/// The code's `co_freevars`: the names of the closure's cells, in order.
fn free_variables<'py>(func: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let py = func.py();
    let code = func.getattr(intern!(py, "__code__"))?;
    Ok(code
        .getattr(intern!(py, "co_freevars"))?
        .cast_into::<PyTuple>()?)
}

/// A closure that is not exactly one cell per free variable crashes the next
/// call, so it is checked before it is ever installed.
fn check_closure(
    func: &Bound<'_, PyAny>,
    closure: &Bound<'_, PyTuple>,
    names: &Bound<'_, PyTuple>,
) -> PyResult<()> {
    let all_cells = closure
        .iter()
        // SAFETY: each item is a live object; the check reads its type pointer only.
        .all(|c| unsafe { ffi::PyCell_Check(c.as_ptr()) } == 1);
    if closure.len() == names.len() && all_cells {
        return Ok(());
    }
    let name = func.getattr(intern!(func.py(), "__qualname__"))?;
    Err(PyTypeError::new_err(format!(
        "closure of {name} must hold {} cells, one per free variable",
        names.len()
    )))
}

/// A copy of `new.__dict__` in which new objects folded into old ones are
/// replaced by the old ones (`__wrapped__` of a decorated function, mostly).
fn copy_dict(
    new: &Bound<'_, PyAny>,
    folded: &[(Py<PyAny>, Py<PyAny>)],
) -> PyResult<Option<Py<PyAny>>> {
    let py = new.py();
    // SAFETY: `new` is a live function object; func_dict is borrowed (or null).
    let dict = unsafe { Bound::from_borrowed_ptr_or_opt(py, (*function::raw(new)).func_dict) };
    let Some(dict) = dict else { return Ok(None) };
    let dict = dict.cast_into::<PyDict>()?;
    if dict.is_empty() {
        return Ok(None);
    }
    let copy = dict.copy()?;
    for (key, value) in dict.iter() {
        if let Some((_, old)) = folded.iter().find(|(n, _)| n.is(&value)) {
            copy.set_item(key, old)?;
        }
    }
    Ok(Some(copy.into_any().unbind()))
}

fn run<'py>(
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    transaction: Option<Bound<'py, PyAny>>,
    substitutions: Option<Bound<'py, PyDict>>,
) -> PyResult<()> {
    function::expect_function(old, "old")?;
    function::expect_function(new, "new")?;
    let mut updater = Updater {
        py: old.py(),
        transaction,
        root: (old.as_ptr() as usize, new.as_ptr() as usize),
        in_progress: Vec::new(),
        plans: Vec::new(),
        substitutions,
    };
    updater.update(old, new, false)
}

/// Makes `old` behave exactly as `new`: code, closure (merged by free-variable
/// name), globals, builtins, defaults, keyword defaults, doc, annotations,
/// `__dict__` and type parameters. Atomic for other threads. Returns `old`.
#[pyfunction]
pub fn update_function<'py>(
    old: Bound<'py, PyAny>,
    new: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    run(&old, &new, None, None)?;
    // No undo snapshot holds what `old` gave up: its dicts can go now.
    function::release_retired_namespaces(old.py());
    Ok(old)
}

/// `update_function` inside a transaction: every function changed is recorded
/// before it changes, as `transaction.record(FunctionState)` or, when
/// `transaction` is the undo list itself, appended to it; the caller
/// rolls the transaction back on failure.
///
/// `substitutions` (`{id(obj): replacement}`) replaces default values of `new`
/// by identity on the way into `old`.
#[pyfunction]
#[pyo3(signature = (transaction, old, new, substitutions=None))]
pub fn update_function_in<'py>(
    transaction: Bound<'py, PyAny>,
    old: Bound<'py, PyAny>,
    new: Bound<'py, PyAny>,
    substitutions: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    run(&old, &new, Some(transaction), substitutions)?;
    Ok(old)
}

/// `new`'s defaults and keyword defaults with substituted values, or None if
/// nothing in them is substituted.
#[allow(clippy::type_complexity)]
fn substitute_defaults(
    new: &Bound<'_, PyAny>,
    substitutions: &Bound<'_, PyDict>,
) -> PyResult<Option<(Option<Py<PyAny>>, Option<Py<PyAny>>)>> {
    let py = new.py();
    let lookup = |value: &Bound<'_, PyAny>| substitutions.get_item(value.as_ptr() as usize);
    let defaults = new.getattr(intern!(py, "__defaults__"))?;
    let kwdefaults = new.getattr(intern!(py, "__kwdefaults__"))?;
    let mut changed = false;
    let defaults = match defaults.cast::<PyTuple>() {
        Ok(tuple) => {
            let mut items = Vec::with_capacity(tuple.len());
            for item in tuple.iter() {
                match lookup(&item)? {
                    Some(kept) => {
                        changed = true;
                        items.push(kept);
                    }
                    None => items.push(item),
                }
            }
            Some(PyTuple::new(py, items)?.into_any().unbind())
        }
        Err(_) => None,
    };
    let kwdefaults = match kwdefaults.cast::<PyDict>() {
        Ok(dict) => {
            let copy = dict.copy()?;
            for (key, value) in dict.iter() {
                if let Some(kept) = lookup(&value)? {
                    changed = true;
                    copy.set_item(key, kept)?;
                }
            }
            Some(copy.into_any().unbind())
        }
        Err(_) => None,
    };
    Ok(changed.then_some((defaults, kwdefaults)))
}
