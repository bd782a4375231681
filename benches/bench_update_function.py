"""Benchmark of ``hotreload.update_function``.

Run: ``python benches/bench_update_function.py [--quick]``

Prints, side by side in one run:
- the cost of ``update_function(f, g)`` against a bare ``f.__code__ = g.__code__``
  (alternating between two compatible functions; goal: at most 2x);
- the closure-merge case (free-variable count changing, a decorator's wrapped
  function updated in place) on its own line;
- call speed of an updated function against a freshly defined one with the same
  code (goal: 1.00x), also when the replacement was made by ``types.FunctionType``.

Every measurement is a batch of operations timed with ``perf_counter_ns``; the
batches of the compared operations are interleaved and the median over many
batches is reported, so that frequency scaling and noise hit both sides alike.
"""

import functools
import statistics
import sys
import time
import types

from hotreload import update_function

QUICK = "--quick" in sys.argv
ROUNDS = 30 if QUICK else 150
BATCH = 1000


def interleaved(*operations, rounds=ROUNDS, batch=BATCH):
    """Median ns per operation for each ``operations[i](batch)``, batches interleaved."""
    samples = [[] for _ in operations]
    for op in operations:  # warm up
        op(batch)
    for _ in range(rounds):
        for i, op in enumerate(operations):
            start = time.perf_counter_ns()
            op(batch)
            samples[i].append((time.perf_counter_ns() - start) / batch)
    return [statistics.median(s) for s in samples]


# -- swapping -----------------------------------------------------------------------


def plain_a(x, y=1):
    return x + y


def plain_b(x, y=2):
    return x * y


def bare_target(x, y=1):
    return x + y


def hot_target(x, y=1):
    return x + y


def bare_swap(n):
    code_a, code_b, target = plain_a.__code__, plain_b.__code__, bare_target
    for _ in range(n // 2):
        target.__code__ = code_a
        target.__code__ = code_b


def hot_swap(n):
    a, b, target, update = plain_a, plain_b, hot_target, update_function
    for _ in range(n // 2):
        update(target, a)
        update(target, b)


def call_floor(n):
    target, update = hot_target, update_function
    for _ in range(n // 2):
        update(target, target)  # returns at once: the cost of calling into the extension
        update(target, target)


def decorate(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)

    return wrapper


def closure_one():
    scale = 2

    @decorate
    def f(x):
        return x * scale

    return f


def closure_two():
    scale, offset = 3, 4

    @decorate
    def f(x):
        return x * scale + offset

    return f


def closure_three():
    a, b, c = 1, 2, 3

    def f(x):
        return x + a + b + c

    return f


def closure_none():
    def f(x):
        return x

    return f


merge_target = closure_one()
merge_a, merge_b = closure_two(), closure_one()  # decorated: the wrapped function is updated too
count_target = closure_three()
count_a, count_b = closure_none(), closure_three()  # free-variable count 3 -> 0 -> 3


def merge_swap(n):
    a, b, target, update = merge_a, merge_b, merge_target, update_function
    for _ in range(n // 2):
        update(target, a)
        update(target, b)


def count_swap(n):
    a, b, target, update = count_a, count_b, count_target, update_function
    for _ in range(n // 2):
        update(target, a)
        update(target, b)


# -- calling ------------------------------------------------------------------------

CALL_LOOP = """
def loop(n):
    f = FUNC
    for _ in range(n):
        f(1)
        f(2)
        f(3)
        f(4)
"""


def call_loop(func):
    """A loop with its own call sites, so each function is measured monomorphically."""
    namespace = {"FUNC": func}
    exec(CALL_LOOP, namespace)
    return namespace["loop"]


def make_callee():
    def callee(x, y=2):
        return x + y

    return callee


def updated_callee(replacement):
    def callee(x):  # a different shape before the update
        return -x

    for _ in range(2000):
        callee(1)  # specialized for the old shape
    update_function(callee, replacement)
    return callee


def main():
    rows = []
    bare, hot, floor = interleaved(bare_swap, hot_swap, call_floor)
    rows.append(("swap, no closure: bare f.__code__ = g.__code__", bare, ""))
    rows.append(("swap, no closure: update_function(f, g)", hot, f"{hot / bare:.2f}x bare (goal <= 2x)"))
    rows.append(("  of which calling the extension: update_function(f, f)", floor, f"{floor / bare:.2f}x bare"))
    merge, count = interleaved(merge_swap, count_swap)
    rows.append(("closure merge: decorated, wrapped fn updated in place", merge, ""))
    rows.append(("closure merge: free variables 3 <-> 0", count, ""))

    fresh = make_callee()
    updated = updated_callee(make_callee())
    replacement = make_callee()
    from_ctor = updated_callee(types.FunctionType(replacement.__code__, replacement.__globals__, "c", (2,)))
    loops = [call_loop(f) for f in (fresh, updated, from_ctor)]
    per_call = [t / 4 for t in interleaved(*loops, rounds=ROUNDS * 2)]
    rows.append(("call: fresh function", per_call[0], ""))
    rows.append(("call: updated function", per_call[1], f"{per_call[1] / per_call[0]:.2f}x fresh (goal 1.00x)"))
    rows.append(("call: updated from a FunctionType(...) function", per_call[2], f"{per_call[2] / per_call[0]:.2f}x fresh"))

    version = ".".join(map(str, sys.version_info[:3]))
    print(f"hotreload.update_function benchmark, CPython {version} (median ns/op)")
    width = max(len(r[0]) for r in rows)
    for label, ns, note in rows:
        print(f"  {label:<{width}}  {ns:8.1f} ns  {note}")


if __name__ == "__main__":
    main()
