"""``python -m hotreload demo``: a short, self-contained live demo.

A "game server" loop runs in a background thread, ticking a world whose state
lives in a module. While it runs, the demo

1. saves an edit of the module's file (new scoring rule, new description): the
   watcher reloads it and the loop runs the new code on its next tick, the
   world's state intact;
2. saves a broken edit: the reload is refused, nothing changes, the loop keeps
   running the last good code;
3. applies a hotfix script with ``apply_hotfix``: a handler captured before the
   fix runs the fixed code.
"""

from __future__ import annotations

import importlib
import os
import queue
import sys
import tempfile
import textwrap
import threading
import time
from typing import Any, Callable, List

import hotreload

GAME_V1 = '''
    """A tiny world: players gain points every tick."""

    try:
        WORLD
    except NameError:
        WORLD = {"tick": 0, "players": {"ada": 0, "bob": 0}}

    def score(points):
        return points + 1

    class Player:
        def __init__(self, name):
            self.name = name

        def describe(self):
            return f"{self.name}: {WORLD['players'][self.name]} points"

    def tick():
        WORLD["tick"] += 1
        for name, points in WORLD["players"].items():
            WORLD["players"][name] = score(points)
'''

GAME_V2 = GAME_V1.replace("return points + 1", "return points + 10  # edited: ten points a tick").replace(
    "return f\"{self.name}: {WORLD['players'][self.name]} points\"",
    "return f\"{self.name.upper()}: {WORLD['players'][self.name]} points (v2)\"",
)

BROKEN = GAME_V2 + "\n    def oops(:\n"

HOTFIX = """
import hotreload
import demo_game

@hotreload.replace_func(demo_game.Player)
def describe(self):
    return f"{self.name.title()} has {demo_game.WORLD['players'][self.name]} points (hotfixed)"
"""


def _say(text: str) -> None:
    print(text, flush=True)


def _write(path: str, source: str) -> None:
    with open(path, "w") as file:
        file.write(textwrap.dedent(source))


def _run_loop(game: Any, describe: Callable[[], str], stop: threading.Event, seen: List[str]) -> None:
    while not stop.is_set():
        game.tick()
        seen.append(describe())
        time.sleep(0.05)


def _show(seen: List[str], label: str) -> None:
    time.sleep(0.3)
    _say(f"   [{label}] {seen[-1]}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hotreload-demo-") as directory:
        path = os.path.join(directory, "demo_game.py")
        _write(path, GAME_V1)
        sys.path.insert(0, directory)
        try:
            return _demo(path)
        finally:
            sys.path.remove(directory)
            sys.modules.pop("demo_game", None)


def _demo(path: str) -> int:
    game = importlib.import_module("demo_game")
    ada = game.Player("ada")
    describe = ada.describe  # a bound method captured before any edit
    stop = threading.Event()
    seen: List[str] = []
    outcome: "queue.Queue[str]" = queue.Queue()
    loop = threading.Thread(target=_run_loop, args=(game, describe, stop, seen), daemon=True)
    _say("hotreload demo: a game loop ticks in a background thread; a watcher watches its source.")
    loop.start()
    watcher = hotreload.watch(
        [os.path.dirname(path)],
        on_reload=lambda report: outcome.put(f"reloaded on save: {report}"),
        on_error=lambda error: outcome.put(f"refused, nothing changed: {error}"),
    )
    try:
        _show(seen, "running v1")
        _say("1. saving an edit of demo_game.py: ten points a tick, a new description ...")
        _write(path, GAME_V2)
        _say(f"   {outcome.get(timeout=10)}")
        _show(seen, "running v2")
        _say(f"   same objects: Player class kept: {type(ada) is game.Player}, state kept: tick {game.WORLD['tick']}")
        _say("2. saving a broken edit (syntax error) ...")
        _write(path, BROKEN)
        _say(f"   {outcome.get(timeout=10)}")
        _show(seen, "still v2")
        _say("3. applying a hotfix script to the running process ...")
        _say(f"   {hotreload.apply_hotfix(HOTFIX)}")
        _show(seen, "hotfixed")
    finally:
        watcher.stop()
        stop.set()
        loop.join()
    _say("done: the loop never stopped, and its state carried through every change.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
