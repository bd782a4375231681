"""Save-to-new-code latency of ``hotreload.watch``.

    python benches/bench_watch.py [--edits N] [--debounce SECONDS] [--functions N]

A generated module of 2 000 functions (the size the goal names) is imported and
watched; each edit saves it the way editors do (write a temporary file, rename
it over) with one function changed, and the program, which holds a reference
to that function, polls it until it returns the new value. The time from the
rename to that moment is the latency; it includes the debounce window, which
is printed with the figures. Goal: median <= 100 ms.

The breakdown shows where the time goes: from the save to the start of the
reload (inotify delivery plus the debounce window), and the reload itself
(``ReloadReport.duration``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import List, Tuple

import hotreload
from _generated import generate_module
from hotreload._watch import DEFAULT_DEBOUNCE


def save(path: str, text: str) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(edits: int, debounce: float, functions: int) -> Tuple[List[float], List[float], List[float]]:
    """Per edit: save-to-new-code latency, save-to-reload-start, reload duration (seconds)."""
    with tempfile.TemporaryDirectory(prefix="hotreload-bench-") as directory:
        path = os.path.join(directory, "bench_watch_target.py")
        save(path, generate_module(0, functions, classes=0))
        sys.path.insert(0, directory)
        import bench_watch_target as target  # noqa: E402 - generated above

        held = target.func_0
        durations: List[float] = []
        reloaded = threading.Event()

        def on_reload(report: hotreload.ReloadReport) -> None:
            durations.append(report.duration)
            reloaded.set()

        latencies: List[float] = []
        starts: List[float] = []
        with hotreload.watch(directory, on_reload=on_reload, on_error=print, debounce=debounce):
            for version in range(1, edits + 1):
                reloaded.clear()
                text = generate_module(version, functions, classes=0)
                started = time.perf_counter()
                save(path, text)
                deadline = started + 5.0
                while held() != version:
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"edit {version}: the new code did not run within 5 s")
                    time.sleep(0.0002)  # a program doing other work; lets the watcher thread run
                latencies.append(time.perf_counter() - started)
                reloaded.wait(5.0)
                starts.append(latencies[-1] - durations[-1])
                time.sleep(0.05)  # separate the edits, as a developer's saves are
        sys.path.remove(directory)
        sys.modules.pop("bench_watch_target", None)
    return latencies, starts, durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20, help="number of edits (default 20, at least 10)")
    parser.add_argument("--debounce", type=float, default=DEFAULT_DEBOUNCE, help="debounce window in seconds")
    parser.add_argument("--functions", type=int, default=2000, help="functions in the generated module")
    options = parser.parse_args()
    edits = max(options.edits, 10)

    latencies, starts, durations = measure(edits, options.debounce, options.functions)
    ms = 1000.0
    print(
        f"hotreload.watch save-to-new-code, {options.functions}-function module, {edits} edits, "
        f"debounce {options.debounce * ms:.0f} ms, CPython {sys.version.split()[0]}"
    )
    print(
        f"  latency      median {statistics.median(latencies) * ms:6.1f} ms   "
        f"p90 {percentile(latencies, 0.9) * ms:6.1f} ms   max {max(latencies) * ms:6.1f} ms   (goal: median <= 100 ms)"
    )
    print(f"  save->reload median {statistics.median(starts) * ms:6.1f} ms   (latency minus reload time: event delivery + debounce)")
    print(f"  reload       median {statistics.median(durations) * ms:6.1f} ms   (hotreload.reload)")


if __name__ == "__main__":
    main()
