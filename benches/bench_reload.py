"""Reload benchmarks, each measured side by side in one run.

    python benches/bench_reload.py [--rounds N] [--sizes 200,2000,20000]

1. A one-line edit (same line count) of a generated module of N functions (and
   N/10 classes): ``hotreload.reload`` against ``importlib.reload`` on the same
   edit (goal: <= 0.1x at 2 000, <= 0.02x at 20 000: the cost follows the edit,
   not the module), with the floor beside it: compiling just the edited function;
2. a line inserted at the top, so that every definition moves (goal <= 0.3x at 2 000);
3. the one-line edit with 2.5 million extra live objects in the heap, against the
   empty-heap figure (goal: within 1.05x: no heap scans);
4. importing 300 generated modules with ``hotreload.install()`` against without
   (goal: within 3%);
5. calls to a reloaded function against calls to a freshly defined one (goal 1.00x),
   and the memory 100 reloads leave behind (goal < 1 MB).

Times are medians over the rounds; reloads alternate between two versions so
every round really changes the file.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import tempfile
import time
import timeit
import tracemalloc
from typing import Callable, List

import hotreload
from _generated import generate_module


def write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def median_time(action: Callable[[], object], rounds: int, before: Callable[[int], None]) -> float:
    times: List[float] = []
    for round_number in range(rounds):
        before(round_number)
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load(directory: str, name: str, text: str):  # type: ignore[no-untyped-def]
    path = os.path.join(directory, f"{name}.py")
    write(path, text)
    module = importlib.import_module(name)
    hotreload.reload(module)  # hotreload now knows the source it was loaded from
    return module, path


def bench_size(directory: str, functions: int, rounds: int) -> None:
    classes = functions // 10
    versions = [generate_module(v, functions, classes) for v in (1, 2)]
    module, path = load(directory, f"bench_{functions}", versions[0])

    def edit(round_number: int) -> None:
        write(path, versions[(round_number + 1) % 2])

    plain = median_time(lambda: importlib.reload(module), rounds, edit)
    ours = median_time(lambda: hotreload.reload(module), rounds, edit)
    floor = median_time(lambda: compile("def func_0(x=1, y=1):\n    return x * 2\n", path, "exec"), rounds, lambda _: None)
    print(
        f"one-line edit, {functions:6} functions: importlib.reload {plain * 1e3:8.2f} ms | "
        f"hotreload.reload {ours * 1e3:7.2f} ms | ratio {ours / plain:.3f}x | floor (compile the function) "
        f"{floor * 1e3:.3f} ms"
    )
    if functions != 2000:
        return
    moved = [generate_module(1, functions, classes, header=h) for h in (0, 1)]

    def insert(round_number: int) -> None:
        write(path, moved[(round_number + 1) % 2])

    plain_moved = median_time(lambda: importlib.reload(module), rounds, insert)
    ours_moved = median_time(lambda: hotreload.reload(module), rounds, insert)
    print(
        f"line inserted at the top, {functions} functions: importlib.reload {plain_moved * 1e3:8.2f} ms | "
        f"hotreload.reload {ours_moved * 1e3:7.2f} ms | ratio {ours_moved / plain_moved:.3f}x (goal <= 0.3)"
    )
    heap = [[i] for i in range(2_500_000)]  # 2.5 million live container objects
    gc.collect()
    with_heap = median_time(lambda: hotreload.reload(module), rounds, edit)
    print(
        f"one-line edit with 2.5 M extra live objects: {with_heap * 1e3:7.2f} ms against {ours * 1e3:7.2f} ms | "
        f"ratio {with_heap / ours:.2f}x (goal <= 1.05)"
    )
    del heap
    gc.collect()
    bench_calls_and_memory(module, path, versions)


def bench_calls_and_memory(module, path: str, versions: List[str]) -> None:  # type: ignore[no-untyped-def]
    fresh_namespace: dict = {}
    exec(compile("def fresh(x=1, y=1):\n    return x * 2\n", "<fresh>", "exec"), fresh_namespace)
    fresh = fresh_namespace["fresh"]
    reloaded = module.func_0
    write(path, versions[1])
    hotreload.reload(module)  # func_0 now returns x * 2, same as `fresh`
    assert reloaded(3) == fresh(3) == 6
    reloaded_times, fresh_times = [], []
    for _ in range(7):  # interleaved, so drift hits both alike
        reloaded_times.append(min(timeit.repeat(lambda: reloaded(3), number=200_000, repeat=3)))
        fresh_times.append(min(timeit.repeat(lambda: fresh(3), number=200_000, repeat=3)))
    ratio = statistics.median(reloaded_times) / statistics.median(fresh_times)
    print(f"call speed, reloaded vs fresh function: ratio {ratio:.2f}x (goal 1.00)")
    for i in range(10):  # warm caches before measuring
        write(path, versions[i % 2])
        hotreload.reload(module)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100):
        write(path, versions[i % 2])
        hotreload.reload(module)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"memory after 100 reloads: {grown / 1e6:+.3f} MB (goal < 1 MB)")


def bench_imports(directory: str, rounds: int) -> None:
    count = 300
    for i in range(count):
        write(os.path.join(directory, f"bench_small_{i}.py"), f"VALUE = {i}\n\ndef f(x):\n    return x + VALUE\n")

    def import_all(prefix: str) -> None:
        for i in range(count):
            importlib.import_module(f"{prefix}_{i}")

    def forget() -> None:
        for i in range(count):
            sys.modules.pop(f"bench_small_{i}", None)
        importlib.invalidate_caches()

    import_all("bench_small")  # warm the .pyc files and the OS cache
    without, with_finder = [], []
    for _ in range(rounds):
        forget()
        started = time.perf_counter()
        import_all("bench_small")
        without.append(time.perf_counter() - started)
        forget()
        hotreload.install()
        started = time.perf_counter()
        import_all("bench_small")
        with_finder.append(time.perf_counter() - started)
        hotreload.uninstall()
    a, b = statistics.median(without), statistics.median(with_finder)
    print(
        f"import 300 modules: without install {a * 1e3:6.1f} ms | with install {b * 1e3:6.1f} ms | ratio {b / a:.3f}x (goal <= 1.03)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sizes", default="200,2000,20000")
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as directory:
        sys.path.insert(0, directory)
        for size in (int(s) for s in args.sizes.split(",")):
            bench_size(directory, size, args.rounds)
        bench_imports(directory, args.rounds)


if __name__ == "__main__":
    main()
