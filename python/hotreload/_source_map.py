"""A module's source cut into statements: the one grammar hotreload reads source with.

The Rust scanner (``_hotreload.StatementTable``) cuts a source into logical lines
and groups them into statements per scope, with no ``ast`` parse (that would
cost more than compiling the module). This module gives those statements
names, tells which names a statement binds, and answers the questions the
reload asks of a source: which statements define a name, which changed.
"""

from __future__ import annotations

import re
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from hotreload import _hotreload

_CLASS_HEADER = re.compile(r"class\s+([A-Za-z_]\w*)")
_DEF_HEADER = re.compile(r"(?:async\s+)?def\s+([A-Za-z_]\w*)")
_ASSIGN_TARGETS = re.compile(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*,?\s*(?::[^=]*)?=(?!=)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_IMPORT = re.compile(r"import\s+(.+)")
_FROM_IMPORT = re.compile(r"from\s+\S+\s+import\s+\(?([^)]*)\)?")
_MAIN_GUARD = re.compile(r"""if\s*\(?\s*(__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__)""")
_FOR_WITH_AS = re.compile(r"(?:for\s+([\w\s,()]+?)\s+in\b|\bas\s+([A-Za-z_]\w*))")


class Statement(NamedTuple):
    """One statement of a scope: where it is, its text (dedented), the name it defines.

    ``defines`` is the name of a ``def`` or ``class`` statement, else ``""``: for
    those, ``text`` is the decorator lines only (definitions are matched by name);
    ``header_line`` the line of the ``def``/``class`` itself, below its decorators.
    """

    first_line: int
    last_line: int
    text: str
    defines: str
    header_line: int
    digest: int
    """A digest of the statement's whole text: equal digests, unchanged statement."""

    @property
    def decorators(self) -> str:
        """The text of the decorator lines above a definition (``""`` if none)."""
        return self.text if self.defines else ""


class SourceMap:
    """A source cut into statements, per scope (``""`` for the module, else a class qualname).

    The statements stay in the Rust table; a :class:`Statement` is made only for
    one that is asked for, so what a reload costs follows the statements it
    looks at, not the size of the module.
    """

    def __init__(self, source: str) -> None:
        self._table = _hotreload.StatementTable(source)
        self._redefined: Dict[str, FrozenSet[str]] = {}
        self._binds: Dict[str, Set[str]] = {}

    def statements(self, scope: str) -> List[Statement]:
        """The statements of ``scope`` in source order."""
        return [Statement(*raw) for raw in self._table.all(scope)]

    def statement(self, scope: str, index: int) -> Statement:
        """The ``index``-th statement of ``scope``."""
        return Statement(*self._table.get(scope, index))

    def count(self, scope: str) -> int:
        """How many statements ``scope`` has."""
        return self._table.count(scope)

    def changes(self, old: SourceMap, scope: str) -> Tuple[List[int], List[Tuple[int, int]], List[int]]:
        """Against the ``old`` source: indices of new or edited statements, ``(old, new)``
        index pairs of unchanged statements that moved, indices of old statements gone."""
        return self._table.changes(old._table, scope)

    def plain(self, scope: str) -> List[int]:
        """The indices of the statements of ``scope`` that are not ``def`` or ``class``."""
        return self._table.plain(scope)

    def decorated(self, scope: str) -> List[Statement]:
        """The definitions of ``scope`` that have decorators."""
        return [self.statement(scope, index) for index in self._table.decorated(scope)]

    def defines(self, scope: str, name: str) -> bool:
        """True if a ``def`` or ``class`` statement of ``scope`` defines ``name``."""
        return self._table.defines(scope, name)

    def mentioning(self, scope: str, names: Iterable[str]) -> List[int]:
        """Indices of the statements of ``scope`` whose text (bodies included) names one of ``names``."""
        return self._table.mentioning(scope, sorted(names))

    def definition_time_text(self, scope: str, statement: Statement) -> str:
        """The text of a statement that runs when the statement itself runs.

        For a plain statement, all of it. For a ``def``: its decorators and its
        header (defaults, annotations), not its body. For a ``class``: its
        decorators, its header and what its body runs at class creation (method
        decorators, class-level statements), recursively, but no method body.
        """
        if not statement.defines:
            return statement.text
        header = self._table.line(statement.header_line)
        parts = [statement.text, header]
        inner = f"{scope}.{statement.defines}" if scope else statement.defines
        if self._table.has_scope(inner) and header.lstrip().startswith("class"):
            parts.extend(self.definition_time_text(inner, member) for member in self.statements(inner))
        return "\n".join(parts)

    @staticmethod
    def is_main_guard(statement: Statement) -> bool:
        """True for an ``if __name__ == "__main__":`` statement."""
        return not statement.defines and _MAIN_GUARD.match(statement.text) is not None

    def redefined(self, scope: str) -> FrozenSet[str]:
        """Names that more than one ``def`` or ``class`` statement of ``scope`` defines
        (``@dispatch.register`` functions all called ``_``): they tell nothing apart."""
        found = self._redefined.get(scope)
        if found is None:
            found = self._redefined[scope] = frozenset(self._table.redefined(scope))
        return found

    def binds_of(self, statement: Statement) -> Set[str]:
        """The names ``statement`` binds in its own scope."""
        if statement.defines:
            return {statement.defines}
        found = self._binds.get(statement.text)
        if found is None:
            found = self._binds[statement.text] = _bound_names(statement.text)
        return found

    def binding(self, scope: str, name: str) -> List[int]:
        """The indices of the statements of ``scope`` that bind ``name``."""
        return [index for index, _ in self._binding(scope, name)]

    def _binding(self, scope: str, name: str) -> List[Tuple[int, Statement]]:
        candidates = ((index, self.statement(scope, index)) for index in self._table.candidates(scope, name))
        return [(index, s) for index, s in candidates if s.defines or name in self.binds_of(s)]

    def binds(self, scope: str, name: str) -> bool:
        """True if a statement of ``scope`` binds ``name``."""
        return bool(self._binding(scope, name))

    def defining_text(self, scope: str, name: str) -> Optional[str]:
        """The text of every statement of ``scope`` that binds ``name``, joined; None if none does."""
        texts = [statement.text for _, statement in self._binding(scope, name)]
        return "\n".join(texts) if texts else None

    def line(self, number: int) -> str:
        """The text of line ``number`` (1-based), without its newline."""
        return self._table.line(number)

    def unit(self, statements: Sequence[Statement]) -> str:
        """The source with only ``statements`` (in order) on their lines, every other line empty."""
        return self._table.unit([(s.first_line, s.last_line) for s in statements])

    def first_line(self, scope: str, name: str) -> Optional[int]:
        """The first line of the first statement of ``scope`` that binds ``name``."""
        found = self._binding(scope, name)
        return found[0][1].first_line if found else None


def map_source(source: str) -> SourceMap:
    """Cuts ``source`` into statements for the module scope and every class body."""
    return SourceMap(source)


def _bound_names(text: str) -> Set[str]:
    """Names a statement binds in its own scope, read off its lines.

    A ``def`` or ``class`` binds its name only; compound statements (``if``,
    ``try``, ``for``, ``with``) bind what their bodies bind, skipping the bodies
    of definitions nested in them.
    """
    names: Set[str] = set()
    skip_deeper_than: Optional[int] = None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if not stripped:
            continue
        indent = len(line) - len(stripped)
        if skip_deeper_than is not None:
            if indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if stripped.startswith("@"):
            continue
        definition = _CLASS_HEADER.match(stripped) or _DEF_HEADER.match(stripped)
        if definition:
            names.add(definition.group(1))
            skip_deeper_than = indent
            continue
        names.update(_names_bound_by_line(stripped))
    return names


def _names_bound_by_line(text: str) -> Iterable[str]:
    if text.startswith(("import ", "from ")):
        return _imported_names(text)
    found: List[str] = []
    rest = text
    while True:
        match = _ASSIGN_TARGETS.match(rest)
        if not match:
            break
        found.extend(_NAME.findall(match.group(1)))
        rest = rest[match.end() :].lstrip()
    for loop_targets, alias in _FOR_WITH_AS.findall(text):
        found.extend(_NAME.findall(loop_targets) if loop_targets else [alias])
    return found


def _imported_names(text: str) -> List[str]:
    match = _FROM_IMPORT.match(text)
    if match:
        parts = match.group(1).split(",")
    else:
        match = _IMPORT.match(text)
        parts = match.group(1).split(",") if match else []
    names = []
    for part in parts:
        words = part.split()
        if not words:
            continue
        if len(words) >= 3 and words[-2] == "as":
            names.append(words[-1])
        else:
            names.append(words[0].split(".")[0])
    return names
