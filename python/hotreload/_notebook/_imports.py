"""Names the notebook imported with ``from m import ...``, kept in step with reloads.

A reload updates functions and classes in place, so ``from m import f`` copies
in the notebook already run the new code. Two things a reload cannot do from
the module's side, because the notebook has no source file to read, are done
here from the cells the notebook ran:

- a name bound by ``from m import x`` or ``from m import x as y`` follows when
  the reload gives ``m.x`` another value (``LIMIT = 10`` edited to ``20``);
- after ``from m import *``, names newly added to ``m`` appear in the notebook,
  and exported names that took a new value follow.

A name follows only while the notebook still holds the value the module had
before the reload: a name the user has since assigned is the user's, and is
left alone; so is a name the user already had when ``m`` gained it. The last
import of a name wins (``from m import a as x`` then ``from m import x``).
"""

from __future__ import annotations

import ast
import sys
import types
from typing import Any, Dict, Iterable, Iterator, List, MutableMapping, Optional, Set, Tuple

_MISSING: Any = object()

Binding = Tuple[str, str]
"""(module name, name in that module) that a notebook name was imported as."""


class ImportTracker:
    """Remembers the notebook's ``from ... import`` bindings and applies reloads to them."""

    def __init__(self, namespace: MutableMapping[str, Any]) -> None:
        self.namespace = namespace
        self.bindings: Dict[str, Binding] = {}
        """Notebook name -> (module, name in module)."""
        self.star: Set[str] = set()
        """Modules the notebook imported with ``*``."""

    # -- after a cell -------------------------------------------------------------

    def note_cell(self, source: Optional[str]) -> None:
        """Records the ``from`` imports a cell that just ran made (cells without
        the word ``import`` cost one substring test)."""
        if not source or "import" not in source:
            return
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return  # IPython syntax the caller did not transform: nothing to learn
        for node in _top_level_imports(tree.body):
            if node.level or not node.module:
                continue  # a relative import has no package in a notebook
            for alias in node.names:
                self._note(node.module, alias.name, alias.asname or alias.name)

    def _note(self, module_name: str, name: str, bound: str) -> None:
        module = sys.modules.get(module_name)
        if module is None:
            return
        if name == "*":
            self.star.add(module_name)
            return
        # Only an import that really ran binds the name to the module's value.
        value = getattr(module, name, _MISSING)
        if value is not _MISSING and self.namespace.get(bound, _MISSING) is value:
            self.bindings[bound] = (module_name, name)

    # -- around a reload ----------------------------------------------------------

    def before_reload(self, module: types.ModuleType) -> Optional[Dict[str, Any]]:
        """What the notebook's names from ``module`` stand for now; None if it imported none."""
        name = module.__name__
        if name in self.star:
            return dict(module.__dict__)
        wanted = {original for source, original in self.bindings.values() if source == name}
        if not wanted:
            return None
        live = module.__dict__
        return {original: live[original] for original in wanted if original in live}

    def after_reload(self, module: types.ModuleType, before: Optional[Dict[str, Any]]) -> List[str]:
        """Brings the notebook's names in step with the reloaded ``module``; returns the names set."""
        if before is None:
            return []
        live = module.__dict__
        updated: List[str] = []
        for bound, original in self._followers(module, live):
            new = live.get(original, _MISSING)
            old = before.get(original, _MISSING)
            if new is _MISSING or new is old:
                continue
            if self.namespace.get(bound, _MISSING) is old:
                self.namespace[bound] = new
                updated.append(bound)
        return updated

    def _followers(self, module: types.ModuleType, live: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
        name = module.__name__
        explicit = {bound for bound, (source, _) in self.bindings.items() if source == name}
        for bound in explicit:
            yield bound, self.bindings[bound][1]
        if name in self.star:
            for exported in star_exports(live):
                # A name imported explicitly from elsewhere is not the star import's.
                if exported not in explicit and exported not in self.bindings:
                    yield exported, exported


def star_exports(namespace: Dict[str, Any]) -> List[str]:
    """The names ``from module import *`` binds: ``__all__``, or every public name."""
    names = namespace.get("__all__")
    if isinstance(names, (list, tuple)):
        return [name for name in names if isinstance(name, str)]
    return [name for name in namespace if not name.startswith("_")]


def _top_level_imports(body: Iterable[ast.AST]) -> Iterator[ast.ImportFrom]:
    """``from`` imports that bind names in the cell's namespace: at top level, or
    inside top-level ``if``/``try``/``with``/loops, never inside a def or class."""
    for node in body:
        if isinstance(node, ast.ImportFrom):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    yield from _top_level_imports(item for item in inner if isinstance(item, ast.AST))
