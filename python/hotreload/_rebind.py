"""Rebinding ``from module import name`` copies in other loaded modules.

When a reload gives a module-level name a different object (refreshed data, a
definition that changed kind), modules that imported that name hold the old
object under their own name. Identity alone does not prove an import: small
ints and interned strings are shared by everyone. So a copy is rebound only
when the other module's source imports that name from the reloaded module.
"""

from __future__ import annotations

import importlib.util
import linecache
import re
import sys
import types
from typing import Any, Dict, Iterator, List, Set, Tuple

from hotreload._policy import is_immutable
from hotreload._transaction import Transaction

_MISSING = object()

_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE)


def rebind_importers(
    tx: Transaction, module: types.ModuleType, replaced: Dict[str, Any], live: Dict[str, Any]
) -> List[str]:
    """Rebinds other modules' imported copies of ``replaced`` names; returns ``"other.NAME"`` labels."""
    changed = {name: old for name, old in replaced.items() if name in live and live[name] is not old}
    if not changed:
        return []
    # Under another name, only objects of the reloaded module's own count
    # (small ints and interned strings are everyone's).
    targets = {id(old): name for name, old in changed.items() if not is_immutable(old)}
    rebound: List[str] = []
    for other in list(sys.modules.values()):
        if other is module or not isinstance(other, types.ModuleType):
            continue
        namespace = getattr(other, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, source_name in _copies(namespace, targets, changed):
            if (source_name, attr) in _imports_from(other, module.__name__):
                tx.set_item(namespace, attr, live[source_name])
                rebound.append(f"{other.__name__}.{attr}")
    return rebound


def _copies(namespace: Dict[str, Any], targets: Dict[int, str], replaced: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    """(attribute, name in the reloaded module) for values identical to a replaced object."""
    for name, old in replaced.items():
        if namespace.get(name, _MISSING) is old:
            yield name, name
    if not targets:
        return
    for attr, value in list(namespace.items()):
        name = targets.get(id(value))
        if name is not None and attr != name and replaced[name] is value:
            yield attr, name


def _imports_from(other: types.ModuleType, module_name: str) -> Set[Tuple[str, str]]:
    """(imported name, bound name) pairs of ``from module_name import ...`` in ``other``'s source."""
    path = getattr(other, "__file__", None)
    if not path or not path.endswith(".py"):
        return set()
    source = "".join(linecache.getlines(path))
    pairs: Set[Tuple[str, str]] = set()
    for match in _FROM_IMPORT.finditer(source):
        if _resolve(match.group(1), other) != module_name:
            continue
        for part in match.group(2).strip("()").replace("\\\n", " ").split(","):
            words = part.split()
            if len(words) == 1:
                pairs.add((words[0], words[0]))
            elif len(words) == 3 and words[1] == "as":
                pairs.add((words[0], words[2]))
    return pairs


def _resolve(name: str, other: types.ModuleType) -> str:
    if not name.startswith("."):
        return name
    package = getattr(other, "__package__", None) or ""
    try:
        return importlib.util.resolve_name(name, package)
    except (ImportError, ValueError):
        return ""
