"""What hotreload knows about third-party frameworks, behind a few narrow hooks.

The core stays framework-blind: it calls the hooks below at fixed points of a
reload, and each framework's knowledge lives in an adapter module of its own
(``_pydantic``, ``_sqlalchemy``, ``_flask``, ...). An adapter is imported only
once its framework is already in ``sys.modules``: a program that does not use
a framework never pays for it, and hotreload never imports a framework itself.

Hooks, in the order a reload calls them (every one is optional in an adapter):

``executing(module)``
    A context manager around the run of the module's new source (mapping a
    re-run SQLAlchemy class into a throwaway registry, letting Flask accept
    routes after its first request, ...). It may yield an undo: called if the
    reload fails after the run, it takes out what the run registered on live
    objects (routes, admin registrations) that the transaction cannot see.
``preflight(old, new, label, module_name)``
    Before anything changes: raise :class:`ReloadError` (naming the class, the
    attribute and what to do) if ``new`` cannot be folded into ``old``.
``managed_names(old, new)``
    Attributes of the class that the framework generated and the adapter looks
    after: the core neither copies nor removes them.
``replacing_data(old, new, name, module_name, tx)``
    A module-level name is about to take ``new`` (its statement changed) in
    place of ``old``: return ``old`` to keep the live object, brought up to
    date through ``tx`` (an app the running server holds, given the edited
    app's routes), or raise :class:`ReloadError` where that cannot be done;
    return ``new`` otherwise.
``after_class_update(old, new, tx)``
    ``new`` was folded into ``old``: rebuild what the framework derived from the
    class (validators, schemas), every change through ``tx``.
``after_reload(module, tx, gone)``
    The module's dict holds the reload's result and the transaction is still
    open: rebuild what depends on many classes or on the module (dependent
    models, route tables, URL caches, OpenAPI schemas); ``gone`` holds the
    objects whose names the reload removed (their routes and hooks go too).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import types
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional

# Adapter module (in this package) -> the module whose presence in sys.modules loads it.
_TRIGGERS = (
    ("_pydantic", "pydantic"),
    ("_sqlalchemy", "sqlalchemy.orm"),
    ("_flask", "flask"),
    ("_starlette", "starlette.routing"),
    ("_django", "django.apps"),
    ("_click", "click.core"),
    ("_attrs", "attr"),
)

logger = logging.getLogger("hotreload")

_loaded: Dict[str, types.ModuleType] = {}


def adapters() -> List[types.ModuleType]:
    """The adapters of the frameworks this process has imported, in a fixed order."""
    found = []
    for adapter, trigger in _TRIGGERS:
        module = _loaded.get(adapter)
        if module is None:
            if trigger not in sys.modules:
                continue
            module = _loaded[adapter] = importlib.import_module(f"{__name__}.{adapter}")
        found.append(module)
    return found


def _hooks(name: str) -> List[Callable[..., Any]]:
    return [hook for hook in (getattr(adapter, name, None) for adapter in adapters()) if hook is not None]


@contextlib.contextmanager
def executing(module: types.ModuleType) -> Iterator[Callable[[], None]]:
    """Wraps the run of ``module``'s new source in every adapter's ``executing``; yields
    the undo of what the run registered with the frameworks (newest first)."""
    hooks = _hooks("executing")
    if not hooks:
        yield _nothing
        return
    with contextlib.ExitStack() as stack:
        undos = [undo for undo in (stack.enter_context(hook(module)) for hook in hooks) if callable(undo)]
        yield lambda: _undo_all(undos)


def _nothing() -> None:
    pass


def _undo_all(undos: List[Callable[[], None]]) -> None:
    for undo in reversed(undos):
        try:
            undo()
        except Exception:  # pragma: no cover - an undo should never fail; the others still run
            logger.exception("hotreload: undoing what a failed reload registered with a framework failed")


def preflight(old: type, new: type, label: str, module_name: str) -> None:
    """Raises ReloadError if a framework cannot take ``new`` in place of ``old``."""
    for hook in _hooks("preflight"):
        hook(old, new, label, module_name)


def managed_names(old: type, new: type) -> FrozenSet[str]:
    """Class attributes the frameworks look after themselves (the core leaves them alone)."""
    names: FrozenSet[str] = frozenset()
    for hook in _hooks("managed_names"):
        names = names | hook(old, new)
    return names


def replacing_data(old: Any, new: Any, name: str, module_name: str, tx: Any) -> Any:
    """What ``name`` holds after its edited statement made ``new`` in place of ``old``:
    ``new``, or ``old`` where a framework keeps the live object (ReloadError if it cannot)."""
    for hook in _hooks("replacing_data"):
        kept = hook(old, new, name, module_name, tx)
        if kept is not new:
            return kept
    return new


def after_class_update(old: type, new: type, tx: Any) -> None:
    """``new`` was folded into ``old``: frameworks rebuild what they derived from it."""
    for hook in _hooks("after_class_update"):
        hook(old, new, tx)


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    """The module holds the reload's result (transaction still open): rebuild what depends on it,
    and take out what frameworks hold of the objects in ``gone`` (removed from the module)."""
    for hook in _hooks("after_reload"):
        hook(module, tx, gone)


def live_class(module: Optional[types.ModuleType], qualname: str) -> Optional[type]:
    """The class that stands at ``qualname`` in ``module`` (nested classes included), if any."""
    value: Any = module
    for part in qualname.split("."):
        if value is None or part == "<locals>":
            return None
        namespace = getattr(value, "__dict__", None)
        value = namespace.get(part) if namespace is not None else None
    return value if isinstance(value, type) else None
