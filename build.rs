// Exposes the `Py_3_10`, `Py_3_11`, ... cfg flags of the interpreter being built for,
// so that the per-version CPython struct layouts can be selected at compile time.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
