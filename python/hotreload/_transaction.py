"""The undo log that makes reloads and hotfixes all-or-nothing.

Every change hotreload makes to live objects goes through a :class:`Transaction`,
which first records how to undo it. If anything fails, :meth:`Transaction.rollback`
replays the undo actions in reverse order and the program is exactly as it was.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Callable, List, MutableMapping, Optional

from hotreload import _hotreload

logger = logging.getLogger("hotreload")

_MISSING = object()

Undo = Callable[[], object]


class UndoLog(List[Any]):
    """The undo actions of one transaction; the Rust side appends function snapshots to it."""

    def __init__(self, transaction: "Transaction") -> None:
        super().__init__()
        self.transaction = transaction


class Transaction:
    """An undo log. Use as ``with Transaction() as tx:``; an exception rolls it back."""

    def __init__(self) -> None:
        self._undo: UndoLog = UndoLog(self)
        self._claimed: set[tuple[int, int]] = set()
        self._keep_alive: list[object] = []
        self.closed = False
        self._on_commit: list[Callable[[], object]] = []
        # The reconciler working in this transaction, if any (see _reconcile.py).
        self.reconciler: Optional[Any] = None

    # -- recording ---------------------------------------------------------

    def record(self, undo: Undo) -> None:
        """Remember ``undo``, to be called if the transaction is rolled back."""
        self._undo.append(undo)

    def on_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the transaction commits (never if it rolls back)."""
        self._on_commit.append(action)

    def claim(self, old: object, new: object) -> bool:
        """True the first time the pair ``(old, new)`` is claimed: guards cycles."""
        key = (id(old), id(new))
        if key in self._claimed:
            return False
        self._claimed.add(key)
        # ids are only unique while the objects live.
        self._keep_alive.append((old, new))
        return True

    @property
    def undo_log(self) -> UndoLog:
        """The undo list itself, for the Rust side to append function snapshots to."""
        return self._undo

    @property
    def size(self) -> int:
        """How many undo actions are recorded so far."""
        return len(self._undo)

    # -- changes that record their own undo --------------------------------

    def setattr(self, obj: Any, name: str, value: object) -> None:
        """``setattr(obj, name, value)``, undone by restoring or deleting the attribute."""
        previous = _own_attribute(obj, name)
        setattr(obj, name, value)
        self.record(lambda: _put_attribute(obj, name, previous))

    def delattr(self, obj: Any, name: str) -> None:
        """``delattr(obj, name)``, undone by putting the attribute back."""
        previous = _own_attribute(obj, name)
        delattr(obj, name)
        self.record(lambda: _put_attribute(obj, name, previous))

    def set_item(self, mapping: MutableMapping[Any, Any], key: Any, value: object) -> None:
        """``mapping[key] = value``, undone by restoring or removing the key."""
        previous = mapping.get(key, _MISSING)
        mapping[key] = value
        self.record(lambda: _put_item(mapping, key, previous))

    def del_item(self, mapping: MutableMapping[Any, Any], key: Any) -> None:
        """``del mapping[key]``, undone by putting the key back."""
        previous = mapping[key]
        del mapping[key]
        self.record(lambda: _put_item(mapping, key, previous))

    def update_function(self, old: Any, new: Any) -> Any:
        """``update_function(old, new)``; every function it touches is snapshotted first."""
        return _hotreload.update_function_in(self._undo, old, new)

    # -- ending ------------------------------------------------------------

    def rollback(self) -> None:
        """Undo every recorded change, newest first. Keeps going past failing undos."""
        undo, self._undo = list(self._undo), UndoLog(self)
        self._on_commit = []
        for action in reversed(undo):
            try:
                action()
            except Exception:  # pragma: no cover - an undo should never fail
                logger.exception("hotreload: an undo step failed during rollback")
        del undo
        self._finish()
        _hotreload.release_retired_namespaces()

    def commit(self) -> None:
        """Keep every change; forget how to undo them."""
        self._undo = UndoLog(self)
        actions, self._on_commit = self._on_commit, []
        self._finish()
        for action in actions:
            action()
        # The undo snapshots are gone: what the changed functions gave up may be freed.
        _hotreload.release_retired_namespaces()

    def _finish(self) -> None:
        self._claimed.clear()
        self._keep_alive.clear()
        self.closed = True

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def _own_attribute(obj: Any, name: str) -> object:
    """The value stored under ``name`` in ``obj``'s own ``__dict__``, raw, or _MISSING."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return getattr(obj, name, _MISSING)
    return namespace.get(name, _MISSING)


def _put_attribute(obj: Any, name: str, value: object) -> None:
    if value is _MISSING:
        if name in getattr(obj, "__dict__", {}) or hasattr(obj, name):
            try:
                delattr(obj, name)
            except AttributeError:
                pass
    else:
        setattr(obj, name, value)


def _put_item(mapping: MutableMapping[Any, Any], key: Any, value: object) -> None:
    if value is _MISSING:
        mapping.pop(key, None)
    else:
        mapping[key] = value
