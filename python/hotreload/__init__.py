"""hotreload: update the code of a running CPython process in place.

Every reference the program already holds (module globals, ``from x import f``
copies, callbacks in registries, bound methods, decorator closures, live
instances) runs the new code, while the program's live state survives.

- :func:`update_function` makes one function behave as another, in place.
- :func:`update_class` reconciles one class into another, in place.
- :func:`reload` re-executes a module's source into the same module object,
  transactionally; :func:`install` makes ``importlib.reload`` do the same.
- :func:`replace_func` and :func:`apply_hotfix` patch a live process from a script.
- :func:`watch` reloads modules as their files change.
- ``%load_ext hotreload`` in IPython or Jupyter reloads changed modules before each cell.
- :func:`listen` lets the same user's shell send hotfixes and reloads
  (``python -m hotreload apply PID fix.py``); :func:`replay` re-applies a journal.

Errors a user can cause raise :class:`ReloadError` (or ``TypeError`` for bad
arguments). Everything is logged under the logger ``hotreload``.
"""

from hotreload._errors import ReloadError
from hotreload._finder import ReloadFinder, install, uninstall
from hotreload._hotfix import replace_func
from hotreload._hotreload import update_function
from hotreload._journal import apply_hotfix, replay
from hotreload._listen import Listener, listen
from hotreload._reconcile import update_class
from hotreload._reload import reload
from hotreload._report import HotfixReport, ReloadReport
from hotreload._watch import Watcher, watch

__version__ = "0.1.0"


def load_ipython_extension(shell: object) -> None:
    """Called by IPython for ``%load_ext hotreload``: reload changed modules before each cell."""
    from hotreload._notebook._ipython import load  # imports IPython: only when IPython asks

    load(shell)


def unload_ipython_extension(shell: object) -> None:
    """Called by IPython for ``%unload_ext hotreload``."""
    from hotreload._notebook._ipython import unload

    unload(shell)


__all__ = [
    "HotfixReport",
    "Listener",
    "ReloadError",
    "ReloadFinder",
    "ReloadReport",
    "Watcher",
    "apply_hotfix",
    "install",
    "load_ipython_extension",
    "listen",
    "reload",
    "replace_func",
    "replay",
    "uninstall",
    "unload_ipython_extension",
    "update_class",
    "update_function",
    "watch",
]
