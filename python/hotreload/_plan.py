"""Which top-level statements a reload runs.

Where hotreload knows the source a module was last loaded from, a reload runs
only the statements that are new or whose text changed, in source order,
against the live module's values. Unchanged statements do not run again: their
side effects do not repeat (``app = Flask(__name__)`` stays the one app, a model
class stays the one its metaclass registered), and definitions that only moved
keep their identity and get their new line numbers (see _moved.py).

A few unchanged statements run all the same:

- those binding a name in ``__hotreload_refresh__``;
- those that use a name a re-run definition binds, where every name they bind
  holds a function or class (``handler = make_handler()`` after
  ``make_handler`` changed: the new handler is then folded into the live one);
- ``from __future__`` imports, which set the compiler flags of the unit.

Without the previous source, or with ``reload(m, full=True)``, everything runs.
Either way, the main script's ``if __name__ == "__main__":`` block never does:
reloading it must not start the program a second time.

The unit that runs is the module's own source with every other statement
blanked, so line numbers stay exact for tracebacks, ``inspect`` and breakpoints.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Pattern, Set, Tuple

from hotreload._kinds import is_class, is_definition_object, is_lazy_import
from hotreload._source_map import SourceMap, Statement

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass
class RunPlan:
    """The statements of the new source that run, and what the others tell."""

    run: List[Statement]
    """Statements of the new source that run, in source order."""
    total: int
    """How many top-level statements the new source has."""
    incremental: bool
    """True when only changed statements run; False for a run of the whole module."""
    moved: List[Tuple[Statement, Statement]] = field(default_factory=list)
    """(old, new) pairs of unchanged statements that now start on another line."""
    removed: FrozenSet[str] = frozenset()
    """Names bound only by statements that disappeared (incremental plans only)."""

    def rebuilt(self, source: SourceMap) -> Set[str]:
        """The names the running statements bind."""
        names: Set[str] = set()
        for statement in self.run:
            names |= source.binds_of(statement)
        return names

    def used_names(self) -> Optional[Set[str]]:
        """The identifiers the running statements' text refers to (None: the whole module ran)."""
        return _identifiers(self.run) if self.incremental else None

    def names_called(self) -> Set[str]:
        """The identifiers the running statements other than definitions refer to."""
        return _identifiers(s for s in self.run if not s.defines)

    def kept_data(self, source: SourceMap, live: Dict[str, Any]) -> List[str]:
        """Data names bound only by statements that did not run: they keep their live value."""
        if not self.incremental:
            return []
        rebuilt = self.rebuilt(source)
        running = {s.first_line for s in self.run}
        names: Set[str] = set()
        for index in source.plain(""):
            statement = source.statement("", index)
            if statement.first_line not in running:
                names |= source.binds_of(statement)
        return sorted(name for name in names - rebuilt if name in live and not name.startswith("__") and not _is_binding(live[name]))

    def unit(self, source: SourceMap, text: str) -> str:
        """The source to compile: the running statements on their own lines, the rest blank."""
        if len(self.run) == self.total and not self.incremental:
            return text
        return source.unit(self.run)


def plan_whole_module(new: SourceMap, is_main: bool) -> RunPlan:
    """Every statement runs (but the main guard of the running script)."""
    statements = new.statements("")
    run = [s for s in statements if not (is_main and new.is_main_guard(s))]
    return RunPlan(run=run, total=len(statements), incremental=False)


def plan_changed(old: SourceMap, new: SourceMap, live: Dict[str, Any], refresh: FrozenSet[str], is_main: bool) -> RunPlan:
    """Only new and edited statements run (and the few unchanged ones that must, see above).

    Statements are paired by the digest of their text (in Rust); only the ones
    that run or moved are looked at one by one, so a plan costs what the edit
    costs, not what the module does.
    """
    fresh, moved_pairs, gone_indices = new.changes(old, "")
    running = set(fresh)
    running.update(index for index in new.plain("") if new.statement("", index).text.startswith("from __future__"))
    running.update(_forced(new, running, live, refresh))
    runs = [new.statement("", index) for index in sorted(running)]
    if is_main:
        runs = [s for s in runs if not new.is_main_guard(s)]
    moved = [(old.statement("", before), new.statement("", after)) for before, after in moved_pairs]
    gone = [old.statement("", index) for index in gone_indices]
    return RunPlan(
        run=runs,
        total=new.count(""),
        incremental=True,
        moved=moved,
        removed=_removed_names(old, new, gone),
    )


def _forced(new: SourceMap, running: Set[int], live: Dict[str, Any], refresh: FrozenSet[str]) -> List[int]:
    """Indices of unchanged statements that run all the same, in source order."""
    forced: List[int] = []
    for name in refresh:
        forced.extend(index for index in new.binding("", name) if index not in running and index not in forced)
    rebuilt: Set[str] = set()
    for index in running:
        rebuilt |= new.binds_of(new.statement("", index))
    pending = set(rebuilt)
    while pending:
        pattern = _word_pattern(pending)
        mentioning = new.mentioning("", pending)
        pending = set()
        for index in mentioning:
            if index in running or index in forced:
                continue
            statement = new.statement("", index)
            binds = new.binds_of(statement)
            if not binds or not pattern.search(new.definition_time_text("", statement)):
                continue
            # A definition made with something that changed (an edited decorator)
            # is made again; so is a statement that makes functions or classes with it.
            if statement.defines or all(_holds_definition(live, name) for name in binds):
                forced.append(index)
                pending |= binds - rebuilt
                rebuilt |= binds
    return sorted(forced)


def _is_binding(value: Any) -> bool:
    """Modules and definitions: bindings the source states, not data."""
    return isinstance(value, types.ModuleType) or is_lazy_import(value) or is_definition_object(value) or is_class(value)


def _holds_definition(live: Dict[str, Any], name: str) -> bool:
    value = live.get(name)
    return is_definition_object(value) or is_class(value)


def _word_pattern(names: Set[str]) -> Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(r"(?<![\w.])(?:" + alternatives + r")(?!\w)")


def _removed_names(old: SourceMap, new: SourceMap, gone: List[Statement]) -> FrozenSet[str]:
    """Names bound by statements that disappeared and by no statement of the new source."""
    candidates: Set[str] = set()
    for statement in gone:
        candidates |= old.binds_of(statement)
    candidates = {name for name in candidates if not (name.startswith("__") and name.endswith("__"))}
    if not candidates:
        return frozenset()
    return frozenset(name for name in candidates if not new.binds("", name))


def _identifiers(statements: Iterable[Statement]) -> Set[str]:
    names: Set[str] = set()
    for statement in statements:
        names.update(_IDENTIFIER.findall(statement.text))
    return names
