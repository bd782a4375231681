"""Per-cell cost of checking for changed modules, with 1 000 user modules loaded.

    python benches/bench_notebook.py [--modules N] [--cells N]

A real IPython InteractiveShell imports N generated modules (10 packages of
N/10 small modules, on top of the few hundred modules IPython itself loads),
then runs empty cells (``pass``). Three configurations, each in its own fresh
interpreter so that one leaves nothing behind for the next, side by side in one
run:

- ``bare``: no reloader;
- ``%autoreload 2``: IPython's reloader (it stats every loaded module before each cell);
- ``%load_ext hotreload``: file events, a fence through the watcher, no stat per module.

For each it prints the median time of one empty cell (``run_cell``), the median
time of the reloader's own hooks for a cell (pre-cell check plus post-cell
bookkeeping) and, last, the time of the cell right after one module was edited
(the reload included). Goal: hotreload's per-cell check well under 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

CONFIGS = ("bare", "autoreload", "hotreload")


def generate(directory: str, count: int) -> List[str]:
    names = []
    packages = 10
    for package in range(packages):
        package_dir = os.path.join(directory, f"nbbench{package}")
        os.makedirs(package_dir)
        open(os.path.join(package_dir, "__init__.py"), "w").close()
        for index in range(count // packages):
            source = f"VALUE = {index}\n\ndef f(x):\n    return x + {index}\n\nclass C:\n    def m(self):\n        return {index}\n"
            with open(os.path.join(package_dir, f"mod{index}.py"), "w") as file:
                file.write(source)
            names.append(f"nbbench{package}.mod{index}")
    return names


def median_us(samples: List[float]) -> float:
    return statistics.median(samples) * 1e6


def time_calls(call: Callable[[], Any], count: int) -> List[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def run_config(config: str, modules: int, cells: int) -> Dict[str, Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    settings = Config()
    settings.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=settings)
    directory = tempfile.mkdtemp(prefix="hotreload-nbbench-")
    names = generate(directory, modules)
    sys.path.insert(0, directory)
    hooks: Callable[[], Any] = lambda: None  # noqa: E731
    if config == "autoreload":
        shell.run_cell("%load_ext autoreload\n%autoreload 2", store_history=False)
        magics = shell.magics_manager.registry["AutoreloadMagics"]
        hooks = lambda: (magics.pre_run_cell(None), magics.post_execute_hook())  # noqa: E731
    elif config == "hotreload":
        shell.run_cell("%load_ext hotreload", store_history=False)
        extension = shell._hotreload_extension
        hooks = lambda: (extension.pre_run_cell(None), extension.post_run_cell(None))  # noqa: E731
    # Imported in a cell, as a notebook would.
    shell.run_cell("import importlib\nfor _n in %r:\n    importlib.import_module(_n)" % (names,), store_history=False)
    for _ in range(20):
        shell.run_cell("pass", store_history=False)
    cell_samples = time_calls(lambda: shell.run_cell("pass", store_history=False), cells)
    hook_samples = time_calls(hooks, cells)
    target = os.path.join(directory, "nbbench3", "mod7.py")
    with open(target, "a") as file:
        file.write("\ndef g():\n    return 'new'\n")
    started = time.perf_counter()
    result = shell.run_cell("import nbbench3.mod7 as _m; _m.g()", store_history=False)
    edited_cell = time.perf_counter() - started
    return {
        "config": config,
        "loaded": len(sys.modules),
        "user_modules": len(names),
        "cell_us": median_us(cell_samples),
        "hooks_us": median_us(hook_samples),
        "edited_cell_ms": edited_cell * 1e3 if config != "bare" else None,
        "edit_seen": result.result == "new",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--config", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.config:
        print(json.dumps(run_config(args.config, args.modules, args.cells)))
        return
    results = {}
    for config in CONFIGS:
        command = [sys.executable, __file__, "--config", config, "--modules", str(args.modules), "--cells", str(args.cells)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[config] = json.loads(output.strip().splitlines()[-1])
    bare = results["bare"]["cell_us"]
    print(
        f"CPython {sys.version.split()[0]}, {args.modules} user modules, "
        f"{results['hotreload']['loaded']} modules loaded in all; median of {args.cells} empty cells"
    )
    print(f"{'':22}{'empty cell':>12}{'over bare':>12}{'hooks':>12}{'edit+cell':>12}")
    labels = {"bare": "no reloader", "autoreload": "%autoreload 2", "hotreload": "%load_ext hotreload"}
    for config in CONFIGS:
        row = results[config]
        edited = "" if row["edited_cell_ms"] is None else f"{row['edited_cell_ms']:.1f} ms"
        if row["edited_cell_ms"] is not None and not row["edit_seen"]:
            edited += " (edit NOT seen)"
        hooks = "" if config == "bare" else f"{row['hooks_us']:.1f} us"
        print(f"{labels[config]:22}{row['cell_us']:>9.1f} us{row['cell_us'] - bare:>9.1f} us{hooks:>12}{edited:>12}")
    ratio = results["autoreload"]["hooks_us"] / max(results["hotreload"]["hooks_us"], 1e-9)
    print(
        f"per-cell check: hotreload {results['hotreload']['hooks_us']:.1f} us, "
        f"%autoreload 2 {results['autoreload']['hooks_us']:.1f} us ({ratio:.0f}x less with hotreload)"
    )


if __name__ == "__main__":
    main()
