"""The one lock every change to a running process takes.

Reloads (from a program, a watcher, ``importlib.reload`` through the finder),
hotfixes (local or sent over the control socket) and any other remote work all
serialise on :data:`change_lock`. With separate locks a hotfix's rollback could
interleave with a reload and undo part of its work; with one lock a change
either runs alone or waits.

The lock is reentrant: a hotfix script may reload a module or apply another
hotfix while its own hotfix holds the lock. This module is a leaf: it imports
nothing from hotreload, so every other module may use it.
"""

from __future__ import annotations

import threading

__all__ = ["change_lock"]

change_lock = threading.RLock()
"""Held for the whole of each reload, hotfix and remote change (reentrant)."""
