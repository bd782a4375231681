"""What the control socket costs: a one-function hotfix in-process, over the socket, and from the shell.

    python benches/bench_listen.py [--rounds N] [--processes N]

A target process (its own ``XDG_RUNTIME_DIR``) listens and holds ``game.damage``.
The same one-function hotfix is applied, alternating two versions so every
round really changes the function:

- in-process: ``hotreload.apply_hotfix(path)`` called in this process on its
  own ``game`` module (timed around the call), the floor; and the report's own
  duration for the applies the target ran;
- socket round trip: one ``apply`` request from an already running client
  (connect, send, apply, reply), the channel's own cost;
- command: ``python -m hotreload apply PID fix.py`` as a subprocess, what the
  operator waits for (includes starting Python and importing hotreload).

Then ``--all`` against N listening processes (default 8): the command's wall time
for ``apply --all`` and ``status --all`` next to ``apply`` to one process.
Medians (and p90) of N rounds, side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Dict, List

import hotreload
from hotreload._client import ask

PROGRAM = """
import os, sys, time, hotreload, game
hotreload.listen()
print("ready", flush=True)
while not os.path.exists("stop"):
    time.sleep(0.01)
"""

FIX = """
import hotreload, game

@hotreload.replace_func(game)
def damage():
    return {value}
"""


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def start(directory: str, env: Dict[str, str]) -> subprocess.Popen:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "game.py"), "w") as file:
        file.write("def damage():\n    return 0\n")
    with open(os.path.join(directory, "target.py"), "w") as file:
        file.write(PROGRAM)
    process = subprocess.Popen([sys.executable, "target.py"], cwd=directory, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().startswith("ready")
    return process


def command(env: Dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hotreload", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr}")
    return elapsed


def row(label: str, values: List[float]) -> str:
    median, p90 = statistics.median(values) * 1000, percentile(values, 0.9) * 1000
    return f"  {label:<44} median {median:8.2f} ms   p90 {p90:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--processes", type=int, default=8)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hotreload-bench-") as root:
        runtime = os.path.join(root, "run")
        os.mkdir(runtime, 0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
        os.environ["XDG_RUNTIME_DIR"] = runtime  # for ask() in this process
        fixes = []
        for value in (1, 2):
            path = os.path.join(root, f"fix{value}.py")
            with open(path, "w") as file:
                file.write(textwrap.dedent(FIX.format(value=value)))
            fixes.append(path)

        local: List[float] = []
        sys.path.insert(0, os.path.join(root, "local"))
        os.makedirs(os.path.join(root, "local"))
        with open(os.path.join(root, "local", "game.py"), "w") as file:
            file.write("def damage():\n    return 0\n")
        for index in range(options.rounds):
            started = time.perf_counter()
            hotreload.apply_hotfix(fixes[index % 2])
            local.append(time.perf_counter() - started)

        targets = [start(os.path.join(root, f"p{index}"), env) for index in range(options.processes)]
        try:
            pid = targets[0].pid
            in_process: List[float] = []
            socket_trip: List[float] = []
            for index in range(options.rounds):
                started = time.perf_counter()
                result = ask(pid, {"op": "apply", "path": fixes[index % 2]}, 30.0, bootstrap=False)
                socket_trip.append(time.perf_counter() - started)
                assert result.status == 0, result
                in_process.append(result.reply["result"]["duration"])
            shell = [command(env, "apply", str(pid), fixes[i % 2]) for i in range(options.rounds)]
            every_apply = [command(env, "apply", "--all", fixes[i % 2]) for i in range(max(5, options.rounds // 3))]
            every_status = [command(env, "status", "--all") for _ in range(max(5, options.rounds // 3))]
        finally:
            for index in range(len(targets)):
                open(os.path.join(root, f"p{index}", "stop"), "w").close()
            for process in targets:
                process.wait(timeout=10)

    print(f"one-function hotfix, {options.rounds} rounds, Python {sys.version.split()[0]}")
    print(row("in-process hotreload.apply_hotfix(path)", local))
    print(row("in the target, the report's duration", in_process))
    print(row("socket round trip (running client)", socket_trip))
    print(row("python -m hotreload apply PID", shell))
    channel = statistics.median(socket_trip) - statistics.median(local)
    print(f"  channel's own cost (socket minus in-process): {channel * 1000:.2f} ms")
    print(f"--all against {options.processes} listening processes")
    print(row("python -m hotreload apply PID (one)", shell))
    print(row(f"python -m hotreload apply --all ({options.processes})", every_apply))
    print(row(f"python -m hotreload status --all ({options.processes})", every_status))


if __name__ == "__main__":
    main()
