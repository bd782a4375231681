"""``ReloadFinder``: hotreload's place in the import system.

Installed at the front of ``sys.meta_path`` it does two things:

- on a first import, it lets the other finders find the module and records the
  source file the module is about to be loaded from (so a later reload knows
  which statements the user edited); the spec and loader are left untouched;
- on ``importlib.reload(module)`` (which asks the finders again, passing the
  live module as ``target``), it answers with a spec whose loader,
  :class:`ReloadLoader`, performs :func:`hotreload.reload`: in place and
  transactional instead of a plain re-execution.

``import hotreload`` alone changes nothing; :func:`install` and
:func:`uninstall` add and remove the finder and nothing else.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from typing import Any, Dict, Optional, Sequence

from hotreload import _sources

_install_lock = threading.Lock()


class ReloadFinder(importlib.abc.MetaPathFinder):
    """Meta path finder that records module sources and turns ``importlib.reload`` into
    :func:`hotreload.reload`."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[types.ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if target is not None and sys.modules.get(fullname) is target:
            return self._reload_spec(target)
        # Every import passes here once the finder is installed: keep it lean.
        for finder in sys.meta_path:
            if finder is self:
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except AttributeError:
                if hasattr(finder, "find_spec"):
                    raise
                continue
            if spec is not None:
                origin = spec.origin
                if type(origin) is str and origin.endswith(".py") and not _sources.record_file(fullname, origin):
                    # No file at that path: a zip archive's member, say; its loader has the text.
                    _sources.record_from_loader(fullname, spec.loader)
                return spec
        return None

    def _reload_spec(self, module: types.ModuleType) -> Optional[importlib.machinery.ModuleSpec]:
        original = getattr(module, "__spec__", None)
        origin = getattr(original, "origin", None) or getattr(module, "__file__", None)
        if not isinstance(origin, str) or not origin.endswith((".py", ".pyc")):
            return None  # not a source module: let the import system reload it its way
        spec = importlib.machinery.ModuleSpec(
            module.__name__,
            ReloadLoader(module),
            origin=origin,
            loader_state=getattr(original, "loader_state", None),
            is_package=hasattr(module, "__path__"),
        )
        if original is not None:
            spec.submodule_search_locations = original.submodule_search_locations
            spec.cached = original.cached
            spec.has_location = original.has_location
        return spec

    def invalidate_caches(self) -> None:
        """Nothing is cached here."""

    def __repr__(self) -> str:
        return "<hotreload.ReloadFinder>"


class ReloadLoader(importlib.abc.Loader):
    """Loader used only by ``importlib.reload``: reloads the live module in place."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        # importlib.reload overwrites these with our spec before calling
        # exec_module; they are put back so the module looks as it did.
        self._saved: Dict[str, Any] = {name: module.__dict__[name] for name in ("__spec__", "__loader__") if name in module.__dict__}

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        from hotreload._reload import reload

        module.__dict__.update(self._saved)
        reload(module)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_saved":
            raise AttributeError(name)
        # get_source, get_resource_reader, ... of the module's own loader.
        return getattr(self._saved.get("__loader__"), name)


def _installed() -> Optional[ReloadFinder]:
    for finder in sys.meta_path:
        if isinstance(finder, ReloadFinder):
            return finder
    return None


def install() -> ReloadFinder:
    """Puts :class:`ReloadFinder` first on ``sys.meta_path`` (once) and returns it.

    From then on the source of every imported module is recorded, and a plain
    ``importlib.reload(module)`` performs :func:`hotreload.reload`.
    """
    with _install_lock:
        finder = _installed()
        if finder is not None:
            if sys.meta_path[0] is not finder:
                sys.meta_path.remove(finder)
                sys.meta_path.insert(0, finder)
            return finder
        finder = ReloadFinder()
        sys.meta_path.insert(0, finder)
        return finder


def uninstall() -> None:
    """Takes :class:`ReloadFinder` off ``sys.meta_path``; the import system is as before ``install()``."""
    with _install_lock:
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, ReloadFinder)]
