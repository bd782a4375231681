"""``update_function`` and closures: cells matched by free-variable name.

Where both cells hold functions the old cell is kept and its function updated
(decorators keep the wrapped function's identity), where both hold classes the
class is updated in place, otherwise ``new``'s cell is used. Also: cycles, empty
cells, ``super()``, failures half-way through a nested update, and the
``FunctionState`` snapshots that transactions undo with.
"""

import functools
import types
from typing import Any, Callable, Dict, List

import pytest
from hotreload import ReloadError, _hotreload, update_function
from hotreload._transaction import Transaction


def cell(func: types.FunctionType, name: str) -> Any:
    """The closure cell of ``func`` for free variable ``name``."""
    return func.__closure__[func.__code__.co_freevars.index(name)]


def contents(func: types.FunctionType) -> Dict[str, Any]:
    return {name: c.cell_contents for name, c in zip(func.__code__.co_freevars, func.__closure__ or ())}


def snapshot(func: types.FunctionType) -> Dict[str, Any]:
    return {
        "code": func.__code__,
        "closure": func.__closure__,
        "cells": [c.cell_contents if _filled(c) else "<empty>" for c in func.__closure__ or ()],
        "globals": func.__globals__,
        "defaults": func.__defaults__,
        "kwdefaults": func.__kwdefaults__,
        "doc": func.__doc__,
        "dict": func.__dict__,
        "dict_items": dict(func.__dict__),
        "annotations": func.__annotations__,
    }


def assert_snapshot(func: types.FunctionType, before: Dict[str, Any]) -> None:
    after = snapshot(func)
    for key, value in before.items():
        if key in ("dict_items", "cells"):
            assert after[key] == value, key
        else:
            assert after[key] is value, key


def _filled(c: Any) -> bool:
    try:
        c.cell_contents
    except ValueError:
        return False
    return True


# -- free-variable counts ---------------------------------------------------------


def closure_0() -> Callable[[], tuple]:
    def f():
        return ("v0",)

    return f


def closure_1() -> Callable[[], tuple]:
    a = "a1"

    def f():
        return ("v1", a)

    return f


def closure_3() -> Callable[[], tuple]:
    a, b, c = "a3", ["b3"], {"c": 3}

    def f():
        return ("v3", a, b, c)

    return f


def closure_other_names() -> Callable[[], tuple]:
    x, y = "x", "y"

    def f():
        return ("other", y, x)

    return f


FACTORIES = {"none": closure_0, "one": closure_1, "three": closure_3, "other-names": closure_other_names}


@pytest.mark.parametrize("old_kind", sorted(FACTORIES))
@pytest.mark.parametrize("new_kind", sorted(FACTORIES))
def test_free_variable_count_changes(old_kind, new_kind):
    old, new = FACTORIES[old_kind](), FACTORIES[new_kind]()
    update_function(old, new)
    assert old() == new()
    assert old.__code__ is new.__code__
    assert len(old.__closure__ or ()) == len(old.__code__.co_freevars)
    if new.__closure__ is None:
        assert old.__closure__ is None
    else:
        # Cells of plain data are new's own cells.
        assert all(a is b for a, b in zip(old.__closure__, new.__closure__))
    # And back again, still consistent.
    back = FACTORIES[old_kind]()
    update_function(old, back)
    assert old() == back()


def test_data_cells_take_the_new_value_even_with_the_same_name():
    def make(value):
        def f():
            return value

        return f

    old, new = make([1]), make([2])
    update_function(old, new)
    assert old() == [2]
    assert cell(old, "value") is cell(new, "value")


# -- decorators --------------------------------------------------------------------


def logged(log: List[str]):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            log.append(fn.__name__)
            return ("logged", fn(*args, **kwargs))

        return wrapper

    return decorate


def twice(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return ("twice", fn(*args, **kwargs), fn(*args, **kwargs))

    return wrapper


def test_decorated_function_keeps_the_wrapped_function_identity():
    log: List[str] = []

    def make(tag):
        @logged(log)
        def target(x):
            return (tag, x)

        return target

    old, new = make("old"), make("new")
    inner = old.__wrapped__
    inner_cell = cell(old, "fn")
    update_function(old, new)

    assert old(1) == ("logged", ("new", 1))
    assert old.__wrapped__ is inner
    assert cell(old, "fn") is inner_cell
    assert inner(2) == ("new", 2)
    assert inner is not new.__wrapped__
    assert new.__wrapped__(3) == ("new", 3)
    assert log == ["target"]


def test_stacked_decorators_update_every_layer_in_place():
    log: List[str] = []

    def make(tag):
        @logged(log)
        @twice
        def target(x):
            return (tag, x)

        return target

    old, new = make("old"), make("new")
    middle = old.__wrapped__  # the `twice` wrapper
    innermost = middle.__wrapped__
    update_function(old, new)

    assert old(1) == ("logged", ("twice", ("new", 1), ("new", 1)))
    assert old.__wrapped__ is middle
    assert middle.__wrapped__ is innermost
    assert cell(middle, "fn") is not None and cell(middle, "fn").cell_contents is innermost
    assert innermost(5) == ("new", 5)
    assert middle(6) == ("twice", ("new", 6), ("new", 6))


def test_decorator_changed_between_versions():
    def make_old():
        @twice
        def target():
            return "old"

        return target

    def make_new():
        @logged([])
        def target():
            return "new"

        return target

    old = make_old()
    inner = old.__wrapped__
    update_function(old, make_new())
    assert old() == ("logged", "new")
    # Free variable `fn` exists in both wrappers: the old inner function is kept.
    assert old.__wrapped__ is inner
    assert inner() == "new"


# -- cycles and empty cells ---------------------------------------------------------


def make_pair(tag):
    def ping(n):
        return (tag, "ping") if n == 0 else pong(n - 1)

    def pong(n):
        return (tag, "pong") if n == 0 else ping(n - 1)

    return ping, pong


def test_closure_cycles_terminate_and_update_both():
    ping, pong = make_pair("old")
    new_ping, new_pong = make_pair("new")
    update_function(ping, new_ping)
    assert ping(0) == ("new", "ping")
    assert ping(1) == ("new", "pong")
    assert pong(0) == ("new", "pong")
    assert cell(ping, "pong").cell_contents is pong
    assert cell(pong, "ping").cell_contents is ping
    assert pong.__code__ is new_pong.__code__


def test_self_referencing_closure():
    def make(tag):
        def countdown(n):
            return tag if n == 0 else countdown(n - 1)

        return countdown

    old = make("old")
    update_function(old, make("new"))
    assert old(10) == "new"
    assert cell(old, "countdown").cell_contents is old


def make_empty(tag):
    def f():
        return (tag, later)

    if tag == "filled":
        later = "later"
    return f


def test_empty_cells_in_old_or_new():
    old = make_empty("empty")
    with pytest.raises(NameError):
        old()
    update_function(old, make_empty("filled"))
    assert old() == ("filled", "later")

    filled = make_empty("filled")
    update_function(filled, make_empty("empty"))
    with pytest.raises(NameError):
        filled()
    assert not _filled(cell(filled, "later"))


# -- classes in cells, super() -------------------------------------------------------


class Base:
    def hello(self):
        return "base"


class Child(Base):
    def hello(self):
        return ("child old", super().hello())


def test_zero_argument_super_keeps_working():
    instance = Child()
    old = Child.__dict__["hello"]

    class Child2(Base):  # what re-executing the class statement gives
        def hello(self):
            return ("child new", super().hello())

    new = Child2.__dict__["hello"]
    update_function(old, new)
    assert cell(old, "__class__").cell_contents is Child
    assert instance.hello() == ("child new", "base")
    assert Child().hello() == ("child new", "base")
    assert isinstance(instance, Child)


def make_with_class(tag, slots):
    class z_thing:
        __slots__ = slots

    def a_inner():
        return tag

    def f():
        return (tag, z_thing, a_inner())

    return f


def test_failed_class_update_leaves_everything_as_before():
    old = make_with_class("old", ("a",))
    inner = cell(old, "a_inner").cell_contents
    thing = cell(old, "z_thing").cell_contents
    before, inner_before = snapshot(old), snapshot(inner)
    # `a_inner` is updated before the class cell fails: it must be put back.
    with pytest.raises(ReloadError):
        update_function(old, make_with_class("new", ("a", "b")))
    assert_snapshot(old, before)
    assert_snapshot(inner, inner_before)
    assert old() == ("old", thing, "old")
    assert thing.__slots__ == ("a",)


def test_failed_nested_update_in_a_transaction_rolls_back():
    old = make_with_class("old", ("a",))
    inner = cell(old, "a_inner").cell_contents
    before, inner_before = snapshot(old), snapshot(inner)
    tx = Transaction()
    with pytest.raises(ReloadError):
        tx.update_function(old, make_with_class("new", ("a", "b")))
    assert tx.size >= 1
    tx.rollback()
    assert_snapshot(old, before)
    assert_snapshot(inner, inner_before)
    assert old()[::2] == ("old", "old")


def test_update_function_in_records_every_function_it_changes():
    ping, pong = make_pair("old")
    ping_before, pong_before = snapshot(ping), snapshot(pong)
    undo: List[Any] = []
    assert _hotreload.update_function_in(undo, ping, make_pair("new")[0]) is ping
    assert sorted(s.function.__name__ for s in undo) == ["ping", "pong"]
    assert ping(1) == ("new", "pong")
    for state in reversed(undo):
        state.restore()
    assert_snapshot(ping, ping_before)
    assert_snapshot(pong, pong_before)
    assert ping(1) == ("old", "pong")

    tx = Transaction()
    tx.update_function(ping, make_pair("newer")[0])
    assert ping(1) == ("newer", "pong")
    tx.rollback()
    assert ping(1) == ("old", "pong")
    assert_snapshot(ping, ping_before)


# -- FunctionState -------------------------------------------------------------------


def test_function_state_restores_byte_for_byte():
    def make(tag, extra=None):
        data = [tag]

        def f(a, b=("default", tag), *, c=tag) -> str:
            """doc"""
            return (tag, a, b, c, data, extra)

        return f

    old = make("old")
    old.attribute = ["attr"]
    before = snapshot(old)
    state = _hotreload.FunctionState(old)
    assert state.function is old
    assert "f" in repr(state)

    new = compile("def f(x):\n    return ('new', x)\n", "<new>", "exec")
    namespace: Dict[str, Any] = {}
    exec(new, namespace)
    update_function(old, namespace["f"])
    update_function(old, make("newer", extra=1))
    assert old(1)[0] == "newer"

    state.restore()
    assert_snapshot(old, before)
    assert old(1) == ("old", 1, ("default", "old"), "old", ["old"], None)
    # Restoring twice is harmless; calling the snapshot restores too.
    update_function(old, namespace["f"])
    state()
    state.restore()
    assert_snapshot(old, before)
    for _ in range(2000):  # specialized call sites agree with the restored function
        assert old(2)[1] == 2


def test_function_state_rejects_non_functions():
    with pytest.raises(TypeError) as error:
        _hotreload.FunctionState(len)
    assert "builtin_function_or_method" in str(error.value)
