"""Namespaces a function stops using are freed once no frame can read them (issue 11, item 1).

On 3.11+ a frame borrows its globals and builtins from the function that started
it, so a namespace an update took away from a function must outlive the frames
started before; but it must not outlive them, or every hotfix leaks its script's
namespace for good.
"""

from __future__ import annotations

import gc
import sys
import textwrap
import types
import weakref
from typing import Any, Dict, List

import hotreload
import pytest


class Marker:
    """A weakly referenceable object a script leaves in its namespace."""


def _target_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec("def handle(x):\n    return ('original', x)\n", module.__dict__)
    sys.modules[name] = module
    return module


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Any:
    name = f"hr_leaks_{abs(hash(request.node.nodeid))}"
    module = _target_module(name)
    yield module
    sys.modules.pop(name, None)


def _hotfix_source(module_name: str) -> str:
    # The marker and 100 KB of data stand at the script's top level, like a
    # real fix's imports and constants.
    return textwrap.dedent(
        f"""
        import hotreload, sys
        from tests_markers import Marker, born
        target = sys.modules[{module_name!r}]
        payload = bytes(100_000)
        marker = Marker()
        born(marker)

        @hotreload.replace_func(target)
        def handle(x):
            return ("fixed", x, len(payload))
        """
    )


@pytest.fixture
def markers() -> Any:
    """A module ``tests_markers`` the scripts import: it records a weak reference per marker."""
    refs: List["weakref.ref[Marker]"] = []
    module = types.ModuleType("tests_markers")
    module.Marker = Marker  # type: ignore[attr-defined]
    module.born = lambda marker: refs.append(weakref.ref(marker))  # type: ignore[attr-defined]
    sys.modules["tests_markers"] = module
    yield refs
    del sys.modules["tests_markers"]


def _alive(refs: List["weakref.ref[Marker]"]) -> int:
    gc.collect()
    return sum(ref() is not None for ref in refs)


def test_hotfix_namespaces_are_freed(target: Any, markers: List[Any]) -> None:
    source = _hotfix_source(target.__name__)
    for _ in range(200):
        hotreload.apply_hotfix(source)
    assert target.handle(1) == ("fixed", 1, 100_000)
    # The namespace of the fix in force is alive (the function runs in it); the
    # one before it is let go when the next change commits; not 200.
    assert _alive(markers) <= 2


def test_a_reload_frees_the_namespace_of_the_hotfix_it_replaces(modules: Any, markers: List[Any]) -> None:
    module = modules.make("def handle(x):\n    return ('original', x)\n")
    modules.install()
    hotreload.apply_hotfix(_hotfix_source(module.__name__))
    assert module.handle(1) == ("fixed", 1, 100_000) and _alive(markers) == 1
    modules.edit(module, "def handle(x):\n    return ('edited', x)\n")
    hotreload.reload(module)
    assert module.handle(1) == ("edited", 1)
    # Nothing runs in the hotfix's namespace any more: it goes with the reload's
    # commit, not at some later sweep (100 KB a hotfix otherwise).
    assert _alive(markers) == 0


def test_update_function_from_exec_namespaces_does_not_leak(target: Any, markers: List[Any]) -> None:
    def fresh(i: int) -> types.FunctionType:
        namespace: Dict[str, Any] = {"Marker": Marker}
        exec(f"marker = Marker()\ndef handle(x):\n    return ({i}, x)\n", namespace)
        markers.append(weakref.ref(namespace["marker"]))
        return namespace["handle"]

    for i in range(300):
        hotreload.update_function(target.handle, fresh(i))
    assert target.handle("x") == (299, "x")
    assert _alive(markers) <= 2


def test_memory_stays_flat_over_many_hotfixes(target: Any, markers: List[Any]) -> None:
    import tracemalloc

    source = _hotfix_source(target.__name__)
    for _ in range(50):  # warm up: caches, linecache, interned names
        hotreload.apply_hotfix(source)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            hotreload.apply_hotfix(source)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Before the fix: 300 x 100 KB = 30 MB kept.
    assert growth < 3_000_000, f"memory grew by {growth} bytes over 300 hotfixes"


def _generator_source(tag: str) -> str:
    return f"def handle(x):\n    yield ('{tag}', x, TAG)\n    yield ('{tag}', 'again', TAG)\nTAG = '{tag}-globals'\n"


def _exec_function(tag: str) -> types.FunctionType:
    namespace: Dict[str, Any] = {}
    exec(_generator_source(tag), namespace)
    return namespace["handle"]


def test_suspended_generator_keeps_the_namespace_it_borrows(target: Any) -> None:
    hotreload.update_function(target.handle, _exec_function("first"))
    generator = target.handle(1)
    assert next(generator) == ("first", 1, "first-globals")
    # Many later updates, each sweeping the registry, with the first namespace
    # owned by nothing but the suspended frame.
    for i in range(100):
        hotreload.update_function(target.handle, _exec_function(f"later{i}"))
    gc.collect()
    # The frame still reads its own globals, not freed memory.
    assert next(generator) == ("first", "again", "first-globals")
    assert next(target.handle(2)) == ("later99", 2, "later99-globals")


def test_running_frame_keeps_its_namespace_while_it_is_replaced(target: Any) -> None:
    seen: List[Any] = []

    def replace_myself() -> None:
        for i in range(50):
            hotreload.update_function(target.handle, _exec_function(f"inner{i}"))
        gc.collect()

    namespace: Dict[str, Any] = {"replace_myself": replace_myself, "seen": seen}
    exec("def handle(x):\n    replace_myself()\n    seen.append(LABEL)\n    return LABEL\nLABEL = 'self'\n", namespace)
    hotreload.update_function(target.handle, namespace["handle"])
    del namespace
    assert target.handle(0) == "self"
    assert seen == ["self"]


def test_traceback_frame_keeps_its_namespace(target: Any) -> None:
    namespace: Dict[str, Any] = {}
    exec("LABEL = 'tb'\ndef handle(x):\n    raise ValueError(x)\n", namespace)
    hotreload.update_function(target.handle, namespace["handle"])
    del namespace
    with pytest.raises(ValueError) as caught:
        target.handle(1)
    for i in range(50):
        hotreload.update_function(target.handle, _exec_function(f"after{i}"))
    gc.collect()
    frames = [frame for frame, _ in __import__("traceback").walk_tb(caught.value.__traceback__)]
    assert frames[-1].f_globals["LABEL"] == "tb"


def test_hotfix_whose_fix_is_made_by_a_helper_function_does_not_leak(target: Any, markers: List[Any]) -> None:
    # The fix's code is then a constant of the helper's code, which lives in the namespace.
    source = textwrap.dedent(
        f"""
        import hotreload, sys
        from tests_markers import Marker, born
        target = sys.modules[{target.__name__!r}]
        marker = Marker()
        born(marker)

        def _build(tag):
            def handle(x):
                return (tag, x)
            return handle

        hotreload.replace_func(target)(_build("built"))
        """
    )
    for _ in range(200):
        hotreload.apply_hotfix(source)
    assert target.handle(1) == ("built", 1)
    assert _alive(markers) <= 20
