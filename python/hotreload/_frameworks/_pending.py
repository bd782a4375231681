"""Per-transaction notes that an adapter keeps between its hooks (classes updated so far).

A note lives as long as its transaction: it is dropped when the transaction
commits or rolls back, so nothing outlives the reload that made it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

_notes: Dict[Tuple[str, int], List[Any]] = {}


def note(kind: str, tx: Any, item: Any) -> None:
    """Adds ``item`` to the ``kind`` notes of transaction ``tx``."""
    key = (kind, id(tx))
    if key not in _notes:
        _notes[key] = []
        tx.record(lambda: _notes.pop(key, None))
        tx.on_commit(lambda: _notes.pop(key, None))
    _notes[key].append(item)


def notes(kind: str, tx: Any) -> List[Any]:
    """The ``kind`` notes of ``tx`` so far (empty if none)."""
    return _notes.get((kind, id(tx)), [])


_stash: Dict[Tuple[str, int], List[Any]] = {}


def stash(kind: str, key: object, item: Any) -> None:
    """Keeps ``item`` for the next :func:`take` with the same ``kind`` and ``key`` object."""
    _stash.setdefault((kind, id(key)), []).append(item)


def take(kind: str, key: object) -> List[Any]:
    """What was stashed under ``kind`` and ``key``, removed."""
    return _stash.pop((kind, id(key)), [])
