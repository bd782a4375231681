"""``update_function`` against the running interpreter.

Exact reference counts, no memory growth, atomicity against a thread calling
the function, call sites the 3.11+ specializing interpreter specialized before
the update, the 3.12 function-version collision, and audit hooks that refuse
the ``__code__`` change (these last two in subprocesses: a collision crashes
the interpreter and audit hooks cannot be removed).
"""

import builtins
import gc
import operator
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Dict, List

import pytest
from hotreload import update_function


def exec_module(source: str, **names: Any) -> Dict[str, Any]:
    namespace: Dict[str, Any] = {"__builtins__": builtins, "__name__": "hr_runtime_mod", **names}
    exec(compile(textwrap.dedent(source), "<hr_runtime_mod>", "exec", dont_inherit=True), namespace)
    return namespace


def run_script(source: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )


# -- reference counts ---------------------------------------------------------------

OLD_SOURCE = """
def factory(a, b):
    def f(x=("old default",)):
        return ("old", a, b, x)
    return f
"""

NEW_SOURCE = """
def factory(a, b, c):
    def f(x=("new default",), *, k=1):
        "new doc"
        return ("new", a, b, c, x, k)
    return f
"""


def test_exact_reference_counts():
    old_ns, new_ns = exec_module(OLD_SOURCE), exec_module(NEW_SOURCE)
    old = old_ns["factory"](object(), object())
    new = new_ns["factory"](object(), object(), object())
    new.attribute = object()
    objects = {
        "old": old,
        "new": new,
        "old code": old.__code__,
        "new code": new.__code__,
        "old closure": old.__closure__,
        "new closure": new.__closure__,
        "old defaults": old.__defaults__,
        "new defaults": new.__defaults__,
        "new kwdefaults": new.__kwdefaults__,
        "new attribute": new.attribute,
        "old globals": old_ns,
        "new globals": new_ns,
    }
    objects.update({f"old cell {i}": c for i, c in enumerate(old.__closure__)})
    objects.update({f"new cell {i}": c for i, c in enumerate(new.__closure__)})
    objects.update({f"old value {i}": c.cell_contents for i, c in enumerate(old.__closure__)})
    objects.update({f"new value {i}": c.cell_contents for i, c in enumerate(new.__closure__)})

    def counts() -> Dict[str, int]:
        return {name: sys.getrefcount(obj) for name, obj in objects.items()}

    before = counts()
    assert update_function(old, new) is old
    after = counts()

    expected = dict.fromkeys(objects, 0)
    expected.update(
        {
            # old now holds new's code, defaults, keyword defaults and globals ...
            "new code": 1,
            "new defaults": 1,
            "new kwdefaults": 1,
            "new globals": 1,
            # ... a fresh closure tuple of new's cells (data cells follow new) ...
            "new cell 0": 1,
            "new cell 1": 1,
            "new cell 2": 1,
            # ... and a copy of new's __dict__ holding the same values;
            "new attribute": 1,
            # what it held before is released: its code, closure and defaults.
            "old code": -1,
            "old closure": -1,
            "old defaults": -1,
            # The old globals stay alive on 3.11+, where frames borrow them.
            "old globals": 0 if sys.version_info >= (3, 11) else -1,
        }
    )
    assert {k: after[k] - before[k] for k in objects} == expected

    # Alternating afterwards neither leaks nor over-releases anything.
    other_ns = exec_module(OLD_SOURCE)
    other = other_ns["factory"](1, 2)
    update_function(old, other)
    update_function(old, new)
    settled = counts()
    for _ in range(200):
        update_function(old, other)
        update_function(old, new)
    assert counts() == settled
    assert old() == ("new",) + tuple(c.cell_contents for c in new.__closure__) + (("new default",), 1)


def test_reference_counts_when_old_had_no_closure_and_new_has_one():
    old_ns = exec_module("def f():\n    return 'plain'\n")
    new = exec_module(NEW_SOURCE)["factory"](1, 2, 3)
    old = old_ns["f"]
    closure, code, old_code = new.__closure__, new.__code__, old.__code__

    def counts() -> List[int]:
        return [sys.getrefcount(o) for o in (closure, code, old_code, old, new)]

    before = counts()
    update_function(old, new)
    after = counts()
    # With nothing to merge, old takes new's closure tuple itself.
    assert old.__closure__ is closure
    assert [a - b for a, b in zip(after, before)] == [1, 1, -1, 0, 0]
    update_function(old, exec_module("def f():\n    return 'plain again'\n")["f"])
    assert old.__closure__ is None
    assert counts()[0] == before[0]
    assert old() == "plain again"


# -- memory -------------------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_memory_growth_over_many_updates():
    def deco(fn):
        def wrapper(*args):
            return fn(*args)

        wrapper.__wrapped__ = fn
        return wrapper

    def make_one(tag):
        @deco
        def f(x=1):
            return (tag, x)

        f.tag = tag
        return f

    def make_two(tag):
        extra = [tag]

        @deco
        def f(x=2, *, y=3):
            return (tag, x, y, extra)

        return f

    old = make_one("start")
    versions = [make_two("two"), make_one("one")]

    def churn(n: int) -> None:
        for i in range(n):
            update_function(old, versions[i % 2])

    churn(2000)  # warm up: caches, interned names, the allocator's arenas
    gc.collect()
    blocks, rss = sys.getallocatedblocks(), _rss_bytes()
    churn(20000)
    gc.collect()
    block_growth = sys.getallocatedblocks() - blocks
    rss_growth = _rss_bytes() - rss
    assert block_growth < 100, block_growth
    assert rss_growth < 512 * 1024, rss_growth
    assert old() == ("one", 1)


# -- threads ------------------------------------------------------------------------


class _Yield:
    """Released with the `__dict__` a function had: its finalizer lets other threads run."""

    def __del__(self):
        time.sleep(0)


def _hammer(target: Callable[[], Any], valid: set, install: Callable[[int], None], swaps: int = 20000) -> Dict[Any, int]:
    """Calls ``target`` in a thread while ``install(i)`` swaps versions; every result must be in ``valid``."""
    stop = threading.Event()
    seen: Dict[Any, int] = {}
    problems: List[Any] = []
    calls = [0]

    def caller():
        try:
            while not stop.is_set():
                result = target()
                if result not in valid:
                    problems.append(result)
                seen[result] = seen.get(result, 0) + 1
                calls[0] += 1
        except BaseException as error:  # noqa: BLE001 - anything at all is a failure
            problems.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=caller)
    thread.start()
    try:
        for i in range(swaps):
            install(i)
            assert target() in valid
            if i % 100 in (0, 51):
                # Make sure the caller runs while each of the versions is installed.
                before, deadline = calls[0], time.monotonic() + 5
                while calls[0] == before and time.monotonic() < deadline and not problems:
                    time.sleep(1e-4)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert problems == []
    assert set(seen) == valid, seen
    return seen


def test_thread_never_sees_a_torn_function():
    def version_one():
        a, b, c = "1a", "1b", "1c"

        def f():
            return ("one", a, b, c)

        return f

    def version_two():
        z = "2z"

        def f():
            return ("two", z)

        return f

    one, two = version_one(), version_two()
    target = version_one()
    _hammer(target, {one(), two()}, lambda i: update_function(target, two if i % 2 == 0 else one))
    assert target() == one()


def _decorated_v1(closure_size):
    extra = ("x",) * closure_size

    def inner():
        return ("v1",) + extra[:0]

    inner.finalized_when_replaced = _Yield()

    def wrapper():
        return ("v1", inner())

    return wrapper


def _decorated_v2(closure_size):
    extra = ("y",) * closure_size

    def inner():
        return ("v2",) + extra[:0]

    inner.finalized_when_replaced = _Yield()

    def wrapper():
        return ("v2", inner())

    return wrapper


def test_thread_never_sees_a_wrapper_and_wrapped_function_from_different_versions():
    """A decorated function and the function it wraps change together.

    The thread reads both code objects in one C-level call (no thread switch can
    happen in between), so a wrapper of one version seen with the wrapped
    function of the other is a real tear, not a call that spanned an update.
    """
    target = _decorated_v1(1)
    inner = target.__closure__[target.__code__.co_freevars.index("inner")].cell_contents
    one, two = _decorated_v1(0), _decorated_v2(0)
    valid = {(f.__code__, f.__closure__[f.__code__.co_freevars.index("inner")].cell_contents.__code__) for f in (one, two)}
    codes = operator.attrgetter("__code__")
    pair = (target, inner)

    def observe():
        return tuple(map(codes, pair))

    # Fresh versions each time, so that what the functions held before is
    # released (running a finalizer that switches threads) during each update.
    _hammer(observe, valid, lambda i: update_function(target, (_decorated_v2 if i % 2 == 0 else _decorated_v1)(i % 3)), 4000)
    assert target() == ("v1", ("v1",))


# -- the specializing interpreter ------------------------------------------------------

CALL_SITES = """
def target(a, b=2):
    return ("old", a, b)

class Box:
    @property
    def value(self):
        return ("old property",)

    def method(self, x):
        return ("old method", x)

    def __getitem__(self, key):
        return ("old item", key)

def call_defaults():
    return target(1)

def call_keyword():
    return target(1, b=3)

def call_exact():
    return target(1, 2)

def get_property(box):
    return box.value

def call_method(box):
    return box.method(5)

def get_item(box):
    return box[7]

def warm(n):
    box = Box()
    for _ in range(n):
        call_defaults()
        call_keyword()
        call_exact()
        get_property(box)
        call_method(box)
        get_item(box)
"""


def big_function(name: str, params: str, result: str, count: int = 80) -> str:
    """Source of a function with many locals and a deep expression (a larger frame)."""
    body = "\n".join(f"    v{i} = {i}" for i in range(count))
    total = " + (".join(f"v{i}" for i in range(count)) + ")" * (count - 1)
    return f"def {name}({params}):\n{body}\n    total = {total}\n    return {result}\n"


TOTAL = sum(range(80))


def test_specialized_call_sites_run_the_new_code():
    sites = exec_module(CALL_SITES)
    sites["warm"](2000)
    box = sites["Box"]()
    assert sites["call_defaults"]() == ("old", 1, 2)

    new = exec_module(
        big_function("target", "a, b=20, c=30, *, d=40", "('new', a, b, c, d, total)")
        + big_function("value", "self", "('new property', total)")
        + big_function("method", "self, x, y=9", "('new method', x, y, total)")
        + big_function("getitem", "self, key, default=None", "('new item', key, default, total)")
    )
    Box = sites["Box"]
    update_function(sites["target"], new["target"])
    update_function(Box.__dict__["value"].fget, new["value"])
    update_function(Box.__dict__["method"], new["method"])
    update_function(Box.__dict__["__getitem__"], new["getitem"])

    for _ in range(3000):
        assert sites["call_defaults"]() == ("new", 1, 20, 30, 40, TOTAL)
        assert sites["call_keyword"]() == ("new", 1, 3, 30, 40, TOTAL)
        assert sites["call_exact"]() == ("new", 1, 2, 30, 40, TOTAL)
        assert sites["get_property"](box) == ("new property", TOTAL)
        assert sites["call_method"](box) == ("new method", 5, 9, TOTAL)
        assert sites["get_item"](box) == ("new item", 7, None, TOTAL)

    # Fewer arguments than the call sites pass: a TypeError, never a crash.
    small = exec_module("def target(a):\n    return ('small', a)\n")["target"]
    update_function(sites["target"], small)
    for _ in range(1500):
        assert sites["call_defaults"]() == ("small", 1)
        with pytest.raises(TypeError):
            sites["call_exact"]()
        with pytest.raises(TypeError):
            sites["call_keyword"]()


def test_call_site_specialized_for_the_replacement_also_fits_old():
    sites = exec_module(CALL_SITES)
    fresh = exec_module(big_function("target", "a, b=20", "('fresh', a, b, total)"))
    sites["target"] = fresh["target"]
    sites["warm"](2000)  # the sites now trust `fresh`'s version
    old = exec_module("def target(a, b=2):\n    return ('old', a, b)\n")["target"]
    update_function(old, fresh["target"])
    sites["target"] = old
    for _ in range(2000):
        assert sites["call_defaults"]() == ("fresh", 1, 20, TOTAL)
        assert sites["call_exact"]() == ("fresh", 1, 2, TOTAL)


VERSION_COLLISION = r"""
import ctypes, sys, types
from hotreload import update_function

mode = sys.argv[1]
# offsetof(PyFunctionObject, func_version) on 3.12 (x86-64 and other LP64 targets).
OFFSET = 16 + 8 * 8 + 6 * 8 + 8
ON_312 = sys.version_info[:2] == (3, 12)

def version(func):
    return ctypes.c_uint32.from_address(id(func) + OFFSET).value if ON_312 else None

def other(a, b=1, c=2):
    return ("other", a, b, c)

def helper():
    return None

def advance_lazy_counter(target):
    # 3.12 re-versions a function whose version was reset from a counter that
    # starts at 1, while fresh functions take their code's version: drive the
    # counter up to just below `other`'s version.
    while True:
        helper.__defaults__ = None
        for _ in range(100):
            helper()
        if version(helper) >= target:
            return version(helper)

def victim(a, b, c):  # no defaults: a call site that fills them in reads garbage
    return ("victim old", a, b, c)

def replacement(a, b, c):
    return ("victim new", a, b, c)

if mode == "functiontype":  # made by the constructor: version 0 on 3.12 and 3.13
    replacement = types.FunctionType(replacement.__code__, globals(), "replacement")
elif mode == "kwdefaults":  # attributes set since creation reset the version
    replacement.__kwdefaults__ = None

if ON_312:
    assert advance_lazy_counter(version(other) - 1) == version(other) - 1

if mode == "control":
    victim.__code__ = replacement.__code__  # what update_function must do better
else:
    update_function(victim, replacement)

def warm(func):
    return func(1, 2, 3)

for _ in range(200):
    warm(victim)  # 3.12 gives victim a version here, if it has none

def call(func):
    return func(1)

for _ in range(3000):
    assert call(other) == ("other", 1, 1, 2)
if ON_312:
    print("collides" if version(victim) == version(other) else "distinct")
if mode == "control":
    sys.exit(0)  # calling would crash the interpreter when the versions collide
try:
    call(victim)
except TypeError as error:
    print("TypeError", "missing 2 required positional arguments" in str(error))
print(warm(victim))
print("done")
"""


@pytest.mark.parametrize("mode", ["def", "functiontype", "kwdefaults"])
def test_version_collision_after_code_change(mode):
    result = run_script(VERSION_COLLISION, mode)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    if sys.version_info[:2] == (3, 12):
        assert lines[0] == "distinct"
        lines = lines[1:]
    assert lines == ["TypeError True", "('victim new', 1, 2, 3)", "done", ""]


def test_version_collision_scenario_is_armed_on_312():
    """The scenario above really collides for a bare ``__code__`` assignment on 3.12."""
    result = run_script(VERSION_COLLISION, "control")
    assert result.returncode == 0, result.stderr
    expected = "collides\n" if sys.version_info[:2] == (3, 12) else ""
    assert result.stdout == expected


# -- audit hooks ------------------------------------------------------------------------

AUDIT = r"""
import functools, sys
from hotreload import update_function
from hotreload._transaction import Transaction

blocked = set()
events = []

def hook(event, args):
    if event == "object.__setattr__" and args[1] == "__code__":
        events.append((args[0], args[2]))
        if id(args[0]) in blocked:
            raise RuntimeError("refused by audit hook")

sys.addaudithook(hook)

def snapshot(f):
    return (f.__code__, f.__closure__, f.__defaults__, f.__kwdefaults__, f.__globals__,
            f.__dict__, dict(f.__dict__), f.__doc__, f.__annotations__,
            [c.cell_contents for c in f.__closure__ or ()])

def same(a, b):
    return all(x is y or (type(x) in (dict, list) and x == y) for x, y in zip(a, b))

def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return ("wrapped", fn(*args))
    return wrapper

def make(tag, *extra):
    @deco
    def target(x=tag):
        return (tag, x, extra)
    target.tag = tag
    return target

new_ns = {"__name__": "elsewhere"}
exec("def plain(a, b=5):\n    'new doc'\n    return ('new', a, b)\n", new_ns)

# The __code__ setter runs (audit event, watchers) with the new code.
old = make("old")
update_function(old, make("audited", 1, 2))
assert events[-1] == (old, old.__code__), events

# 1. The top-level function is refused: nothing changes.
old = make("old")
inner = old.__wrapped__
before, inner_before = snapshot(old), snapshot(inner)
blocked.add(id(old))
for new in (make("new", 1, 2), new_ns["plain"]):
    try:
        update_function(old, new)
    except RuntimeError as error:
        assert "refused" in str(error)
    else:
        raise AssertionError("not refused")
    assert same(before, snapshot(old)) and same(inner_before, snapshot(inner))
assert old() == ("wrapped", ("old", "old", ()))

# 2. The wrapped function is refused: the wrapper is untouched.
blocked.clear(); blocked.add(id(inner))
try:
    update_function(old, make("new", 3))
except RuntimeError:
    pass
else:
    raise AssertionError("not refused")
assert same(before, snapshot(old)) and same(inner_before, snapshot(inner))

# 3. In a transaction, rolled back: the nested update made before the refusal is undone.
blocked.clear(); blocked.add(id(old))
tx = Transaction()
try:
    tx.update_function(old, make("new", 4))
except RuntimeError:
    tx.rollback()
else:
    raise AssertionError("not refused")
assert same(before, snapshot(old)) and same(inner_before, snapshot(inner))
assert old() == ("wrapped", ("old", "old", ()))

blocked.clear()
update_function(old, make("new", 5))
assert old() == ("wrapped", ("new", "new", (5,))) and old.__wrapped__ is inner
print("OK")
"""


def test_audit_hook_refusal_leaves_the_function_as_it_was():
    result = run_script(AUDIT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OK\n"
