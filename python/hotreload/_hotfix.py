"""Hotfix scripts: ``replace_func`` and transactional ``apply_hotfix``.

An operator fixes a production process by shipping a small script::

    import hotreload, game

    @hotreload.replace_func(game.Player)
    def take_damage(self, amount):
        self.hp -= min(amount, 50)

and running ``hotreload.apply_hotfix("fix_damage.py")`` inside the process (from
a console or an admin command). ``replace_func`` updates the
live function in place, so every reference the program already holds (bound
methods, handler tables, timers, callbacks) runs the new code. The patched
function runs with the *script's* globals: a hotfix imports what it uses.

``apply_hotfix`` is all-or-nothing: every change the script makes through
``replace_func`` goes into one :class:`~hotreload._transaction.Transaction`, and
if the script fails half-way the changes already made are undone, newest first,
before :class:`ReloadError` is raised.

Each single change is atomic for other threads (the Rust swap). A hotfix as a
whole is not: while it runs, another thread may call one function already
patched and another not yet patched. Hotfixes are serialized by a lock, so two
of them never interleave, and a rollback never undoes someone else's change.
"""

from __future__ import annotations

import builtins
import contextvars
import hashlib
import io
import linecache
import logging
import os
import time
import traceback
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, Union

from hotreload._errors import ReloadError
from hotreload._lock import change_lock
from hotreload._report import HotfixReport
from hotreload._sources import read_regular_file
from hotreload._transaction import Transaction

__all__ = ["apply_hotfix", "replace_func"]

logger = logging.getLogger("hotreload")

Target = Union[types.ModuleType, type]
PathOrSource = Union[str, "os.PathLike[str]"]

# The wrappers replace_func sees through, and the attribute that holds their function.
_WRAPPERS: Dict[type, str] = {staticmethod: "__func__", classmethod: "__func__", property: "fget"}

_MISSING: Any = object()

# Serializes hotfixes and standalone replace_func calls with reloads and remote work
# (the process's one change lock). Reentrant, because a
# hotfix script calls replace_func (and may apply another hotfix) while held.
_lock = change_lock


@dataclass
class _Run:
    """One apply_hotfix in progress: its undo log and what it changed so far."""

    transaction: Transaction
    report: HotfixReport


# The hotfix whose script is running in this thread (None outside apply_hotfix).
# A context variable, not a global, so a replace_func called by another thread
# meanwhile is not swept into (or rolled back with) this hotfix.
_current_run: contextvars.ContextVar[Optional[_Run]] = contextvars.ContextVar("hotreload_hotfix_run", default=None)


# -- replace_func ---------------------------------------------------------------


def replace_func(target: Target, name: Optional[str] = None) -> Callable[[Any], types.FunctionType]:
    """Decorator: make ``target.<name>`` run the decorated function's code.

    ``target`` is a module or a class; ``name`` defaults to the decorated
    function's ``__name__``. If ``target`` itself defines ``name`` as a function,
    or as a ``classmethod``, ``staticmethod`` or ``property`` around one, that
    function is updated in place with ``update_function``: its identity is kept,
    so references captured earlier run the new code. Its attributes are kept
    unless the new function sets them. Otherwise the decorated function is set
    on ``target`` (an inherited method is overridden on ``target``, not changed
    on the base class).

    The decorated object may itself be a ``classmethod``, ``staticmethod`` or
    ``property`` (getter only); it must then match what ``target`` holds.

    Returns the function that now stands at ``target.<name>`` (the one inside
    the wrapper, for wrapped attributes). Inside :func:`apply_hotfix` the change
    is recorded and undone if the script fails; outside, it applies at once.

    Raises ``TypeError``, changing nothing, if ``target`` is not a module or a
    class or ``target.<name>`` holds something that is not a Python function.
    """
    if not isinstance(target, (types.ModuleType, type)):
        hint = " (write @replace_func(target), not @replace_func)" if callable(target) else ""
        raise TypeError(f"replace_func() target must be a module or a class, not {type(target).__name__}{hint}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"replace_func() name must be a str, not {type(name).__name__}")
    if name is not None and not name.isidentifier():
        raise TypeError(f"replace_func() name must be an identifier, not {name!r}")

    def decorator(new: Any) -> types.FunctionType:
        patch = _Patch.of(new)
        attribute = patch.function.__name__ if name is None else name
        if not attribute.isidentifier():
            # A lambda is named "<lambda>": never an attribute anyone meant to set.
            raise TypeError(f"replace_func() needs name= to place {attribute!r}")
        if patch.kind is not None and isinstance(target, types.ModuleType):
            raise TypeError(
                f"cannot set {_describe(target, attribute)} to a {patch.kind}: "
                "classmethod, staticmethod and property only make sense on a class"
            )
        with _lock:
            run = _current_run.get()
            if run is not None:
                return _replace(run.transaction, run.report, target, attribute, patch)
            # Outside a hotfix: one change, applied now, undone if it fails part-way.
            with Transaction() as transaction:
                return _replace(transaction, None, target, attribute, patch)

    return decorator


@dataclass(frozen=True)
class _Patch:
    """What a hotfix decorated: the object as given, its function, its wrapper kind."""

    value: Any
    function: types.FunctionType
    kind: Optional[str]
    """``"classmethod"``, ``"staticmethod"``, ``"property"``, or None for a bare function."""

    @classmethod
    def of(cls, new: Any) -> "_Patch":
        kind, function = _inside(new)
        if not isinstance(function, types.FunctionType):
            raise TypeError(
                "replace_func() decorates a function (or a classmethod, staticmethod or "
                f"property around one), not {type(new).__name__}"
            )
        if isinstance(new, property) and (new.fset is not None or new.fdel is not None):
            raise TypeError("replace_func() updates a property's getter only; give it the getter")
        return cls(new, function, kind)


def _replace(
    transaction: Transaction,
    report: Optional[HotfixReport],
    target: Target,
    name: str,
    patch: _Patch,
) -> types.FunctionType:
    """Updates or sets ``target.<name>`` from ``patch``, recording it in ``transaction``."""
    where = _describe(target, name)
    # Only the target's own attribute counts: updating a base class's method
    # in place would change every other subclass too.
    current = target.__dict__.get(name, _MISSING)

    if current is _MISSING:
        _adopt(patch.function, target, name)
        transaction.setattr(target, name, patch.value)
        _note(report, "added", where)
        return patch.function

    old_function, old_kind = _unwrap_existing(current, where)
    if patch.kind is not None and patch.kind != old_kind:
        raise TypeError(f"cannot replace {where}: it is a {old_kind or 'plain function'}, the hotfix gives a {patch.kind}")
    _warn_if_borrowed(old_function, target, where)
    _keep_attributes(old_function, patch.function)
    transaction.update_function(old_function, patch.function)
    _note(report, "replaced", where)
    return old_function


def _unwrap_existing(current: object, where: str) -> Tuple[types.FunctionType, Optional[str]]:
    """The Python function behind an existing attribute, or TypeError saying why not."""
    kind, function = _inside(current)
    if isinstance(function, types.FunctionType):
        return function, kind
    what = type(current).__name__
    if kind is not None:
        what += f" around {type(function).__name__}"
    raise TypeError(
        f"cannot replace {where}: it holds a {what}, not a Python function "
        "(or a classmethod, staticmethod or property getter around one)"
    )


def _inside(obj: object) -> Tuple[Optional[str], object]:
    """The wrapper kind of ``obj`` and what it wraps; ``(None, obj)`` if it is no wrapper."""
    for wrapper, attribute in _WRAPPERS.items():
        if isinstance(obj, wrapper):
            return wrapper.__name__, getattr(obj, attribute)
    return None, obj


def _warn_if_borrowed(function: types.FunctionType, target: Target, where: str) -> None:
    """Warns when ``target`` only borrows the function (``from posixpath import join``).

    The update is in place, so it changes the function for its home module and
    every other user too, which is rarely what a fix for one module intends.
    """
    home_module = target.__name__ if isinstance(target, types.ModuleType) else target.__module__
    if function.__module__ != home_module:
        logger.warning(
            "replace_func: %s is %s.%s, defined in another module; it is updated in place for every module that uses it",
            where,
            function.__module__,
            function.__qualname__,
        )


def _keep_attributes(old: types.FunctionType, new: types.FunctionType) -> None:
    """Lets ``old`` keep attributes that decorators and registries put on it.

    ``update_function`` gives ``old`` the ``__dict__`` of ``new``, which in a
    hotfix is usually empty; a command table's marker (``f.command = "heal"``)
    must survive a fix of the function's body. Dunder entries (``__wrapped__``)
    describe the old code, not the program's bookkeeping, so they are not kept.
    ``new`` belongs to the script, so it is the one changed; ``old``'s own dict is
    restored by any rollback.
    """
    for key, value in old.__dict__.items():
        if not (key.startswith("__") and key.endswith("__")):
            new.__dict__.setdefault(key, value)


def _adopt(function: types.FunctionType, target: Target, name: str) -> None:
    """Names a function that is being added after its new home, for repr and pickle."""
    if isinstance(target, type):
        function.__module__ = target.__module__
        function.__qualname__ = f"{target.__qualname__}.{name}"
    else:
        function.__module__ = target.__name__
        function.__qualname__ = name
    function.__name__ = name


def _describe(target: Target, name: str) -> str:
    """``module.name`` or ``module.Class.name``, as reports and errors show it."""
    if isinstance(target, type):
        return f"{target.__module__}.{target.__qualname__}.{name}"
    return f"{target.__name__}.{name}"


def _note(report: Optional[HotfixReport], action: str, where: str) -> None:
    """Records one change in the hotfix report (or logs it, outside a hotfix)."""
    if report is None:
        logger.info("replace_func: %s %s", action, where)
        return
    logger.debug("hotfix %s: %s %s", report.name, action, where)
    # A name first added and then replaced by the same script was added.
    if action == "replaced" and where in report.added:
        return
    names = report.added if action == "added" else report.replaced
    if where not in names:
        names.append(where)


# -- apply_hotfix ------------------------------------------------------------------


@dataclass(frozen=True)
class _Script:
    """A hotfix ready to compile: its ``__name__``, the filename tracebacks show, its text."""

    name: str
    filename: str
    source: Union[str, bytes]
    is_file: bool


def apply_hotfix(path_or_source: PathOrSource) -> HotfixReport:
    """Compiles and runs a hotfix script, transactionally; returns what it changed.

    ``path_or_source`` is a path (``str`` or ``os.PathLike``) or the script's
    source text. A ``str`` is a path if it is one line and names an existing
    file or ends in ``.py``; anything else is source. The script runs in a fresh
    namespace whose ``__name__`` is ``hotfix_<file stem>``, or for source text
    ``hotfix_<first 8 hex digits of the text's SHA-1>`` (``hotfix_3f2a9c1b``).
    Source text is registered with :mod:`linecache` under a filename like
    ``<hotfix-3f2a9c1b04de>`` (the same digest, longer), so tracebacks show its lines.

    If the file cannot be read, the script does not compile, or running it
    raises, every change it made through :func:`replace_func` is undone (newest
    first) and :class:`ReloadError` is raised, naming the file and line, with
    the script's error as ``__cause__`` (also for ``SystemExit`` and
    ``GeneratorExit``). Only ``KeyboardInterrupt`` is re-raised as it is, after
    the rollback.

    Applying the same hotfix again updates the same functions again: harmless.
    """
    started = time.perf_counter()
    script = _load(path_or_source)
    with _lock:
        report = _run(script)
    report.duration = time.perf_counter() - started
    logger.info("%s (%s)", report, script.filename)
    return report


def _run(script: _Script) -> HotfixReport:
    """Runs ``script`` with its replace_func calls recorded; rolls back if it fails."""
    run = _Run(Transaction(), HotfixReport(name=script.name, filename=script.filename))
    enclosing = _current_run.get()
    token = _current_run.set(run)
    try:
        code = compile(script.source, script.filename, "exec", dont_inherit=True)
        exec(code, _namespace(script))
    except KeyboardInterrupt:
        run.transaction.rollback()
        raise
    except BaseException as error:
        # SystemExit and GeneratorExit too: a script ending the process or a
        # generator by mistake must not escape as if it were the caller's.
        run.transaction.rollback()
        failure = _failure(script, run.report, error)
        logger.warning("%s", failure)
        raise failure from error
    finally:
        _current_run.reset(token)

    if enclosing is None:
        run.transaction.commit()
    else:
        # A hotfix applied by another hotfix's script stands or falls with it.
        enclosing.transaction.record(run.transaction.rollback)
    return run.report


def _namespace(script: _Script) -> Dict[str, Any]:
    """The fresh globals a hotfix script runs in."""
    namespace: Dict[str, Any] = {
        "__name__": script.name,
        "__doc__": None,
        "__package__": None,
        "__spec__": None,
        "__loader__": None,
        "__builtins__": builtins,
    }
    if script.is_file:
        namespace["__file__"] = script.filename
    return namespace


def _load(path_or_source: PathOrSource) -> _Script:
    """Tells a path from source text and reads the script, before anything changes."""
    if isinstance(path_or_source, os.PathLike):
        return _read_file(os.fsdecode(os.fspath(path_or_source)))
    if not isinstance(path_or_source, str):
        raise TypeError(f"apply_hotfix() takes a path (str or os.PathLike) or source text, not {type(path_or_source).__name__}")
    if _is_path(path_or_source):
        return _read_file(path_or_source)
    return _from_source(path_or_source)


def _is_path(text: str) -> bool:
    """A one-line str naming a file, or ending in ``.py``, is a path.

    A missing ``fix.py`` must fail as a missing file, never run as the source
    ``fix.py`` (a NameError far from the actual mistake).
    """
    if "\n" in text or "\r" in text:
        return False
    # An existing directory or FIFO is a path too: refused as one, never run as source.
    return text.endswith(".py") or "\0" in text or os.path.exists(text)


def _read_file(path: str) -> _Script:
    stem = os.path.splitext(os.path.basename(path))[0]
    name = f"hotfix_{stem}"
    try:
        path = os.path.abspath(path)
        # Bytes, so that compile() honours a PEP 263 coding declaration. A FIFO
        # or a directory is refused without being opened.
        source = read_regular_file(path)
    except (OSError, ValueError) as error:  # ValueError: a null byte in the path
        reason = (error.strerror if isinstance(error, OSError) else None) or _safe_str(error)
        raise ReloadError(f"cannot read hotfix {_printable(name)} from {_printable(path)}: {reason}", name=name, path=path) from error
    return _Script(name=name, filename=path, source=source, is_file=True)


def _from_source(text: str) -> _Script:
    # Same text, same filename: applying a hotfix again reuses its linecache entry.
    data = text.encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()[:12]
    filename = f"<hotfix-{digest}>"
    lines = io.StringIO(text).readlines()
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # mtime None: linecache.checkcache() keeps entries that have no file behind them.
    linecache.cache[filename] = (len(text), None, lines, filename)
    # Named after the text, as a file's script is after its stem: the report says which fix ran.
    return _Script(name=f"hotfix_{digest[:8]}", filename=filename, source=text, is_file=False)


def _failure(script: _Script, report: HotfixReport, error: BaseException) -> ReloadError:
    """The ReloadError for a hotfix that failed, naming its file and line."""
    lineno = _script_line(script, error)
    where = f"{script.filename}, line {lineno}" if lineno else script.filename
    # A SyntaxError's str() repeats the file and line; its msg alone does not.
    detail = error.msg if isinstance(error, SyntaxError) else _safe_str(error)
    message = f"hotfix {script.name} failed at {where}: {type(error).__name__}: {detail}"
    undone = len(report.replaced) + len(report.added)
    if undone:
        message += f" ({undone} change{'s' if undone != 1 else ''} rolled back)"
    return ReloadError(message, name=script.name, path=script.filename, lineno=lineno)


def _printable(text: str) -> str:
    """``text`` itself, or its repr if it holds characters a log line would hide (a null byte)."""
    return text if text.isprintable() else repr(text)


def _safe_str(error: BaseException) -> str:
    """``str(error)``, or a placeholder if its ``__str__`` raises (it is the user's code)."""
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__} object, str() failed>"


def _script_line(script: _Script, error: BaseException) -> Optional[int]:
    """The line of the script where ``error`` arose: the innermost script frame."""
    null = _null_byte_line(script.source)
    if null is not None and isinstance(error, (SyntaxError, ValueError)):
        return null  # "source code cannot contain null bytes", without a line
    if isinstance(error, SyntaxError) and error.filename == script.filename:
        return error.lineno
    lineno = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == script.filename:
            lineno = line
    return lineno


def _null_byte_line(source: Union[str, bytes]) -> Optional[int]:
    """The line of the first null byte in ``source``, or None."""
    null = "\0" if isinstance(source, str) else b"\0"
    newline = "\n" if isinstance(source, str) else b"\n"
    index = source.find(null)  # type: ignore[arg-type]
    return None if index < 0 else source.count(newline, 0, index) + 1  # type: ignore[arg-type]
