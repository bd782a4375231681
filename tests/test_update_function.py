"""``hotreload.update_function(old, new)``: what a function looks like afterwards.

Every reference the program already holds to ``old`` (aliases, registries, bound
methods, partials) must run ``new``'s code with ``new``'s closure, globals,
builtins, defaults and attributes, while ``old`` keeps its identity and its names.
Closure merging is in test_update_function_closures.py; threads, reference
counts, memory and the specializing interpreter in test_update_function_runtime.py.
"""

import asyncio
import builtins
import functools
import sys
import types
import warnings
from typing import Any, Dict, Optional

import hotreload
import pytest
from hotreload import update_function


def compile_function(source: str, name: str, namespace: Optional[Dict[str, Any]] = None) -> types.FunctionType:
    """Executes ``source`` in a fresh (or the given) namespace and returns ``name`` from it."""
    namespace = {"__builtins__": builtins, "__name__": "hr_test_mod"} if namespace is None else namespace
    exec(compile(source, f"<{name}>", "exec", dont_inherit=True), namespace)
    return namespace[name]


def state(func: types.FunctionType) -> Dict[str, Any]:
    """Everything update_function may change, to compare by identity."""
    snap = {
        "code": func.__code__,
        "closure": func.__closure__,
        "globals": func.__globals__,
        "defaults": func.__defaults__,
        "kwdefaults": func.__kwdefaults__,
        "doc": func.__doc__,
        "annotations": func.__annotations__,
        "dict": func.__dict__,
        "dict_items": dict(func.__dict__),
        "name": func.__name__,
        "qualname": func.__qualname__,
        "module": func.__module__,
    }
    if sys.version_info >= (3, 10):
        snap["builtins"] = func.__builtins__
    if sys.version_info >= (3, 12):
        snap["type_params"] = func.__type_params__
    return snap


def assert_same_state(before: Dict[str, Any], after: Dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if key == "dict_items":
            assert after[key] == value, key
        else:
            assert after[key] is value, key


# -- references the program holds -------------------------------------------------


def test_aliases_registries_and_bound_methods_run_new_code():
    def handler(x):
        return ("old", x)

    def replacement(x):
        return ("new", x)

    alias = handler
    registry = {"on_event": handler}
    callbacks = [handler]
    partial = functools.partial(handler, 7)

    class Service:
        method = handler

    bound = Service().method

    assert update_function(handler, replacement) is handler
    assert handler(1) == ("new", 1)
    assert alias(2) == ("new", 2)
    assert registry["on_event"](3) == ("new", 3)
    assert callbacks[0](4) == ("new", 4)
    assert partial() == ("new", 7)
    assert bound() == ("new", bound.__self__)
    assert handler.__code__ is replacement.__code__
    # The replacement itself is untouched.
    assert replacement(5) == ("new", 5)


def test_return_value_is_old():
    def old():
        return 1

    def new():
        return 2

    result = update_function(old, new)
    assert result is old
    assert result() == 2


def test_update_with_itself_is_a_no_op():
    def make():
        value = ["cell"]

        def f(a, b=1, *, c=2):
            """doc"""
            return (a, b, c, value)

        return f

    f = make()
    f.tag = "kept"
    before = state(f)
    assert update_function(f, f) is f
    assert_same_state(before, state(f))
    assert f(0) == (0, 1, 2, ["cell"])


def test_lambdas_are_functions():
    old = lambda x: ("old", x)  # noqa: E731
    new = lambda x: ("new", x)  # noqa: E731
    update_function(old, new)
    assert old(1) == ("new", 1)
    assert old.__name__ == "<lambda>"


# -- attributes -------------------------------------------------------------------


def test_defaults_kwdefaults_doc_annotations_and_dict_follow_new():
    def old(a: int, b=1, *, c=2) -> int:
        """old doc"""
        return ("old", a, b, c)

    def new(a: str, b=10, *, c=20, d=30) -> str:
        """new doc"""
        return ("new", a, b, c, d)

    old.tag = "old"
    old.only_old = True
    new.tag = "new"
    new.extra = [1, 2]

    update_function(old, new)
    assert old("x") == ("new", "x", 10, 20, 30)
    assert old("x", 2, c=3, d=4) == ("new", "x", 2, 3, 4)
    assert old.__defaults__ == (10,)
    assert old.__kwdefaults__ == {"c": 20, "d": 30}
    assert old.__doc__ == "new doc"
    assert old.__annotations__ == {"a": str, "return": str}
    assert old.__dict__ == {"tag": "new", "extra": [1, 2]}
    assert old.extra is new.extra
    assert not hasattr(old, "only_old")
    # old and new stay separate objects: setting an attribute on one leaves the other.
    old.later = 1
    assert not hasattr(new, "later")


def test_missing_defaults_doc_and_dict_on_new_are_cleared_on_old():
    def old(a, b=1, *, c=2):
        """old doc"""
        return a

    old.tag = "old"

    def new(a, b, *, c):
        return ("new", a, b, c)

    update_function(old, new)
    assert old.__defaults__ is None
    assert old.__kwdefaults__ is None
    assert old.__doc__ is None
    assert old.__dict__ == {}
    with pytest.raises(TypeError):
        old(1)
    assert old(1, 2, c=3) == ("new", 1, 2, 3)


def test_annotations_and_type_params_follow_new():
    old = compile_function("def f(x: int) -> int:\n    return x\n", "f")
    new = compile_function("def f(x: 'Tee') -> list:\n    return [x]\n", "f")
    update_function(old, new)
    assert old.__annotations__ == {"x": "Tee", "return": list}
    assert old(1) == [1]
    if sys.version_info >= (3, 12):
        generic = compile_function("def g[T, U](x: T) -> U:\n    return ('generic', x)\n", "g")
        plain = compile_function("def g(x):\n    return ('plain', x)\n", "g")
        params = generic.__type_params__
        assert [p.__name__ for p in params] == ["T", "U"]
        update_function(plain, generic)
        assert plain.__type_params__ is params
        assert plain(1) == ("generic", 1)
        other = compile_function("def g(x):\n    return ('other', x)\n", "g")
        update_function(plain, other)
        assert plain.__type_params__ == ()


def test_names_and_module_stay_old():
    def old():
        return "old"

    new = compile_function("def renamed():\n    return 'new'\n", "renamed")
    new.__qualname__ = "Other.renamed"
    new.__module__ = "elsewhere"
    qualname, module = old.__qualname__, old.__module__

    update_function(old, new)
    assert old() == "new"
    assert old.__name__ == "old"
    assert old.__qualname__ == qualname
    assert old.__module__ == module == __name__
    assert (new.__name__, new.__qualname__, new.__module__) == ("renamed", "Other.renamed", "elsewhere")


# -- globals and builtins ---------------------------------------------------------


def test_globals_and_builtins_follow_new():
    source = "def f():\n    return (VALUE, len('abc'))\n"
    old_ns = {"__builtins__": builtins, "VALUE": "old global"}
    fake_builtins = dict(vars(builtins), len=lambda s: -1)
    new_ns = {"__builtins__": fake_builtins, "VALUE": "new global"}
    old = compile_function(source, "f", old_ns)
    new = compile_function(source, "f", new_ns)
    assert old() == ("old global", 3)

    update_function(old, new)
    assert old() == ("new global", -1)
    assert old.__globals__ is new_ns
    if sys.version_info >= (3, 10):
        assert old.__builtins__ is fake_builtins
    new_ns["VALUE"] = "changed"
    assert old() == ("changed", -1)
    old_ns["VALUE"] = "ignored"
    assert old() == ("changed", -1)


def test_suspended_generator_keeps_the_globals_it_started_with():
    import gc

    source = "def gen():\n    yield VALUE\n    yield VALUE + '!'\n"
    old_ns = {"__builtins__": builtins, "VALUE": "old"}
    gen = compile_function(source, "gen", old_ns)
    new = compile_function(source, "gen", {"__builtins__": builtins, "VALUE": "new"})
    running = gen()
    assert next(running) == "old"

    update_function(gen, new)
    del old_ns, new
    gc.collect()
    # 3.11+ frames borrow their globals from the function: they must still be alive.
    assert next(running) == "old!"
    assert list(gen()) == ["new", "new!"]


# -- kinds of functions -----------------------------------------------------------


def test_suspended_generator_finishes_with_old_code():
    def gen():
        yield "old 1"
        yield "old 2"

    def new_gen():
        yield "new 1"
        yield "new 2"
        yield "new 3"

    running = gen()
    assert next(running) == "old 1"
    update_function(gen, new_gen)
    assert list(running) == ["old 2"]
    assert list(gen()) == ["new 1", "new 2", "new 3"]


class _Suspend:
    def __await__(self):
        yield "suspended"


def test_coroutines_and_async_generators():
    async def old():
        await _Suspend()
        return "old"

    async def new():
        return "new"

    running = old()
    assert running.send(None) == "suspended"
    update_function(old, new)
    with pytest.raises(StopIteration) as stop:
        running.send(None)
    assert stop.value.value == "old"
    assert asyncio.run(old()) == "new"

    async def agen_old():
        yield "old"

    async def agen_new():
        yield "new"
        await asyncio.sleep(0)
        yield "new again"

    async def collect(agen):
        return [item async for item in agen()]

    update_function(agen_old, agen_new)
    assert asyncio.run(collect(agen_old)) == ["new", "new again"]


@pytest.mark.parametrize(
    "old_src, new_src, expected",
    [
        ("def f():\n    return 'plain'\n", "def f():\n    yield 'gen'\n", lambda r: list(r) == ["gen"]),
        ("def f():\n    yield 'gen'\n", "def f():\n    return 'plain'\n", lambda r: r == "plain"),
        ("def f():\n    return 'plain'\n", "async def f():\n    return 'coro'\n", lambda r: asyncio.run(r) == "coro"),
        ("async def f():\n    return 'coro'\n", "def f():\n    return 'plain'\n", lambda r: r == "plain"),
    ],
    ids=["plain-to-generator", "generator-to-plain", "plain-to-coroutine", "coroutine-to-plain"],
)
def test_changing_kind_works_without_warnings(old_src, new_src, expected):
    old = compile_function(old_src, "f")
    new = compile_function(new_src, "f")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        update_function(old, new)
    assert [str(w.message) for w in caught] == []
    assert expected(old())
    # Even with warnings turned into errors, the update goes through.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        update_function(old, compile_function(old_src, "f"))
    if "yield" in old_src:
        assert list(old()) == ["gen"]
    elif "async" in old_src:
        assert asyncio.run(old()) == "coro"
    else:
        assert old() == "plain"


# -- functions that update or call themselves --------------------------------------


def test_self_updating_function():
    def make(tag, replacement_factory):
        def f(n):
            if n == 0:
                update_function(f, replacement_factory())
                # This frame keeps running the old code; the call runs the new one.
                return (tag, "after update", f(1))
            return (tag, n)

        return f

    old = make("old", lambda: make("new", None))
    assert old(0) == ("old", "after update", ("new", 1))
    assert old(2) == ("new", 2)


def test_recursion_through_module_globals():
    namespace = {"__builtins__": builtins}
    old = compile_function("def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n", "fact", namespace)
    for _ in range(200):
        assert old(30) == 265252859812191058636308480000000
    new = compile_function("def fact(n):\n    return ('new', n) if n <= 1 else ('new', n, fact(n - 1))\n", "fact", dict(namespace))
    update_function(old, new)
    # A reload puts the kept function back under its name in the new namespace.
    old.__globals__["fact"] = old
    assert old(2) == ("new", 2, ("new", 1))
    depth = 400
    result = old(depth)
    for level in range(depth, 1, -1):
        assert result[:2] == ("new", level)
        result = result[2]
    assert result == ("new", 1)


def test_deep_recursion_while_updated_mid_recursion():
    calls = []

    def make(tag):
        def walk(n):
            calls.append(tag)
            if n == 50 and tag == "old":
                update_function(walk, make("new"))
            return 0 if n == 0 else 1 + walk(n - 1)

        return walk

    walk = make("old")
    assert walk(100) == 100
    # The calls made after the update (from the running old frame) run new code.
    assert calls[:51] == ["old"] * 51
    assert calls[51:] == ["new"] * 50


# -- errors ------------------------------------------------------------------------


class _Callable:
    def __call__(self):
        return "callable"

    def method(self):
        return "method"


@pytest.mark.parametrize(
    "bad, type_name",
    [
        (42, "int"),
        ("text", "str"),
        (None, "NoneType"),
        (len, "builtin_function_or_method"),
        (functools.partial(print, 1), "partial"),
        (_Callable(), "_Callable"),
        (_Callable().method, "method"),
        (_Callable, "type"),
        (staticmethod(lambda: 1), "staticmethod"),
    ],
)
def test_type_errors_name_the_argument_and_change_nothing(bad, type_name):
    def good(a=1):
        """doc"""
        return ("good", a)

    good.tag = "tag"
    before = state(good)

    with pytest.raises(TypeError) as error:
        update_function(good, bad)
    message = str(error.value)
    assert "'new'" in message and type_name in message
    assert_same_state(before, state(good))

    with pytest.raises(TypeError) as error:
        update_function(bad, good)
    message = str(error.value)
    assert "'old'" in message and type_name in message
    assert_same_state(before, state(good))
    assert good() == ("good", 1)


def test_wrong_argument_count_is_a_type_error():
    def f():
        return 1

    with pytest.raises(TypeError):
        update_function(f)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        update_function(f, f, f)  # type: ignore[call-arg]
    assert f() == 1


def test_public_name_is_the_extension_function():
    assert hotreload.update_function is update_function
    assert update_function.__module__ in ("hotreload._hotreload", "hotreload")
