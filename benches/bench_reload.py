"""Reload benchmarks, each measured side by side in one run.

    python benches/bench_reload.py [--rounds N]

1. ``hotreload.reload`` against ``importlib.reload`` on the same one-line edit of
   a generated module with 2 000 functions and 200 classes (goal: within 1.2x);
2. the same ``hotreload.reload`` with 2.5 million extra live objects in the heap,
   against the empty-heap figure (goal: within 1.05x: no heap scans);
3. importing 300 generated modules with ``hotreload.install()`` against without
   (goal: within 3%);
4. calls to a reloaded function against calls to a freshly defined one (goal 1.00x).

Times are medians over the rounds; reloads alternate between two edits so
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


def bench_reload(directory: str, rounds: int) -> None:
    path = os.path.join(directory, "bench_big.py")
    versions = [generate_module(1), generate_module(2)]
    write(path, versions[0])
    module = importlib.import_module("bench_big")

    def edit(round_number: int) -> None:
        write(path, versions[(round_number + 1) % 2])

    plain = median_time(lambda: importlib.reload(module), rounds, edit)
    ours = median_time(lambda: hotreload.reload(module), rounds, edit)
    print(f"reload, 2000 functions + 200 classes: importlib.reload {plain * 1e3:7.1f} ms | "
          f"hotreload.reload {ours * 1e3:7.1f} ms | ratio {ours / plain:.2f}x (goal <= 1.20)")

    heap = [[i] for i in range(2_500_000)]  # 2.5 million live container objects
    gc.collect()
    with_heap = median_time(lambda: hotreload.reload(module), rounds, edit)
    print(f"reload with 2.5 M extra live objects: {with_heap * 1e3:7.1f} ms against {ours * 1e3:7.1f} ms | "
          f"ratio {with_heap / ours:.2f}x (goal <= 1.05)")
    del heap
    gc.collect()

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
    print(f"import 300 modules: without install {a * 1e3:6.1f} ms | with install {b * 1e3:6.1f} ms | "
          f"ratio {b / a:.3f}x (goal <= 1.03)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as directory:
        sys.path.insert(0, directory)
        bench_reload(directory, args.rounds)
        bench_imports(directory, args.rounds)


if __name__ == "__main__":
    main()
