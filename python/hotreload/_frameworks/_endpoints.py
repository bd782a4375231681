"""Functions a framework holds that a re-run statement made: the module keeps another.

A decorated definition whose decorator line changed runs again, decorator and
all, so the framework registers the new function object; the reload then folds
that function into the one the module keeps, and a later edit updates only the
kept one. Adapters point what the framework holds at the kept function.
"""

from __future__ import annotations

import types
from typing import Any


def kept_function(endpoint: Any, module: types.ModuleType) -> Any:
    """The module's own function that ``endpoint`` was folded into, if it is a new copy of one
    (a route registered by a re-run statement holds the new function object)."""
    kept = vars(module).get(getattr(endpoint, "__name__", ""), None)
    if kept is None or kept is endpoint or type(kept) is not types.FunctionType or type(endpoint) is not types.FunctionType:
        return endpoint
    if kept.__qualname__ != endpoint.__qualname__ or kept.__module__ != endpoint.__module__:
        return endpoint
    # Folded (the same code object) or left as it was (the same bytecode); never a wrapper
    # made with functools.wraps, whose code is its own.
    if kept.__code__ is endpoint.__code__ or kept.__code__.co_code == endpoint.__code__.co_code:
        return kept
    return endpoint
