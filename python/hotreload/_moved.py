"""Definitions that only moved: their text is unchanged, their lines are not.

A statement above them was inserted or deleted, so an unchanged ``def`` or
``class`` now starts on another line. It is not run again (its identity, its
registrations and its state stay); instead the code objects it made get the
new line numbers, so tracebacks, ``inspect.getsource`` and breakpoints point at
the right lines. A code object's line table is relative to its first line, so
moving a function is replacing its code by one whose ``co_firstlineno`` (and
those of its nested code objects) is shifted; 3.13's ``__firstlineno__`` of a
class moves with it.

Only code objects compiled from this module's file within the statement's old
lines are moved: an object the name holds that was made elsewhere (a wrapper
from a decorator library, a function assigned at run time) is not this
statement's to move.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Dict, Iterator, List, Set, Tuple

from hotreload import _hotreload
from hotreload._kinds import filled_cells, functions_in, is_class
from hotreload._source_map import SourceMap, Statement
from hotreload._transaction import Transaction

_DEPTH = 4
_LAZY_ANNOTATIONS = sys.version_info >= (3, 14)
_TYPE_PARAMS = sys.version_info >= (3, 12)


class _Move:
    """One statement's move: the file, the old line range and the shift."""

    def __init__(self, path: str, old: Statement, new: Statement) -> None:
        self.path = path
        self.first, self.last = old.first_line, old.last_line
        self.delta = new.first_line - old.first_line

    def owns(self, code: types.CodeType) -> bool:
        return code.co_filename == self.path and self.first <= code.co_firstlineno <= self.last


def move_definitions(
    tx: Transaction,
    moved: List[Tuple[Statement, Statement]],
    live: Dict[str, Any],
    source: SourceMap,
    path: str,
) -> List[str]:
    """Gives the objects of unchanged, moved statements their new line numbers; returns
    the names whose objects moved."""
    names: List[str] = []
    seen: Set[int] = set()
    shifted: Dict[int, types.CodeType] = {}
    for old, new in moved:
        move = _Move(path, old, new)
        for name in sorted(source.binds_of(new)):
            if name in live and _move_object(tx, move, live[name], seen, shifted, 0):
                names.append(name)
    return names


def _move_object(tx: Transaction, move: _Move, value: Any, seen: Set[int], shifted: Dict[int, types.CodeType], depth: int) -> bool:
    if depth > _DEPTH or id(value) in seen:
        return False
    seen.add(id(value))
    if type(value) is types.FunctionType:
        moved = move.owns(value.__code__)
        if moved:
            _move_function(tx, value, move.delta, shifted)
        if value.__closure__:
            for _, held in filled_cells(value):
                moved |= _move_object(tx, move, held, seen, shifted, depth + 1)
        wrapped = getattr(value, "__wrapped__", None)  # never ``__dict__``: reading it makes one
        if wrapped is not None:
            moved |= _move_object(tx, move, wrapped, seen, shifted, depth + 1)
        return moved
    if is_class(value):
        return _move_class(tx, move, value, seen, shifted, depth)
    moved = False
    for held in _held(value):
        moved |= _move_object(tx, move, held, seen, shifted, depth + 1)
    return moved


def _move_class(tx: Transaction, move: _Move, cls: type, seen: Set[int], shifted: Dict[int, types.CodeType], depth: int) -> bool:
    namespace = vars(cls)
    first = namespace.get("__firstlineno__")
    moved = False
    if type(first) is int and move.first <= first <= move.last:
        tx.setattr(cls, "__firstlineno__", first + move.delta)
        moved = True
    for value in list(namespace.values()):
        for func in functions_in(value):
            moved |= _move_object(tx, move, func, seen, shifted, depth + 1)
        if is_class(value) and value.__qualname__.startswith(cls.__qualname__ + "."):
            moved |= _move_object(tx, move, value, seen, shifted, depth + 1)
    return moved


def _held(value: Any) -> Iterator[Any]:
    """What a decorated object commonly keeps its function in."""
    if isinstance(value, (classmethod, staticmethod)):
        yield value.__func__
    if is_class(value):
        return
    namespace = getattr(value, "__dict__", None)
    if isinstance(namespace, dict):
        for item in list(namespace.values()):
            if type(item) is types.FunctionType:
                yield item
        wrapped = namespace.get("__wrapped__")
        if wrapped is not None:
            yield wrapped


def _move_function(tx: Transaction, func: types.FunctionType, delta: int, shifted: Dict[int, types.CodeType]) -> None:
    """Gives ``func`` its code shifted by ``delta`` lines, through update_function
    (so the swap is atomic, audited and the function's version is restored)."""
    twin = types.FunctionType(
        _shifted(func.__code__, delta, shifted), func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    twin.__kwdefaults__ = func.__kwdefaults__
    twin.__dict__ = func.__dict__
    twin.__doc__ = func.__doc__
    if _LAZY_ANNOTATIONS:
        twin.__annotate__ = func.__annotate__  # type: ignore[attr-defined]  # not evaluated here
    else:
        twin.__annotations__ = func.__annotations__
    if _TYPE_PARAMS:
        twin.__type_params__ = func.__type_params__
    _hotreload.update_function_in(tx.undo_log, func, twin, None)


def _shifted(code: types.CodeType, delta: int, cache: Dict[int, types.CodeType]) -> types.CodeType:
    done = cache.get(id(code))
    if done is not None:
        return done
    consts = code.co_consts
    for const in consts:
        if type(const) is types.CodeType:
            consts = tuple(_shifted(c, delta, cache) if type(c) is types.CodeType else c for c in consts)
            result = code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)
            break
    else:
        result = code.replace(co_firstlineno=code.co_firstlineno + delta)
    cache[id(code)] = result
    return result
