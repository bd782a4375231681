"""What this process has reloaded and applied, for ``python -m hotreload status``.

A short, bounded record (the newest :data:`LIMIT` entries) of the changes made
through the public ``apply_hotfix`` and through the control socket, successful
or refused. A leaf module: the story modules call :func:`note`, the listener
reads :func:`entries`.
"""

from __future__ import annotations

import collections
import contextvars
import threading
import time
from typing import Any, Deque, Dict, List, Optional

__all__ = ["entries", "note", "origin"]

LIMIT = 200

_lock = threading.Lock()
_entries: Deque[Dict[str, Any]] = collections.deque(maxlen=LIMIT)


def note(kind: str, name: str, *, ok: bool, summary: str, origin: str, filename: Optional[str] = None) -> None:
    """Records one change: ``kind`` is ``"hotfix"`` or ``"reload"``, ``origin`` who asked."""
    entry = {
        "time": time.time(),
        "kind": kind,
        "name": name,
        "ok": ok,
        "summary": summary,
        "origin": origin,
        "filename": filename,
    }
    with _lock:
        _entries.append(entry)


def entries() -> List[Dict[str, Any]]:
    """The recorded changes, oldest first (copies)."""
    with _lock:
        return [dict(entry) for entry in _entries]


origin: "contextvars.ContextVar[str]" = contextvars.ContextVar("hotreload_origin", default="local")
"""Who asked for the change running in this context: ``"local"``, or the remote peer."""
