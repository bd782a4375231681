"""Reloads while other threads run the module's code; reloads do not leak."""

from __future__ import annotations

import gc
import importlib
import pickle
import sys
import threading
import tracemalloc
import types

import hotreload
import pytest

VERSION_SOURCE = """
import functools

def tag(label):
    def decorate(fn):
        {decorate_prelude}
        @functools.wraps(fn)
        def wrapper(*args):
            return {wrapper_result}
        return wrapper
    return decorate

def compute(a="{v}"{extra_param}):
    return ("{v}", a{extra_arg})

@tag("{v}")
def tagged():
    return "{v}"

class Base:
    def kind(self):
        return "base"

class Worker(Base):
    LABEL = "{v}"
    def run(self, x):
        return ("{v}", super().kind(), x{extra_arg2})
"""

V1 = VERSION_SOURCE.format(
    v="v1",
    extra_param="",
    extra_arg="",
    extra_arg2="",
    decorate_prelude="pass",
    wrapper_result="(label, fn(*args))",
)
V2 = VERSION_SOURCE.format(
    v="v2",
    extra_param=', b="v2"',
    extra_arg=", b",
    extra_arg2=', "extra"',
    decorate_prelude='suffix = "wrapped-" + label  # one more free variable in wrapper',
    wrapper_result="(label, fn(*args), suffix)",
)

EXPECTED = {
    "v1": {
        "compute": ("v1", "v1"),
        "tagged": ("v1", "v1"),
        "run": ("v1", "base", 7),
    },
    "v2": {
        "compute": ("v2", "v2", "v2"),
        "tagged": ("v2", "v2", "wrapped-v2"),
        "run": ("v2", "base", 7, "extra"),
    },
}


@pytest.fixture
def fast_switching():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.parametrize(
    "watched",
    [("compute", "run"), ("tagged",)],
    ids=["functions-and-methods", "decorated-function"],
)
def test_threads_calling_functions_during_reloads_see_one_version(modules, fast_switching, watched):
    """Each call's result comes from one version: code, closure, defaults and the
    decorated function inside a wrapper's closure never mix versions."""
    m = modules.make(V1)
    compute, tagged, worker = m.compute, m.tagged, m.Worker()
    run = worker.run
    errors = []
    results = {name: set() for name in watched}
    stop = threading.Event()
    calls = [0]
    first_call = threading.Event()

    def hammer():
        try:
            while not stop.is_set():
                if "compute" in results:
                    results["compute"].add(compute())
                    results["run"].add(run(7))
                    results["run"].add(m.Worker().run(7))
                else:
                    results["tagged"].add(tagged())
                calls[0] += 1
                first_call.set()
        except BaseException as error:  # noqa: BLE001 - every error is a failure here
            errors.append(error)
            first_call.set()

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        assert first_call.wait(10)
        for i in range(60):
            modules.edit(m, V2 if i % 2 == 0 else V1)
            hotreload.reload(m)
        # the last reload installed V1; let the threads run the final version
        before = calls[0]
        for _ in range(1000):
            if calls[0] > before + 2 or errors:
                break
            threading.Event().wait(0.001)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    assert not errors, errors
    assert calls[0] > 0
    for name, seen in results.items():
        allowed = {EXPECTED["v1"][name], EXPECTED["v2"][name]}
        if name == "tagged":
            # A call already running in the old wrapper when the reload lands
            # calls the wrapped function afterwards, and the wrapped function
            # (kept in the old cell, updated in place as the SPEC says) runs the
            # new code: ("v1", "v2") and ("v2", "v1", ...) are in-flight calls,
            # not torn functions. A wrapper paired with the other version's
            # label or result format would be a torn closure and is not allowed.
            allowed |= {("v1", "v2"), ("v2", "v1", "wrapped-v2")}
        assert seen <= allowed, (name, seen - allowed)
        assert EXPECTED["v1"][name] in seen
    assert compute() == EXPECTED["v1"]["compute"]
    assert m.compute is compute and m.tagged is tagged


def test_threads_reading_state_while_reloading_never_see_a_half_executed_module(modules, fast_switching):
    source = (
        'ITEMS = {{}}\ndef part_a():\n    return "{v}"\ndef part_b():\n    return "{v}"\n'
        "class Record:\n    def __init__(self, v):\n        self.v = v\n"
        '    def tag(self):\n        return "{v}"\n'
        "{filler}\n"
    )
    filler = "\n".join(f"def filler_{i}():\n    return {i}" for i in range(50))
    m = modules.make(source.format(v="v1", filler=filler))
    errors = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                for name in ("part_a", "part_b", "filler_49", "ITEMS"):
                    assert hasattr(m, name), name
                assert m.part_a() in ("v1", "v2")
                # a lazy import inside a function, as programs do, gets the whole module
                imported = importlib.import_module(m.__name__)
                for name in ("part_a", "part_b", "filler_49", "ITEMS"):
                    assert hasattr(imported, name), f"import gave a module without {name}"
                # pickle finds classes through sys.modules: it must find the kept class
                record = pickle.loads(pickle.dumps(m.Record(1)))
                assert type(record) is m.Record and record.tag() in ("v1", "v2")
                assert imported is m, "import returned a different module object"
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(50):
            modules.edit(m, source.format(v="v2" if i % 2 == 0 else "v1", filler=filler))
            hotreload.reload(m)
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors


def test_concurrent_reloads_from_two_threads(modules, fast_switching):
    m = modules.make(V1)
    compute = m.compute
    modules.edit(m, V2)
    errors = []

    def reloader():
        try:
            for _ in range(20):
                hotreload.reload(m)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=reloader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert m.compute is compute
    assert compute() == EXPECTED["v2"]["compute"]


FIFTY = (
    "\n".join(
        f"""
def func_{i}(x, y={i}):
    values = [x, y, {{tag!r}}]
    return sum(v for v in values if isinstance(v, int)) + {i}
"""
        for i in range(50)
    )
    + """
class Holder:
    def method(self):
        return {tag!r}
DATA = []
"""
)


def _module_functions(name):
    return [obj for obj in gc.get_objects() if type(obj) is types.FunctionType and obj.__module__ == name]


def test_hundred_reloads_of_fifty_functions_do_not_grow_memory(modules):
    m = modules.make(FIFTY.format(tag="a"))
    functions = [getattr(m, f"func_{i}") for i in range(50)]
    tags = ["a", "b"]
    for i in range(10):  # warm up: caches, interned names, source maps
        modules.edit(m, FIFTY.format(tag=tags[i % 2]))
        hotreload.reload(m)
    gc.collect()
    baseline_functions = len(_module_functions(m.__name__))
    tracemalloc.start()
    try:
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        for i in range(100):
            modules.edit(m, FIFTY.format(tag=tags[i % 2]))
            report = hotreload.reload(m)
            del report
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    growth = end - start
    assert growth < 512 * 1024, f"memory grew by {growth} bytes over 100 reloads"
    assert len(_module_functions(m.__name__)) <= baseline_functions + 5
    assert all(getattr(m, f"func_{i}") is functions[i] for i in range(50))
    assert m.func_3(1) == 1 + 3 + 3


def test_objects_made_by_a_reload_are_not_kept_alive(modules):
    """The functions and classes each reload creates are folded into the kept ones
    and then released: only the kept objects remain."""
    m = modules.make(FIFTY.format(tag="a"))
    Holder = m.Holder
    for tag in ("b", "c", "d", "e"):
        modules.edit(m, FIFTY.format(tag=tag))
        hotreload.reload(m)
    gc.collect()
    holders = [
        obj for obj in gc.get_objects() if isinstance(obj, type) and obj.__module__ == m.__name__ and obj.__qualname__ == "Holder"
    ]
    assert holders == [Holder]
    assert len(_module_functions(m.__name__)) == 51  # 50 functions and Holder.method
    assert m.Holder().method() == "e"


def test_one_line_edit_in_a_large_module_reloads_quickly(modules):
    """A developer's edit-reload loop: 1000 functions and 100 classes, one line changed.
    Peers take seconds here; compile + exec of this module takes tens of milliseconds."""
    import time

    def source(k):
        functions = "\n".join(f"def f_{i}(x):\n    return x + {i}\n" for i in range(1000))
        classes = "\n".join(f"class C_{i}:\n    LIMIT = {i}\n    def m(self):\n        return {i}\n" for i in range(100))
        return functions + classes + f"\ndef edited():\n    return {k}\n"

    m = modules.make(source(0))
    f_500 = m.f_500
    text = source(1)
    started = time.perf_counter()
    compile(text, "<baseline>", "exec")
    exec(compile(text, "<baseline>", "exec"), {"__name__": "baseline"})
    baseline = time.perf_counter() - started
    modules.edit(m, text)
    started = time.perf_counter()
    report = hotreload.reload(m)
    elapsed = time.perf_counter() - started
    assert m.edited() == 1 and m.f_500 is f_500
    assert elapsed < max(1.0, 20 * baseline), f"reload took {elapsed:.3f}s (compile+exec: {baseline:.3f}s)"
    assert report.duration <= elapsed + 0.01


def test_hundred_failed_reloads_do_not_grow_memory(modules):
    good = FIFTY.format(tag="a")
    bad_runtime = FIFTY.format(tag="b") + "\nraise RuntimeError('broken edit')\n"
    bad_reconcile = FIFTY.format(tag="c").replace("class Holder:", "class Holder:\n    __slots__ = ('x',)")
    m = modules.make(good)
    functions = [getattr(m, f"func_{i}") for i in range(50)]
    bad = [bad_runtime, bad_reconcile]
    for i in range(10):
        modules.edit(m, bad[i % 2])
        with pytest.raises(hotreload.ReloadError):
            hotreload.reload(m)
    gc.collect()
    baseline_functions = len(_module_functions(m.__name__))
    tracemalloc.start()
    try:
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        for i in range(100):
            modules.edit(m, bad[i % 2])
            with pytest.raises(hotreload.ReloadError):
                hotreload.reload(m)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    growth = end - start
    assert growth < 512 * 1024, f"memory grew by {growth} bytes over 100 failed reloads"
    assert len(_module_functions(m.__name__)) <= baseline_functions + 5
    assert all(getattr(m, f"func_{i}") is functions[i] for i in range(50))
    assert m.Holder().method() == "a"


def test_failed_reloads_are_never_visible_to_other_threads(modules, fast_switching):
    """A reload that fails reconciling a class defined after ``f`` must not let another
    thread run the new ``f`` even for a moment: as if reload had never been called."""
    good = 'def f():\n    return "good"\n\nclass Late:\n    def m(self):\n        return 1\n'
    bad = "def f():\n    return \"FAILED-EDIT\"\n\nclass Late:\n    __slots__ = ('x',)\n    def m(self):\n        return 2\n"
    m = modules.make(good)
    f = m.f
    seen = set()
    errors = []
    stop = threading.Event()
    started = threading.Event()

    def caller():
        try:
            while not stop.is_set():
                seen.add(f())
                seen.add(m.Late().m())
                started.set()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
            started.set()

    thread = threading.Thread(target=caller)
    thread.start()
    try:
        assert started.wait(10)
        modules.edit(m, bad)
        for _ in range(300):
            with pytest.raises(hotreload.ReloadError):
                hotreload.reload(m)
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors
    assert seen == {"good", 1}, seen
