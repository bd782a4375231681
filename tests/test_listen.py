"""``hotreload.listen()`` in this process: the socket, its security, and bad input on it.

Each test gets its own ``XDG_RUNTIME_DIR``. Requests are sent over the real
socket, frames are built by hand where the test is about bad frames, and the
module the requests would change is checked afterwards: bad input must be
answered within seconds and change nothing.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import types
from typing import Any, Dict, Iterator, List

import hotreload
import pytest
from hotreload import _hotfix, _listen, _lock, _reload
from listen_support import FAILING_FIX, FIX, exchange, frame, read_reply, request, runtime_directory, write


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    with runtime_directory() as directory:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
        yield directory


@pytest.fixture
def listener(runtime: pathlib.Path) -> Iterator[hotreload.Listener]:
    with hotreload.listen() as opened:
        yield opened


@pytest.fixture
def game(modules: Any) -> types.ModuleType:
    return modules.make("def damage():\n    return 10\n\ndef armor():\n    return 1\n")  # type: ignore[no-any-return]


def fix_for(module: types.ModuleType, path: pathlib.Path, text: str) -> pathlib.Path:
    return write(path, text.replace("game", module.__name__))


def hello_works(listener: hotreload.Listener) -> bool:
    reply = exchange(listener.path, request({"op": "hello"}))
    return bool(reply and reply["ok"] and reply["result"]["pid"] == os.getpid())  # type: ignore[index]


def test_listen_opens_a_private_socket_served_by_a_daemon_thread(runtime: pathlib.Path) -> None:
    listener = hotreload.listen()
    try:
        assert listener.path == str(runtime / "hotreload" / f"{os.getpid()}.sock")
        assert stat.S_IMODE(os.stat(runtime / "hotreload").st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(listener.path).st_mode)
        assert stat.S_IMODE(os.stat(listener.path).st_mode) == 0o600
        threads = [t for t in threading.enumerate() if t.name == "hotreload-listen"]
        assert len(threads) == 1 and threads[0].daemon
        assert hello_works(listener)
        assert hotreload.listen() is listener  # one listener per process
    finally:
        listener.close()
    assert not os.path.exists(listener.path)
    assert not [t for t in threading.enumerate() if t.name == "hotreload-listen"]
    listener.close()  # idempotent


def test_without_xdg_runtime_dir_the_socket_is_under_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with hotreload.listen() as listener:
        assert listener.path == f"/tmp/hotreload-{os.geteuid()}/{os.getpid()}.sock"
        assert stat.S_IMODE(os.stat(os.path.dirname(listener.path)).st_mode) == 0o700
        assert hello_works(listener)


def test_a_socket_path_too_long_for_a_unix_socket_is_a_clear_error(runtime: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = runtime / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    with pytest.raises(OSError, match="too long for a Unix socket .* set XDG_RUNTIME_DIR to a shorter directory"):
        hotreload.listen()


def test_a_socket_directory_of_another_user_is_refused(runtime: pathlib.Path) -> None:
    directory = runtime / "hotreload"
    directory.mkdir()
    os.chown(directory, 65534, 65534)
    with pytest.raises(PermissionError, match="belongs to uid 65534"):
        hotreload.listen()


def test_a_loose_socket_directory_is_made_private(runtime: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = runtime / "hotreload"
    directory.mkdir(mode=0o777)
    os.chmod(directory, 0o777)
    with hotreload.listen() as listener:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert hello_works(listener)
    assert "had mode 777" in caplog.text


def test_listen_with_another_journal_while_listening_is_an_error(listener: hotreload.Listener, tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="already listening"):
        hotreload.listen(journal=tmp_path / "journal")


def test_a_stale_socket_file_is_replaced(runtime: pathlib.Path) -> None:
    directory = runtime / "hotreload"
    directory.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(directory / f"{os.getpid()}.sock"))
    stale.close()  # the file stays, nobody listens: what a killed process leaves
    with hotreload.listen() as listener:
        assert hello_works(listener)


def test_apply_over_the_socket(listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path) -> None:
    fix = fix_for(game, tmp_path / "fix.py", FIX)
    reply = exchange(listener.path, request({"op": "apply", "path": str(fix)}))
    assert reply is not None and reply["ok"], reply
    assert game.damage() == 20
    assert reply["result"]["replaced"] == [f"{game.__name__}.damage"]  # type: ignore[index]


def test_a_hotfix_failing_half_way_is_rolled_back_and_its_file_and_line_reported(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    fix = fix_for(game, tmp_path / "bad.py", FAILING_FIX)
    reply = exchange(listener.path, request({"op": "apply", "path": str(fix)}))
    assert reply is not None and not reply["ok"]
    error: Dict[str, Any] = reply["error"]  # type: ignore[assignment]
    assert error["kind"] == "refused"
    assert (error["file"], error["line"]) == (str(fix), 7)
    assert "RuntimeError: half-way" in error["message"]
    assert game.damage() == 10


def test_a_hotfix_calling_sys_exit_is_refused_and_the_process_lives_on(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    fix = fix_for(game, tmp_path / "exits.py", textwrap.dedent(FIX) + "\nimport sys\nsys.exit(3)\n")
    reply = exchange(listener.path, request({"op": "apply", "path": str(fix)}))
    assert reply is not None and reply["error"]["kind"] == "refused"  # type: ignore[index]
    assert "SystemExit" in reply["error"]["message"]  # type: ignore[index]
    assert game.damage() == 10
    assert hello_works(listener)


def test_reload_over_the_socket_one_transaction_per_module(listener: hotreload.Listener, modules: Any) -> None:
    first = modules.make("def f():\n    return 1\n")
    second = modules.make("def g():\n    return 1\n")
    third = modules.make("def h():\n    return 1\n")
    modules.edit(first, "def f():\n    return 2\n")
    modules.edit(second, "def g():\n    return (\n")  # does not compile
    modules.edit(third, "def h():\n    return 2\n")
    names = [first.__name__, second.__name__, third.__name__]
    reply = exchange(listener.path, request({"op": "reload", "modules": names}))
    assert reply is not None and not reply["ok"] and reply["error"]["kind"] == "refused"  # type: ignore[index]
    results: List[Dict[str, Any]] = reply["result"]["results"]  # type: ignore[index]
    assert [r["ok"] for r in results] == [True, False, False]
    assert results[2].get("skipped")
    assert reply["error"]["file"] == second.__file__  # type: ignore[index]
    assert (first.f(), second.g(), third.h()) == (2, 1, 1)


def test_status_reports_loaded_modules_and_history(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    exchange(listener.path, request({"op": "apply", "path": str(fix_for(game, tmp_path / "fix.py", FIX))}))
    reply = exchange(listener.path, request({"op": "status"}))
    assert reply is not None and reply["ok"]
    result: Dict[str, Any] = reply["result"]  # type: ignore[assignment]
    assert result["pid"] == os.getpid() and result["modules_loaded"] >= len([m for m in sys.modules.values() if m]) - 5
    assert any(item["module"] == game.__name__ for item in result["program_modules"])
    last = result["history"][-1]
    assert (last["kind"], last["name"], last["ok"]) == ("hotfix", "hotfix_fix", True)
    assert last["origin"].startswith("remote (pid ")


@pytest.mark.parametrize(
    "data, expected",
    [
        (frame(b"{}", magic=b"GET"), "bad magic"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad magic"),
        (frame(b"{}", version=9), "protocol version 9"),
        (frame(b"", length=2**31), "exceeds the limit"),
        (frame(bytes(range(256))), "malformed"),
        (frame(b"\x00\xff\xfe binary"), "malformed"),
        (frame(b'{"op": "apply"'), "malformed"),
        (frame(b"[1, 2, 3]"), "JSON object"),
        (request({"op": "launch"}), "unknown operation"),
        (request({"op": "apply", "path": "relative.py"}), "absolute path"),
        (request({"op": "apply", "path": 42}), "absolute path"),
        (request({"op": "reload", "modules": "game"}), "list of module names"),
        (request({"op": "reload", "modules": []}), "list of module names"),
    ],
)
def test_bad_input_gets_an_error_reply_and_changes_nothing(
    listener: hotreload.Listener, game: types.ModuleType, data: bytes, expected: str
) -> None:
    started = time.monotonic()
    reply = exchange(listener.path, data)
    assert time.monotonic() - started < 3.0
    assert reply is not None and reply["ok"] is False
    assert expected in reply["error"]["message"]  # type: ignore[index]
    assert game.damage() == 10
    assert hello_works(listener)


def test_an_oversized_request_is_refused_from_its_header(listener: hotreload.Listener) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(listener.path)
        sock.sendall(frame(b"", length=10 * 1024 * 1024) + b"x" * 1000)  # the 10 MiB never come
        reply = read_reply(sock)
    assert reply is not None and "exceeds the limit" in reply["error"]["message"]  # type: ignore[index]


def test_twenty_silent_clients_delay_no_one(
    listener: hotreload.Listener, game: types.ModuleType, modules: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_listen, "REQUEST_TIMEOUT", 4.0)
    silent = []
    for _ in range(20):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(listener.path)
        sock.settimeout(5)
        silent.append(sock)
    try:
        started = time.monotonic()
        assert hello_works(listener)
        modules.edit(game, "def damage():\n    return 11\n\ndef armor():\n    return 1\n")
        hotreload.reload(game)
        assert time.monotonic() - started < 2.5  # not held up by the silent ones (they are given 4 s)
        assert game.damage() == 11
        for sock in silent:  # each is answered and closed once its time is up
            reply = read_reply(sock)
            assert reply is not None and "no complete request" in reply["error"]["message"]  # type: ignore[index]
            assert sock.recv(1) == b""
        assert time.monotonic() - started < 10.0
    finally:
        for sock in silent:
            sock.close()


def test_a_client_that_stops_half_way_through_a_request_changes_nothing(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    fix = fix_for(game, tmp_path / "fix.py", FIX)
    data = request({"op": "apply", "path": str(fix)})
    client = textwrap.dedent(
        f"""
        import os, signal, socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect({listener.path!r})
        sock.sendall({data[: len(data) // 2]!r})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", client], timeout=30)
    assert done.returncode == -signal.SIGKILL
    time.sleep(0.2)
    assert game.damage() == 10
    assert hello_works(listener)


def test_a_client_killed_while_waiting_for_its_reply_harms_nothing(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    fix = fix_for(game, tmp_path / "slow.py", "import time\ntime.sleep(0.5)\n" + textwrap.dedent(FIX))
    client = textwrap.dedent(
        f"""
        import os, signal, socket, time
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect({listener.path!r})
        sock.sendall({request({"op": "apply", "path": str(fix)})!r})
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    subprocess.run([sys.executable, "-c", client], timeout=30)
    deadline = time.monotonic() + 5
    while game.damage() != 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert game.damage() == 20  # the request was whole: it ran, and its reply went nowhere
    assert hello_works(listener)


def test_remote_work_waits_for_the_change_lock_then_is_refused_as_busy(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_listen, "LOCK_TIMEOUT", 0.5)
    fix = fix_for(game, tmp_path / "fix.py", FIX)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _lock.change_lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(5)
        reply = exchange(listener.path, request({"op": "apply", "path": str(fix)}))
    finally:
        release.set()
        holder.join()
    assert reply is not None and reply["error"]["kind"] == "busy"  # type: ignore[index]
    assert game.damage() == 10


def test_two_operators_applying_at_once_are_serialised(
    listener: hotreload.Listener, game: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    game.log = []  # type: ignore[attr-defined]
    template = """
        import time, hotreload, game
        game.log.append("{name} start")

        @hotreload.replace_func(game)
        def {function}():
            return {value}

        time.sleep(0.3)
        game.log.append("{name} end")
    """
    fixes = [
        fix_for(game, tmp_path / "a.py", template.format(name="a", function="damage", value=21)),
        fix_for(game, tmp_path / "b.py", template.format(name="b", function="armor", value=2)),
    ]
    replies: List[Any] = []
    threads = [
        threading.Thread(target=lambda f=f: replies.append(exchange(listener.path, request({"op": "apply", "path": str(f)}))))
        for f in fixes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(reply["ok"] for reply in replies), replies
    assert (game.damage(), game.armor()) == (21, 2)
    log = game.log  # type: ignore[attr-defined]
    assert log in (["a start", "a end", "b start", "b end"], ["b start", "b end", "a start", "a end"])


def test_one_lock_for_reloads_hotfixes_and_remote_work() -> None:
    assert _reload._reload_lock is _lock.change_lock
    assert _hotfix._lock is _lock.change_lock


def test_a_hotfix_rollback_cannot_undo_a_reload_that_ran_meanwhile(modules: Any, tmp_path: pathlib.Path) -> None:
    game = modules.make("def damage():\n    return 10\n")
    fix = fix_for(
        game,
        tmp_path / "slow_bad.py",
        "import time, hotreload, game\n\n@hotreload.replace_func(game)\ndef damage():\n    return 30\n\n"
        "time.sleep(0.4)\nraise RuntimeError('late')\n",
    )
    modules.edit(game, "def damage():\n    return 50\n")
    hotfix = threading.Thread(target=lambda: pytest.raises(hotreload.ReloadError, hotreload.apply_hotfix, str(fix)))
    hotfix.start()
    time.sleep(0.1)  # the hotfix holds the lock, mid-way
    hotreload.reload(game)  # waits for the hotfix and its rollback, then applies
    hotfix.join()
    assert game.damage() == 50


def test_a_peer_of_another_uid_is_refused_and_logged(
    game: types.ModuleType, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory every user may enter, so that `nobody` can reach the socket at all.
    opened = tempfile.mkdtemp(prefix="hotreload-test-", dir="/tmp")
    os.chmod(opened, 0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", opened)
    fix = fix_for(game, pathlib.Path(opened) / "fix.py", FIX)
    os.chmod(fix, 0o644)
    caplog.set_level(logging.WARNING, logger="hotreload")
    try:
        with hotreload.listen() as listener:
            os.chmod(os.path.dirname(listener.path), 0o755)  # opened on purpose
            os.chmod(listener.path, 0o666)
            client = textwrap.dedent(
                f"""
                import json, os, socket, struct
                assert os.getuid() == 65534
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(10)
                sock.connect({listener.path!r})
                data = b""
                while True:  # the refusal comes at once, before any request
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                print(json.loads(data[8:])["error"]["kind"])
                try:
                    again = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    again.connect({listener.path!r})
                    again.sendall({request({"op": "apply", "path": str(fix)})!r})
                    again.recv(65536)
                except OSError:
                    pass
                """
            )
            done = subprocess.run(
                ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", client],
                capture_output=True,
                text=True,
                timeout=30,
                cwd="/",
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == "permission"
            assert game.damage() == 10
            assert hello_works(listener)
    finally:
        for name in os.listdir(opened):
            path = os.path.join(opened, name)
            os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
        os.rmdir(opened)
    assert "refused a connection from pid" in caplog.text and "uid 65534" in caplog.text


# Forking with the listener's thread running is what a pre-fork server does; 3.12+ warns about it.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_listens_on_its_own_socket(listener: hotreload.Listener) -> None:
    read, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ok = os.path.exists(os.path.join(os.path.dirname(listener.path), f"{os.getpid()}.sock"))
            os.write(write_end, b"1" if ok else b"0")
            time.sleep(1.0)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read, 1) == b"1"
        child_socket = os.path.join(os.path.dirname(listener.path), f"{child}.sock")
        reply = exchange(child_socket, request({"op": "hello"}))
        assert reply is not None and reply["result"]["pid"] == child  # type: ignore[index]
        assert hello_works(listener)  # the parent's socket is untouched
    finally:
        os.close(read)
        os.waitpid(child, 0)
