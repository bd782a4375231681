"""Servers answering a steady stream of requests while their module is reloaded again and again.

A real server on 127.0.0.1 (werkzeug's threaded server for Flask, uvicorn for
FastAPI) serves client threads that never stop asking while the main thread
saves edits that change a view's body, add and remove a route and move a
route's path, and reloads after each. Every answer must be a good one: no
server error, no refused connection, and a route that every version has
answers 200 with the body of some version, never a mix.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Tuple

import hotreload
import pytest

ROUNDS = 24
CLIENTS = 4


def _get(url: str) -> Tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


class Load:
    """Client threads asking ``paths`` of ``base`` until stopped; every answer is kept."""

    def __init__(self, base: str, paths: List[str]) -> None:
        self.base, self.paths = base, paths
        self.answers: Dict[str, List[Tuple[int, str]]] = {path: [] for path in paths}
        self.errors: List[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._ask, daemon=True) for _ in range(CLIENTS)]

    def _ask(self) -> None:
        while not self.stopping.is_set():
            for path in self.paths:
                try:
                    self.answers[path].append(_get(self.base + path))
                except Exception as error:  # a refused or dropped connection is a failure
                    self.errors.append(f"{path}: {error!r}")

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def _versions(source: str, round_number: int) -> str:
    """Round ``n`` of the edits: the body says ``n``; odd rounds add a route and move another."""
    edited = source.replace("VERSION", str(round_number))
    if round_number % 2:
        edited = edited.replace('"/moving-a"', '"/moving-b"') + EXTRA[source]
    return edited


def _hammer(modules: Any, source: str, base_of: Callable[[Any], str]) -> Load:
    m = modules.make(source.replace("VERSION", "0"))
    base = base_of(m.app)
    assert _get(base + "/stable") == (200, "stable 0")
    with Load(base, ["/stable", "/extra", "/moving-a", "/moving-b"]) as load:
        for round_number in range(1, ROUNDS + 1):
            modules.edit(m, _versions(source, round_number))
            hotreload.reload(m)
            time.sleep(0.02)
            expected_extra = 200 if round_number % 2 else 404
            assert _get(base + "/stable") == (200, f"stable {round_number}")
            assert _get(base + "/extra")[0] == expected_extra
            assert _get(base + ("/moving-b" if round_number % 2 else "/moving-a"))[0] == 200
            assert _get(base + ("/moving-a" if round_number % 2 else "/moving-b"))[0] == 404
    return load


def _check(load: Load) -> None:
    assert not load.errors, load.errors[:5]
    stable = load.answers["/stable"]
    assert len(stable) > ROUNDS  # the clients kept asking through every reload
    bodies = {f"stable {n}" for n in range(ROUNDS + 1)}
    assert all(status == 200 and body in bodies for status, body in stable), [a for a in stable if a[1] not in bodies][:5]
    for path in ("/extra", "/moving-a", "/moving-b"):
        assert all(status in (200, 404) for status, _ in load.answers[path]), (path, sorted({s for s, _ in load.answers[path]}))


FLASK_APP = """
from flask import Flask

app = Flask(__name__)

@app.route("/stable")
def stable():
    return "stable VERSION"

@app.route("/moving-a")
def moving():
    return "moving"
"""

FASTAPI_APP = """
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()

@app.get("/stable", response_class=PlainTextResponse)
def stable():
    return "stable VERSION"

@app.get("/moving-a", response_class=PlainTextResponse)
def moving():
    return "moving"
"""

EXTRA = {
    FLASK_APP: '\n@app.route("/extra")\ndef extra():\n    return "extra"\n',
    FASTAPI_APP: '\n@app.get("/extra")\ndef extra():\n    return "extra"\n',
}


@pytest.fixture
def uvicorn_server() -> Iterator[Callable[[Any], str]]:
    servers = []

    def start(app: Any) -> str:
        import socket

        import uvicorn

        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        listening.close()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_flask_server_under_load_serves_every_reload(modules: Any, serve: Any) -> None:
    pytest.importorskip("flask", reason="Flask is in the test extra; missing only if not installed")
    modules.install()
    _check(_hammer(modules, FLASK_APP, serve))


def test_a_fastapi_server_under_load_serves_every_reload(modules: Any, uvicorn_server: Any) -> None:
    pytest.importorskip("fastapi", reason="FastAPI is in the test extra; missing only if not installed")
    pytest.importorskip("uvicorn", reason="uvicorn is in the test extra; missing only if not installed")
    modules.install()
    _check(_hammer(modules, FASTAPI_APP, uvicorn_server))
