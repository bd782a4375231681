"""``hotreload.reload``: re-execute a module's source into the same module object.

The story of a reload:

1. read the module's current source from its file (never a ``.pyc``) and compile it;
   Unchanged decorators of module-level functions are left out (see
   _decorators.py), so registrations happen once; the main script's
   ``if __name__ == "__main__":`` block is left out, so it does not start again;
2. run it in a scratch namespace, a copy of the module's dict: new definitions
   see the module's own names, and no other thread ever sees a half-executed
   module (``sys.modules`` keeps the live module, so a concurrent import gets it);
3. point the functions the run created at the module's real dict;
4. in one transaction, fold new functions and classes into the old ones,
   decide each data name by the data policy, write the result into the
   module's dict and rebind ``from module import name`` copies elsewhere;
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
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from hotreload import _sources
from hotreload._errors import ReloadError
from hotreload._lock import change_lock
from hotreload._namespace import reconcile_namespace, stored_names
from hotreload._decorators import ADOPT, Adopter, Undecorated, plan_undecorated, strip_decorators
from hotreload._policy import KEEP_LIST, REFRESH_LIST, DataPolicy, SourceMap, map_source, name_list
from hotreload._rebind import forget as forget_imports
from hotreload._rebind import rebind_importers
from hotreload._registries import repoint_registries
from hotreload._scratch import Created, ScratchRunError, run_in_scratch
from hotreload._reconcile import Reconciler
from hotreload._report import ReloadReport
from hotreload._transaction import Transaction

logger = logging.getLogger("hotreload")

# One change at a time, whichever thread asks (a watcher, the main program, a hotfix, the listener).
_reload_lock = change_lock

_OPTIONS = frozenset({"keep", "refresh", "rebind"})


def reload(module: Union[types.ModuleType, str], **options: Any) -> ReloadReport:
    """Re-executes ``module``'s current source and reconciles it into the same module object.

    ``module`` is a module or its dotted name. Functions and classes keep their
    identity and get the new behaviour; data follows the data policy; names no
    longer defined are removed. Options: ``keep`` and ``refresh`` (extra names
    for the data policy), ``rebind`` (default True: rebind ``from module import
    name`` copies in other modules).

    Raises :class:`ReloadError` (nothing changed) if the source cannot be read,
    compiled or executed, or if an object cannot be reconciled.
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(f"reload() got unexpected option(s): {', '.join(sorted(unknown))}")
    module = _resolve(module)
    with _reload_lock, _collector_paused():
        report = _Reload(module, options).run()
    logger.info("%s", report)
    return report


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

    def run(self) -> ReloadReport:
        started = time.perf_counter()
        data, text = self._read()
        previous = _sources.previous(self.name)
        maps = (map_source(previous), map_source(text)) if previous is not None else None
        lines = text.split("\n")
        source: Union[bytes, str] = data
        if self.name == "__main__":
            source = _without_main_guard(lines, maps[1] if maps is not None else map_source(text))
        undecorated: Dict[str, Undecorated] = {}
        if text.startswith("@") or "\n@" in text:
            old_map, new_map = maps if maps is not None else (None, map_source(text))
            undecorated = plan_undecorated(old_map, new_map, lines, self.module.__dict__)
        if maps is not None or not undecorated:
            code = self._compile(strip_decorators(lines, undecorated) if undecorated else source)
            namespace, created = self._execute(code, Adopter(undecorated) if undecorated else None)
        else:
            code, namespace, created, undecorated = self._execute_unknown_source(source, lines, undecorated)
        self._reconcile(namespace, created, code, text, maps, undecorated)
        _sources.record(self.name, data)
        linecache.checkcache(self.path)
        forget_imports(self.module)
        self.report.duration = time.perf_counter() - started
        return self.report

    # -- 1. read and compile --------------------------------------------------

    def _read(self) -> Tuple[bytes, str]:
        try:
            with open(self.path, "rb") as file:
                data = file.read()
            return data, importlib.util.decode_source(data)
        except (OSError, SyntaxError, UnicodeDecodeError) as error:
            raise ReloadError(
                f"cannot read the source of module {self.name} from {self.path}: {error}",
                name=self.name,
                path=self.path,
            ) from error

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
        self, data: Union[bytes, str], lines: List[str], plan: Dict[str, Undecorated]
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
        try:
            code = self._compile(strip_decorators(lines, plan))
            namespace, created = self._execute(code, Adopter(plan))
        except ReloadError:
            raise first_error from first_error.__cause__
        self.report.warnings.append(
            f"decorators of {', '.join(sorted(plan))} were not re-run: re-running them failed "
            f"({first_error.__cause__!r}); edits to those decorator lines need a restart"
        )
        return code, namespace, created, plan

    # -- 2. and 3. execute in a scratch namespace -------------------------------

    def _execute(self, code: types.CodeType, adopter: Optional[Adopter]) -> Tuple[Dict[str, Any], Created]:
        """Runs ``code`` in a copy of the module's dict (see _scratch.py)."""
        self.names_before_run = frozenset(self.module.__dict__)
        extra = {ADOPT: adopter} if adopter is not None else {}
        try:
            return run_in_scratch(code, self.module, extra)
        except ScratchRunError as failure:
            raise self._execution_error(failure.error, failure.lineno) from failure.error

    def _execution_error(self, error: BaseException, lineno: Optional[int]) -> ReloadError:
        return ReloadError(
            f"cannot reload module {self.name}: {type(error).__name__}: {error} "
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
        undecorated: Dict[str, Undecorated],
    ) -> None:
        live = self.module.__dict__
        old_map, new_map = maps if maps is not None else (None, None)
        keep = name_list(namespace, KEEP_LIST) | frozenset(self.options.get("keep", ()))
        refresh = name_list(namespace, REFRESH_LIST) | frozenset(self.options.get("refresh", ()))

        module_policy = DataPolicy(keep, refresh, "", old_map, new_map)
        try:
            with Transaction() as tx:
                reconciler = Reconciler(tx, self.name, maps)
                change = reconcile_namespace(
                    reconciler,
                    live,
                    namespace,
                    stored_names(code),
                    None if old_map is None else functools.partial(old_map.binds, ""),
                    module_policy,
                    created,
                    [e for e in undecorated.values() if e.new_function is not None],
                    self.names_before_run,
                    functools.partial(_mentions, text),
                    self.report,
                )
                for name, value in change.values.items():
                    tx.set_item(live, name, value)
                for name in change.removed:
                    tx.del_item(live, name)
                if self.options.get("rebind", True):
                    self.report.rebound.extend(rebind_importers(tx, self.module, change.replaced, live))
                    repoint_registries(tx, self.module, live, reconciler.replaced)
                self.report.updated.extend(reconciler.updated)
                self.report.added.extend(reconciler.added)
                self.report.kept.extend(reconciler.kept_data)
                self.report.refreshed.extend(reconciler.refreshed_data)
                self.report.warnings.extend(reconciler.warnings)
        except ReloadError as error:
            if error.path is None:
                raise self._locate(error, text) from error.__cause__
            raise
        except Exception as error:
            raise ReloadError(
                f"cannot reload module {self.name} ({self.path}): reconciling failed: {type(error).__name__}: {error}",
                name=self.name,
                path=self.path,
            ) from error


    def _locate(self, error: ReloadError, text: str) -> ReloadError:
        """The same error, with this module's file and the line of the definition it names."""
        lineno = None
        label = getattr(error, "label", None)
        if label:
            lineno = map_source(text).first_line("", label.split(".")[0])
        message = f"{error.args[0] if error.args else error} ({self.path}, line {lineno})"
        return ReloadError(message, name=self.name, path=self.path, lineno=lineno)


_MAIN_GUARD = re.compile(r"""if\s*\(?\s*(__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__)""")


def _without_main_guard(lines: List[str], source: SourceMap) -> str:
    """The main script's source with its ``if __name__ == "__main__":`` blocks blanked.

    Reloading the script that runs the program must not start the program a
    second time; its definitions are reloaded, its running main loop goes on.
    ``lines`` is changed in place (line numbers are kept).
    """
    for statement in source.statements(""):
        if _MAIN_GUARD.match(statement.text):
            for number in range(statement.first_line, statement.last_line + 1):
                lines[number - 1] = ""
    return "\n".join(lines)


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
    name = getattr(module, "__name__", "?")
    spec = getattr(module, "__spec__", None)
    path = getattr(spec, "origin", None) if spec is not None else None
    if not path or not isinstance(path, str) or path in ("built-in", "frozen"):
        path = getattr(module, "__file__", None)
    if path and path.endswith((".pyc", ".pyo")):
        try:
            path = importlib.util.source_from_cache(path)
        except ValueError:
            pass
    if not path or not path.endswith(".py"):
        raise ReloadError(f"module {name} has no Python source file to reload (found {path!r})", name=name, path=path)
    return path
