"""Helpers for the control-socket tests: a real target process and the real CLI.

``Target`` starts a Python program in a subprocess with its own
``XDG_RUNTIME_DIR`` (so its socket, and ``ps``, see only this test's
processes), waits until it says ``ready``, and collects its output lines.
``cli()`` runs ``python -m hotreload ...`` as a subprocess in the same
environment. ``frame()`` builds protocol frames by hand, for bad-input tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import queue
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Dict, Iterator, List, Optional, Sequence

DEADLINE = 10.0

GAME = """
    ticks = 0

    def damage():
        return 10

    def armor():
        return 1
"""

# A program that keeps running until told to stop (or 60 s pass), counting ticks.
PROGRAM = """
    import os, sys, time
    import game
    LISTEN = {listen!r}
    if LISTEN is not None:
        import hotreload
        hotreload.listen(**LISTEN)
    print("ready", os.getpid(), flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.exists("stop"):
        game.ticks += 1
        time.sleep(0.01)
"""

FIX = """
    import hotreload, game

    @hotreload.replace_func(game)
    def damage():
        return 20
"""

# Replaces damage(), then fails on line 8: the replacement must be rolled back.
FAILING_FIX = """
    import hotreload, game

    @hotreload.replace_func(game)
    def damage():
        return 30

    raise RuntimeError("half-way")
"""


@contextlib.contextmanager
def runtime_directory() -> Iterator[pathlib.Path]:
    """A fresh ``XDG_RUNTIME_DIR``, short enough for socket paths (pytest's tmp_path may not be)."""
    directory = tempfile.mkdtemp(prefix="hr-", dir="/tmp")
    try:
        yield pathlib.Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def environment(runtime: pathlib.Path) -> Dict[str, str]:
    env = dict(os.environ)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHON_DISABLE_REMOTE_DEBUG", None)
    return env


class Target:
    """A running program in ``directory`` (with ``game.py``), listening unless ``listen=None``."""

    def __init__(
        self,
        directory: pathlib.Path,
        runtime: pathlib.Path,
        *,
        listen: Optional[Dict[str, str]] = None,
        program: str = PROGRAM,
        argv: Sequence[str] = (),
        no_listen: bool = False,
    ) -> None:
        self.directory = directory
        if not (directory / "game.py").exists():
            write(directory / "game.py", GAME)
        script = write(directory / "target.py", program.format(listen=None if no_listen else (listen or {})))
        command = list(argv) or [sys.executable, str(script)]
        self.process = subprocess.Popen(
            command,
            cwd=directory,
            env=environment(runtime),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.errors: List[str] = []
        threading.Thread(target=self._collect, args=(self.process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._collect, args=(self.process.stderr, self.errors.append), daemon=True).start()
        self.pid = self.process.pid
        self.wait_for("ready")

    @staticmethod
    def _collect(stream: object, sink: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink(line.rstrip("\n"))  # type: ignore[operator]

    def wait_for(self, prefix: str, timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise AssertionError(f"target exited ({self.process.returncode}): {self.errors}") from None
                continue
            if line.startswith(prefix):
                return line
        raise AssertionError(f"target never printed {prefix!r}; stderr: {self.errors}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        (self.directory / "stop").write_text("")
        try:
            self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            (self.directory / "stop").unlink()
        except FileNotFoundError:
            pass


def cli(
    runtime: pathlib.Path,
    *args: str,
    stdin: Optional[str] = None,
    timeout: float = 60.0,
    cwd: Optional[pathlib.Path] = None,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotreload", *args],
        env=environment(runtime),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def probe(runtime: pathlib.Path, pid: int, expression: str) -> object:
    """The value of ``expression`` inside process ``pid``, read through the console."""
    done = cli(runtime, "console", str(pid), stdin=f"import json, game\nprint('PROBE', json.dumps({expression}))\n")
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        if "PROBE " in line:
            return json.loads(line.split("PROBE ", 1)[1])
    raise AssertionError(f"no probe output: {done.stdout!r} {done.stderr!r}")


def frame(body: bytes, *, magic: bytes = b"HRL", version: int = 1, length: Optional[int] = None) -> bytes:
    return struct.pack(">3sBI", magic, version, len(body) if length is None else length) + body


def request(message: Dict[str, object]) -> bytes:
    return frame(json.dumps(message).encode())


def exchange(path: str, data: bytes, *, timeout: float = DEADLINE) -> Optional[Dict[str, object]]:
    """Sends raw ``data`` and reads one reply frame (None if the connection closed first)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(data)
        return read_reply(sock)


def read_reply(sock: socket.socket) -> Optional[Dict[str, object]]:
    header = _read(sock, 8)
    if header is None:
        return None
    magic, version, length = struct.unpack(">3sBI", header)
    assert (magic, version) == (b"HRL", 1)
    body = _read(sock, length)
    assert body is not None
    return json.loads(body)  # type: ignore[no-any-return]


def _read(sock: socket.socket, size: int) -> Optional[bytes]:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None
        data += chunk
    return data
