"""The development loop: ``hotreload.watch`` and the Rust ``FileWatcher`` under it.

Each test writes modules into a temporary directory, imports them, holds
references the way a running program does, saves files the way editors do
(rename over, delete and recreate, bursts of writes) and checks what the
program runs afterwards and what the callbacks were told. Waits poll with a
deadline; nothing sleeps longer than the behaviour under test needs.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import logging
import os
import pathlib
import queue
import sys
import textwrap
import threading
import time
import types
import weakref
from typing import Callable, Iterator, List, Optional, Tuple

import hotreload
import pytest
from hotreload import ReloadError, ReloadReport, Watcher
from hotreload._hotreload import FileWatcher
from hotreload._watch import DEFAULT_DEBOUNCE, dependency_order

DEADLINE = 5.0
# Long enough for a second, unwanted batch to arrive after a first one.
QUIET = DEFAULT_DEBOUNCE * 6

_counter = itertools.count()


# -- helpers ------------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], timeout: float = DEADLINE, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.002)


def save_by_rename(path: pathlib.Path, text: str) -> None:
    """What most editors and IDEs do: write a temporary file, then rename it over."""
    temporary = path.with_name(f".{path.name}.{next(_counter)}.tmp")
    temporary.write_text(textwrap.dedent(text))
    os.replace(temporary, path)


def save_delete_recreate(path: pathlib.Path, text: str) -> None:
    path.unlink()
    path.write_text(textwrap.dedent(text))


def save_in_burst(path: pathlib.Path, text: str) -> None:
    """Several writes in a row, the file broken in between (as a slow writer leaves it)."""
    text = textwrap.dedent(text)
    with open(path, "w") as file:
        file.write(text[: len(text) // 3])
        file.flush()
        time.sleep(0.003)
        file.write(text[len(text) // 3 : 2 * len(text) // 3])
        file.flush()
    time.sleep(0.003)
    path.write_text(text[:5])  # truncated: a syntax error if reloaded now
    time.sleep(0.003)
    path.write_text(text)


def save_like_vim(path: pathlib.Path, text: str) -> None:
    """vim's default save: probe file ``4913``, backup ``name~`` by rename, write, drop the backup."""
    probe = path.with_name("4913")
    probe.write_text("")
    probe.unlink()
    backup = path.with_name(path.name + "~")
    os.replace(path, backup)
    path.write_text(textwrap.dedent(text))
    backup.unlink()


class Events:
    """Collects what a watcher reports, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: List[ReloadReport] = []
        self.errors: List[ReloadError] = []

    def on_reload(self, report: ReloadReport) -> None:
        with self.lock:
            self.reports.append(report)

    def on_error(self, error: ReloadError) -> None:
        with self.lock:
            self.errors.append(error)

    def reloaded(self) -> List[str]:
        with self.lock:
            return [report.module for report in self.reports]

    def failed(self) -> List[str]:
        with self.lock:
            return [str(error.name) for error in self.errors]


class Project:
    """A directory on sys.path whose modules the tests import, edit and clean up."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.names: List[str] = []

    def module(self, source: str, stem: str = "mod", directory: Optional[pathlib.Path] = None) -> types.ModuleType:
        name = f"hr_watch_{stem}_{next(_counter)}"
        self.write(name, source, directory)
        return self.load(name)

    def write(self, name: str, source: str, directory: Optional[pathlib.Path] = None) -> pathlib.Path:
        path = (directory or self.root) / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    def load(self, name: str) -> types.ModuleType:
        importlib.invalidate_caches()
        self.names.append(name)
        return importlib.import_module(name)

    def cleanup(self) -> None:
        for name in self.names:
            sys.modules.pop(name, None)


@pytest.fixture
def project(tmp_path: pathlib.Path) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    sys.path[:0] = [str(root), str(other)]
    proj = Project(root)
    try:
        yield proj
    finally:
        sys.path.remove(str(root))
        sys.path.remove(str(other))
        proj.cleanup()


@pytest.fixture
def start() -> Iterator[Callable[..., Tuple[Watcher, Events]]]:
    """Starts watchers that report into an :class:`Events`; stops them all afterwards."""
    started: List[Watcher] = []

    def starter(paths: object = None, **options: object) -> Tuple[Watcher, Events]:
        events = Events()
        options.setdefault("on_reload", events.on_reload)
        options.setdefault("on_error", events.on_error)
        watcher = hotreload.watch(paths, **options)  # type: ignore[arg-type]
        started.append(watcher)
        return watcher, events

    yield starter
    for watcher in started:
        watcher.stop()


def file_of(module: types.ModuleType) -> pathlib.Path:
    return pathlib.Path(module.__file__)  # type: ignore[arg-type]


# -- editor save patterns -----------------------------------------------------------------

VALUE_1 = """
    def value():
        return 1
"""


@pytest.mark.parametrize("save", [save_by_rename, save_delete_recreate, save_in_burst, save_like_vim])
def test_a_save_reloads_the_module_once_and_held_references_run_the_new_code(project, start, save):
    mod = project.module(VALUE_1)
    held = mod.value  # a reference the program holds, e.g. a registered callback
    watcher, events = start(project.root)

    save(file_of(mod), "def value():\n    return 2\n")

    wait_for(lambda: events.reloaded() == [mod.__name__], what="the reload")
    assert held() == 2
    assert mod.value is held
    time.sleep(QUIET)  # a second batch for the same save would arrive within this
    assert events.reloaded() == [mod.__name__]
    assert events.errors == []
    assert events.reports[0].updated == ["value"]


def test_the_reload_follows_the_last_write_of_a_burst(project, start):
    mod = project.module(VALUE_1)
    watcher, events = start(project.root)
    path = file_of(mod)

    for value in range(2, 8):
        path.write_text(f"def value():\n    return {value}\n")
        time.sleep(0.002)

    wait_for(lambda: events.reloaded(), what="the reload")
    time.sleep(QUIET)
    assert events.reloaded() == [mod.__name__]
    assert mod.value() == 7


def test_saves_after_a_reload_are_seen_too(project, start):
    mod = project.module(VALUE_1)
    held = mod.value
    watcher, events = start(project.root)
    for value in range(2, 6):
        save_by_rename(file_of(mod), f"def value():\n    return {value}\n")
        wait_for(lambda: held() == value, what=f"value {value}")
    # The code is swapped before on_reload is called: wait for the last report too.
    wait_for(lambda: len(events.reports) >= 4, what="the fourth report")
    assert events.reloaded() == [mod.__name__] * 4


# -- errors -----------------------------------------------------------------------------


def test_a_syntax_error_is_reported_and_the_next_good_save_applies(project, start):
    mod = project.module(VALUE_1)
    held = mod.value
    watcher, events = start(project.root)
    path = file_of(mod)

    save_by_rename(path, "def value():\n    return 2\n\ndef broken(:\n    pass\n")
    wait_for(lambda: events.errors, what="the error")
    error = events.errors[0]
    assert isinstance(error, ReloadError)
    assert error.name == mod.__name__
    assert os.path.realpath(error.path) == os.path.realpath(path)
    assert error.lineno == 4
    assert held() == 1 and not hasattr(mod, "broken")  # still the last good code
    assert events.reports == []

    save_by_rename(path, "def value():\n    return 3\n")
    wait_for(lambda: events.reports, what="the reload after the fix")
    assert held() == 3
    assert events.reloaded() == [mod.__name__]
    assert len(events.errors) == 1


def test_an_exception_at_import_time_keeps_the_old_code(project, start):
    mod = project.module(textwrap.dedent(VALUE_1) + "\nSTATE = []\n")
    mod.STATE.append("live")
    watcher, events = start(project.root)

    save_by_rename(file_of(mod), "def value():\n    return 2\n\nSTATE = []\nraise RuntimeError('boom')\n")
    wait_for(lambda: events.errors, what="the error")
    assert events.errors[0].lineno == 5
    assert "boom" in str(events.errors[0].__cause__)
    assert mod.value() == 1 and mod.STATE == ["live"]


def test_the_default_on_error_logs_one_line_with_file_line_and_message(project, caplog):
    mod = project.module(VALUE_1)
    with caplog.at_level(logging.ERROR, logger="hotreload"):
        with hotreload.watch(project.root):
            save_by_rename(file_of(mod), "def value():\n    return (\n")
            wait_for(lambda: [r for r in caplog.records if r.levelno >= logging.ERROR], what="the log line")
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    line = record.getMessage()
    assert "\n" not in line
    assert f"{file_of(mod)}:2: SyntaxError" in line
    assert mod.value() == 1


def test_a_raising_callback_does_not_end_the_loop(project, start, caplog):
    mod = project.module(VALUE_1)
    calls = []

    def on_reload(report: ReloadReport) -> None:
        calls.append(report.module)
        raise ValueError("callback bug")

    with caplog.at_level(logging.ERROR, logger="hotreload"):
        watcher, _ = start(project.root, on_reload=on_reload)
        save_by_rename(file_of(mod), "def value():\n    return 2\n")
        wait_for(lambda: len(calls) == 1, what="the first reload")
        save_by_rename(file_of(mod), "def value():\n    return 3\n")
        wait_for(lambda: len(calls) == 2, what="the second reload")
    assert mod.value() == 3
    assert watcher.running
    assert any("callback bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_a_deleted_file_is_not_reloaded_and_its_recreation_is(project, start):
    mod = project.module(VALUE_1)
    watcher, events = start(project.root)
    path = file_of(mod)

    path.unlink()
    time.sleep(QUIET)
    assert events.reports == [] and events.errors == []
    assert mod.value() == 1

    path.write_text("def value():\n    return 4\n")
    wait_for(lambda: events.reports, what="the reload")
    assert mod.value() == 4


# -- which files ----------------------------------------------------------------------------


def test_a_module_outside_the_watched_paths_is_ignored(project, start, tmp_path):
    inside = project.module(VALUE_1, "inside")
    outside = project.module(VALUE_1, "outside", directory=tmp_path / "other")
    watcher, events = start(project.root)

    save_by_rename(file_of(outside), "def value():\n    return 2\n")
    save_by_rename(file_of(inside), "def value():\n    return 2\n")  # the control

    wait_for(lambda: events.reports, what="the reload of the watched module")
    time.sleep(QUIET)
    assert events.reloaded() == [inside.__name__]
    assert outside.value() == 1


def test_files_that_are_not_loaded_modules_are_ignored(project, start):
    mod = project.module(VALUE_1)
    never_imported = project.write("hr_watch_never_imported", "raise SystemExit('must not run')\n")
    watcher, events = start(project.root)

    save_by_rename(never_imported, "raise SystemExit('must not run either')\n")
    (project.root / "data.txt").write_text("x")
    (project.root / f".#{file_of(mod).name}").write_text("emacs lock")
    save_by_rename(file_of(mod), "def value():\n    return 2\n")  # the control

    wait_for(lambda: events.reports, what="the reload")
    time.sleep(QUIET)
    assert events.reloaded() == [mod.__name__]
    assert events.errors == []
    assert "hr_watch_never_imported" not in sys.modules


def test_watching_a_single_file_ignores_its_neighbours(project, start):
    watched = project.module(VALUE_1, "watched")
    neighbour = project.module(VALUE_1, "neighbour")
    watcher, events = start(file_of(watched))

    save_by_rename(file_of(neighbour), "def value():\n    return 2\n")
    save_by_rename(file_of(watched), "def value():\n    return 2\n")  # rename over the watched file

    wait_for(lambda: events.reports, what="the reload")
    save_by_rename(file_of(watched), "def value():\n    return 3\n")  # still watched after the rename
    wait_for(lambda: watched.value() == 3, what="the second reload")
    wait_for(lambda: len(events.reports) >= 2, what="the second report")  # sent after the swap
    assert events.reloaded() == [watched.__name__] * 2
    assert neighbour.value() == 1


def test_subdirectories_of_a_watched_directory_are_watched(project, start):
    package = project.root / "hr_watch_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "leaf.py").write_text(textwrap.dedent(VALUE_1))
    project.names += ["hr_watch_pkg", "hr_watch_pkg.sub"]
    leaf = project.load("hr_watch_pkg.sub.leaf")
    watcher, events = start(project.root)

    save_by_rename(package / "sub" / "leaf.py", "def value():\n    return 2\n")
    wait_for(lambda: events.reports, what="the reload")
    assert events.reloaded() == ["hr_watch_pkg.sub.leaf"]
    assert leaf.value() == 2


def test_by_default_the_directories_of_loaded_modules_outside_the_library_are_watched(project, start):
    mod = project.module(VALUE_1)
    watcher, events = start()

    assert str(project.root.resolve()) in watcher.paths
    assert os.path.dirname(os.path.realpath(os.__file__)) not in watcher.paths  # the standard library
    assert os.path.dirname(os.path.realpath(pytest.__file__)) not in watcher.paths  # site-packages
    assert os.path.dirname(os.path.realpath(hotreload.__file__)) not in watcher.paths  # hotreload itself

    save_by_rename(file_of(mod), "def value():\n    return 2\n")
    wait_for(lambda: mod.value() == 2, what="the reload")


def test_a_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        hotreload.watch(tmp_path / "no-such-dir")


# -- several files ----------------------------------------------------------------------------


def test_files_saved_together_reload_dependencies_first_once_each(project, start):
    # Named so that alphabetical order would be the wrong order.
    base = project.module("def helper():\n    return 'old'\n", "z_base")
    user = project.module(f"from {base.__name__} import helper\n\ndef run():\n    return helper()\n", "a_user")
    watcher, events = start(project.root)

    # The new user imports a name only the new base defines: it can only load after base.
    save_by_rename(
        file_of(user),
        f"from {base.__name__} import helper, extra\n\ndef run():\n    return helper() + extra()\n",
    )
    save_by_rename(file_of(base), "def helper():\n    return 'new'\n\ndef extra():\n    return '!'\n")

    wait_for(lambda: len(events.reports) + len(events.errors) >= 2, what="both reloads")
    time.sleep(QUIET)
    assert events.errors == []
    assert events.reloaded() == [base.__name__, user.__name__]
    assert user.run() == "new!"


def test_a_dependent_that_failed_is_retried_when_its_dependency_changes(project, start):
    base = project.module("def helper():\n    return 'old'\n", "base")
    user = project.module(f"from {base.__name__} import helper\n\ndef run():\n    return helper()\n", "user")
    watcher, events = start(project.root)

    save_by_rename(file_of(user), f"from {base.__name__} import extra\n\ndef run():\n    return extra()\n")
    wait_for(lambda: events.errors, what="the failed reload")
    assert events.failed() == [user.__name__]
    assert user.run() == "old"

    save_by_rename(file_of(base), "def helper():\n    return 'old'\n\ndef extra():\n    return 'fixed'\n")
    wait_for(lambda: len(events.reports) == 2, what="base, then the retried user")
    assert events.reloaded() == [base.__name__, user.__name__]
    assert user.run() == "fixed"


def test_dependency_order_puts_imported_modules_first_and_survives_cycles():
    def module(name: str, **refs: object) -> types.ModuleType:
        mod = types.ModuleType(name)
        vars(mod).update(refs)
        return mod

    base = module("base")
    middle = module("middle", base=base)
    func = types.FunctionType((lambda: None).__code__, {"__name__": "middle"})
    top = module("top", f=func)  # `from middle import f`
    assert [m.__name__ for m in dependency_order([top, middle, base, base])] == ["base", "middle", "top"]

    a = module("a")
    b = module("b", a=a)
    vars(a)["b"] = b
    assert sorted(m.__name__ for m in dependency_order([a, b])) == ["a", "b"]


# -- threads, stop, resources ---------------------------------------------------------------------


def test_program_threads_keep_running_and_never_see_a_broken_module(project, start):
    mod = project.module(VALUE_1)
    held = mod.value
    watcher, events = start(project.root)
    seen: set = set()
    failures: List[BaseException] = []
    done = threading.Event()

    def program() -> None:
        while not done.is_set():
            try:
                seen.add(held())
            except BaseException as error:  # noqa: BLE001 - any error is a failure here
                failures.append(error)

    thread = threading.Thread(target=program)
    thread.start()
    try:
        for value in range(2, 6):
            save_by_rename(file_of(mod), f"def value():\n    return {value}\n")
            wait_for(lambda: held() == value, what=f"value {value}")
        wait_for(lambda: 5 in seen or failures, what="the program thread to run the last code")
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert seen <= {1, 2, 3, 4, 5}


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stop_ends_the_thread_promptly_and_leaves_nothing_behind(project, start):
    mod = project.module(VALUE_1)
    tasks, fds = _task_count(), _fd_count()

    class Callback:
        def __call__(self, report: ReloadReport) -> None:
            pass

    callback = Callback()
    callback_ref = weakref.ref(callback)
    watcher = hotreload.watch(project.root, on_reload=callback, on_error=callback)  # type: ignore[arg-type]
    del callback
    assert watcher.running
    assert any(t.name == "hotreload-watch" for t in threading.enumerate())
    assert _task_count() > tasks and _fd_count() > fds

    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 0.5
    assert not watcher.running
    assert not any(t.name == "hotreload-watch" for t in threading.enumerate())
    # (<=: a thread of an earlier test, counted in the baseline, may end meanwhile.)
    assert _fd_count() <= fds  # the inotify handle and its wakers are closed
    wait_for(lambda: _task_count() <= tasks, timeout=2.0, what="notify's thread to end")
    gc.collect()
    assert callback_ref() is None, "the watcher still holds its callback"

    # A save after stop() reaches nobody; a second watcher is the control.
    control, events = start(project.root)
    save_by_rename(file_of(mod), "def value():\n    return 2\n")
    wait_for(lambda: events.reports, what="the control watcher")
    assert events.reloaded() == [mod.__name__]  # reloaded once, by the control only

    watcher.stop()  # idempotent


def test_watcher_is_a_context_manager(project):
    mod = project.module(VALUE_1)
    events = Events()
    with hotreload.watch(project.root, on_reload=events.on_reload) as watcher:
        assert isinstance(watcher, Watcher) and watcher.running
        save_by_rename(file_of(mod), "def value():\n    return 2\n")
        wait_for(lambda: events.reports, what="the reload")
    assert not watcher.running
    assert "stopped" in repr(watcher)


def test_stop_from_a_callback_does_not_deadlock(project):
    mod = project.module(VALUE_1)
    holder: List[Watcher] = []
    watcher = hotreload.watch(project.root, on_reload=lambda report: holder[0].stop())
    holder.append(watcher)
    save_by_rename(file_of(mod), "def value():\n    return 2\n")
    wait_for(lambda: not watcher.running, what="the watcher to stop itself")
    watcher.stop()


def test_an_idle_watcher_uses_no_cpu(project, start):
    project.module(VALUE_1)
    start(project.root)
    before = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - before < 0.01


# -- the Rust FileWatcher itself ---------------------------------------------------------------------


@pytest.fixture
def native(tmp_path: pathlib.Path) -> Iterator[FileWatcher]:
    watcher = FileWatcher(debounce=0.03)
    watcher.watch(str(tmp_path), True)
    yield watcher
    watcher.stop()


def test_next_batch_returns_an_empty_batch_on_timeout(native):
    started = time.monotonic()
    assert native.next_batch(0.05) == ([], [], False)
    assert 0.04 <= time.monotonic() - started < 1.0


def test_a_burst_arrives_as_one_batch_of_python_files(native, tmp_path):
    for i in range(5):
        (tmp_path / "a.py").write_text(f"x = {i}\n")
        (tmp_path / "b.py").write_text(f"x = {i}\n")
        (tmp_path / "notes.txt").write_text(f"{i}")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.py").write_text("")
    batch = native.next_batch(DEADLINE)
    assert batch == ([str(tmp_path / "a.py"), str(tmp_path / "b.py")], [], False)
    assert native.next_batch(QUIET) == ([], [], False)


def test_reading_a_file_is_not_a_change(native, tmp_path):
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    assert native.next_batch(DEADLINE)[0] == [str(path)]
    path.read_text()
    assert native.next_batch(QUIET) == ([], [], False)


def test_a_steady_stream_of_writes_is_delivered_after_max_delay(tmp_path):
    watcher = FileWatcher(debounce=0.05, max_delay=0.2)
    watcher.watch(str(tmp_path), True)
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            (tmp_path / "a.py").write_text("x = 1\n")
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        started = time.monotonic()
        paths, _, _ = watcher.next_batch(DEADLINE)
        assert paths == [str(tmp_path / "a.py")]
        assert time.monotonic() - started < 1.0
    finally:
        done.set()
        thread.join()
        watcher.stop()


def test_stop_wakes_a_blocked_next_batch(native):
    result: "queue.Queue[object]" = queue.Queue()
    thread = threading.Thread(target=lambda: result.put(native.next_batch(None)))
    thread.start()
    time.sleep(0.05)  # let it block
    started = time.monotonic()
    native.stop()
    thread.join(1.0)
    assert not thread.is_alive()
    assert result.get_nowait() is None
    assert time.monotonic() - started < 0.5
    assert native.stopped
    assert native.next_batch(0) is None
    with pytest.raises(RuntimeError, match="stopped"):
        native.watch(".", True)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="debounce"):
        FileWatcher(debounce=-1)
    watcher = FileWatcher()
    try:
        with pytest.raises(OSError, match="cannot watch"):
            watcher.watch(str(tmp_path / "missing"), True)
    finally:
        watcher.stop()


def test_a_program_that_exits_with_a_running_watcher_exits_promptly_with_its_code(tmp_path):
    import subprocess

    code = f"import sys, hotreload\nwatcher = hotreload.watch({str(tmp_path)!r})\nsys.exit(4)\n"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE * 2)
    assert result.returncode == 4, result.stderr
    assert result.stderr == ""
    assert time.monotonic() - started < DEADLINE
