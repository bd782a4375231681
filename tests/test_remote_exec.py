"""Operating a process that never called ``listen()``.

On Python 3.14+ the commands reach it through ``sys.remote_exec`` (PEP 768):
it starts listening, the command runs, and the bootstrap file is gone. On older
Pythons the same commands say clearly that the process is not listening and
exit 3, changing nothing. Every test here runs on every version and checks the
behaviour that version promises.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Iterator

import pytest
from listen_support import FIX, Target, cli, environment, probe, runtime_directory, write

HAS_REMOTE_EXEC = sys.version_info >= (3, 14)


@pytest.fixture
def runtime() -> Iterator[pathlib.Path]:
    with runtime_directory() as directory:
        yield directory


@pytest.fixture
def target(tmp_path: pathlib.Path, runtime: pathlib.Path) -> Iterator[Target]:
    program = tmp_path / "program"
    program.mkdir()
    started = Target(program, runtime, no_listen=True)
    yield started
    started.stop()


def leftovers(runtime: pathlib.Path) -> list:
    directory = runtime / "hotreload"
    return [name for name in os.listdir(directory) if "bootstrap" in name] if directory.exists() else []


def test_apply_to_a_process_that_does_not_listen(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = cli(runtime, "apply", str(target.pid), str(write(tmp_path / "fix.py", FIX)))
    if HAS_REMOTE_EXEC:
        assert done.returncode == 0, done.stderr
        assert "replaced 1 (game.damage)" in done.stdout
        assert probe(runtime, target.pid, "game.damage()") == 20
        assert f"{target.pid}  " in cli(runtime, "ps").stdout  # it listens from now on
    else:
        assert done.returncode == 3
        assert f"process {target.pid} is not listening" in done.stderr
        assert "needs Python 3.14+" in done.stderr
    assert leftovers(runtime) == []
    assert target.alive


def test_ps_does_not_list_a_process_that_does_not_listen(target: Target, runtime: pathlib.Path) -> None:
    done = cli(runtime, "ps")
    assert done.returncode == 0
    assert str(target.pid) not in done.stdout


def test_a_process_without_hotreload_importable_is_reported(tmp_path: pathlib.Path, runtime: pathlib.Path) -> None:
    program = tmp_path / "program"
    program.mkdir()
    # -S: no site-packages, so the target cannot import hotreload.
    target = Target(program, runtime, no_listen=True, argv=[sys.executable, "-S", str(program / "target.py")])
    try:
        done = cli(runtime, "status", str(target.pid))
        assert done.returncode == 3
        if HAS_REMOTE_EXEC:
            assert "could not be made to" in done.stderr and "ModuleNotFoundError" in done.stderr
        else:
            assert "not listening" in done.stderr
        assert leftovers(runtime) == []
        assert target.alive
    finally:
        target.stop()


def test_a_process_that_disabled_remote_debugging_is_reported(tmp_path: pathlib.Path, runtime: pathlib.Path) -> None:
    program = tmp_path / "program"
    program.mkdir()
    write(program / "game.py", "ticks = 0\n")
    write(
        program / "target.py",
        "import os, time\nprint('ready', flush=True)\nwhile not os.path.exists('stop'):\n    time.sleep(0.01)\n",
    )
    env = environment(runtime)
    env["PYTHON_DISABLE_REMOTE_DEBUG"] = "1"
    process = subprocess.Popen([sys.executable, str(program / "target.py")], cwd=program, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().startswith("ready")
        done = cli(runtime, "status", str(process.pid))
        assert done.returncode == 3
        assert "not listening" in done.stderr
        assert leftovers(runtime) == []
        assert process.poll() is None
    finally:
        (program / "stop").write_text("")
        process.wait(timeout=10)
