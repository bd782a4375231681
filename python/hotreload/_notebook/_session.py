"""One notebook's reloading: what happens before and after each cell.

The story of a cell:

1. before it runs, :class:`ChangeDetector` says which loaded modules' files
   changed since they were loaded or last reloaded (from file events, no
   ``stat`` per module);
2. those modules are reloaded with :func:`hotreload.reload`, a module before
   those that import from it; each reload is transactional, so a refused one
   prints one ``file:line: message`` line and leaves the module on its last
   good code, and the cell runs anyway;
3. after each reload, the notebook's ``from m import ...`` names are brought in
   step (:class:`ImportTracker`); a module that failed because of a module it
   imports from is retried once that one reloads;
4. after the cell, its ``from ... import`` statements are noted.

Nothing here knows IPython: the extension (``_ipython.py``) calls
:meth:`NotebookSession.before_cell` and :meth:`NotebookSession.after_cell`.
"""

from __future__ import annotations

import collections
import logging
import sys
import time
import types
from typing import Any, Deque, Dict, List, MutableMapping, Optional, Tuple

from hotreload._errors import ReloadError
from hotreload._finder import ReloadFinder, install, uninstall
from hotreload._notebook._changes import ChangeDetector
from hotreload._notebook._imports import ImportTracker
from hotreload._reload import reload
from hotreload._report import ReloadReport
from hotreload._watch import _imports_any, dependency_order, describe_error

logger = logging.getLogger("hotreload")

HISTORY = 20
"""How many reloads ``%hotreload status`` remembers."""


class Outcome:
    """What one round of reloading did."""

    def __init__(self) -> None:
        self.reports: List[ReloadReport] = []
        self.errors: List[ReloadError] = []
        self.followed: List[str] = []
        """Notebook names set to a reloaded module's new value."""

    def __bool__(self) -> bool:
        return bool(self.reports or self.errors)

    def lines(self) -> List[str]:
        lines = [str(report).splitlines()[0] for report in self.reports]
        lines.extend(describe_error(error) for error in self.errors)
        if self.followed:
            lines.append(f"notebook names updated: {', '.join(self.followed)}")
        return lines


class NotebookSession:
    """Reloads changed modules before each cell of one notebook (one namespace)."""

    def __init__(self, namespace: MutableMapping[str, Any]) -> None:
        self.enabled = True
        # From here on every import records its source, so its reloads run only what changed.
        self._installed_finder = not any(isinstance(finder, ReloadFinder) for finder in sys.meta_path)
        install()
        self.detector = ChangeDetector()
        self.imports = ImportTracker(namespace)
        self.history: Deque[Tuple[float, str]] = collections.deque(maxlen=HISTORY)
        # Modules whose last reload was refused, retried when a module they import from reloads.
        self._failed: Dict[str, types.ModuleType] = {}
        self.closed = False

    def close(self) -> None:
        """Stops watching; takes the import finder away again if this session put it there."""
        if self.closed:
            return
        self.closed = True
        self.detector.close()
        if self._installed_finder:
            uninstall()

    # -- the cell hooks -----------------------------------------------------------

    def before_cell(self) -> Outcome:
        """Reloads what changed, if reloading is on; refusals go to stderr, one line each."""
        if not self.enabled or self.closed:
            return Outcome()
        outcome = self.reload_changed()
        for error in outcome.errors:
            print(describe_error(error), file=sys.stderr)
        return outcome

    def after_cell(self, source: Optional[str]) -> None:
        """Notes the ``from ... import`` statements of the cell that just ran."""
        if not self.closed:
            self.imports.note_cell(source)

    # -- reloading ----------------------------------------------------------------

    def reload_changed(self) -> Outcome:
        """Reloads every module whose file changed, a module before those that import from it."""
        outcome = Outcome()
        changed = self.detector.changed()
        if not changed:
            return outcome
        for module in dependency_order(list(changed.values())):
            self._reload_one(module, outcome)
        reloaded = {report.module: sys.modules[report.module] for report in outcome.reports if report.module in sys.modules}
        retry = [
            module
            for name, module in list(self._failed.items())
            if name not in changed and sys.modules.get(name) is module and _imports_any(module, reloaded)
        ]
        for module in dependency_order(retry):
            self._reload_one(module, outcome)
        return outcome

    def _reload_one(self, module: types.ModuleType, outcome: Outcome) -> None:
        name = module.__name__
        before = self.imports.before_reload(module)
        try:
            report = reload(module)
        except ReloadError as error:
            self._refused(name, module, error, outcome)
            return
        except Exception as error:  # a bug, not the user's code: the notebook must go on
            wrapped = ReloadError(
                f"cannot reload module {name} ({getattr(module, '__file__', None)}): {type(error).__name__}: {error}",
                name=name,
                path=getattr(module, "__file__", None),
            )
            wrapped.__cause__ = error
            logger.exception("hotreload could not reload %s", name)
            self._refused(name, module, wrapped, outcome)
            return
        self._failed.pop(name, None)
        outcome.reports.append(report)
        outcome.followed.extend(self.imports.after_reload(module, before))
        self.history.append((time.time(), str(report).splitlines()[0]))

    def _refused(self, name: str, module: types.ModuleType, error: ReloadError, outcome: Outcome) -> None:
        self._failed[name] = module
        outcome.errors.append(error)
        self.history.append((time.time(), f"refused: {describe_error(error)}"))

    # -- status -------------------------------------------------------------------

    def status(self) -> str:
        """What ``%hotreload status`` prints."""
        state = "on" if self.enabled else "off"
        directories = self.detector.directories
        lines = [
            f"hotreload is {state}: watching {self.detector.module_count} module(s) "
            f"in {len(directories)} director{'y' if len(directories) == 1 else 'ies'}"
        ]
        if self._failed:
            lines.append(f"on its last good code (reload refused): {', '.join(sorted(self._failed))}")
        if not self.history:
            lines.append("no reloads yet")
        else:
            lines.append("last reloads:")
            for when, text in self.history:
                lines.append(f"  {time.strftime('%H:%M:%S', time.localtime(when))}  {text}")
        return "\n".join(lines)
