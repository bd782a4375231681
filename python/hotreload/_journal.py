"""The hotfix journal: every hotfix that applied, saved in order, and its replay.

``listen(journal=DIR)`` makes DIR this process's journal. From then on every
hotfix that applies through :func:`apply_hotfix` (the public one, so local and
remote hotfixes alike) is saved there as ``NNNNNN-name.py``: the exact bytes
that ran, numbered in the order they applied. :func:`replay` applies a journal
in that order at start-up, so a restarted server comes back with its fixes.

Entries are written whole (a temporary file, fsync, then a hard link to the
final name, which cannot overwrite) under an ``flock`` on ``DIR/.lock``, so
several processes (pre-fork workers sharing one journal) can record at once.
A hotfix identical to the newest entry is not saved again: the same fix sent to
every worker of a server is one entry, not one per worker.

A journal is code that runs at start-up, so its directory must not be writable
by other users: it is created with mode 0700, and an existing directory that is
group- or world-writable, or owned by another user, is refused.
"""

from __future__ import annotations

import contextvars
import fcntl
import logging
import os
import re
import stat
import threading
from typing import List, Optional, Tuple, Union

from hotreload import _history, _hotfix
from hotreload._errors import ReloadError
from hotreload._report import HotfixReport

__all__ = ["Journal", "activate", "active", "apply_hotfix", "apply_and_record", "deactivate", "replay"]

logger = logging.getLogger("hotreload")

PathOrSource = Union[str, "os.PathLike[str]"]

_ENTRY = re.compile(r"^(\d{6,})-[A-Za-z0-9_.-]*\.py$")

# Hotfixes applied from inside another hotfix's script are part of it, not entries of their own.
_depth: "contextvars.ContextVar[int]" = contextvars.ContextVar("hotreload_hotfix_depth", default=0)

_active_lock = threading.Lock()
_active: Optional["Journal"] = None


class Journal:
    """One journal directory; see the module docstring."""

    def __init__(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        self.directory = os.path.abspath(os.fsdecode(os.fspath(directory)))
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        check_private(self.directory, "journal directory")

    def __repr__(self) -> str:
        return f"Journal({self.directory!r})"

    def entries(self) -> List[str]:
        """The entries' paths, in the order they applied."""
        return journal_entries(self.directory)

    def record(self, name: str, data: bytes) -> Optional[str]:
        """Saves one applied hotfix; returns the entry's path (None if it repeats the newest)."""
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name.replace("hotfix_", "", 1))[:60] or "hotfix"
        temporary = os.path.join(self.directory, f".tmp-{os.getpid()}-{threading.get_ident()}")
        _write_synced(temporary, data)
        try:
            with _directory_lock(self.directory):
                entries = self.entries()
                if entries and _read(entries[-1]) == data:
                    logger.debug("journal %s: hotfix %s repeats %s; not saved again", self.directory, name, entries[-1])
                    return None
                number = _number(entries[-1]) + 1 if entries else 1
                while True:
                    path = os.path.join(self.directory, f"{number:06d}-{stem}.py")
                    try:
                        os.link(temporary, path)  # never replaces an entry
                        break
                    except FileExistsError:
                        number += 1
                _sync_directory(self.directory)
        finally:
            os.unlink(temporary)
        logger.info("journal: saved hotfix %s as %s", name, path)
        return path


def check_private(directory: str, what: str) -> None:
    """Refuses a directory that another user owns or may write into (its files would run here)."""
    info = os.stat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{what} {directory} is not a directory")
    if info.st_uid not in (os.geteuid(), 0):
        raise PermissionError(f"{what} {directory} belongs to uid {info.st_uid}, not to this user")
    if info.st_mode & 0o022:
        raise PermissionError(
            f"{what} {directory} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); make it private: chmod 700"
        )


def journal_entries(directory: str) -> List[str]:
    matched: List[Tuple[int, str]] = []
    for name in os.listdir(directory):
        found = _ENTRY.match(name)
        if found:
            matched.append((int(found.group(1)), name))
    return [os.path.join(directory, name) for _, name in sorted(matched)]


def _number(path: str) -> int:
    found = _ENTRY.match(os.path.basename(path))
    assert found is not None
    return int(found.group(1))


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _write_synced(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _directory_lock:
    """``flock`` on ``DIR/.lock``: one writer at a time across processes."""

    def __init__(self, directory: str) -> None:
        self._path = os.path.join(directory, ".lock")
        self._descriptor = -1

    def __enter__(self) -> None:
        self._descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._descriptor, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        os.close(self._descriptor)


# -- the process's journal -----------------------------------------------------------


def activate(journal: Journal) -> None:
    """Makes ``journal`` the one every applied hotfix is saved into."""
    global _active
    with _active_lock:
        _active = journal


def deactivate(journal: Journal) -> None:
    global _active
    with _active_lock:
        if _active is journal:
            _active = None


def active() -> Optional[Journal]:
    return _active


# -- applying hotfixes -----------------------------------------------------------------


def apply_and_record(path_or_source: PathOrSource) -> Tuple[HotfixReport, Optional[str]]:
    """``apply_hotfix``, noted in the history and saved in the journal.

    Returns the report and the journal entry's path (None when there is no
    journal, the hotfix repeats the newest entry, or it ran inside another
    hotfix). A journal that cannot be written is logged, not raised: the
    hotfix did apply, and saying otherwise would be false.
    """
    depth = _depth.get()
    data = None if depth else _script_bytes(path_or_source)
    token = _depth.set(depth + 1)
    try:
        report = _hotfix.apply_hotfix(path_or_source)
    except ReloadError as error:
        if not depth:
            _history.note(
                "hotfix",
                error.name or "<hotfix>",
                ok=False,
                summary=str(error),
                origin=_history.origin.get(),
                filename=error.path,
            )
        raise
    finally:
        _depth.reset(token)
    if depth:
        return report, None
    _history.note("hotfix", report.name, ok=True, summary=str(report), origin=_history.origin.get(), filename=report.filename)
    journal = _active
    if journal is None or data is None:
        return report, None
    try:
        return report, journal.record(report.name, data)
    except OSError as error:
        logger.error("journal %s: hotfix %s applied but could not be saved: %s", journal.directory, report.name, error)
        return report, None


def apply_hotfix(path_or_source: PathOrSource) -> HotfixReport:
    return apply_and_record(path_or_source)[0]


# The public function keeps the documentation of the one it wraps.
apply_hotfix.__doc__ = (_hotfix.apply_hotfix.__doc__ or "") + (
    "\n    While the process has a journal (``listen(journal=DIR)``), a hotfix that\n    applied is saved into it.\n"
)


def _script_bytes(path_or_source: PathOrSource) -> Optional[bytes]:
    """What a hotfix will run, read before it runs (None if it cannot be read: it will fail)."""
    if isinstance(path_or_source, os.PathLike) or (isinstance(path_or_source, str) and _hotfix._is_path(path_or_source)):
        try:
            path = os.fsdecode(os.fspath(path_or_source))
            # Only a regular file is read ahead: a FIFO would block, a bad path is
            # apply_hotfix's to refuse with a clear error.
            return _read(path) if stat.S_ISREG(os.stat(path).st_mode) else None
        except (OSError, ValueError):
            return None
    if isinstance(path_or_source, str):
        return path_or_source.encode("utf-8", "surrogatepass")
    return None


def replay(directory: Union[str, "os.PathLike[str]"]) -> List[HotfixReport]:
    """Applies the journal in ``directory`` in order; returns one report per entry.

    A missing directory is an empty journal. Replayed hotfixes are not saved
    again. An entry that no longer applies raises :class:`ReloadError` naming
    the entry (with the entry's own error chained); entries before it stay
    applied, the failed one changed nothing, and the entries after it are not
    tried.
    """
    path = os.path.abspath(os.fsdecode(os.fspath(directory)))
    if not os.path.exists(path):
        return []
    check_private(path, "journal directory")
    reports: List[HotfixReport] = []
    token = _depth.set(1)  # what the entries apply is already in the journal
    try:
        for entry in journal_entries(path):
            reports.append(_replay_entry(path, entry, len(reports)))
    finally:
        _depth.reset(token)
    logger.info("journal %s: replayed %d hotfix(es)", path, len(reports))
    return reports


def _replay_entry(path: str, entry: str, done: int) -> HotfixReport:
    try:
        report = _hotfix.apply_hotfix(entry)
    except ReloadError as error:
        _history.note("hotfix", os.path.basename(entry), ok=False, summary=str(error), origin="replay", filename=entry)
        raise ReloadError(
            f"journal {path}: entry {os.path.basename(entry)} no longer applies "
            f"({done} entr{'y' if done == 1 else 'ies'} before it applied): {error}",
            name=error.name,
            path=error.path or entry,
            lineno=error.lineno,
        ) from error
    _history.note("hotfix", report.name, ok=True, summary=str(report), origin="replay", filename=entry)
    return report
