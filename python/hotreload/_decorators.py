"""Not re-running unchanged decorators on a reload.

Re-executing ``@app.route("/")`` over a new function registers it a second
time: Flask refuses (a different function for an existing endpoint), list
registries end up holding the function twice, ``atexit`` runs it twice. When
hotreload knows the previous source, a module-level function whose decorator
lines are textually unchanged, whose decorators hang off objects that outlive
the reload, and whose live decorated object lets hotreload find the function
inside it, is compiled without its decorators (the lines
are blanked, so line numbers stay right); the new function is then folded into
the old one inside the live object, which stays where it is, registered once.
"""

from __future__ import annotations

import functools
import re
import types
from typing import Any, Dict, List, Optional, Set

from hotreload._kinds import filled_cells, is_immutable
from hotreload._source_map import SourceMap, Statement

_SEARCH_LIMIT = 64
_DECORATOR_ROOT = re.compile(r"^\s*@\s*([A-Za-z_]\w*)", re.MULTILINE)


def plan_undecorated(
    old: Optional[SourceMap],
    new: SourceMap,
    statements: List[Statement],
    live: Dict[str, Any],
    rebuilt: Optional[Set[str]],
) -> Dict[str, "Undecorated"]:
    """Of the decorated module-level ``statements`` that run, the functions to compile
    without their decorators, by name.

    Without the previous source (``old`` None) the decorators are taken as
    unchanged: re-registering a view function is an error in Flask, while a
    decorator edited in the very first reload of such a module is rare.
    ``rebuilt`` are the names the running statements bind, when only changed
    statements run: a decorator hanging off one of them must run again.
    """
    old_decorated = {s.defines: s for s in old.decorated("") if s.defines} if old is not None else None
    plan: Dict[str, Undecorated] = {}
    for statement in statements:
        name = statement.defines
        if not name:
            continue
        header = new.line(statement.header_line).lstrip()
        if not header.startswith(("def ", "async ")):
            continue  # class decorators shape the class itself (dataclass, ...): always re-run
        if old_decorated is not None:
            previous = old_decorated.get(name)
            if previous is None or previous.decorators != statement.decorators:
                continue
        roots = _DECORATOR_ROOT.findall(statement.decorators)
        if rebuilt is not None:
            if any(root in rebuilt for root in roots):
                continue
        elif not all(_survives(root, old, new, live) for root in roots):
            continue
        inner = find_wrapped(live.get(name), name)
        if inner is not None:
            plan[name] = Undecorated(statement, inner, live[name])
    return plan


class Undecorated:
    """A function compiled without its decorators, and the old function it is folded into."""

    def __init__(self, statement: Statement, old_function: types.FunctionType, live: Any) -> None:
        self.statement = statement
        self.old_function = old_function
        self.live = live
        self.new_function: Optional[types.FunctionType] = None


ADOPT = "__hotreload_adopt__"


class Adopter:
    """Stands in for the decorators while the new source runs (as ``@__hotreload_adopt__``).

    It takes the undecorated new function and hands back the live decorated
    object, so the rest of the module body sees the name as it always was.
    """

    def __init__(self, plan: Dict[str, Undecorated]) -> None:
        self.plan = plan

    def __call__(self, function: types.FunctionType) -> Any:
        entry = self.plan[function.__name__]
        entry.new_function = function
        return entry.live


def _survives(root: str, old: Optional[SourceMap], new: SourceMap, live: Dict[str, Any]) -> bool:
    """Whether the object a decorator hangs off (``app`` in ``@app.route``) outlives the reload.

    A registry the reload builds afresh (a function of this module, such as a
    ``singledispatch`` one, gets the new closure) must receive the registration
    again; one that is imported, or bound by an unchanged statement, keeps the
    registration it already has.
    """
    if new.defines("", root):
        return False
    if old is not None:
        return new.defining_text("", root) == old.defining_text("", root)
    return not is_immutable(live.get(root))


def strip_decorators(lines: List[str], plan: Dict[str, Undecorated]) -> str:
    """The source with the planned definitions' decorators replaced by ``@__hotreload_adopt__``.

    The first decorator line takes the stand-in, the others are blanked, so
    every line keeps its number.
    """
    stripped = list(lines)
    for entry in plan.values():
        first, header = entry.statement.first_line, entry.statement.header_line
        stripped[first - 1] = "@" + ADOPT
        for number in range(first + 1, header):
            stripped[number - 1] = ""
    return "\n".join(stripped)


def find_wrapped(value: Any, name: str) -> Optional[types.FunctionType]:
    """The function named ``name`` that a decorated object holds: the object itself, what
    ``__wrapped__`` leads to, or a function in its closure cells or attributes."""
    seen: Set[int] = set()
    queue = [value]
    while queue and len(seen) < _SEARCH_LIMIT:
        candidate = queue.pop(0)
        if candidate is None or id(candidate) in seen:
            continue
        seen.add(id(candidate))
        if type(candidate) is types.FunctionType:
            if candidate.__code__.co_name == name and "<locals>" not in candidate.__qualname__:
                return candidate
            queue.extend(value for _, value in filled_cells(candidate))
        queue.extend(_held_functions(candidate))
    return None


def _held_functions(value: Any) -> List[Any]:
    """Objects a decorator result commonly keeps the decorated function in."""
    held: List[Any] = []
    if isinstance(value, (classmethod, staticmethod)):
        held.append(value.__func__)
    elif isinstance(value, functools.partial):
        held.append(value.func)
    namespace = getattr(value, "__dict__", None) if not isinstance(value, type) else None
    if isinstance(namespace, dict):
        wrapped = namespace.get("__wrapped__")
        if wrapped is not None:
            held.append(wrapped)
        held.extend(v for v in namespace.values() if type(v) is types.FunctionType)
    elif not isinstance(value, type):
        try:
            held.append(object.__getattribute__(value, "__wrapped__"))
        except AttributeError:
            pass
    return held
