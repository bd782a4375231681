"""Development loop: reload modules as their files change. (being written)"""
from __future__ import annotations
from typing import Any


class Watcher:
    pass


def watch(paths: Any = None, *, on_reload: Any = None, on_error: Any = None) -> Watcher:
    raise NotImplementedError
