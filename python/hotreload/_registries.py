"""Pointing registries in other modules at the objects a reload kept.

Re-running a module repeats its class-creation side effects: a base class's
``__init_subclass__`` or a class decorator from another module stores the *new*
class in a registry there (``REGISTRY[cls.__name__] = cls``). After the reload
the new class has been folded into the old one, so the registry must hold the
old one again. Registries live, in practice, in the module globals and class
attributes of the modules the reloaded module uses; only those are looked at
(one level of dicts, lists and sets), never the whole heap.
"""

from __future__ import annotations

import inspect
import sys
import sysconfig
import types
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set

from hotreload._kinds import module_namespace
from hotreload._transaction import Transaction

_LARGEST_REGISTRY = 10_000
_STDLIB = sysconfig.get_paths()["stdlib"]


def repoint_registries(
    tx: Transaction,
    module: types.ModuleType,
    namespace: Dict[str, Any],
    replaced: Dict[int, Any],
    used: Optional[Iterable[str]] = None,
) -> int:
    """Replaces, in the registries of related modules, new objects by the kept ones; returns how many.

    ``used`` are the names the statements that ran refer to, where only some of
    the module ran: only what they use (and the kept classes' bases and
    metaclasses) can have registered something.
    """
    if not replaced:
        return 0
    count = 0
    seen: Set[int] = set()
    values = list(namespace.values()) if used is None else [namespace[name] for name in used if name in namespace]
    for container in _registries(module, namespace, values, _kept_bases(replaced)):
        if id(container) in seen:
            continue
        seen.add(id(container))
        count += _repoint(tx, container, replaced)
    return count


def _kept_bases(replaced: Dict[int, Any]) -> List[type]:
    """The bases and metaclasses (builtins left out) of the classes the reload kept, each once."""
    bases: Dict[int, type] = {}
    for kept in list(replaced.values()):
        if isinstance(kept, type):
            for base in kept.__mro__[1:] + inspect.getmro(type(kept)):
                if base.__module__ != "builtins":
                    bases[id(base)] = base
    return list(bases.values())


def _registries(module: types.ModuleType, namespace: Dict[str, Any], used: List[Any], bases: List[type]) -> Iterator[Any]:
    yield sys.modules  # a module body may register an object of its own there (typing.io)
    # The module's own live registries (kept by the data policy) were filled too.
    yield from (value for value in list(namespace.values()) if type(value) in (dict, list, set))
    for related in _related_modules(module, used, bases):
        for value in list(module_namespace(related).values()):
            if type(value) in (dict, list, set):
                yield value
            elif isinstance(value, type) and value.__module__ == related.__name__:
                yield from _class_registries(value)
    for base in bases:
        yield from _class_registries(base)


def _class_registries(cls: type) -> Iterator[Any]:
    for value in list(vars(cls).values()):
        if type(value) in (dict, list, set):
            yield value


def _related_modules(module: types.ModuleType, used: List[Any], bases: List[type]) -> Iterator[types.ModuleType]:
    """Modules the reloaded one uses (``used`` values), and those of its classes' bases; not the stdlib."""
    names: Set[str] = set()
    for value in used:
        if isinstance(value, types.ModuleType):
            names.add(str(module_namespace(value).get("__name__")))
        else:
            owner = getattr(value, "__module__", None) if callable(value) else None
            if isinstance(owner, str):
                names.add(owner)
    names.update(base.__module__ for base in bases)
    names.discard(module.__name__)
    for name in names:
        related = sys.modules.get(name)
        if isinstance(related, types.ModuleType) and not _is_stdlib(related):
            yield related


def _is_stdlib(module: types.ModuleType) -> bool:
    path = module_namespace(module).get("__file__")
    if not isinstance(path, str):
        return True  # builtin and frozen modules hold no user registries
    return path.startswith(_STDLIB) and "site-packages" not in path


def _repoint(tx: Transaction, container: Any, replaced: Dict[int, Any]) -> int:
    if len(container) > _LARGEST_REGISTRY and container is not sys.modules:
        return 0
    if type(container) is dict:
        changes = [(key, replaced[id(value)]) for key, value in container.items() if id(value) in replaced]
        for key, kept in changes:
            tx.set_item(container, key, kept)
        return len(changes)
    if type(container) is list:
        positions = [i for i, value in enumerate(container) if id(value) in replaced]
        for i in positions:
            _swap_in_list(tx, container, i, replaced[id(container[i])])
        return len(positions)
    stale = [value for value in container if id(value) in replaced]
    for value in stale:
        _swap_in_set(tx, container, value, replaced[id(value)])
    return len(stale)


def _swap_in_list(tx: Transaction, container: List[Any], index: int, kept: Any) -> None:
    new = container[index]
    container[index] = kept

    def undo() -> None:
        if index < len(container) and container[index] is kept:
            container[index] = new

    tx.record(undo)


def _swap_in_set(tx: Transaction, container: Set[Any], new: Any, kept: Any) -> None:
    container.discard(new)
    container.add(kept)

    def undo() -> None:
        container.discard(kept)
        container.add(new)

    tx.record(undo)
