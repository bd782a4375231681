"""Running a real development server under ``python -m hotreload run`` for the framework tests.

The server listens on 127.0.0.1 on a free port, is asked real HTTP requests,
and is stopped at the end of the test whatever happens (terminated, then
killed); every wait is bounded.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, List, Optional, Tuple

STARTUP = 60.0  # seconds: a cold start of Django or FastAPI on a busy machine
RELOAD = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(url: str, data: Optional[bytes] = None, timeout: float = 5.0) -> Tuple[int, str]:
    """``(status, body)`` of a GET (or a JSON POST when ``data`` is given)."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Server:
    """``python -m hotreload run ARGS...`` in ``directory``, on ``port``."""

    def __init__(self, directory: pathlib.Path, args: List[str], port: int, env: Optional[Dict[str, str]] = None) -> None:
        self.directory = directory
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        environment = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), environment.get("PYTHONPATH")]))
        self.log = directory / "server.log"
        self._log_file = open(self.log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotreload", "run", *args],
            cwd=directory,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, data: Optional[bytes] = None) -> Tuple[int, str]:
        return request(self.base + path, data)

    def wait_for(
        self, path: str, accept: Callable[[int, str], bool], timeout: float = RELOAD, data: Optional[bytes] = None
    ) -> Tuple[int, str]:
        """Asks ``path`` until ``accept(status, body)`` holds; fails with the server's output if it never does."""
        deadline = time.monotonic() + timeout
        last: Tuple[int, str] = (0, "no answer")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.output()}")
            try:
                last = self.get(path, data)
                if accept(*last):
                    return last
            except (OSError, urllib.error.URLError) as error:
                last = (0, repr(error))
            time.sleep(0.1)
        raise AssertionError(f"{path}: last answer {last}; server output:\n{self.output()}")

    def started(self, path: str) -> None:
        self.wait_for(path, lambda status, body: status == 200, timeout=STARTUP)

    def edit(self, name: str, source: str) -> None:
        """Rewrites a file of the app as an editor's save would."""
        path = self.directory / name
        path.write_text(textwrap.dedent(source))
        # A save within the same second as the previous version is still a change.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    def stop(self) -> str:
        """Stops the server (Ctrl-C, then a kill) and returns everything it printed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()
        return self.output()


def write_app(directory: pathlib.Path, files: Dict[str, str]) -> None:
    for name, source in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
