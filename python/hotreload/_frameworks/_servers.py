"""Development servers under ``python -m hotreload run``: their own reloaders off.

Flask's (werkzeug's), uvicorn's and Django's reloaders restart the process on
every save, which throws away the state hotreload exists to keep. ``run``
turns them off: on the command line it starts (``flask run --no-reload``,
``uvicorn`` without ``--reload``, ``manage.py runserver --noreload``) and, for
servers started from the program itself (``app.run(debug=True)``,
``uvicorn.run(..., reload=True)``), by patching the server's entry point when
its module is first imported. Nothing here imports a framework.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
import threading
import types
from typing import Any, Callable, Dict, List, Optional, Sequence

_UVICORN_RELOAD_OPTIONS = ("--reload-dir", "--reload-include", "--reload-exclude", "--reload-delay")


def program_arguments(module: Optional[str], target: str, args: List[str]) -> List[str]:
    """The program's arguments with the server's own reloader turned off."""
    if module == "flask" and "run" in args:
        at = args.index("run")
        rest = [arg for arg in args[at + 1 :] if arg not in ("--reload", "--no-reload")]
        return [*args[: at + 1], "--no-reload", *rest]
    if module == "uvicorn":
        return _without_uvicorn_reload(args)
    is_django = module == "django" or (module is None and os.path.basename(target) == "manage.py")
    if is_django and "runserver" in args and "--noreload" not in args:
        return [*args, "--noreload"]
    return args


def _without_uvicorn_reload(args: List[str]) -> List[str]:
    kept: List[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--reload":
            continue
        if arg in _UVICORN_RELOAD_OPTIONS:
            skip = True
            continue
        if arg.startswith(tuple(option + "=" for option in _UVICORN_RELOAD_OPTIONS)):
            continue
        kept.append(arg)
    return kept


def is_installed_module(name: str) -> bool:
    """True for a module of an installed package (``flask``, ``uvicorn``): not the program's code."""
    spec = importlib.util.find_spec(name.partition(".")[0])
    origin = getattr(spec, "origin", None) or ""
    installed = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
    return bool(origin) and (origin.startswith(tuple(installed)) or "site-packages" in origin)


# -- reloaders started from inside the program ------------------------------------------


def _patch_werkzeug(module: Any) -> None:
    original = module.run_simple

    def run_simple(*args: Any, **kwargs: Any) -> Any:
        kwargs["use_reloader"] = False
        return original(*args, **kwargs)

    module.run_simple = run_simple


def _patch_uvicorn(module: Any) -> None:
    original = module.run

    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs["reload"] = False
        return original(*args, **kwargs)

    module.run = run


_PATCHES: Dict[str, Callable[[types.ModuleType], None]] = {
    "werkzeug.serving": _patch_werkzeug,
    "uvicorn.main": _patch_uvicorn,
}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: Callable[[types.ModuleType], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ReloaderSwitch(importlib.abc.MetaPathFinder):
    """Patches a development server's entry point as its module is imported."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        patch = _PATCHES.get(fullname)
        if patch is None or target is not None or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname  # other finders that ask the whole meta path (hotreload's own) skip this one
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            for finder in sys.meta_path:
                if spec is not None:
                    break
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(fullname, path, target)
        finally:
            self._busy.name = None
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


def turn_off_reloaders() -> ReloaderSwitch:
    """Installs the import-time patches (and applies them to servers already imported); once."""
    for finder in sys.meta_path:
        if isinstance(finder, ReloaderSwitch):
            return finder
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    switch = ReloaderSwitch()
    sys.meta_path.insert(0, switch)
    return switch
