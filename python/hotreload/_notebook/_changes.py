"""Which loaded modules changed on disk since the last cell, from file events.

A notebook asks this question before every cell, so the answer must not cost a
``stat`` per loaded module (that is what ``%autoreload`` does). Instead:

- the directories holding the user's modules (the ones :func:`hotreload.watch`
  watches by default: not the standard library, site-packages or hotreload)
  are watched by the Rust :class:`~hotreload._hotreload.FileWatcher`, with no
  debounce, so every event is ready as soon as ``notify``'s thread has read it;
- before answering, a *fence* is raised: the timestamps of a file in a private
  directory, watched by the same inotify instance, are touched, and the queue
  is drained until the fence's own event comes out. The kernel queues events in
  the order they happen, so every save that finished before the cell started
  (an editor's, or ``%%writefile`` in the previous cell) has been seen too. The
  round trip costs microseconds and does not grow with the number of modules;
- a changed path counts only if it is a loaded module's source and its content
  differs from the source hotreload recorded for that module (a save without
  changes, or a ``touch``, reloads nothing).

Modules imported since the last question are noticed by the size of
``sys.modules``; their directories are added to the watch and their sources
recorded if the import system did not already.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
import time
import types
from typing import Dict, List, Optional, Set

from hotreload import _sources
from hotreload._hotreload import FileWatcher, read_file
from hotreload._watch import is_user_directory, library_directories, modules_for_files, source_file

logger = logging.getLogger("hotreload")

FENCE_TIMEOUT = 0.5
"""Seconds to wait for the fence's own event before answering with what arrived.

The fence normally comes back within tens of microseconds; the bound only
matters on a machine so loaded that notify's thread is not scheduled, where a
save made in the last instant is then picked up by the next cell."""


SPIN_POLLS = 200
"""How many times to ask for the fence without waiting (about 1 us each) before sleeping."""


class ChangeDetector:
    """Answers "which modules changed?" from file events; see the module docstring."""

    def __init__(self) -> None:
        self._native = FileWatcher(debounce=0.0, max_delay=0.0)
        self._fence_dir = tempfile.TemporaryDirectory(prefix="hotreload-notebook-")
        self._fence = os.path.join(self._fence_dir.name, "fence.py")
        with open(self._fence, "wb"):
            pass
        self._native.watch(self._fence_dir.name, False)
        self._excluded = library_directories()
        self._directories: Set[str] = set()
        # Every module looked at so far (name -> id of the module object), to notice new imports.
        self._seen: Dict[str, int] = {}
        self._seen_count = -1
        # Where each watched module's source is (name -> resolved path).
        self._tracked: Dict[str, str] = {}
        # A module's directory as written -> resolved if it is watched, else None (one realpath each).
        self._verdicts: Dict[str, Optional[str]] = {}
        # Paths that changed before their directory was watched (found by content).
        self._suspects: Set[str] = set()
        self.track_new_modules()

    @property
    def directories(self) -> List[str]:
        """The directories being watched."""
        return sorted(self._directories)

    @property
    def module_count(self) -> int:
        """How many loaded modules have their source watched."""
        return len(self._tracked)

    def close(self) -> None:
        """Stops watching and removes the fence; idempotent."""
        self._native.stop()
        self._fence_dir.cleanup()

    # -- new modules --------------------------------------------------------------

    def track_new_modules(self) -> None:
        """Watches the directories of modules imported since the last call.

        A module whose source is not recorded yet (imported before
        ``hotreload.install()``) gets it recorded now, so its reloads run only
        what changed; one whose file no longer matches the recorded source
        (edited before its directory was watched) counts as changed.
        """
        if len(sys.modules) == self._seen_count:
            return
        watched_before = set(self._directories)
        for name, module in list(sys.modules.items()):
            if self._seen.get(name) == id(module):
                continue
            self._seen[name] = id(module)
            self._tracked.pop(name, None)
            path = source_file(module)
            directory = self._watched_directory(path) if path is not None else None
            if path is None or directory is None:
                continue
            real = os.path.join(directory, os.path.basename(path))
            self._tracked[name] = real
            if not _sources.known(name):
                _sources.record_file(name, real)
            elif directory not in watched_before and differs_from_recorded(name, real):
                # Imported before its directory was watched: an edit since then sent no event.
                self._suspects.add(real)
        self._seen_count = len(sys.modules)

    def _watched_directory(self, path: str) -> Optional[str]:
        """The resolved directory of ``path`` if it is (now) watched, else None."""
        written = os.path.dirname(path)
        if written in self._verdicts:
            return self._verdicts[written]
        resolved = os.path.realpath(written)
        directory: Optional[str] = resolved
        if resolved not in self._directories and not (is_user_directory(resolved, self._excluded) and self._watch(resolved)):
            directory = None
        self._verdicts[written] = directory
        return directory

    def _watch(self, directory: str) -> bool:
        try:
            self._native.watch(directory, False)
        except OSError as error:
            logger.warning("hotreload cannot watch %s: %s", directory, error)
            return False
        self._directories.add(directory)
        return True

    # -- changes ------------------------------------------------------------------

    def changed(self) -> Dict[str, types.ModuleType]:
        """The loaded modules whose source file changed since they were loaded or last reloaded."""
        self.track_new_modules()
        paths = self._drain()
        if self._suspects:
            paths.extend(self._suspects)
            self._suspects.clear()
        if not paths:
            return {}
        found = modules_for_files(paths)
        return {name: module for name, module in found.items() if _has_changed(module)}

    def _drain(self) -> List[str]:
        """Every path reported until the fence's own event, in order."""
        os.utime(self._fence)
        paths: List[str] = []
        deadline = time.monotonic() + FENCE_TIMEOUT
        polls = 0
        while True:
            # The fence is usually back within microseconds: ask without sleeping first
            # (a sleep and wake-up costs the cell more than the wait itself).
            polls += 1
            wait = 0.0 if polls <= SPIN_POLLS else max(0.0, deadline - time.monotonic())
            batch = self._native.next_batch(wait)
            if batch is None:  # stopped
                return paths
            batch_paths, errors, rescan = batch
            for message in errors:
                logger.warning("file watcher error: %s", message)
            if rescan:
                # Events were lost: any watched module may have changed.
                paths.extend(self._tracked.values())
            fenced = False
            for path in batch_paths:
                if path == self._fence:
                    fenced = True
                else:
                    paths.append(path)
            if fenced:
                return paths
            if time.monotonic() >= deadline:
                logger.debug("the file watcher's fence did not come back within %.1f s", FENCE_TIMEOUT)
                return paths


def _has_changed(module: types.ModuleType) -> bool:
    path = source_file(module)
    return path is not None and differs_from_recorded(module.__name__, path)


def differs_from_recorded(name: str, path: str) -> bool:
    """True if the file at ``path`` no longer holds the source recorded for module ``name``
    (or none is recorded); False if it cannot be read (a deleted file reloads nothing)."""
    data: Optional[bytes] = read_file(path)
    if data is None:
        return False
    previous = _sources.previous(name)
    if previous is None:
        return True
    try:
        return importlib.util.decode_source(data) != previous
    except (SyntaxError, UnicodeDecodeError):
        return True
