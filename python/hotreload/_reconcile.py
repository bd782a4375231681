"""Reconciling new objects into old ones, so the old ones keep their identity.

A :class:`Reconciler` belongs to one transaction. It folds each new function or
class into its old counterpart (``update_function`` / ``update_class``),
remembers which new object became which old one, and makes what the reload
created refer to the kept objects (closure cells, bases, containers).
"""

from __future__ import annotations

import types
from typing import Any, Container, Dict, List, Optional, Set, Tuple

from hotreload import _hotreload
from hotreload._classes import reconcile_class
from hotreload._errors import ReloadError
from hotreload._kinds import filled_cells, functions_in, is_cache_wrapper, is_class, is_function, is_immutable
from hotreload._report import ReloadReport
from hotreload._source_map import SourceMap
from hotreload._transaction import Transaction

_CONTAINERS = frozenset({list, dict, set, tuple, types.FunctionType})

SourceMaps = Tuple[SourceMap, SourceMap]
"""The previous and the new source of the module, cut into statements."""


def function_changed(old: types.FunctionType, new: types.FunctionType) -> bool:
    """True if calling ``old`` would behave differently from calling ``new`` (for the report).

    Compared in C: bytecode, constants and names. A nested function that only
    moved to another line compares as changed, which the report can live with.
    """
    a, b = old.__code__, new.__code__
    return (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_consts != b.co_consts
        or old.__defaults__ != new.__defaults__
        or old.__kwdefaults__ != new.__kwdefaults__
    )


def inner_definitions_changed(old: types.FunctionType, new: types.FunctionType) -> List[str]:
    """The functions defined inside ``old`` whose code the edit changed (lambdas included;
    comprehensions and generator expressions, which no caller keeps, left out)."""

    def inner(code: types.CodeType) -> Dict[str, types.CodeType]:
        found = {}
        for const in code.co_consts:
            if type(const) is types.CodeType and (not const.co_name.startswith("<") or const.co_name == "<lambda>"):
                found[const.co_name] = const
        return found

    before, after = inner(old.__code__), inner(new.__code__)
    return sorted(name for name, code in before.items() if name in after and _body(code) != _body(after[name]))


def _body(code: types.CodeType) -> Tuple[Any, ...]:
    """What a code object does, without where it is (line numbers left out)."""
    consts = tuple(_body(c) if type(c) is types.CodeType else c for c in code.co_consts)
    return code.co_code, code.co_names, consts


class Reconciler:
    """Folds new objects into old ones within one transaction."""

    def __init__(
        self,
        tx: Transaction,
        module_name: str,
        source_maps: Optional[SourceMaps] = None,
        report: Optional[ReloadReport] = None,
    ) -> None:
        self.tx = tx
        self.module_name = module_name
        # None where the previous source is unknown: class data then follows the type-based rule.
        self.source_maps = source_maps
        # id(new object) -> the old object it was folded into. The new objects
        # are kept alive by `_new` so their ids stay unique.
        self.replaced: Dict[int, Any] = {}
        self._new: List[Any] = []
        # ids of the old objects something was folded into: one old object
        # never stands for two different new ones.
        self.folded_into: Set[int] = set()
        # What happened, by name, straight into the reload's report.
        self.report = report if report is not None else ReloadReport(module=module_name)
        self.updated = self.report.updated
        self.added = self.report.added
        self.warnings = self.report.warnings
        # (label, inner function names) of updated functions whose inner functions changed.
        self.factories_changed: List[Tuple[str, List[str]]] = []
        self._remapped: Set[int] = set()
        # Old definitions of the module by qualified name, and the ids of the
        # objects the run of the new source made (both set by the reload).
        self.definitions: Any = None  # a DefinitionIndex (see _namespace.py)
        self.created: Container[int] = ()
        tx.reconciler = self

    # -- identity map ---------------------------------------------------------

    def fold(self, old: Any, new: Any) -> None:
        """Records that ``new`` is now represented by ``old``."""
        if old is not new:
            self.replaced[id(new)] = old
            self.folded_into.add(id(old))
            self._new.append(new)

    def fold_data(self, live: Any, new: Any) -> None:
        """Records that the reload keeps ``live`` where the new source made ``new``.

        Functions whose defaults were made with ``new`` (a sentinel such as
        ``MISSING = object()``, an enum member) get ``live`` instead when they
        are updated. Shared immutables (numbers, strings, tuples) are never
        substituted: an equal constant elsewhere is not the kept value.
        """
        if live is not new and not is_immutable(new):
            self.fold(live, new)

    def kept(self, value: Any) -> Any:
        """The object that stands for ``value`` after the reload."""
        return self.replaced.get(id(value), value)

    # -- functions ------------------------------------------------------------

    def update_function(self, old: types.FunctionType, new: types.FunctionType, label: str) -> types.FunctionType:
        """Updates ``old`` in place to behave as ``new``; ``old`` keeps its identity."""
        if old is new or self.replaced.get(id(new)) is old:
            return old
        if _hotreload.same_function(old, new):
            self.fold(old, new)  # re-executed unchanged, line numbers and all
            return old
        changed = function_changed(old, new)
        if changed:
            self._warn_about_inner_definitions(old, new, label)
        # Defaults of nested functions (a decorator's wrapped one) are substituted too.
        _hotreload.update_function_in(self.tx.undo_log, old, new, self.replaced or None)
        self.replaced[id(new)] = old
        self._new.append(new)
        if old.__closure__ is not None:
            self.remap_closure(old)
        if changed:
            self.updated.append(label)
        return old

    def _warn_about_inner_definitions(self, old: types.FunctionType, new: types.FunctionType, label: str) -> None:
        """A factory (``create_app()``, a decorator) whose inner functions changed: what its
        earlier calls made (views registered there, wrappers, callbacks) runs the old code.
        Noted here; the reload words the warning once it knows which statements ran."""
        inner = inner_definitions_changed(old, new)
        if inner:
            self.factories_changed.append((label, inner))

    def update_cache_wrapper(self, old: Any, new: Any, label: str) -> Any:
        """``lru_cache``/``cache``: updates the wrapped function in place, clears the cache."""
        self.update_function(old.__wrapped__, new.__wrapped__, label)
        self.fold(old, new)
        self.tx.on_commit(old.cache_clear)
        return old

    def remap_closure(self, func: types.FunctionType) -> None:
        """Points closure cells that hold replaced new objects at the kept old ones.

        A method that gains ``super()`` in an edit gets a new ``__class__`` cell
        holding the new class; a generated frozen-dataclass ``__setattr__`` holds
        it in ``cls``. Both must hold the class that was kept.
        """
        if id(func) in self._remapped:
            return
        self._remapped.add(id(func))
        for cell, value in filled_cells(func):
            kept = self.replaced.get(id(value))
            if kept is not None and kept is not value:
                self._set_cell(cell, kept, value)
            elif is_function(value):
                self.remap_closure(value)

    def _move_instance(self, instance: Any, kept_class: type) -> None:
        """Makes an instance of a discarded new class an instance of the kept class."""
        previous = type(instance)
        try:
            instance.__class__ = kept_class
        except TypeError as error:
            raise ReloadError(
                f"an instance of {kept_class.__qualname__} that the reload made cannot become an instance of the kept class: {error}",
                name=self.module_name,
            ) from error

        def undo() -> None:
            instance.__class__ = previous

        self.tx.record(undo)

    def _set_cell(self, cell: Any, value: Any, previous: Any) -> None:
        cell.cell_contents = value

        def undo() -> None:
            cell.cell_contents = previous

        self.tx.record(undo)

    # -- classes --------------------------------------------------------------

    def update_class(self, old: type, new: type, label: str) -> type:
        """Updates class ``old`` in place to behave as ``new``; ``old`` keeps its identity."""
        if old is new or not self.tx.claim(old, new):
            return old
        self._reconcile_dependencies(new)
        self.fold(old, new)
        changes_before, updated_before = self.tx.size, len(self.updated)
        reconcile_class(self, old, new, label)
        if self.tx.size != changes_before or len(self.updated) != updated_before:
            self.updated.insert(updated_before, label)
        return old

    def _reconcile_dependencies(self, new: type) -> None:
        """Reconciles ``new``'s metaclass and bases first when this reload also made them.

        A module's dict order is not always definition order (enum.py binds
        ``Enum = None`` before defining its metaclass), and a class can only be
        checked against its old self once its metaclass and bases are kept ones.
        """
        old = self.counterpart_of(new)
        if not isinstance(old, type):
            return
        pairs = [(type(old), type(new))]
        if len(old.__bases__) == len(new.__bases__):
            pairs.extend(zip(old.__bases__, new.__bases__))
        for old_dependency, dependency in pairs:
            if id(dependency) in self.replaced or old_dependency is dependency:
                continue
            if getattr(dependency, "__module__", None) != self.module_name:
                continue
            if old_dependency.__qualname__ == dependency.__qualname__:
                self.update_class(old_dependency, dependency, dependency.__qualname__)

    def counterpart_of(self, new: Any) -> Optional[Any]:
        """The old object ``new`` should be folded into, if the caller told (see reconcile_namespace)."""
        return self.definitions.get(getattr(new, "__qualname__", "")) if self.definitions is not None else None

    # -- any value ------------------------------------------------------------

    def reconcile(self, old: Any, new: Any, label: str) -> Optional[Any]:
        """Folds ``new`` into ``old`` if they are the same kind of definition.

        Returns the object to keep, or None when the two cannot be reconciled
        (different kinds: the caller then takes ``new``).
        """
        if is_function(old) and is_function(new):
            return self.update_function(old, new, label)
        if is_class(old) and is_class(new):
            return self.update_class(old, new, label)
        if is_cache_wrapper(old) and is_cache_wrapper(new):
            return self.update_cache_wrapper(old, new, label)
        return None

    def adopt_new(self, value: Any) -> Any:
        """Prepares a new object that joins the program as it is (nothing to fold into).

        Whatever in it refers to replaced new objects is pointed at the kept ones.
        """
        value = self.kept(value)
        if is_function(value):
            self.remap_closure(value)
        elif is_cache_wrapper(value):
            self.remap_closure(value.__wrapped__)
        elif is_class(value) and value.__module__ == self.module_name:
            self.remap_class(value)
        return value

    def remap_class(self, cls: type) -> None:
        """A class the reload adds: its bases and methods must use the kept classes."""
        if id(cls) in self._remapped:
            return
        self._remapped.add(id(cls))
        bases = tuple(self.kept(base) for base in cls.__bases__)
        if bases != cls.__bases__:
            try:
                cls.__bases__ = bases
            except TypeError as error:
                raise ReloadError(
                    f"cannot rebase new class {cls.__qualname__} onto the kept classes: {error}",
                    name=self.module_name,
                ) from error
        for value in list(vars(cls).values()):
            for func in functions_in(value):
                self.remap_closure(func)
            if is_class(value) and value.__module__ == self.module_name:
                self.remap_class(value)

    def remap_container(self, value: Any, created: Container[int], depth: int = 0) -> Any:
        """Points what the reload created at kept objects instead of replaced new ones.

        Only objects whose id is in ``created`` (made while the new source ran)
        are changed: lists, dicts and sets in place, a tuple rebuilt, and an
        instance of a new class that was folded into a kept one moved to the kept
        class (``X = Service()`` after ``Service`` changed, a descriptor in a class body).
        """
        kept = self.replaced.get(id(value))
        if kept is not None:
            return kept
        if depth > 8 or id(value) not in created:
            return value
        kept_class = self.replaced.get(id(type(value)))
        if kept_class is not None:
            self._move_instance(value, kept_class)
            return value
        if type(value) not in _CONTAINERS:
            return value
        if type(value) is list:
            for i, item in enumerate(value):
                value[i] = self.remap_container(item, created, depth + 1)
        elif type(value) is dict:
            for key, item in list(value.items()):
                value[key] = self.remap_container(item, created, depth + 1)
        elif type(value) is set:
            items = [self.remap_container(item, created, depth + 1) for item in value]
            value.clear()
            value.update(items)
        elif type(value) is tuple:
            remapped = tuple(self.remap_container(item, created, depth + 1) for item in value)
            if any(a is not b for a, b in zip(remapped, value)):
                return remapped
        elif is_function(value):
            self.remap_closure(value)
        return value


def _update_class_cell(old: type, new: type, journal: Any) -> None:
    """Called by ``update_function`` (Rust) for closure cells that hold classes on both sides.

    ``journal`` is None for a standalone call, else the transaction or its undo log.
    """
    if journal is None:
        update_class(old, new)
        return
    tx: Transaction = getattr(journal, "transaction", journal)
    reconciler = getattr(tx, "reconciler", None) or Reconciler(tx, old.__module__)
    reconciler.update_class(old, new, old.__qualname__)


def update_class(old: type, new: type) -> type:
    """Reconciles class ``new`` into class ``old`` in place and returns ``old``.

    ``old`` keeps its identity (every ``isinstance``, subclass and live
    instance) and gets ``new``'s methods, descriptors, nested classes and
    generated methods. Class-level data follows the type-based data rule
    (immutable values take the new value, others keep the live one). A change
    that cannot be applied in place raises :class:`ReloadError` and changes nothing.
    """
    for argument, value in (("old", old), ("new", new)):
        if not isinstance(value, type):
            raise TypeError(f"update_class() argument '{argument}' must be a class, not {type(value).__qualname__}")
    with Transaction() as tx:
        Reconciler(tx, old.__module__).update_class(old, new, old.__qualname__)
    return old
