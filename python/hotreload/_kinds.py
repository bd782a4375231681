"""What kind of object a value is, as a reload sees it (a leaf: imports nothing of hotreload)."""

from __future__ import annotations

import functools
import types
from typing import Any, Dict, List, Tuple, cast

_CACHE_WRAPPER = type(functools.lru_cache()(lambda: None))
_IMMUTABLE_SCALARS = (type(None), bool, int, float, complex, str, bytes)

# 3.15 (PEP 810): what ``lazy import x`` binds until the name is first used.
_LAZY_IMPORT = getattr(types, "LazyImportType", None)


def is_function(value: object) -> bool:
    """A plain Python function (lambdas, generators and coroutines functions included)."""
    return type(value) is types.FunctionType


def is_class(value: object) -> bool:
    """A class. Told by ``type()``: ``isinstance`` would read a non-class's ``__class__``,
    which runs code on some objects (an ``importlib.util.LazyLoader`` module imports itself)."""
    return issubclass(type(value), type)


def is_cache_wrapper(value: object) -> bool:
    """A ``functools.lru_cache``/``cache`` wrapper around a plain function."""
    return type(value) is _CACHE_WRAPPER and is_function(getattr(value, "__wrapped__", None))


def is_lazy_import(value: object) -> bool:
    """A 3.15 lazy-import proxy. Told by ``type()``, which never resolves the import."""
    return _LAZY_IMPORT is not None and type(value) is _LAZY_IMPORT


def module_namespace(module: types.ModuleType) -> Dict[str, Any]:
    """A module's dict, read without its class's attribute hooks: a module made by
    ``importlib.util.LazyLoader`` executes on its first attribute access."""
    return cast(Dict[str, Any], object.__getattribute__(module, "__dict__"))


def is_definition_object(value: object) -> bool:
    """A function or a cache wrapper: what a ``def`` statement binds."""
    return is_function(value) or is_cache_wrapper(value)


def is_plain_module(value: object) -> bool:
    """A module whose attributes can be read without running code: not a module that a
    lazy loader (``importlib.util.LazyLoader``) would load on first access."""
    kind = type(value)
    return issubclass(kind, types.ModuleType) and kind.__getattribute__ is types.ModuleType.__getattribute__


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
