"""Where a reload reads a module's source: zip archives, FIFOs, null bytes (issue 11, items 3 and 6)."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import time
import types
import zipfile
from pathlib import Path
from typing import Any, Iterator, List

import hotreload
import pytest
from hotreload import ReloadError

# Same length for every version, so that an archive rewritten in place keeps
# its member offsets (3.9's zipimporter caches them per importer).
ZIP_SOURCE = "VALUE = {value!r}\n\ndef answer():\n    return ('{value}', VALUE)\n"


def _write_zip(archive: Path, name: str, value: str) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}.py", ZIP_SOURCE.format(value=value))
    importlib.invalidate_caches()


@pytest.fixture
def zip_module(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    archive = tmp_path / "bundle.zip"
    name = f"hr_zipped_{abs(hash(request.node.nodeid)) % 10**8}"
    _write_zip(archive, name, "one")
    sys.path.insert(0, str(archive))

    def load() -> types.ModuleType:
        return importlib.import_module(name)

    yield types.SimpleNamespace(archive=archive, name=name, load=load)
    hotreload.uninstall()
    sys.modules.pop(name, None)
    sys.path.remove(str(archive))
    sys.path_importer_cache.pop(str(archive), None)


@pytest.mark.parametrize("imported", ["before install", "after install"])
def test_a_module_from_a_zip_archive_reloads_in_place(zip_module: Any, imported: str) -> None:
    if imported == "after install":
        hotreload.install()
    module = zip_module.load()
    hotreload.install()
    answer = module.answer
    assert answer() == ("one", "one")
    _write_zip(zip_module.archive, zip_module.name, "two")

    importlib.reload(module)

    assert module.answer is answer, "the function kept its identity"
    assert answer() == ("two", "two")


def test_hotreload_reload_reads_a_zipped_module_through_its_loader(zip_module: Any) -> None:
    module = zip_module.load()
    _write_zip(zip_module.archive, zip_module.name, "two")
    report = hotreload.reload(module)
    assert module.answer() == ("two", "two")
    assert report.filename.endswith(f"bundle.zip{os.sep}{zip_module.name}.py")
    from hotreload._sources import read_source

    data, path = read_source(module)
    assert data == ZIP_SOURCE.format(value="two").encode() and path == report.filename


def test_a_zip_source_keeps_its_declared_encoding(tmp_path: Path) -> None:
    archive = tmp_path / "latin.zip"
    source = "# -*- coding: latin-1 -*-\nWORD = 'caf\xe9'\n".encode("latin-1")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hr_latin_zipped.py", source)
    sys.path.insert(0, str(archive))
    try:
        module = importlib.import_module("hr_latin_zipped")
        from hotreload._sources import read_source

        data, _ = read_source(module)
        assert data == source
        hotreload.reload(module)
        assert module.WORD == "caf\xe9"
    finally:
        sys.modules.pop("hr_latin_zipped", None)
        sys.path.remove(str(archive))


def test_a_module_whose_file_is_gone_and_has_no_loader_source_is_refused(modules: Any) -> None:
    module = modules.make("X = 1\n")
    path = modules.remove(module)
    with pytest.raises(ReloadError) as caught:
        hotreload.reload(module)
    assert str(path) in str(caught.value) and module.__name__ in str(caught.value)
    assert module.X == 1


def test_a_null_byte_in_a_module_names_its_line(modules: Any) -> None:
    module = modules.make("X = 1\n")
    snapshot = modules.snapshot(module)
    modules.path_of(module).write_bytes(b"X = 2\nY = 3\nZ = '\0'\n")
    with pytest.raises(ReloadError) as caught:
        hotreload.reload(module)
    error = caught.value
    assert error.lineno == 3
    assert "line 3" in str(error) and "null byte" in str(error) and "line None" not in str(error)
    assert error.path == str(modules.path_of(module))
    snapshot.assert_unchanged()


def _unblock_fifo(path: Path) -> None:
    """Opens the FIFO for writing without blocking, so a reader stuck in open() returns."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def test_a_fifo_in_place_of_a_module_file_is_refused_at_once(modules: Any) -> None:
    module = modules.make("X = 1\ndef f():\n    return X\n")
    snapshot = modules.snapshot(module)
    path = modules.remove(module)
    os.mkfifo(path)
    outcome: List[BaseException] = []

    def attempt() -> None:
        try:
            hotreload.reload(module)
        except BaseException as error:  # recorded for the main thread
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(5)
    blocked = thread.is_alive()
    if blocked:  # before the fix: blocked in open(); let it go
        _unblock_fifo(path)
        thread.join(5)
    elapsed = time.monotonic() - started
    # A regular file again, so that nothing (a traceback, linecache) can block on the FIFO.
    path.unlink()
    path.write_text("X = 1\ndef f():\n    return X\n")
    assert not blocked, "reload blocked on a FIFO"
    assert elapsed < 2
    assert len(outcome) == 1 and isinstance(outcome[0], ReloadError), outcome
    assert "FIFO" in str(outcome[0]) and str(path) in str(outcome[0])
    # Neither the collector nor the reload lock was left behind.
    assert gc.isenabled()
    other = modules.make("Y = 1\n")
    modules.edit(other, "Y = 2\n")
    hotreload.reload(other)
    assert other.Y == 2
    snapshot.assert_unchanged()


def test_a_directory_in_place_of_a_module_file_is_refused(modules: Any) -> None:
    module = modules.make("X = 1\n")
    path = modules.remove(module)
    path.mkdir()
    with pytest.raises(ReloadError, match="directory"):
        hotreload.reload(module)
    assert module.X == 1
