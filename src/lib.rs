//! `hotreload._hotreload`: the parts of hotreload that need C-level access to CPython.
//!
//! The public API and its documentation live in the Python package `hotreload`;
//! this module only registers the primitives it is built on.

mod bytecode;
mod closure;
mod compare;
mod files;
mod function;
mod globals;
mod namespace;
mod scan;
mod statement_table;
mod version;
mod watch;
mod young;

use pyo3::prelude::*;

// The swap of a function's fields, the class updates and the reload transaction
// are atomic because they run under the GIL. On a free-threaded build (3.14t,
// 3.15t) this declaration makes the interpreter turn the GIL back on when the
// module is imported (it warns), instead of running swaps never proven without
// it. pyo3 declares the opposite by default.
#[pymodule(gil_used = true)]
fn _hotreload(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(closure::update_function, m)?)?;
    m.add_function(wrap_pyfunction!(closure::update_function_in, m)?)?;
    m.add_class::<function::FunctionState>()?;
    m.add_function(wrap_pyfunction!(function::release_retired_namespaces, m)?)?;
    m.add_class::<statement_table::StatementTable>()?;
    m.add_function(wrap_pyfunction!(globals::rebind_globals, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::namespace_changes, m)?)?;
    m.add_function(wrap_pyfunction!(bytecode::stored_names, m)?)?;
    m.add_function(wrap_pyfunction!(files::read_file, m)?)?;
    m.add_function(wrap_pyfunction!(compare::same_function, m)?)?;
    m.add_function(wrap_pyfunction!(young::young_ids, m)?)?;
    m.add_function(wrap_pyfunction!(young::made_by_run, m)?)?;
    m.add_class::<watch::FileWatcher>()?;
    Ok(())
}
