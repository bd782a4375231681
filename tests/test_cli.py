"""``python -m hotreload run``: a real program in a subprocess, edited while it runs.

The programs print what they compute; the tests read their output as it comes,
edit files when the program is demonstrably running, and check the output,
hotreload's status lines (stderr) and the exit code.
"""

from __future__ import annotations

import os
import pathlib
import queue
import subprocess
import sys
import textwrap
import threading
import time
from typing import Iterator, List, Optional

import hotreload.__main__ as cli
import pytest

DEADLINE = 5.0

# A program that prints helper.value() until it sees `stop_at`, then exits with `code`.
LOOP = """
    import sys, time
    import helper

    def main():
        stop_at, code = sys.argv[1], int(sys.argv[2])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            value = helper.value()
            print("value", value, flush=True)
            if value == stop_at:
                sys.exit(code)
            time.sleep(0.01)
        sys.exit(99)

    if __name__ == "__main__":
        main()
"""


def save_by_rename(path: pathlib.Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(textwrap.dedent(text))
    os.replace(temporary, path)


class Program:
    """A ``python -m hotreload ...`` subprocess whose output lines can be awaited."""

    def __init__(self, args: List[str], cwd: pathlib.Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotreload", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: "queue.Queue[str]" = queue.Queue()
        self.stderr: "queue.Queue[str]" = queue.Queue()
        self.out: List[str] = []
        self.err: List[str] = []
        self.readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _pump(stream: object, lines: "queue.Queue[str]") -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))

    def _drain(self) -> None:
        for source, sink in ((self.stdout, self.out), (self.stderr, self.err)):
            while True:
                try:
                    sink.append(source.get_nowait())
                except queue.Empty:
                    break

    def wait_for_line(self, text: str, *, stderr: bool = False) -> str:
        """The first line (from now on or already read) containing ``text``."""
        lines = self.err if stderr else self.out
        deadline = time.monotonic() + DEADLINE
        while True:
            self._drain()
            for line in lines:
                if text in line:
                    return line
            if time.monotonic() > deadline or self.process.poll() is not None and self._done_reading():
                self._drain()
                raise AssertionError(f"no line with {text!r}; stdout={self.out!r} stderr={self.err!r}")
            time.sleep(0.005)

    def _done_reading(self) -> bool:
        return not any(reader.is_alive() for reader in self.readers) and self.stdout.empty() and self.stderr.empty()

    def finish(self) -> int:
        code = self.process.wait(timeout=DEADLINE * 2)
        for reader in self.readers:
            reader.join(DEADLINE)
        self._drain()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def programs() -> Iterator[List[Program]]:
    started: List[Program] = []
    yield started
    for program in started:
        program.kill()


def run(programs: List[Program], cwd: pathlib.Path, *args: str) -> Program:
    program = Program(list(args), cwd)
    programs.append(program)
    return program


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_run_a_script_that_sees_its_module_edited_and_passes_the_exit_code_through(tmp_path, programs):
    write(tmp_path / "app.py", LOOP)
    helper = write(tmp_path / "helper.py", "def value():\n    return 'old'\n")

    program = run(programs, tmp_path, "run", "app.py", "new", "7")
    program.wait_for_line("value old")
    save_by_rename(helper, "def value():\n    return 'new'\n")

    assert program.finish() == 7
    assert program.out.index("value new") > program.out.index("value old")
    reload_lines = [line for line in program.err if line.startswith("[hotreload]")]
    assert len(reload_lines) == 1, program.err
    assert "reloaded helper" in reload_lines[0] and "value" in reload_lines[0]


def test_a_syntax_error_prints_file_and_line_and_the_program_keeps_running(tmp_path, programs):
    write(tmp_path / "app.py", LOOP)
    helper = write(tmp_path / "helper.py", "def value():\n    return 'old'\n")

    program = run(programs, tmp_path, "run", "app.py", "fixed", "0")
    program.wait_for_line("value old")
    save_by_rename(helper, "def value():\n    return 'broken'\n\nif True\n")
    error = program.wait_for_line("error", stderr=True)
    assert f"{helper}:4: SyntaxError" in error
    assert "\n" not in error
    program.wait_for_line("value old")  # still running the last good code
    save_by_rename(helper, "def value():\n    return 'fixed'\n")

    assert program.finish() == 0
    assert "value broken" not in program.out
    assert "value fixed" in program.out


def test_run_passes_arguments_and_the_exit_code_of_sys_exit(tmp_path, programs):
    write(tmp_path / "exits.py", "import sys\nprint(sys.argv[1:], __name__)\nsys.exit(int(sys.argv[1]))\n")
    program = run(programs, tmp_path, "run", "exits.py", "3", "--watch", "-m")
    assert program.finish() == 3
    assert program.out == ["['3', '--watch', '-m'] __main__"]


def test_an_uncaught_exception_exits_with_1_and_a_traceback(tmp_path, programs):
    write(tmp_path / "fails.py", "raise ValueError('the program failed')\n")
    program = run(programs, tmp_path, "run", "fails.py")
    assert program.finish() == 1
    assert any("ValueError: the program failed" in line for line in program.err)


def test_run_a_module_with_dash_m(tmp_path, programs):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "helper.py", "def value():\n    return 'old'\n")
    write(tmp_path / "pkg" / "app.py", LOOP.replace("import helper", "from pkg import helper"))

    program = run(programs, tmp_path, "run", "-m", "pkg.app", "new", "5")
    program.wait_for_line("value old")
    save_by_rename(tmp_path / "pkg" / "helper.py", "def value():\n    return 'new'\n")

    assert program.finish() == 5
    assert "value new" in program.out
    assert any("reloaded pkg.helper" in line for line in program.err)


def test_watch_option_replaces_the_script_directory(tmp_path, programs):
    lib = tmp_path / "lib"
    write(lib / "helper.py", "def value():\n    return 'old'\n")
    other = write(lib / "other.py", "X = 1\n")
    write(tmp_path / "bin" / "app.py", "import sys\nsys.path.insert(0, sys.argv[3])\n" + textwrap.dedent(LOOP))

    program = run(programs, tmp_path, "run", "--watch", str(lib / "helper.py"), "bin/app.py", "new", "0", str(lib))
    program.wait_for_line("value old")
    save_by_rename(other, "X = 2\n")  # not watched: only helper.py is
    save_by_rename(lib / "helper.py", "def value():\n    return 'new'\n")

    assert program.finish() == 0
    assert [line for line in program.err if "reloaded" in line] == [line for line in program.err if "reloaded helper" in line]


def test_run_without_a_program_is_a_usage_error(tmp_path, programs):
    program = run(programs, tmp_path, "run")
    assert program.finish() == 2
    assert any("usage:" in line for line in program.err)


def test_a_missing_script_is_reported(tmp_path, programs):
    program = run(programs, tmp_path, "run", "missing.py")
    assert program.finish() == 1
    assert any("missing.py" in line for line in program.err)


def test_demo_runs_the_demo(monkeypatch):
    import types

    calls: List[Optional[int]] = []
    fake = types.ModuleType("hotreload._demo")
    fake.main = lambda: calls.append(None) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hotreload._demo", fake)
    assert cli.main(["demo"]) == 0
    assert calls == [None]


def test_split_program_leaves_the_program_its_own_options():
    assert cli._split_program(["--watch", "d", "app.py", "--watch", "x"]) == (["--watch", "d"], ["app.py", "--watch", "x"])
    assert cli._split_program(["-q", "-m", "pkg.app", "-q"]) == (["-q"], ["-m", "pkg.app", "-q"])
    assert cli._split_program(["--", "-weird.py"]) == ([], ["-weird.py"])
