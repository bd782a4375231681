"""Rebinding ``from module import name`` copies in other loaded modules.

When a reload gives a module-level name a different object (refreshed data, a
definition that changed kind), modules that imported that name hold the old
object under their own name. Identity alone does not prove an import: small
ints and interned strings are shared by everyone. So a copy is rebound only
when the other module's source imports that name from the reloaded module
(``from m import NAME``, ``from m import NAME as ALIAS``, ``from m import *``,
and on 3.15 their lazy forms, ``lazy from m import NAME``, PEP 810) and it still
holds the very object the reload replaced. A lazy copy that was never used still
holds its lazy-import proxy, not the replaced object, so it is left alone: its
first use imports the live value. Nothing here touches a proxy beyond its
identity, so rebinding never forces a lazy import.
"""

from __future__ import annotations

import importlib.util
import linecache
import re
import sys
import threading
import types
from typing import Any, Dict, List, Optional, Set, Tuple

from hotreload._kinds import is_plain_module, module_namespace
from hotreload._transaction import Transaction

# ``lazy`` is a soft keyword (3.15): ``lazy from m import NAME`` binds NAME as the eager form does.
_FROM_IMPORT = re.compile(r"^[ \t]*(?:lazy[ \t]+)?from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE)

_COMMENT = re.compile(r"#[^\n]*")

ImportTable = Dict[str, Set[Tuple[str, str]]]
"""Source module name -> (imported name, bound name) pairs; ``("*", "*")`` for a star import."""

_tables: Dict[Tuple[str, str], ImportTable] = {}
_tables_lock = threading.Lock()


def rebind_importers(tx: Transaction, module: types.ModuleType, replaced: Dict[str, Any], live: Dict[str, Any]) -> List[str]:
    """Rebinds other modules' imported copies of ``replaced`` names; returns ``"other.NAME"`` labels."""
    changed = {name: old for name, old in replaced.items() if name in live and live[name] is not old}
    if not changed:
        return []
    exported = _star_exports(module, live)
    replaced_ids = {id(old) for old in changed.values()}
    rebound: List[str] = []
    for other in list(sys.modules.values()):
        if other is module or not is_plain_module(other):
            continue  # a lazily loaded module is not loaded by looking
        namespace = module_namespace(other)
        if not any(id(value) in replaced_ids for value in list(namespace.values())):
            continue  # holds none of the replaced objects: nothing to read
        table = import_table(other)
        if table is None:
            # No source to read (a notebook, a REPL): the same name holding the
            # very object is proof enough, unless the object is shared by all.
            pairs = {(name, name) for name, old in changed.items() if not _shared(old)}
        else:
            pairs = table.get(module.__name__, set())
        if not pairs:
            continue
        for imported, bound in _expand(pairs, changed, exported):
            if namespace.get(bound, _MISSING) is changed[imported]:
                tx.set_item(namespace, bound, live[imported])
                rebound.append(f"{namespace.get('__name__')}.{bound}")
    return rebound


_MISSING = object()


def _expand(pairs: Set[Tuple[str, str]], changed: Dict[str, Any], exported: Set[str]) -> List[Tuple[str, str]]:
    found = [(imported, bound) for imported, bound in pairs if imported in changed]
    if ("*", "*") in pairs:
        found.extend((name, name) for name in changed if name in exported)
    return found


def _star_exports(module: types.ModuleType, live: Dict[str, Any]) -> Set[str]:
    names = live.get("__all__")
    if isinstance(names, (list, tuple)):
        return {name for name in names if isinstance(name, str)}
    return {name for name in live if not name.startswith("_")}


def _shared(value: Any) -> bool:
    """Values CPython hands out as one object to everyone: identity proves nothing."""
    if value is None or value is Ellipsis or value is NotImplemented or isinstance(value, bool):
        return True
    if type(value) is int:
        return -5 <= value <= 256
    if type(value) in (str, bytes):
        return len(value) <= 1 or (type(value) is str and value.isidentifier())
    return type(value) in (tuple, frozenset) and not value


def import_table(other: types.ModuleType) -> Optional[ImportTable]:
    """The ``from ... import`` statements of ``other``'s source, parsed once per module and
    file; None for a module without a source file."""
    namespace = module_namespace(other)
    path = namespace.get("__file__")
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    key = (str(namespace.get("__name__")), path)
    table = _tables.get(key)
    if table is None:
        table = _parse_imports("".join(linecache.getlines(path)), namespace.get("__package__") or "")
        with _tables_lock:
            _tables[key] = table
    return table


def forget(module: types.ModuleType) -> None:
    """Drops the cached import table of ``module`` (its source was just reloaded)."""
    with _tables_lock:
        _tables.pop((module.__name__, getattr(module, "__file__", None) or ""), None)


def _parse_imports(source: str, package: str) -> ImportTable:
    table: ImportTable = {}
    assigned = _last_assignments(source)
    for match in _FROM_IMPORT.finditer(source):
        source_module = _resolve(match.group(1), package)
        if not source_module:
            continue
        pairs = table.setdefault(source_module, set())
        names = _COMMENT.sub("", match.group(2)).strip().strip("()").replace("\\\n", " ")
        for part in names.split(","):
            words = part.split()
            if len(words) == 1:
                pair = (words[0], words[0])
            elif len(words) == 3 and words[1] == "as":
                pair = (words[0], words[2])
            else:
                continue
            # A top-level assignment after the import (``LIMIT = 10  # local
            # override``) makes the name the module's own value, not a copy.
            if assigned.get(pair[1], -1) < match.end():
                pairs.add(pair)
    return table


_TOP_LEVEL_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", re.MULTILINE)


def _last_assignments(source: str) -> Dict[str, int]:
    """Where each name is last assigned by a top-level ``NAME = ...`` statement."""
    return {match.group(1): match.start() for match in _TOP_LEVEL_ASSIGNMENT.finditer(source)}


def _resolve(name: str, package: str) -> str:
    if not name.startswith("."):
        return name
    try:
        return importlib.util.resolve_name(name, package)
    except (ImportError, ValueError):
        return ""
