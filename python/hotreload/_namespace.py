"""Reconciling a module's new namespace into its live one, name by name.

Definitions (functions, classes, cache wrappers) are matched by where they are
defined, their qualified name, not by the name that holds them: after
``f = foo`` becomes ``f = bar``, ``foo`` is untouched and ``f`` is the old ``bar``.
Everything else is data and follows the data policy.
"""

from __future__ import annotations

import dis
import types
from dataclasses import dataclass
from types import FunctionType
from typing import Any, Callable, Container, Dict, FrozenSet, List, Optional, Set, Tuple, cast

from hotreload import _frameworks, _hotreload
from hotreload._classes import preflight_class, rebase_class
from hotreload._decorators import Undecorated, find_wrapped
from hotreload._kinds import is_cache_wrapper, is_class, is_function, is_lazy_import
from hotreload._policy import DataPolicy
from hotreload._reconcile import Reconciler
from hotreload._source_map import SourceMap

# Set by the import system for this module object; a reload never touches them.
IMPORT_STATE = frozenset({"__name__", "__file__", "__cached__", "__loader__", "__spec__", "__package__", "__path__", "__builtins__"})

_STORE_OPS = [dis.opmap[name] for name in ("STORE_NAME", "STORE_GLOBAL") if name in dis.opmap]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
# ``from x import *``: its own opcode up to 3.11, an intrinsic call (number 2) from 3.12.
_IMPORT_STAR = (dis.opmap["IMPORT_STAR"], None) if "IMPORT_STAR" in dis.opmap else (dis.opmap["CALL_INTRINSIC_1"], 2)

_MISSING = object()


def stored_names(code: types.CodeType) -> Optional[FrozenSet[str]]:
    """Names the module code binds at top level; None if it has ``from x import *``."""
    found = _hotreload.stored_names(code.co_code, code.co_names, _STORE_OPS, _EXTENDED_ARG, _IMPORT_STAR)
    return None if found is None else frozenset(found)


@dataclass
class NamespaceChange:
    """What a reload will write into the module's dict: the values and what was decided."""

    values: Dict[str, Any]
    removed: List[str]
    replaced: Dict[str, Any]
    """name -> the live value that a different object replaces (for rebinding elsewhere)."""


class DefinitionIndex:
    """The module's functions and classes by qualified name (ambiguous ones left out).

    A top-level definition is almost always held by the name it defines, so a
    lookup tries that name first; the whole namespace is indexed only when that
    fails (``f = foo`` style aliases), once.
    """

    def __init__(self, module_name: str, namespace: Dict[str, Any]) -> None:
        self.module_name = module_name
        self.namespace = namespace
        self._index: Optional[Dict[str, Any]] = None

    def get(self, qualname: Optional[str], default: Any = None) -> Any:
        if qualname is None or "<" in qualname:
            return default  # lambdas, factory-made functions: matched by the name holding them
        value = self.namespace.get(qualname, _MISSING)
        if value is not _MISSING and _is_definition(value, self.module_name):
            if _definition_key(_target(value)) == qualname:
                return value
        return self._full().get(qualname, default)

    def _full(self) -> Dict[str, Any]:
        if self._index is None:
            self._index = _index_definitions(self.module_name, self.namespace)
        return self._index


def _index_definitions(module_name: str, namespace: Dict[str, Any]) -> Dict[str, Any]:
    index: Dict[str, Any] = {}
    ambiguous: Set[str] = set()
    for value in namespace.values():
        if not _is_definition(value, module_name):
            continue
        qualname = _definition_key(_target(value))
        if qualname is None:
            continue
        if index.get(qualname, value) is not value:
            ambiguous.add(qualname)
        index[qualname] = value
    for qualname in ambiguous:
        del index[qualname]
    return index


@dataclass
class NamespaceInputs:
    """What a reload hands the namespace reconciler."""

    live: Dict[str, Any]
    """The module's own dict (only read here; the caller writes the change)."""
    new: Dict[str, Any]
    """The scratch namespace the new source ran in."""
    policy: DataPolicy
    created: Container[int]
    """ids of the objects the run made."""
    undecorated: List[Undecorated]
    """Functions compiled without their decorators: each is folded into the old
    function inside the live decorated object, which stays in place."""
    before_run: Container[str]
    """The module's names before the new source ran."""
    is_removed: Optional[Callable[[str, Any], bool]]
    """Whether a name the run left as it was is gone from the source (None: see ``gone``)."""
    gone: FrozenSet[str]
    """Names known to be gone from the source (when only changed statements ran)."""
    source_known: bool
    """Whether the source the module was last loaded from is known."""
    defined_by_def: Callable[[str], bool]
    """Whether a ``def`` or ``class`` statement of the new source binds a name."""
    redefined: FrozenSet[str] = frozenset()
    """Names several definitions of the new source bind: each new one joins as it is."""


def removal_rule(
    defined: Optional[FrozenSet[str]],
    old_source: Optional[SourceMap],
    mentioned: Callable[[str], bool],
) -> Callable[[str, Any], bool]:
    """For a run of the whole module: a name the new code does not bind is gone
    if it came from the source (see ``_was_defined``).

    ``defined`` are the names the new code binds (None: unknown, ``import *``).
    """

    def is_removed(name: str, value: Any) -> bool:
        if defined is None or name in defined:
            return False
        return _was_defined(name, value, old_source, mentioned)

    return is_removed


def reconcile_namespace(reconciler: Reconciler, inputs: NamespaceInputs) -> NamespaceChange:
    """Decides the module's new contents. Functions and classes are updated in place here;
    the module's dict itself is only written by the caller, from the returned change."""
    module_name = reconciler.module_name
    live, new, report = inputs.live, inputs.new, reconciler.report
    old_definitions = reconciler.definitions = DefinitionIndex(module_name, live)
    reconciler.created = inputs.created
    change = NamespaceChange(values={}, removed=[], replaced={})
    definitions = []
    is_removed = inputs.is_removed
    for name in inputs.gone:
        if name in new and new[name] is live.get(name, _MISSING):
            change.removed.append(name)
    # Only the names whose object differs need a decision (one pass in Rust);
    # a run of the whole module also looks at the others, for removals.
    differing, missing = _hotreload.namespace_changes(new, live)
    # Data first: a kept sentinel (``MISSING = object()``) must be known before
    # the functions whose defaults were made with the new one are updated.
    for name in differing if is_removed is None else list(new):
        value, before = new[name], live.get(name, _MISSING)
        if value is before:
            if is_removed is not None and name not in IMPORT_STATE and is_removed(name, before):
                change.removed.append(name)
            continue
        if name in IMPORT_STATE:
            continue
        if _is_definition(value, module_name):
            definitions.append((name, value, before))
            continue
        after = _decide_data(reconciler, name, before, value, inputs)
        _record(change, name, before, after)
    _preflight(reconciler, definitions, old_definitions)
    for entry in inputs.undecorated:
        new_function = cast(FunctionType, entry.new_function)  # set by the run of the new source
        _keep_decorator_marks(entry.old_function, new_function)
        reconciler.update_function(entry.old_function, new_function, new_function.__qualname__)
        if is_cache_wrapper(entry.live):
            reconciler.tx.on_commit(entry.live.cache_clear)
    for name, value, before in definitions:
        if name in inputs.redefined and _definition_key(_target(value)) == name:
            # ``@dispatch.register def _(...)`` again and again: which old ``_`` a new
            # one is cannot be told, and the registrations already ran.
            reconciler.report.refreshed.append(name)
            _record(change, name, before, reconciler.adopt_new(value))
            continue
        after = _decide_definition(reconciler, name, before, value, _target(value), old_definitions)
        _record(change, name, before, after)
    # Now that every definition is folded, data the reload made (``TABLE =
    # {"main": Service}``) can be pointed at the kept objects.
    for name, value in change.values.items():
        if not _is_definition(value, module_name):
            change.values[name] = reconciler.remap_container(value, inputs.created)
    for name in missing:
        # Names the live module gained while the new source ran (a submodule
        # imported by it sets itself on the package) are not the source's to remove.
        if name not in IMPORT_STATE and name in inputs.before_run:
            change.removed.append(name)
    change.removed = [name for name in change.removed if name not in inputs.policy.keep]
    report.removed.extend(change.removed)
    return change


def _preflight(reconciler: Reconciler, definitions: List[Tuple[str, Any, Any]], old: DefinitionIndex) -> None:
    """Checks every class change before the first function is touched: another thread
    must never run new code from a reload that is going to fail.

    Base changes are applied here, first of all changes: whether CPython accepts
    one is only known by trying, and if it refuses, nothing else has changed yet.
    """
    pairs = []
    for _, value, _ in definitions:
        counterpart = old.get(value.__qualname__) if isinstance(value, type) else None
        if isinstance(counterpart, type) and counterpart is not value:
            preflight_class(reconciler, counterpart, value, value.__qualname__)
            pairs.append((counterpart, value))
    for counterpart, value in pairs:
        rebase_class(reconciler, counterpart, value, value.__qualname__, old)


def _keep_decorator_marks(old: FunctionType, new: FunctionType) -> None:
    """A decorator left out of the re-run set attributes on the live function
    (``f.pass_arg = ...``, pytest marks, ``typing.final``) that the new one lacks:
    the function's ``__dict__`` follows the new function, so carry them over."""
    marks = old.__dict__
    if marks:
        fresh = new.__dict__
        for key, value in marks.items():
            fresh.setdefault(key, value)


def _target(value: Any) -> Any:
    return value.__wrapped__ if is_cache_wrapper(value) else value


def _is_definition(value: Any, module_name: str) -> bool:
    """A function, class or cache wrapper defined in this module (matched by qualified name)."""
    target = _target(value)
    return (type(target) is FunctionType or is_class(target)) and getattr(target, "__module__", None) == module_name


def _record(change: NamespaceChange, name: str, before: Any, after: Any) -> None:
    if after is before:
        return
    change.values[name] = after
    if before is not _MISSING:
        change.replaced[name] = before


def _was_defined(name: str, value: Any, old_source: Optional[SourceMap], mentioned: Callable[[str], bool]) -> bool:
    """Whether a name the new code no longer binds came from the source (so it goes).

    Names set from outside (a submodule attribute, a value assigned at run time)
    are live state, not definitions, and stay. So does a name the new source
    still mentions: it may be set dynamically (``globals()[name] = ...``) to
    the very object it already holds.
    """
    if name.startswith("__") and name.endswith("__"):
        return False
    if mentioned(name):
        return False
    if old_source is not None:
        return old_source.binds("", name)
    return not isinstance(value, types.ModuleType)


def _decide_data(reconciler: Reconciler, name: str, before: Any, value: Any, inputs: NamespaceInputs) -> Any:
    """The value a data ``name`` will hold after the reload (containers are remapped later)."""
    report = reconciler.report
    if before is _MISSING:
        report.added.append(name)
        return value
    if name.startswith("__") and name.endswith("__"):
        return value
    if _is_binding(before) or _is_binding(value):
        report.refreshed.append(name)
        return reconciler.kept(value)
    if not inputs.source_known and inputs.defined_by_def(name) and name not in inputs.policy.keep:
        # A decorated definition (a click command, a registered handler): the
        # edit must apply, into the live object where its function can be found.
        return _fold_decorated(reconciler, name, before, value)
    if inputs.policy.keeps_live_value(name, before, value):
        report.kept.append(name)
        reconciler.fold_data(before, value)
        return before
    if _frameworks.replacing_data(before, value, name, reconciler.module_name, reconciler.tx) is before:
        report.updated.append(name)  # a framework object the program holds, brought up to date in place
        return before
    report.refreshed.append(name)
    return value


def _fold_decorated(reconciler: Reconciler, name: str, before: Any, value: Any) -> Any:
    """The live decorated object with the new function folded into the one it holds,
    or, where either side holds none that can be found, the new object."""
    old_function, new_function = find_wrapped(before, name), find_wrapped(value, name)
    if old_function is None or new_function is None:
        reconciler.report.refreshed.append(name)
        return value
    reconciler.update_function(old_function, new_function, name)
    reconciler.fold(before, value)
    return before


def _decide_definition(
    reconciler: Reconciler,
    name: str,
    before: Any,
    value: Any,
    target: Any,
    old_definitions: DefinitionIndex,
) -> Any:
    """A function or class defined in this module: fold it into its old counterpart, if any.

    Counterparts are found by qualified name; lambdas and factory-made functions
    (``<lambda>``, ``f.<locals>.g``), which share their qualified names, only by
    the name that holds them, and an old object that already stands for another
    new one is never used twice.
    """
    already = reconciler.replaced.get(id(value))
    if already is not None:
        return already
    qualname = target.__qualname__
    key = _definition_key(target)
    counterpart = old_definitions.get(key, _MISSING) if key is not None else _MISSING
    if counterpart is _MISSING and before is not _MISSING and _identity(before) == _identity(target):
        if id(before) not in reconciler.folded_into:
            counterpart = before
    if counterpart is not _MISSING:
        kept = reconciler.reconcile(counterpart, value, qualname)
        if kept is not None:
            return kept
    if before is _MISSING:
        reconciler.report.added.append(name)
    else:
        reconciler.report.refreshed.append(name)
    return reconciler.adopt_new(value)


def _definition_key(target: Any) -> Optional[str]:
    """The qualified name a definition is matched by, or None where it proves nothing:
    lambdas and factory-made functions (``<lambda>``, ``f.<locals>.g``), and a
    wrapper whose ``functools.wraps`` copied another function's name."""
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(qualname, str) or "<" in qualname:
        return None
    if is_function(target) and target.__code__.co_name != qualname.rpartition(".")[2]:
        return None
    return qualname


def _identity(value: Any) -> Optional[Tuple[str, str]]:
    """What two definitions held by the same name share if one is the other's new self."""
    target = _target(value)
    if is_function(target):
        return (target.__qualname__, target.__code__.co_name)
    if is_class(target):
        return (target.__qualname__, "")
    return None


def _is_binding(value: Any) -> bool:
    """Modules and definitions imported from elsewhere: bindings the source states, not state."""
    if isinstance(value, types.ModuleType) or is_lazy_import(value):
        return True
    target = _target(value)
    return is_function(target) or is_class(target)
