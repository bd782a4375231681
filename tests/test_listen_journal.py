"""The hotfix journal: ``listen(journal=DIR)`` saves every applied hotfix; ``replay(DIR)`` applies them."""

from __future__ import annotations

import os
import pathlib
import stat
import textwrap
import types
from typing import Any, Iterator

import hotreload
import pytest
from listen_support import FAILING_FIX, FIX, exchange, request, runtime_directory, write


@pytest.fixture(autouse=True)
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    with runtime_directory() as directory:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
        yield directory


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "journal"


@pytest.fixture
def listener(journal: pathlib.Path) -> Iterator[hotreload.Listener]:
    with hotreload.listen(journal=journal) as opened:
        yield opened


@pytest.fixture
def game(modules: Any) -> types.ModuleType:
    return modules.make("def damage():\n    return 10\n\ndef armor():\n    return 1\n")  # type: ignore[no-any-return]


def fix_for(module: types.ModuleType, path: pathlib.Path, text: str) -> pathlib.Path:
    return write(path, textwrap.dedent(text).replace("game", module.__name__))


def entries(journal: pathlib.Path) -> list:
    return sorted(name for name in os.listdir(journal) if name.endswith(".py"))


def test_local_and_remote_hotfixes_are_saved_in_order(
    listener: hotreload.Listener, journal: pathlib.Path, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o700
    local = fix_for(game, tmp_path / "local_fix.py", FIX)
    hotreload.apply_hotfix(str(local))
    remote = fix_for(game, tmp_path / "remote_fix.py", FIX.replace("damage", "armor").replace("20", "5"))
    reply = exchange(listener.path, request({"op": "apply", "path": str(remote)}))
    assert reply is not None and reply["ok"]
    assert entries(journal) == ["000001-local_fix.py", "000002-remote_fix.py"]
    assert reply["result"]["journal_entry"] == str(journal / "000002-remote_fix.py")  # type: ignore[index]
    assert (journal / "000001-local_fix.py").read_bytes() == local.read_bytes()
    assert stat.S_IMODE(os.stat(journal / "000002-remote_fix.py").st_mode) == 0o600


def test_refused_repeated_and_nested_hotfixes_are_not_saved(
    listener: hotreload.Listener, journal: pathlib.Path, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(hotreload.ReloadError):
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "bad.py", FAILING_FIX)))
    fix = fix_for(game, tmp_path / "fix.py", FIX)
    hotreload.apply_hotfix(str(fix))
    hotreload.apply_hotfix(str(fix))  # the same fix again (every worker of a server): one entry
    outer = write(tmp_path / "outer.py", f"import hotreload\nhotreload.apply_hotfix({str(fix)!r})\n")
    hotreload.apply_hotfix(str(outer))
    assert entries(journal) == ["000001-fix.py", "000002-outer.py"]


def test_source_text_hotfixes_are_saved_too(listener: hotreload.Listener, journal: pathlib.Path, game: types.ModuleType) -> None:
    source = textwrap.dedent(FIX).replace("game", game.__name__)
    hotreload.apply_hotfix(source)
    assert [(journal / name).read_text() for name in entries(journal)] == [source]


def test_replay_applies_the_journal_in_order(journal: pathlib.Path, game: types.ModuleType, tmp_path: pathlib.Path) -> None:
    with hotreload.listen(journal=journal):
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "one.py", FIX)))
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "two.py", FIX.replace("20", "25"))))
    # A restarted server: the module as first loaded again.
    exec(compile("def damage():\n    return 10\n", str(game.__file__), "exec"), game.__dict__)
    assert game.damage() == 10
    reports = hotreload.replay(journal)
    assert [report.replaced for report in reports] == [[f"{game.__name__}.damage"]] * 2
    assert game.damage() == 25
    assert len(entries(journal)) == 2  # replaying saves nothing new


def test_replay_stops_at_an_entry_that_no_longer_applies(
    journal: pathlib.Path, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    with hotreload.listen(journal=journal):
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "one.py", FIX)))
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "two.py", FIX.replace("damage", "armor").replace("20", "2"))))
        hotreload.apply_hotfix(str(fix_for(game, tmp_path / "three.py", FIX.replace("20", "30"))))
    second = journal / "000002-two.py"
    second.write_text(second.read_text() + "\nraise LookupError('gone')\n")
    exec(compile("def damage():\n    return 10\n\ndef armor():\n    return 1\n", str(game.__file__), "exec"), game.__dict__)
    with pytest.raises(hotreload.ReloadError, match="entry 000002-two.py no longer applies") as caught:
        hotreload.replay(journal)
    assert caught.value.path == str(second) and caught.value.lineno == 7
    assert isinstance(caught.value.__cause__, hotreload.ReloadError)
    assert (game.damage(), game.armor()) == (
        20,
        1,
    )  # the first applied, the second changed nothing, the third never ran


def test_replay_of_a_missing_journal_does_nothing(tmp_path: pathlib.Path) -> None:
    assert hotreload.replay(tmp_path / "never-written") == []


def test_a_journal_others_can_write_is_refused(tmp_path: pathlib.Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="writable by other users"):
        hotreload.listen(journal=shared)
    with pytest.raises(PermissionError, match="writable by other users"):
        hotreload.replay(shared)
