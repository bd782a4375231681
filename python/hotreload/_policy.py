"""Which data a reload keeps and which it takes from the new source.

The rules, in order (SPEC, "Data"):

1. names in ``__hotreload_keep__`` keep their live value;
2. names in ``__hotreload_refresh__`` take the new value;
3. where the source the module was last loaded from is known, a name whose
   defining statement is textually unchanged keeps its live value, and a name
   whose statement changed, or that is new, takes the new value;
4. otherwise immutable values (None, bool, numbers, str, bytes, and tuples and
   frozensets of these) take the new value, everything else keeps its live value.

The same rules apply inside class bodies. Statements are found with the Rust
scanner of logical lines (no ``ast`` parse: it would cost more than compiling).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from hotreload import _hotreload

KEEP_LIST = "__hotreload_keep__"
REFRESH_LIST = "__hotreload_refresh__"

_IMMUTABLE_SCALARS = (type(None), bool, int, float, complex, str, bytes)

# Opening keywords of clauses that continue the compound statement above them.
_CONTINUATIONS = re.compile(r"(else|elif|except|finally)\b")
_CLASS_HEADER = re.compile(r"class\s+([A-Za-z_]\w*)")
_DEF_HEADER = re.compile(r"(?:async\s+)?def\s+([A-Za-z_]\w*)")
_ASSIGN_TARGETS = re.compile(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*,?\s*(?::[^=]*)?=(?!=)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_IMPORT = re.compile(r"import\s+(.+)")
_FROM_IMPORT = re.compile(r"from\s+\S+\s+import\s+\(?([^)]*)\)?")
_FOR_WITH_AS = re.compile(r"(?:for\s+([\w\s,()]+?)\s+in\b|\bas\s+([A-Za-z_]\w*))")


def is_immutable(value: object) -> bool:
    """True for None, bool, numbers, str, bytes, and tuples/frozensets of these."""
    if isinstance(value, _IMMUTABLE_SCALARS):
        return True
    if type(value) in (tuple, frozenset):
        return all(is_immutable(item) for item in value)  # type: ignore[attr-defined]
    return False


@dataclass
class Statement:
    """One statement of a scope: its text (dedented) and the scopes nested in it."""

    text: str
    first_line: int
    last_line: int
    binds: Set[str] = field(default_factory=set)


@dataclass
class SourceMap:
    """A source cut into statements, per scope (``""`` for the module, else a class qualname)."""

    statements: Dict[str, List[Statement]]

    def texts(self, scope: str) -> FrozenSet[str]:
        return frozenset(s.text for s in self.statements.get(scope, ()))

    def defining_text(self, scope: str, name: str) -> Optional[str]:
        """The text of every statement of ``scope`` that binds ``name``, joined; None if none does."""
        texts = [s.text for s in self.statements.get(scope, ()) if name in s.binds]
        return "\n".join(texts) if texts else None


def map_source(source: str) -> SourceMap:
    """Cuts ``source`` into statements for the module scope and every class body."""
    lines = _hotreload.logical_lines(source)
    statements: Dict[str, List[Statement]] = {}
    _collect(lines, 0, len(lines), "", statements)
    return SourceMap(statements)


_Line = Tuple[int, int, int, str]


def _collect(lines: List[_Line], start: int, stop: int, scope: str, out: Dict[str, List[Statement]]) -> None:
    """Groups ``lines[start:stop]`` (one scope's body) into statements, recursing into classes."""
    if start >= stop:
        return
    indent = lines[start][2]
    found = out.setdefault(scope, [])
    i = start
    while i < stop:
        head = i
        while i < stop and lines[i][3].startswith("@") and lines[i][2] == indent:
            i += 1  # decorators belong to the definition below them
        header = i
        i += 1
        while i < stop and (
            lines[i][2] > indent or (lines[i][2] == indent and _CONTINUATIONS.match(lines[i][3]))
        ):
            i += 1
        group = lines[head:i]
        text = "\n".join(" " * max(line[2] - indent, 0) + line[3] for line in group)
        statement = Statement(text, group[0][0], group[-1][1], _bound_names(lines, header, i, indent))
        found.append(statement)
        match = _CLASS_HEADER.match(lines[header][3]) if header < stop else None
        if match and header + 1 < i:
            inner = f"{scope}.{match.group(1)}" if scope else match.group(1)
            _collect(lines, header + 1, i, inner, out)


def _bound_names(lines: List[_Line], header: int, stop: int, indent: int) -> Set[str]:
    """Names a statement binds in its own scope, read off its logical lines.

    A ``def`` or ``class`` binds its name only; compound statements (``if``,
    ``try``, ``for``, ``with``) bind what their bodies bind, skipping the bodies
    of definitions nested in them.
    """
    names: Set[str] = set()
    skip_deeper_than: Optional[int] = None
    for first, last, line_indent, text in lines[header:stop]:
        if skip_deeper_than is not None:
            if line_indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if text.startswith("@"):
            continue
        definition = _CLASS_HEADER.match(text) or _DEF_HEADER.match(text)
        if definition:
            names.add(definition.group(1))
            skip_deeper_than = line_indent
            continue
        names.update(_names_bound_by_line(text))
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
        rest = rest[match.end():].lstrip()
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


@dataclass
class DataPolicy:
    """Decides, name by name, whether live data is kept or refreshed in one scope."""

    keep: FrozenSet[str]
    refresh: FrozenSet[str]
    scope: str
    old_source: Optional[SourceMap]
    new_source: Optional[SourceMap]

    def keeps_live_value(self, name: str, live: object, new: object) -> bool:
        """True to keep ``live`` for ``name``; False to take ``new``."""
        if name in self.keep:
            return True
        if name in self.refresh:
            return False
        if self.old_source is not None and self.new_source is not None:
            text = self.new_source.defining_text(self.scope, name)
            if text is not None:
                return text == self.old_source.defining_text(self.scope, name)
        return not is_immutable(live) or not is_immutable(new)


def name_list(namespace: Dict[str, object], attribute: str) -> FrozenSet[str]:
    """The names in ``namespace[attribute]`` (a list, tuple or set of str), or an empty set."""
    value = namespace.get(attribute)
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(name for name in value if isinstance(name, str))
    return frozenset()
