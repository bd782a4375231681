"""Which statements a reload runs, in the cases the plan has to think about.

Each module is imported after ``install()``, so hotreload knows the source it
was loaded from and a reload runs only what changed.
"""

from __future__ import annotations

import textwrap
from typing import Any

import hotreload
import pytest

DECORATED_METHOD = """
def incremented(f):
    return lambda *args: f(*args) + 1

class Foo:
    @classmethod
    @incremented
    def foo(cls):
        return 42

foo = Foo.foo
"""


def test_an_edited_decorator_remakes_the_unchanged_definitions_it_decorates(modules: Any) -> None:
    modules.install()
    m = modules.make(DECORATED_METHOD)
    cls, held = m.Foo, m.foo
    assert held() == 43

    modules.edit(m, DECORATED_METHOD.replace("+ 1", "+ 10"))
    report = hotreload.reload(m)

    assert m.Foo is cls
    assert m.Foo.foo() == 52 and held() == 52
    assert report.statements_run == 2


DISPATCH = """
import functools

@functools.singledispatch
def describe(x):
    return "any"

@describe.register
def _(x: int):
    return "int"

@describe.register
def _(x: list):
    return "list"
"""


def test_a_registration_under_a_reused_name_adds_an_implementation(modules: Any) -> None:
    modules.install()
    m = modules.make(DISPATCH)
    describe = m.describe

    modules.edit(m, DISPATCH + '\n@describe.register\ndef _(x: str):\n    return "str"\n')
    hotreload.reload(m)

    assert m.describe is describe
    assert [describe("a"), describe([1]), describe(1), describe(1.5)] == ["str", "list", "int", "any"]

    modules.edit(m, (DISPATCH + '\n@describe.register\ndef _(x: str):\n    return "str"\n').replace('"int"', '"INT"'))
    hotreload.reload(m)
    assert [describe("a"), describe([1]), describe(1)] == ["str", "list", "INT"]


WRAPPED = """
import functools

def wrap(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return ("wrapped", fn(*args))
    return wrapper

def f():
    return "v1"

g = wrap(f)
"""


def test_a_wraps_wrapper_is_never_taken_for_the_function_it_wraps(modules: Any) -> None:
    modules.install()
    m = modules.make(WRAPPED)
    f, g = m.f, m.g

    modules.edit(m, WRAPPED.replace('"v1"', '"v2"'))
    hotreload.reload(m)

    assert m.f is f and m.g is g
    assert f() == "v2"
    assert g() == ("wrapped", "v2")


@pytest.mark.parametrize("statement", ["import sys\nsys.exit(3)", "raise SystemExit('stop')", "raise GeneratorExit"])
def test_a_module_body_that_exits_is_refused_and_changes_nothing(modules: Any, statement: str) -> None:
    modules.install()
    m = modules.make("def f():\n    return 1\n")
    snapshot = modules.snapshot(m)

    modules.edit(m, "def f():\n    return 2\n" + statement + "\n")
    with pytest.raises(hotreload.ReloadError) as caught:
        hotreload.reload(m)

    assert "line" in str(caught.value) and caught.value.__cause__ is not None
    snapshot.assert_unchanged()
    assert m.f() == 1


def test_nothing_changed_runs_nothing_and_repeats_no_side_effect(modules: Any) -> None:
    modules.install()
    log = modules.make("CALLS = []\n", hint="log")
    source = textwrap.dedent(
        f"""
        import {log.__name__} as log
        log.CALLS.append("ran")

        def f():
            return 1
        """
    )
    m = modules.make(source)
    modules.edit(m, source)
    report = hotreload.reload(m)
    assert report.statements_run == 0 and log.CALLS == ["ran"]
    assert "0 of 3 statements" in str(report)
