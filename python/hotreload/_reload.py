"""``hotreload.reload``: bring a module's new source into the same module object.

The story of a reload:

1. read the module's current source from its file (never a ``.pyc``) and cut it
   into statements;
2. decide what runs (_plan.py): where the source the module was last loaded
   from is known, only the statements that are new or whose text changed;
   otherwise, or with ``full=True``, the whole module. Unchanged decorators of
   the functions that run are left out (_decorators.py), so registrations
   happen once; the main script's ``if __name__ == "__main__":`` block never runs;
3. run that in a scratch namespace, a copy of the module's dict (_scratch.py):
   new definitions see the module's own live values, and no other thread ever
   sees a half-executed module (``sys.modules`` keeps the live module);
4. in one transaction, fold new functions and classes into the old ones, decide
   each data name by the data policy, give definitions that only moved their
   new line numbers, write the result into the module's dict and rebind
   ``from module import name`` copies elsewhere;
5. on any failure, roll the transaction back and raise :class:`ReloadError`:
   the module is exactly as it was.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import linecache
import logging
import re
import sys
import time
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from hotreload import _frameworks, _history, _sources
from hotreload._annotations import merge_module_annotations
from hotreload._decorators import ADOPT, Adopter, Undecorated, plan_undecorated, strip_decorators
from hotreload._errors import ReloadError
from hotreload._lock import change_lock
from hotreload._moved import move_definitions
from hotreload._namespace import NamespaceInputs, reconcile_namespace, removal_rule, stored_names
from hotreload._plan import RunPlan, plan_changed, plan_whole_module
from hotreload._policy import KEEP_LIST, REFRESH_LIST, DataPolicy, name_list
from hotreload._rebind import forget as forget_imports
from hotreload._rebind import rebind_importers
from hotreload._reconcile import Reconciler
from hotreload._registries import repoint_registries
from hotreload._report import ReloadReport
from hotreload._scratch import Created, ScratchRunError, run_in_scratch
from hotreload._source_map import SourceMap, map_source
from hotreload._transaction import Transaction

logger = logging.getLogger("hotreload")

# One change at a time, whichever thread asks (a watcher, the main program, a hotfix, the listener).
_reload_lock = change_lock

_OPTIONS = frozenset({"keep", "refresh", "rebind", "full"})


def reload(module: Union[types.ModuleType, str], **options: Any) -> ReloadReport:
    """Brings ``module``'s current source into the same module object.

    ``module`` is a module or its dotted name. Where the source the module was
    last loaded from is known, only new and edited top-level statements run;
    otherwise (or with ``full=True``) the whole module runs. Functions and
    classes keep their identity and get the new behaviour; data follows the
    data policy; names no longer defined are removed. Options: ``keep`` and
    ``refresh`` (extra names for the data policy), ``rebind`` (default True:
    rebind ``from module import name`` copies in other modules), ``full``.

    Raises :class:`ReloadError` (nothing changed) if the source cannot be read,
    compiled or executed, or if an object cannot be reconciled.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(f"reload() got unexpected option(s): {', '.join(sorted(unknown))}")
    module = _resolve(module)
    try:
        with _reload_lock, _collector_paused():
            report = _Reload(module, options).run()
    except ReloadError as error:
        _history.note("reload", module.__name__, ok=False, summary=str(error), origin=_history.origin.get(), filename=error.path)
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        # SystemExit or GeneratorExit from the module's top level, a RecursionError
        # or MemoryError from compiling it, an error raised while describing an
        # error: the module is unchanged, so say so as the contract does.
        context = error.__context__
        if isinstance(context, ScratchRunError):
            error = context.error  # describing the module's own error failed (its __str__ raised)
        failure = _escaped_error(module, error)
        _history.note("reload", module.__name__, ok=False, summary=str(failure), origin=_history.origin.get())
        raise failure from error
    _history.note("reload", module.__name__, ok=True, summary=str(report), origin=_history.origin.get(), filename=report.filename)
    logger.info("%s", report)
    return report


def _escaped_error(module: types.ModuleType, error: BaseException) -> ReloadError:
    """A ReloadError for an error that escaped a reload, built without calling its ``__str__``
    unguarded (that is what failed, sometimes)."""
    name = getattr(module, "__name__", "?")
    path = getattr(module, "__file__", None)
    path = path if isinstance(path, str) else None
    try:
        detail = str(error)
    except Exception:
        detail = f"<{type(error).__name__} object, str() failed>"
    message = f"cannot reload module {name} ({path}): {type(error).__name__}: {detail}".rstrip(": ")
    return ReloadError(message, name=name, path=path)


def _resolve(module: Union[types.ModuleType, str]) -> types.ModuleType:
    if isinstance(module, types.ModuleType):
        return module
    if isinstance(module, str):
        found = sys.modules.get(module)
        if found is None:
            raise ReloadError(f"module {module!r} is not loaded", name=module)
        return found
    raise TypeError(f"reload() argument must be a module or a module name, not {type(module).__qualname__}")


class _Reload:
    """One reload of one module, start to finish."""

    def __init__(self, module: types.ModuleType, options: Dict[str, Any]) -> None:
        self.module = module
        self.name: str = module.__name__
        self.options = options
        self.path = source_path(module)
        self.report = ReloadReport(module=self.name, filename=self.path)
        # What each run registered with frameworks on live objects, to take out if the reload fails.
        self.run_undos: List[Callable[[], None]] = []

    def run(self) -> ReloadReport:
        started = time.perf_counter()
        data, text = self._read()
        new_map = self.new_map = map_source(text)
        previous = _sources.previous_map(self.name)
        plan = self._plan(previous, new_map)
        undecorated = self._undecorated(plan, previous, new_map)
        unit = plan.unit(new_map, text)
        if undecorated:
            unit = strip_decorators(unit.split("\n"), undecorated)
        whole_file = not plan.incremental and len(plan.run) == plan.total and not undecorated
        try:
            if previous is None and undecorated:
                code, namespace, created, undecorated = self._execute_unknown_source(plan.unit(new_map, text), unit, undecorated)
            else:
                code = self._compile(data if whole_file else unit)
                namespace, created = self._execute(code, Adopter(undecorated) if undecorated else None)
            maps = (previous, new_map) if previous is not None else None
            self._reconcile(namespace, created, code, text, maps, plan, undecorated)
        except BaseException:
            self._undo_runs()
            raise
        _sources.record(self.name, data, new_map)
        linecache.checkcache(self.path)
        forget_imports(self.module)
        self.report.duration = time.perf_counter() - started
        return self.report

    # -- 1. and 2. read, and decide what runs ------------------------------------

    def _read(self) -> Tuple[bytes, str]:
        data, _ = _sources.read_source(self.module)
        try:
            return data, importlib.util.decode_source(data)
        except (SyntaxError, UnicodeDecodeError) as error:
            raise ReloadError(
                f"cannot read the source of module {self.name} from {self.path}: {error}",
                name=self.name,
                path=self.path,
            ) from error

    def _plan(self, previous: Optional[SourceMap], new_map: SourceMap) -> RunPlan:
        is_main = self.name == "__main__"
        if previous is None:
            self.report.ran = "whole module (previous source unknown)"
            plan = plan_whole_module(new_map, is_main)
        elif self.options.get("full", False):
            self.report.ran = "whole module (full=True)"
            plan = plan_whole_module(new_map, is_main)
        else:
            live = self.module.__dict__
            refresh = name_list(live, REFRESH_LIST) | frozenset(self.options.get("refresh", ()))
            plan = plan_changed(previous, new_map, live, refresh, is_main)
            self.report.ran = f"{len(plan.run)} of {plan.total} statements"
            self.report.kept.extend(plan.kept_data(new_map, live))
        self.report.statements_run = len(plan.run)
        return plan

    def _undecorated(self, plan: RunPlan, previous: Optional[SourceMap], new_map: SourceMap) -> Dict[str, Undecorated]:
        redefined = new_map.redefined("")
        decorated = [s for s in plan.run if s.header_line > s.first_line and s.defines and s.defines not in redefined]
        if not decorated:
            return {}
        rebuilt = plan.rebuilt(new_map) if plan.incremental else None
        return plan_undecorated(previous, new_map, decorated, self.module.__dict__, rebuilt)

    def _compile(self, data: Union[bytes, str]) -> types.CodeType:
        try:
            return compile(data, self.path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            lineno = getattr(error, "lineno", None)
            message = getattr(error, "msg", None) or str(error)
            raise ReloadError(
                f"cannot reload module {self.name}: syntax error in {self.path}, line {lineno}: {message}",
                name=self.name,
                path=self.path,
                lineno=lineno,
            ) from error

    def _execute_unknown_source(
        self, data: str, stripped: str, plan: Dict[str, Undecorated]
    ) -> Tuple[types.CodeType, Dict[str, Any], Created, Dict[str, Undecorated]]:
        """Without the previous source, decorators are re-run as written (their
        arguments may have been edited); only if that fails (a registry refusing
        a second registration) is the run repeated with them left out."""
        code = self._compile(data)
        try:
            namespace, created = self._execute(code, None)
            return code, namespace, created, {}
        except ReloadError as error:
            first_error = error
        self._undo_runs()
        try:
            code = self._compile(stripped)
            namespace, created = self._execute(code, Adopter(plan))
        except ReloadError:
            raise first_error from first_error.__cause__
        self.report.warnings.append(
            f"decorators of {', '.join(sorted(plan))} were not re-run: re-running them failed "
            f"({first_error.__cause__!r}); edits to those decorator lines need a restart"
        )
        return code, namespace, created, plan

    # -- 3. execute in a scratch namespace ----------------------------------------

    def _execute(self, code: types.CodeType, adopter: Optional[Adopter]) -> Tuple[Dict[str, Any], Created]:
        """Runs ``code`` in a copy of the module's dict (see _scratch.py)."""
        self.names_before_run = frozenset(self.module.__dict__)
        extra = {ADOPT: adopter} if adopter is not None else {}
        registered = sys.modules.get(self.name)
        try:
            with _frameworks.executing(self.module) as undo_registrations:
                self.run_undos.append(undo_registrations)
                result = run_in_scratch(code, self.module, extra)
        except ScratchRunError as failure:
            raise self._execution_error(failure.error, failure.lineno) from failure.error
        finally:
            replaced = sys.modules.get(self.name)
            if replaced is not registered and registered is not None:
                sys.modules[self.name] = registered  # the live module stays the module
        if replaced is not registered and registered is not None:
            raise ReloadError(
                f"cannot reload module {self.name}: its new source "
                f"{'removed it from' if replaced is None else 'replaced it in'} sys.modules ({self.path})",
                name=self.name,
                path=self.path,
            )
        return result

    def _undo_runs(self) -> None:
        """The reload failed: what its runs registered with frameworks comes out, newest first."""
        while self.run_undos:
            self.run_undos.pop()()

    def _execution_error(self, error: BaseException, lineno: Optional[int]) -> ReloadError:
        return ReloadError(
            f"cannot reload module {self.name}: {type(error).__name__}: {_describe(error)} "
            f"(while executing {self.path}, line {lineno})",
            name=self.name,
            path=self.path,
            lineno=lineno,
        )

    # -- 4. reconcile -------------------------------------------------------------

    def _reconcile(
        self,
        namespace: Dict[str, Any],
        created: Created,
        code: types.CodeType,
        text: str,
        maps: Optional[Tuple[SourceMap, SourceMap]],
        plan: RunPlan,
        undecorated: Dict[str, Undecorated],
    ) -> None:
        live = self.module.__dict__
        old_map, new_map = maps if maps is not None else (None, None)
        keep = name_list(namespace, KEEP_LIST) | frozenset(self.options.get("keep", ()))
        refresh = name_list(namespace, REFRESH_LIST) | frozenset(self.options.get("refresh", ()))
        is_removed = None
        if plan.incremental and new_map is not None:
            merge_module_annotations(live, namespace, plan.rebuilt(new_map) | plan.removed)
        if not plan.incremental:
            is_removed = removal_rule(stored_names(code), old_map, functools.partial(_mentions, text))
        inputs = NamespaceInputs(
            live=live,
            new=namespace,
            policy=DataPolicy(keep, refresh, "", old_map, new_map),
            created=created,
            undecorated=[e for e in undecorated.values() if e.new_function is not None],
            before_run=self.names_before_run,
            is_removed=is_removed,
            gone=plan.removed,
            source_known=old_map is not None,
            defined_by_def=functools.partial(self.new_map.defines, ""),
            redefined=self.new_map.redefined(""),
        )
        try:
            with Transaction() as tx:
                reconciler = Reconciler(tx, self.name, maps, self.report)
                change = reconcile_namespace(reconciler, inputs)
                if plan.moved and new_map is not None:
                    self.report.moved.extend(move_definitions(tx, plan.moved, live, new_map, self.path))
                for name, value in change.values.items():
                    tx.set_item(live, name, value)
                gone = [live[name] for name in change.removed if name in live]
                for name in change.removed:
                    tx.del_item(live, name)
                if self.options.get("rebind", True):
                    self.report.rebound.extend(rebind_importers(tx, self.module, change.replaced, live))
                    repoint_registries(tx, self.module, live, reconciler.replaced, plan.used_names())
                _frameworks.after_reload(self.module, tx, gone)
                self._warn_about_factories(reconciler.factories_changed, plan)
        except ReloadError as error:
            if error.path is None:
                raise self._locate(error, text) from error.__cause__
            raise
        except Exception as error:
            raise ReloadError(
                f"cannot reload module {self.name} ({self.path}): reconciling failed: {type(error).__name__}: {_describe(error)}",
                name=self.name,
                path=self.path,
            ) from error

    def _warn_about_factories(self, changed: List[Tuple[str, List[str]]], plan: RunPlan) -> None:
        """A function whose inner functions changed made, when it was called before, functions
        that still run the old code (views of ``create_app()``, a decorator's wrappers), unless a
        statement that calls it ran again in this reload."""
        calling = plan.names_called() if changed else set()
        for label, inner in changed:
            if label.split(".")[0] not in calling:
                self.report.warnings.append(
                    f"{label}: the functions it defines inside ({', '.join(inner)}) changed; the ones its "
                    "earlier calls made keep their old code until it is called again"
                )

    def _locate(self, error: ReloadError, text: str) -> ReloadError:
        """The same error, with this module's file and the line of the definition it names."""
        lineno = map_source(text).first_line("", error.label.split(".")[0]) if error.label else None
        message = f"{error.args[0] if error.args else error} ({self.path}, line {lineno})"
        return ReloadError(message, name=self.name, path=self.path, lineno=lineno)


def _describe(error: BaseException) -> str:
    """``str(error)``, even for an exception whose ``__str__`` raises."""
    try:
        return str(error)
    except Exception:  # a broken __str__ must not hide the real error
        return f"<{type(error).__name__} whose str() failed>"


def _mentions(text: str, name: str) -> bool:
    """True if ``name`` appears in ``text`` as a whole word."""
    return re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", text) is not None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector for the duration of a reload.

    A reload briefly holds two versions of every definition; collecting while
    it runs would trace them all (a full collection on a small heap) for
    nothing, since what the reload drops is freed by reference counting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def source_path(module: types.ModuleType) -> str:
    """The ``.py`` file a module is loaded from; ReloadError if it has none."""
    return _sources.source_path(module)
