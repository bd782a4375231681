"""Development loop: reload modules as their files change.

The story of one save:

1. the Rust extension (:class:`hotreload._hotreload.FileWatcher`, built on the
   ``notify`` crate, so inotify on Linux) sees the file events on its own
   thread and queues the changed ``.py`` paths;
2. the watcher thread started here sleeps in ``next_batch()`` with the GIL
   released (no polling: an idle watcher costs no CPU) and wakes once the
   paths have been quiet for the debounce window, so an editor's save (write a
   temporary file then rename, delete then recreate, several writes in a row)
   arrives as one batch;
3. the batch is mapped to loaded modules through ``sys.modules`` (files that
   are not the source of a loaded module are ignored), ordered so that a module
   is reloaded before the modules that import from it, and each module is
   reloaded once with :func:`hotreload.reload`, which is transactional;
4. each outcome goes to ``on_reload`` (a :class:`ReloadReport`) or ``on_error``
   (a :class:`ReloadError`); a failed module keeps its last good code, and is
   retried when a module it imports from changes again. Problems of the watch
   itself (a watched directory deleted and not back, one that cannot be watched
   again) go to ``on_error`` too: a watcher never goes deaf silently.

``stop()`` guarantees that no callback starts after it returns: callbacks are
delivered under a lock, and only while the watcher has not been stopped.
"""

from __future__ import annotations

import atexit
import logging
import os
import site
import sys
import sysconfig
import threading
import time
import types
import weakref
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from hotreload import _sources
from hotreload._errors import ReloadError
from hotreload._frameworks._gevent import NativeThread
from hotreload._hotreload import FileWatcher
from hotreload._reload import reload
from hotreload._report import ReloadReport

logger = logging.getLogger("hotreload")

OnReload = Callable[[ReloadReport], object]
OnError = Callable[[ReloadError], object]
PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_DEBOUNCE = 0.03
"""Seconds of quiet after the last event before a batch is reloaded.

Editors finish a save (temporary file, rename, fsync, backup removal) within a
few milliseconds; 30 ms folds that into one batch yet keeps the save-to-new-code
delay well under what a developer notices."""

# Watchers not yet stopped, so that interpreter exit can stop them while their
# threads can still run (atexit handlers run before daemon threads are frozen).
_running: "weakref.WeakSet[Watcher]" = weakref.WeakSet()

# Code of hotreload itself is never reloaded by a watcher: it is running the reload.
_OWN_DIR = os.path.realpath(os.path.dirname(__file__))


class Watcher:
    """Reloads modules as their source files change; see :func:`watch`.

    A context manager: leaving the ``with`` block calls :meth:`stop`.
    Callbacks run on the watcher's own thread (named ``hotreload-watch``).
    """

    def __init__(
        self,
        paths: Optional[Union[PathLike, Iterable[PathLike]]] = None,
        *,
        on_reload: Optional[OnReload] = None,
        on_error: Optional[OnError] = None,
        debounce: float = DEFAULT_DEBOUNCE,
    ) -> None:
        self._on_reload = on_reload
        self._on_error: OnError = on_error if on_error is not None else log_error
        self._scope = _Scope.of(paths)
        # Modules whose last reload failed, retried when something they import from changes.
        self._failed: Dict[str, types.ModuleType] = {}
        # Held while a callback runs; stop() takes it, so none runs once stop() returns.
        self._delivering = threading.Lock()
        self._stop_requested = False
        self._native = FileWatcher(debounce=debounce)
        try:
            for path, recursive in self._scope.roots():
                self._native.watch(path, recursive)
        except BaseException:
            self._native.stop()
            raise
        _record_sources(self._scope)
        # A thread that still ends cleanly after gevent's monkey.patch_all() (see _gevent.py).
        self._thread = NativeThread(target=self._run, name="hotreload-watch", daemon=True)
        _track(self)
        self._thread.start()
        logger.debug("watching %s", ", ".join(path for path, _ in self._scope.roots()) or "nothing")

    @property
    def paths(self) -> List[str]:
        """The directories and files being watched (resolved)."""
        return self._scope.describe()

    @property
    def debounce(self) -> float:
        """Seconds of quiet after the last file event before reloading."""
        return float(self._native.debounce)

    @property
    def running(self) -> bool:
        """True until :meth:`stop` was called (or the watcher thread ended)."""
        return not self._native.stopped and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stops watching; returns once the watcher thread has ended, or after ``timeout`` seconds.

        A reload already under way is finished first (it is transactional, so
        it is never cut short), but its outcome is not delivered: once
        ``stop()`` has returned, no ``on_reload`` or ``on_error`` callback of
        this watcher runs. Returns True if the watcher thread ended in time (no
        thread, file handle or callback of this watcher remains), False if it
        was still finishing a reload (it ends by itself, calling nothing) or a
        callback was still running when the time was up.

        Idempotent; callable from a callback (which then returns True once no
        other callback can start: the thread ends when the callback returns).
        """
        self._stop_requested = True
        deadline = time.monotonic() + max(0.0, timeout)
        self._native.stop()
        _running.discard(self)
        if self._thread is threading.current_thread():
            return True
        if self._thread.ident is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        # A callback that began before the flag was set may still be running.
        if not self._delivering.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        self._delivering.release()
        return not self._thread.is_alive()

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<hotreload.Watcher {state} on {', '.join(self.paths) or 'nothing'}>"

    # -- the watcher thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._native.next_batch(None)
                if batch is None:
                    return
                paths, errors, rescan = batch
                for message in errors:
                    self._watch_problem(message)
                if rescan:
                    logger.warning("file events were lost (the kernel queue overflowed); save again to reload")
                try:
                    self.apply(paths)
                except Exception:
                    # A bug here must not silently end the development loop.
                    logger.exception("hotreload.watch could not handle changes to %s", ", ".join(paths))
        finally:
            # Release the callbacks (and whatever their closures hold) with the thread.
            self._on_reload = None
            self._on_error = log_error
            _running.discard(self)

    def apply(self, paths: Sequence[str]) -> List[ReloadReport]:
        """Reloads the loaded modules whose sources are among ``paths``, as a save would.

        Modules are reloaded once each, a module before those that import from
        it; outcomes go to the callbacks. Returns the reports of the reloads
        that succeeded. (Called on the watcher thread for each batch.)
        """
        changed = modules_for_files(path for path in paths if self._scope.covers(path))
        retried = [
            module
            for name, module in list(self._failed.items())
            if name not in changed and sys.modules.get(name) is module and _imports_any(module, changed)
        ]
        reports = []
        for module in dependency_order(list(changed.values()) + retried):
            if self._stop_requested:
                break  # stopped: the remaining modules keep their code, as after any stop
            report = self._reload_one(module)
            if report is not None:
                reports.append(report)
        return reports

    def _reload_one(self, module: types.ModuleType) -> Optional[ReloadReport]:
        name = module.__name__
        if name not in self._failed and _sources.is_current(name, source_file(module)):
            return None  # the file holds what was loaded (a touch, a save without edits, a late event)
        try:
            report = reload(module)
        except ReloadError as error:
            self._failed[name] = module
            self._deliver(self._on_error, error)
            return None
        except Exception as error:  # a bug, not the user's code: still keep the loop alive
            self._failed[name] = module
            wrapped = ReloadError(
                f"cannot reload module {name} ({getattr(module, '__file__', None)}): {type(error).__name__}: {error}",
                name=name,
                path=getattr(module, "__file__", None),
            )
            wrapped.__cause__ = error
            self._deliver(self._on_error, wrapped)
            return None
        self._failed.pop(name, None)
        if self._on_reload is not None:
            self._deliver(self._on_reload, report)
        return report

    def _watch_problem(self, message: str) -> None:
        """A problem of the watch itself (a watched directory gone): logged, and given to on_error."""
        logger.warning("hotreload.watch: %s", message)
        if self._on_error is not log_error:
            self._deliver(self._on_error, ReloadError(f"hotreload.watch: {message}"))

    def _deliver(self, callback: Optional[Callable[..., object]], value: object) -> None:
        if callback is None:
            return
        with self._delivering:
            if self._stop_requested:
                return  # stop() was called: its caller relies on no callback running now
            try:
                callback(value)
            except Exception:
                # A broken callback must not end the development loop.
                logger.exception("hotreload.watch callback %r raised", callback)


def watch(
    paths: Optional[Union[PathLike, Iterable[PathLike]]] = None,
    *,
    on_reload: Optional[OnReload] = None,
    on_error: Optional[OnError] = None,
    debounce: float = DEFAULT_DEBOUNCE,
) -> Watcher:
    """Reloads modules, transactionally, soon after their source files change.

    ``paths``: directories (watched with their subdirectories) or files. By
    default, the directories holding the loaded modules outside the standard
    library and site-packages (each directory itself, not its subdirectories).
    Only files that are the source of a loaded module are reloaded.

    ``on_reload(report)`` receives each :class:`ReloadReport`; ``on_error(error)``
    each :class:`ReloadError` (default: one log line with file, line and
    message), after which the module keeps running its last good code.
    ``debounce``: seconds of quiet after the last file event before reloading.

    Returns the running :class:`Watcher`; call ``stop()`` or use it as a
    context manager. Raises ``FileNotFoundError`` for a path that does not
    exist and ``OSError`` if the system refuses to watch one.
    """
    return Watcher(paths, on_reload=on_reload, on_error=on_error, debounce=debounce)


def log_error(error: ReloadError) -> None:
    """The default ``on_error``: one log line with file, line and message."""
    logger.error("%s", describe_error(error))


def describe_error(error: ReloadError) -> str:
    """``file:line: message`` on one line, the message being the original error's."""
    cause = error.__cause__
    if isinstance(cause, SyntaxError) and cause.msg:
        message = f"{type(cause).__name__}: {cause.msg}"
    elif cause is not None:
        message = f"{type(cause).__name__}: {cause}"
    else:
        message = str(error)
    if error.path is None and error.name is None:
        return " ".join(message.split())  # about the watch itself, not a module
    where = error.path or "<unknown file>"
    if error.lineno is not None:
        where = f"{where}:{error.lineno}"
    return " ".join(f"{where}: {message} (module {error.name})".split())


# -- which files, which modules ---------------------------------------------------------


class _Scope:
    """What a watcher covers: directory trees, single directories and single files."""

    def __init__(self, trees: List[str], dirs: List[str], files: Set[str]) -> None:
        self.trees = trees
        self.dirs = dirs
        self.files = files

    @classmethod
    def of(cls, paths: Optional[Union[PathLike, Iterable[PathLike]]]) -> "_Scope":
        if paths is None:
            return cls([], sorted(default_directories()), set())
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        trees: List[str] = []
        files: Set[str] = set()
        for path in paths:
            real = os.path.realpath(os.fspath(path))
            if os.path.isdir(real):
                trees.append(real)
            elif os.path.exists(real):
                files.add(real)
            else:
                raise FileNotFoundError(f"cannot watch {os.fspath(path)!r}: no such file or directory")
        # A tree inside another tree is already covered (and would double the inotify watches).
        trees = [tree for tree in sorted(set(trees)) if not any(_is_under(tree, other) for other in trees if other != tree)]
        files = {file for file in files if not any(_is_under(file, tree) for tree in trees)}
        # A file is watched through its directory: editors replace the file
        # (rename over it), which would end a watch on the file itself.
        dirs = sorted({os.path.dirname(file) for file in files})
        return cls(trees, dirs, files)

    def roots(self) -> List[Tuple[str, bool]]:
        return [(tree, True) for tree in self.trees] + [(d, False) for d in self.dirs]

    def describe(self) -> List[str]:
        return self.trees + (sorted(self.files) if self.files else self.dirs)

    def covers(self, path: str) -> bool:
        if self.files:
            return path in self.files or any(_is_under(path, tree) for tree in self.trees)
        return any(_is_under(path, tree) for tree in self.trees) or os.path.dirname(path) in self.dirs


def _is_own(directory: str) -> bool:
    """hotreload's own package or one of its subpackages."""
    return directory == _OWN_DIR or _is_under(directory, _OWN_DIR)


def _is_under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def default_directories() -> Set[str]:
    """Directories of loaded modules' sources, outside the standard library, site-packages and hotreload."""
    excluded = library_directories()
    found: Set[str] = set()
    for module in list(sys.modules.values()):
        source = source_file(module)
        if source is None:
            continue
        directory = os.path.dirname(os.path.realpath(source))
        if directory in found or not os.path.isdir(directory):
            continue
        if is_user_directory(directory, excluded):
            found.add(directory)
    return found


def is_user_directory(directory: str, excluded: Optional[Set[str]] = None) -> bool:
    """True if ``directory`` (resolved) holds the user's own code: not the standard
    library, site-packages or hotreload. ``excluded``: precomputed library directories."""
    if excluded is None:
        excluded = library_directories()
    if _is_own(directory) or any(directory == lib or _is_under(directory, lib) for lib in excluded):
        return False
    return not {"site-packages", "dist-packages"} & set(directory.split(os.sep))


def library_directories() -> Set[str]:
    paths = sysconfig.get_paths()
    candidates = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    try:
        candidates.extend(site.getsitepackages())
    except AttributeError:  # site in some virtualenvs lacks it
        pass
    candidates.append(getattr(site, "USER_SITE", None))
    return {os.path.realpath(path) for path in candidates if path}


def _record_sources(scope: "_Scope") -> None:
    """Records the current source of every watched module whose source hotreload does
    not know yet (imported before ``install()``), so that its reloads run only
    what changed instead of the whole module."""
    for name, module in list(sys.modules.items()):
        path = source_file(module)
        if path is not None and not _sources.known(name) and scope.covers(os.path.realpath(path)):
            _sources.record_file(name, path)


def source_file(module: object) -> Optional[str]:
    """The ``.py`` file a module was loaded from, if any."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file.endswith(".py"):
        return file
    return None


def is_editor_temporary(path: str) -> bool:
    """Files editors write beside the real one: never a module's source."""
    name = os.path.basename(path)
    return name.startswith(".#") or name.endswith(("~", ".swp", ".swx", ".tmp")) or name == "4913"


def modules_for_files(paths: Iterable[str]) -> Dict[str, types.ModuleType]:
    """The loaded modules (by name) whose source is one of ``paths`` and still exists.

    A file that is no module's source (a new file, a data file, an editor's
    temporary) is ignored; so is a deleted file (its module keeps running).
    """
    wanted = {os.path.realpath(path) for path in paths if path.endswith(".py") and not is_editor_temporary(path)}
    wanted = {path for path in wanted if os.path.isfile(path)}
    if not wanted:
        return {}
    basenames = {os.path.basename(path) for path in wanted}
    found: Dict[str, types.ModuleType] = {}
    for name, module in list(sys.modules.items()):
        source = source_file(module)
        # The basename test spares a realpath() per loaded module.
        if source is None or os.path.basename(source) not in basenames:
            continue
        if os.path.realpath(source) not in wanted:
            continue
        if _is_own(os.path.dirname(os.path.realpath(source))):
            continue
        found[name] = module
    return found


def _imported_modules(module: types.ModuleType, candidates: Dict[str, types.ModuleType]) -> Set[str]:
    """Names of ``candidates`` that ``module`` refers to: as a module, or through
    functions, classes and instances defined there (``from other import f``)."""
    found: Set[str] = set()
    for value in list(vars(module).values()):
        kind = type(value)  # not isinstance(): a lazy proxy's __class__ may import things
        if issubclass(kind, types.ModuleType):
            owner = getattr(value, "__name__", None)
        elif kind is types.FunctionType or issubclass(kind, type):
            owner = getattr(value, "__module__", None)
        else:
            # The type is safe to ask; the instance might compute attributes.
            owner = getattr(type(value), "__module__", None)
        if isinstance(owner, str) and owner in candidates and owner != module.__name__:
            found.add(owner)
    return found


def _imports_any(module: types.ModuleType, candidates: Dict[str, types.ModuleType]) -> bool:
    return bool(_imported_modules(module, candidates))


def dependency_order(modules: Sequence[types.ModuleType]) -> List[types.ModuleType]:
    """``modules`` (each once) with every module after the ones it imports from.

    Reloading a dependency first means the dependent's new code finds the new
    names it may import. Import cycles are broken in the given order.
    """
    by_name: Dict[str, types.ModuleType] = {}
    for module in modules:
        by_name.setdefault(module.__name__, module)
    needs = {name: _imported_modules(module, by_name) for name, module in by_name.items()}
    order: List[types.ModuleType] = []
    done: Set[str] = set()
    for start in sorted(by_name):
        # Iterative depth-first search: post-order puts dependencies first.
        if start in done:
            continue
        stack: List[Tuple[str, List[str]]] = [(start, sorted(needs[start]))]
        visiting = {start}
        while stack:
            name, pending = stack[-1]
            while pending and (pending[-1] in done or pending[-1] in visiting):
                pending.pop()
            if pending:
                child = pending.pop()
                visiting.add(child)
                stack.append((child, sorted(needs[child])))
                continue
            stack.pop()
            visiting.discard(name)
            done.add(name)
            order.append(by_name[name])
    return order


def _stop_all() -> None:
    for watcher in list(_running):
        watcher.stop(timeout=1.0)


_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _track(watcher: "Watcher") -> None:
    """Remembers a running watcher; the first one registers the stop-at-exit hook
    (so that ``import hotreload`` alone registers nothing)."""
    global _exit_hook_registered
    with _exit_hook_lock:
        if not _exit_hook_registered:
            atexit.register(_stop_all)
            _exit_hook_registered = True
        _running.add(watcher)
