"""What kind of object a value is, as a reload sees it (a leaf: imports nothing of hotreload)."""

from __future__ import annotations

import functools
import types
from typing import Any, List, Tuple, cast

_CACHE_WRAPPER = type(functools.lru_cache()(lambda: None))
_IMMUTABLE_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def is_function(value: object) -> bool:
    """A plain Python function (lambdas, generators and coroutines functions included)."""
    return type(value) is types.FunctionType


def is_class(value: object) -> bool:
    return isinstance(value, type)


def is_cache_wrapper(value: object) -> bool:
    """A ``functools.lru_cache``/``cache`` wrapper around a plain function."""
    return type(value) is _CACHE_WRAPPER and is_function(getattr(value, "__wrapped__", None))


def is_definition_object(value: object) -> bool:
    """A function or a cache wrapper: what a ``def`` statement binds."""
    return is_function(value) or is_cache_wrapper(value)


def filled_cells(func: types.FunctionType) -> List[Tuple[Any, Any]]:
    """``(cell, value)`` for each closure cell of ``func`` that holds a value (empty ones left out)."""
    found = []
    for cell in func.__closure__ or ():
        try:
            found.append((cell, cell.cell_contents))
        except ValueError:
            pass
    return found


def functions_in(value: Any) -> List[types.FunctionType]:
    """The plain functions inside a class attribute: itself, or the ones a wrapper holds."""
    if is_function(value):
        return [value]
    if isinstance(value, (classmethod, staticmethod)):
        inner = value.__func__
        return [cast(types.FunctionType, inner)] if is_function(inner) else []
    if isinstance(value, property):
        return [cast(types.FunctionType, f) for f in (value.fget, value.fset, value.fdel) if is_function(f)]
    if is_cache_wrapper(value):
        return [value.__wrapped__]
    return []


def is_immutable(value: object) -> bool:
    """True for None, bool, numbers, str, bytes, and tuples/frozensets of these."""
    if isinstance(value, _IMMUTABLE_SCALARS):
        return True
    if type(value) in (tuple, frozenset):
        return all(is_immutable(item) for item in value)  # type: ignore[attr-defined]
    return False
