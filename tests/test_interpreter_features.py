"""What hotreload must get right about the interpreter it runs in (3.11+ mostly).

- An updated function is specialized again by the 3.11+ specializing
  interpreter, exactly like a fresh one (3.13-3.15 never re-specialize a
  function whose code was assigned, unless its version is restored).
- Under the experimental JIT (3.14+ builds that have it, ``PYTHON_JIT=1``),
  traces through an updated function run the new code.
- Function watchers (3.12+) see the code change, with the new code.
- The extension declares that it needs the GIL, so a free-threaded interpreter
  (3.14t, 3.15t) turns the GIL on when importing it.
"""

from __future__ import annotations

import ctypes
import dis
import os
import subprocess
import sys
import sysconfig
import textwrap
from typing import Any, Dict, List

import hotreload
from hotreload import _hotreload, update_function


def run_script(source: str, **env: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name not in ("PYTHON_GIL", "PYTHON_JIT")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, "PYTHONFAULTHANDLER": "1", **env},
    )


def exec_module(source: str) -> Dict[str, Any]:
    namespace: Dict[str, Any] = {"__name__": "hr_interpreter"}
    exec(compile(textwrap.dedent(source), "<interpreter>", "exec", dont_inherit=True), namespace)
    return namespace


SITE = """
def target(a, b):
    return ("old", a + b)

def replacement(a, b):
    return ("new", a * b)

def site(fn):
    return fn(2, 3)
"""


def call_instructions(func: Any) -> List[str]:
    """The specialized (adaptive) names of the CALL instructions in ``func``."""
    return [i.opname for i in dis.get_instructions(func, adaptive=True) if i.opname.startswith("CALL")]


def warm(namespace: Dict[str, Any], fn: Any, expected: Any) -> None:
    for _ in range(2000):
        assert namespace["site"](fn) == expected


def test_updated_function_is_specialized_like_a_fresh_one():
    fresh = exec_module(SITE)
    warm(fresh, fresh["replacement"], ("new", 6))
    updated = exec_module(SITE)
    update_function(updated["target"], updated["replacement"])
    warm(updated, updated["target"], ("new", 6))
    if sys.version_info >= (3, 11):
        assert call_instructions(updated["site"]) == call_instructions(fresh["site"])
        assert call_instructions(fresh["site"]) != ["CALL"]  # specialized at all
    if sys.version_info >= (3, 13):
        # Control: a bare assignment leaves the function unspecialized for good.
        bare = exec_module(SITE)
        bare["target"].__code__ = bare["replacement"].__code__
        warm(bare, bare["target"], ("new", 6))
        assert call_instructions(bare["site"]) == ["CALL"]


JIT = r"""
import sys
from hotreload import update_function

def old(i):
    return i + 1

def new(i):
    a = i * 2
    b = a - i
    return (b, "new")[1] if i < 0 else b * 3

def loop(fn, n):
    total = 0
    for i in range(n):
        value = fn(i)
        total += value if type(value) is int else 0
    return total

for _ in range(50):
    assert loop(old, 5000) == sum(i + 1 for i in range(5000))  # hot: traced where a JIT runs
update_function(old, new)
for _ in range(50):
    assert loop(old, 5000) == sum(i * 3 for i in range(5000))
jit = getattr(sys, "_jit", None)
print(jit.is_available() if jit else False, jit.is_enabled() if jit else False)
"""


def test_hot_loops_run_the_new_code_with_the_jit_enabled():
    result = run_script(JIT, PYTHON_JIT="1")
    assert result.returncode == 0, result.stderr
    available, enabled = result.stdout.split()
    assert enabled == available  # the JIT really ran where the build has one


WATCHERS = r"""
import sys
from hotreload import update_function

def old(a):
    return a

def new(a, b=1):
    return (a, b)

audited = []
def hook(event, args):
    if event == "object.__setattr__" and args[1] == "__code__" and args[0] is old:
        audited.append(args[2])

sys.addaudithook(hook)  # a process-wide hook that cannot be removed: hence a subprocess
watched = []
if sys.version_info >= (3, 12):  # function watchers exist from 3.12 (_testcapi exposes them)
    import _testcapi

    def watcher(event, func, new_value):
        if func is old:
            watched.append((event, new_value))

    watcher_id = _testcapi.add_func_watcher(watcher)
update_function(old, new)
if sys.version_info >= (3, 12):
    _testcapi.clear_func_watcher(watcher_id)
    assert watched == [(_testcapi.PYFUNC_EVENT_MODIFY_CODE, new.__code__)], watched
assert audited == [new.__code__], audited
assert old(5) == (5, 1)
print("OK")
"""


def test_function_watchers_and_audit_hooks_see_the_code_change():
    result = run_script(WATCHERS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OK\n"


# -- the GIL declaration -------------------------------------------------------------

PY_MOD_GIL = 87 if sys.version_info >= (3, 15) else 4  # slot ids (3.15 renumbered them)
PY_MOD_GIL_USED = 0  # Py_MOD_GIL_NOT_USED is 1
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def declared_module_slots() -> Dict[int, int]:
    """The slots the extension hands the import system, read as the interpreter reads them:
    ``PyModExport__hotreload`` (3.15, an array of PySlot) or the ``PyModuleDef`` that
    ``PyInit__hotreload`` returns (its ``m_slots``, an array of PyModuleDef_Slot)."""
    library = ctypes.PyDLL(_hotreload.__file__)
    slots: Dict[int, int] = {}
    if sys.version_info >= (3, 15):
        export = library.PyModExport__hotreload
        export.restype = ctypes.c_void_p
        address = export()
        while True:  # struct PySlot { uint16 id; uint16 flags; uint32 reserved; union 8 bytes }
            slot_id = ctypes.c_uint16.from_address(address).value
            if slot_id == 0:
                return slots
            slots[slot_id] = ctypes.c_uint64.from_address(address + 8).value
            address += 16
    init = library.PyInit__hotreload
    init.restype = ctypes.c_void_p
    definition = init()  # multi-phase init: the (already initialized) module definition
    head = object.__basicsize__  # PyObject_HEAD
    # PyModuleDef_Base: head, m_init, m_index, m_copy; then m_name, m_doc, m_size, m_methods, m_slots
    address = ctypes.c_void_p.from_address(definition + head + 3 * 8 + 4 * 8).value
    while address:  # struct PyModuleDef_Slot { int slot; void *value; }
        slot_id = ctypes.c_int.from_address(address).value
        if slot_id == 0:
            break
        slots[slot_id] = ctypes.c_void_p.from_address(address + 8).value or 0
        address += 16
    return slots


def test_extension_declares_that_it_needs_the_gil():
    slots = declared_module_slots()
    exec_slot = 85 if sys.version_info >= (3, 15) else 2  # Py_mod_exec: the reader found real slots
    assert exec_slot in slots, slots
    if sys.version_info >= (3, 13):  # free-threaded builds exist from 3.13
        assert slots.get(PY_MOD_GIL) == PY_MOD_GIL_USED, slots
    else:
        assert PY_MOD_GIL not in slots  # nothing to declare: every build has the GIL


def test_free_threaded_interpreter_turns_the_gil_on():
    """On a free-threaded build (none on the development machines so far) the import
    re-enables the GIL with a RuntimeWarning; on any other build the GIL is simply on."""
    result = run_script(
        "import sys, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import hotreload\n"
        "enabled = sys._is_gil_enabled() if hasattr(sys, '_is_gil_enabled') else True\n"
        "print(enabled, any('GIL' in str(w.message) for w in caught))\n"
    )
    assert result.returncode == 0, result.stderr
    enabled, warned = result.stdout.split()
    assert enabled == "True"
    assert warned == str(FREE_THREADED)
    assert hotreload.update_function is update_function
