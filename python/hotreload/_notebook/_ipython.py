"""The IPython extension: ``%load_ext hotreload`` and the ``%hotreload`` magic.

Loading the extension starts a :class:`NotebookSession` on the shell's user
namespace and hooks it to two of IPython's events: ``pre_run_cell`` (reload
what changed) and ``post_run_cell`` (note the cell's ``from`` imports).
``%hotreload on|off|now|status`` steers it; ``%unload_ext hotreload`` undoes
everything loading did. This is the only module of hotreload that imports
IPython, and only when IPython loads the extension.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Optional

from IPython.core.error import UsageError

from hotreload._notebook._session import NotebookSession

logger = logging.getLogger("hotreload")

USAGE = "usage: %hotreload on|off|now|status"

# The running extension of each shell (a shell object is not hashable in every version).
_sessions: "weakref.WeakValueDictionary[int, _Extension]" = weakref.WeakValueDictionary()


class _Extension:
    """The session of one shell, with the event callbacks and the magic bound to it."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session = NotebookSession(shell.user_ns)
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        shell.register_magic_function(self.magic, magic_kind="line", magic_name="hotreload")

    def close(self) -> None:
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass  # already unregistered by the user
        magics = getattr(getattr(self.shell, "magics_manager", None), "magics", None)
        if isinstance(magics, dict) and isinstance(magics.get("line"), dict):
            magics["line"].pop("hotreload", None)
        self.session.close()

    # IPython passes an ExecutionInfo / ExecutionResult; older versions pass nothing.
    def pre_run_cell(self, info: Any = None) -> None:
        # Embedding code may give the shell another namespace dict; follow it.
        if self.session.imports.namespace is not self.shell.user_ns:
            self.session.imports.namespace = self.shell.user_ns
        try:
            self.session.before_cell()
        except Exception:
            # A bug in the reloader must never keep the user's cell from running.
            logger.exception("hotreload could not check for changed modules")

    def post_run_cell(self, result: Any = None) -> None:
        try:
            self.session.after_cell(self._cell_source(result))
        except Exception:
            logger.exception("hotreload could not note the cell's imports")

    def _cell_source(self, result: Any) -> Optional[str]:
        info = getattr(result, "info", None)
        source = getattr(info, "transformed_cell", None)
        if source is None:
            raw = getattr(info, "raw_cell", None)
            if not isinstance(raw, str) or "import" not in raw:
                return None
            source = self.shell.transform_cell(raw)  # IPython < 8.? has no transformed_cell
        return source if isinstance(source, str) else None

    def magic(self, line: str) -> None:
        """``%hotreload on|off|now|status``: reload changed modules before each cell (on, the
        default), stop doing so (off), reload changed modules now, or show the last reloads."""
        command = line.strip().lower() or "status"
        if command == "on":
            self.session.enabled = True
            print("hotreload is on: changed modules reload before each cell")
        elif command == "off":
            self.session.enabled = False
            print("hotreload is off: %hotreload now reloads, %hotreload on turns it back on")
        elif command == "now":
            outcome = self.session.reload_changed()
            print("\n".join(outcome.lines()) if outcome else "no module changed")
        elif command == "status":
            print(self.session.status())
        else:
            raise UsageError(f"unknown argument {line.strip()!r}; {USAGE}")


def load(shell: Any) -> None:
    """``%load_ext hotreload``: start reloading changed modules before each cell."""
    if _sessions.get(id(shell)) is not None:
        return
    extension = _Extension(shell)
    _sessions[id(shell)] = extension
    # The shell keeps the extension alive as long as its callbacks are registered.
    shell._hotreload_extension = extension
    loaded = getattr(getattr(shell, "extension_manager", None), "loaded", ())
    if "autoreload" in loaded or "IPython.extensions.autoreload" in loaded:
        print("hotreload: %autoreload is loaded too; turn it off with %autoreload 0 so that one reloader runs")


def unload(shell: Any) -> None:
    """``%unload_ext hotreload``: stop watching and unhook everything."""
    extension = _sessions.pop(id(shell), None)
    if extension is None:
        return
    extension.close()
    try:
        del shell._hotreload_extension
    except AttributeError:
        pass
