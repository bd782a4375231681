"""pytest plugin: IPython's autoreload test suites, with hotreload's notebook engine.

Loaded by ``scripts/ipython-autoreload-suite`` (``-p _ipython_suite_plugin``)
when ``HOTRELOAD_ENGINE=1``. The suites drive IPython's ``AutoreloadMagics``
through a fake shell (``magic_autoreload``, ``magic_aimport``, ``pre_run_cell``,
``post_execute_hook``); this plugin puts :class:`HotreloadMagics` in its place in
the collected test modules, so every cell the suites run is checked and
reloaded by hotreload's :class:`NotebookSession`, the engine behind
``%load_ext hotreload``. Nothing of IPython's reloader runs then.

The adapter translates IPython's interface, nothing more:

- ``%autoreload 1|2|3`` (or ``explicit|all|complete``) turns hotreload on, ``0|off``
  turns it off, ``""``/``now`` reloads at once (as ``%hotreload now``); flags
  such as ``--print`` are accepted and ignored;
- a refused reload is printed in IPython's words (``[autoreload of NAME failed:
  file:line: message]``), as the suites look for that text;
- ``%aimport NAME`` imports NAME into the namespace; ``%aimport`` alone lists
  "all-except-skipped" (hotreload reloads every changed module of the user's);
  per-module skip lists (``%aimport -NAME``) do not exist in hotreload and raise.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, List, Optional

import pytest
from hotreload._notebook._session import NotebookSession

_live: List["HotreloadMagics"] = []


class HotreloadMagics:
    """Stands where the suites expect ``IPython.extensions.autoreload.AutoreloadMagics``."""

    def __init__(self, shell: Any = None, **_: Any) -> None:
        # The suites build one fake shell per test and never close it: close the last one's session.
        while _live:
            _live.pop().close()
        _live.append(self)
        self.shell = shell
        self.session: Optional[NotebookSession] = None
        self._cell: Optional[str] = None
        # IPython 8's fake shell hands its hooks an empty cell; IPython hands the real one
        # (post_run_cell's result.info), so let the engine see the code the fake shell runs.
        run_code = getattr(shell, "run_code", None)
        if run_code is not None:
            def run_code_seen(code: str) -> Any:
                self._code = code
                return run_code(code)

            shell.run_code = run_code_seen
        self._code: Optional[str] = None

    def close(self) -> None:
        if self.session is not None:
            self.session.close()

    def _session(self) -> NotebookSession:
        if self.session is None:
            self.session = NotebookSession(self.shell.user_ns)
        return self.session

    def autoreload(self, parameter: str = "") -> None:
        words = [word for word in parameter.split() if not word.startswith("-")]
        mode = (words[0] if words else "").lower().rstrip("-")
        if mode in ("", "now"):
            self._report(self._session().reload_changed())
        elif mode in ("0", "off"):
            self._session().enabled = False
        elif mode in ("1", "2", "3", "explicit", "all", "complete"):
            self._session().enabled = True
        else:
            raise ValueError(f'Unrecognized autoreload mode "{mode}".')

    def aimport(self, parameter: str = "", stream: Any = None) -> None:
        names = [name.strip() for name in parameter.split(",") if name.strip()]
        if not names:
            print("Modules to reload:\nall-except-skipped\n\nModules to skip:\n", file=stream or sys.stdout)
            return
        for name in names:
            if name.startswith("-"):
                raise NotImplementedError("hotreload has no per-module skip list (%aimport -NAME)")
            real, _, alias = (part.strip() for part in name.partition(" as "))
            module = importlib.import_module(real)
            top = real.split(".")[0]
            self.shell.push({alias: module} if alias else {top: sys.modules[top]})
        self._session()

    def pre_run_cell(self, info: Any = None) -> None:
        self._cell = getattr(info, "transformed_cell", None) or getattr(info, "raw_cell", None) or self._code
        session = self.session
        if session is not None and session.enabled:
            self._report(session.reload_changed())

    def post_execute_hook(self) -> None:
        if self.session is not None:
            self.session.after_cell(self._cell or self._code)
        self._cell = self._code = None

    def post_run_cell(self, result: Any = None) -> None:
        self.post_execute_hook()

    @staticmethod
    def _report(outcome: Any) -> None:
        from hotreload._watch import describe_error

        for error in outcome.errors:
            print(f"[autoreload of {error.name} failed: {describe_error(error)}]", file=sys.stderr)


def pytest_collection_modifyitems(session: Any, config: Any, items: List[Any]) -> None:
    if os.environ.get("HOTRELOAD_ENGINE") != "1":
        return
    for module in {item.module for item in items if getattr(item, "module", None) is not None}:
        if hasattr(module, "AutoreloadMagics"):
            module.AutoreloadMagics = HotreloadMagics


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    while _live:
        _live.pop().close()
