"""Rewriting the classes inside a type annotation (``list[User]``, ``Optional[User]``...).

Framework adapters use it to point what a re-run class body derived (field
annotations) at the classes the reload kept instead of the new, discarded ones.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from typing import Any, Callable, Set

_UNION_TYPE = getattr(types, "UnionType", None)  # ``X | Y``, 3.10+
_DEEPEST = 12


def remap_type(annotation: Any, kept: Callable[[Any], Any], depth: int = 0) -> Any:
    """``annotation`` with every class in it replaced by ``kept(class)``; the same object if nothing changed."""
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return kept(annotation)
    args = getattr(annotation, "__args__", None)
    if not isinstance(args, tuple) or not args or depth > _DEEPEST:
        return annotation
    if typing.get_origin(annotation) is typing.Annotated:
        inner = remap_type(annotation.__origin__, kept, depth + 1)
        if inner is annotation.__origin__:
            return annotation
        return typing.Annotated[(inner, *annotation.__metadata__)]
    new_args = tuple(remap_type(arg, kept, depth + 1) for arg in args)
    if all(a is b for a, b in zip(new_args, args)):
        return annotation
    if isinstance(annotation, types.GenericAlias):
        return types.GenericAlias(typing.cast(type, annotation.__origin__), new_args)
    if _UNION_TYPE is not None and isinstance(annotation, _UNION_TYPE):
        return functools.reduce(operator.or_, new_args)
    copy_with = getattr(annotation, "copy_with", None)
    return copy_with(new_args) if copy_with is not None else annotation


def mentions(annotation: Any, classes: Any) -> bool:
    """True if any class in ``classes`` (a container of ids) appears in ``annotation``."""
    return mentions_class(annotation, lambda cls: id(cls) in classes)


def mentions_class(annotation: Any, wanted: Callable[[type], bool], depth: int = 0) -> bool:
    """True if a class for which ``wanted(class)`` holds appears in ``annotation``."""
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return wanted(annotation)
    if depth > _DEEPEST:
        return False
    if typing.get_origin(annotation) is typing.Annotated:
        return mentions_class(annotation.__origin__, wanted, depth + 1)
    args = getattr(annotation, "__args__", None)
    return isinstance(args, tuple) and any(mentions_class(arg, wanted, depth + 1) for arg in args)


def classes_in(annotation: Any) -> Set[int]:
    """The ids of the classes that appear in ``annotation``."""
    found: Set[int] = set()

    def collect(cls: type) -> bool:
        found.add(id(cls))
        return False  # keep walking: every class is wanted

    mentions_class(annotation, collect)
    return found
