"""The operator's side: ``python -m hotreload apply|reload|status|console|ps``.

Each command connects to ``PID.sock`` in this user's socket directory (the
same rule the process used, see :func:`hotreload._listen.socket_directory`),
sends one request, and prints the process's answer: the report, or the error
(with its file and line) that the process produced. ``--all`` in place of PID
sends the command to every listening process of the user, one result line
each, in pid order; ``--json`` prints each result as one JSON object.

Exit status: 0 applied everywhere, 1 refused somewhere (where refused, nothing
changed), 2 bad usage, 3 a process not found or not reachable. With several
processes the highest applies.

On Python 3.14+, a process that is not listening is first asked, through
``sys.remote_exec``, to start listening (see :mod:`hotreload._remote_exec`).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import select
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from hotreload import _protocol
from hotreload._listen import socket_directory, socket_path

__all__ = ["COMMANDS", "add_commands", "main"]

COMMANDS = ("apply", "reload", "status", "console", "ps")

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

CONNECT_TIMEOUT = 5.0
PS_TIMEOUT = 2.0
DEFAULT_TIMEOUT = 60.0

_SOCKET_NAME = re.compile(r"^(\d+)\.sock$")

_HELP = {
    "apply": "apply a hotfix script inside a running process",
    "reload": "reload modules inside a running process, one transaction each",
    "status": "show what a running process has loaded, reloaded and applied",
    "console": "open an interactive Python prompt inside a running process",
    "ps": "list this user's listening processes",
}


_EXIT_STATUS = (
    "exit status: 0 applied everywhere, 1 refused somewhere (where refused, nothing changed), "
    "2 bad usage, 3 a process not found or not reachable"
)


class Unreachable(Exception):
    """The process does not exist, is not listening, or stopped answering."""


@dataclass
class Result:
    """One process's answer to one command."""

    pid: int
    status: int
    reply: Dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    """Why the process could not be reached (status 3)."""
    connected: bool = True
    """False if no connection was made at all (no process, or nobody listening)."""


# -- the command line --------------------------------------------------------------------


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Adds the operator commands to ``python -m hotreload``'s help."""
    for name in COMMANDS:
        _command_parser(name, commands.add_parser(name, help=_HELP[name], usage=_usage(name), add_help=False))


def _usage(name: str) -> str:
    target = "PID" if name == "console" else "(PID | --all)"
    rest = {"apply": " SCRIPT", "reload": " MODULE...", "status": "", "console": "", "ps": ""}[name]
    options = "" if name == "console" else " [--json]"
    if name == "ps":
        return "python -m hotreload ps [--json]"
    return f"python -m hotreload {name} {target}{rest}{options}"


def _command_parser(name: str, parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog=f"python -m hotreload {name}", usage=_usage(name), description=_HELP[name], epilog=_EXIT_STATUS
    )
    if parser.add_help is False:
        parser.add_argument("-h", "--help", action="help", help="show this help message and exit")
    if name != "ps":
        parser.add_argument("--all", action="store_true", help="every listening process of this user")
    if name != "console":
        parser.add_argument("--json", action="store_true", help="print each result as one JSON object")
    if name in ("apply", "reload", "status"):
        parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="how long to wait for an answer")
    parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)
    return parser


def main(args: Sequence[str]) -> int:
    """Runs one operator command; ``args[0]`` is the command's name. Returns the exit status."""
    name, rest = args[0], list(args[1:])
    parser = _command_parser(name)
    options = parser.parse_args(rest)
    words: List[str] = options.words
    if name == "ps":
        if words:
            parser.error(f"unexpected argument: {words[0]}")
        return _ps(options.json)
    if name == "console" and options.all:
        parser.error("console talks to one process: give its PID, not --all")
    if not options.all:
        if not words or not words[0].isdigit() or int(words[0]) <= 0:
            parser.error("give the process's PID (or --all)")
        pids: Optional[List[int]] = [int(words.pop(0))]
    else:
        pids = None
    if name == "console":
        if words:
            parser.error(f"unexpected argument: {words[0]}")
        assert pids is not None
        return _console(pids[0])
    request = _request(parser, name, words)
    return _send_to_all(name, request, pids, options.json, options.timeout)


def _request(parser: argparse.ArgumentParser, name: str, words: List[str]) -> Dict[str, Any]:
    if name == "apply":
        if len(words) != 1:
            parser.error("give exactly one hotfix SCRIPT")
        path = os.path.abspath(words[0])
        if not os.path.isfile(path):
            parser.error(f"no such hotfix script: {words[0]}")
        return {"op": "apply", "path": path}
    if name == "reload":
        if not words:
            parser.error("give at least one MODULE to reload")
        bad = [word for word in words if not all(part.isidentifier() for part in word.split("."))]
        if bad:
            parser.error(f"not a module name: {bad[0]!r}")
        return {"op": "reload", "modules": words}
    if words:
        parser.error(f"unexpected argument: {words[0]}")
    return {"op": "status"}


# -- talking to processes ------------------------------------------------------------------


def listening_pids() -> List[int]:
    """Pids with a socket file in this user's directory (stale ones included; see :func:`_ps`)."""
    try:
        names = os.listdir(socket_directory())
    except OSError:
        return []
    return sorted(int(found.group(1)) for found in map(_SOCKET_NAME.match, names) if found)


def connect(pid: int, *, bootstrap: bool = True) -> socket.socket:
    """A connection to process ``pid``'s control socket, or Unreachable saying why."""
    path = socket_path(pid)
    try:
        return _connect(path)
    except OSError as error:
        reason = error
    if not _exists(pid):
        raise Unreachable(f"no process {pid}")
    if bootstrap and isinstance(reason, (FileNotFoundError, ConnectionRefusedError)):
        from hotreload import (
            _remote_exec,  # only a process that does not listen needs it
        )

        try:
            actual = _remote_exec.start_listener(pid)
        except (_remote_exec.BootstrapError, OSError) as error:
            raise Unreachable(str(error)) from None
        try:
            return _connect(actual)
        except OSError as error:
            raise Unreachable(f"process {pid} started listening but cannot be reached at {actual}: {error}") from None
    if isinstance(reason, PermissionError):
        raise Unreachable(f"process {pid}: permission denied on {path}")
    raise Unreachable(f"process {pid} is not listening ({path}: {reason.strerror or reason})")


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ask(pid: int, request: Dict[str, Any], timeout: float, *, bootstrap: bool = True) -> Result:
    """Sends ``request`` to ``pid`` and waits up to ``timeout`` for its reply."""
    try:
        sock = connect(pid, bootstrap=bootstrap)
    except Unreachable as error:
        return Result(pid, EXIT_UNREACHABLE, problem=str(error), connected=False)
    try:
        _protocol.send(sock, request, limit=_protocol.MAX_REQUEST)
        reply = _protocol.receive(sock, deadline=time.monotonic() + timeout)
    except socket.timeout:
        return Result(pid, EXIT_UNREACHABLE, problem=f"process {pid} did not answer within {timeout:g} s")
    except (OSError, _protocol.ProtocolError) as error:
        return Result(pid, EXIT_UNREACHABLE, problem=f"process {pid}: connection lost ({error}); it may have exited")
    finally:
        sock.close()
    if reply is None:
        return Result(pid, EXIT_UNREACHABLE, problem=f"process {pid} closed the connection without answering; it may have exited")
    return Result(pid, _status_of(reply), reply)


def _status_of(reply: Dict[str, Any]) -> int:
    if reply.get("ok") is True:
        return EXIT_OK
    kind = (reply.get("error") or {}).get("kind")
    if kind in ("refused", "busy"):
        return EXIT_REFUSED
    if kind == "usage":
        return EXIT_USAGE
    return EXIT_UNREACHABLE  # permission, protocol, internal: the process could not be used


def _send_to_all(name: str, request: Dict[str, Any], pids: Optional[List[int]], as_json: bool, timeout: float) -> int:
    every = pids is None
    if pids is None:
        pids = listening_pids()
        if not pids:
            print(f"hotreload: no listening processes in {socket_directory()}", file=sys.stderr)
            return EXIT_UNREACHABLE
    # --all means the processes that listen now: a stale socket is a process that is gone, not a target.
    results = _parallel(pids, lambda pid: ask(pid, request, timeout, bootstrap=not every))
    if every:
        results = [result for result in results if result.connected]
        if not results:
            print(f"hotreload: no listening processes in {socket_directory()}", file=sys.stderr)
            return EXIT_UNREACHABLE
    for result in results:
        if as_json:
            print(json.dumps(_as_json(name, result), sort_keys=True))
        else:
            _print_result(name, result, prefix=f"{result.pid}: " if every else "")
    return max(result.status for result in results)


def _parallel(pids: List[int], work: Callable[[int], Result]) -> List[Result]:
    if len(pids) <= 1:
        return [work(pid) for pid in pids]
    with ThreadPoolExecutor(max_workers=min(16, len(pids))) as pool:
        return list(pool.map(work, pids))


# -- printing results ----------------------------------------------------------------------


def _as_json(name: str, result: Result) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "pid": result.pid,
        "command": name,
        "ok": result.status == EXIT_OK,
        "exit_status": result.status,
    }
    if result.problem:
        out["error"] = {"kind": "unreachable", "message": result.problem}
    else:
        if "result" in result.reply:
            out["result"] = result.reply["result"]
        if "error" in result.reply:
            out["error"] = result.reply["error"]
    return out


def _print_result(name: str, result: Result, *, prefix: str) -> None:
    if result.problem:
        print(f"{prefix}hotreload: {result.problem}", file=sys.stderr)
        return
    reply = result.reply
    if reply.get("ok"):
        text = _success_text(name, reply.get("result") or {}, one_line=bool(prefix))
        print(prefix + text)
        return
    for line in _partial_results(reply):
        print(prefix + line)
    error = reply.get("error") or {}
    print(f"{prefix}{_error_text(error)}", file=sys.stderr)


def _success_text(name: str, result: Dict[str, Any], *, one_line: bool) -> str:
    if name == "apply":
        return str(result.get("summary", "applied"))
    if name == "reload":
        lines = [str(item.get("summary")) for item in result.get("results", [])]
        return "; ".join(lines) if one_line else "\n".join(lines)
    return _status_text(result, one_line=one_line)


def _partial_results(reply: Dict[str, Any]) -> List[str]:
    """The modules a refused ``reload`` did reload before the one that failed."""
    items = (reply.get("result") or {}).get("results", [])
    return [str(item["summary"]) for item in items if item.get("ok")]


def _error_text(error: Dict[str, Any]) -> str:
    kind = error.get("kind")
    message = str(error.get("message", "unknown error"))
    where = ""
    if error.get("file") and error.get("line") and f"line {error['line']}" not in message:
        where = f" ({error['file']}, line {error['line']})"
    label = {"refused": "refused", "busy": "refused", "usage": "bad request"}.get(str(kind), "error")
    return f"hotreload: {label}: {message}{where}"


def _status_text(result: Dict[str, Any], *, one_line: bool) -> str:
    history = result.get("history", [])
    hotfixes = sum(1 for item in history if item.get("kind") == "hotfix" and item.get("ok"))
    reloads = sum(1 for item in history if item.get("kind") == "reload" and item.get("ok"))
    refused = sum(1 for item in history if not item.get("ok"))
    head = (
        f"python {result.get('python')}, {result.get('modules_loaded')} modules loaded, "
        f"{reloads} reload(s), {hotfixes} hotfix(es), {refused} refused"
    )
    if one_line:
        return head
    lines = [
        f"process {result.get('pid')}: {' '.join(result.get('argv') or [])}",
        f"  {head}",
        f"  python {result.get('executable')}, hotreload {result.get('hotreload')}, cwd {result.get('cwd')}",
        f"  listening since {_clock(result.get('started'))} on {result.get('socket')}",
    ]
    if result.get("journal"):
        lines.append(f"  journal {result['journal']} ({result.get('journal_entries')} entries)")
    program = result.get("program_modules") or []
    if program:
        lines.append(f"  program modules ({len(program)}):")
        lines.extend(f"    {item['module']}  {item['file']}" for item in program)
    if history:
        lines.append("  reloaded and applied (oldest first):")
        for item in history:
            outcome = "ok     " if item.get("ok") else "REFUSED"
            summary = str(item.get("summary", "")).splitlines()[0]
            what = f"{item.get('kind')} {item.get('name')} [{item.get('origin')}]"
            lines.append(f"    {_clock(item.get('time'))} {outcome} {what}: {summary}")
    return "\n".join(lines)


def _clock(stamp: Any) -> str:
    if not isinstance(stamp, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


# -- ps --------------------------------------------------------------------------------------


def _ps(as_json: bool) -> int:
    """Lists processes that answer on their socket; stale sockets (nobody listening) are skipped."""
    results = _parallel(listening_pids(), lambda pid: ask(pid, {"op": "hello"}, PS_TIMEOUT, bootstrap=False))
    alive = [result for result in results if result.status == EXIT_OK]
    if as_json:
        for result in alive:
            print(json.dumps(result.reply["result"], sort_keys=True))
        return EXIT_OK
    if alive:
        print(f"{'PID':>7}  {'PYTHON':<8} {'SINCE':<19}  COMMAND")
    for result in alive:
        info = result.reply["result"]
        command = " ".join(info.get("argv") or []) or "?"
        print(f"{result.pid:>7}  {info.get('python', '?'):<8} {_clock(info.get('started')):<19}  {command}")
    return EXIT_OK


# -- console ----------------------------------------------------------------------------------


def _console(pid: int) -> int:
    """Relays the operator's terminal to a console in process ``pid`` until either side leaves."""
    try:
        sock = connect(pid)
        _protocol.send(sock, {"op": "console"}, limit=_protocol.MAX_REQUEST)
        reply = _protocol.receive(sock, deadline=time.monotonic() + CONNECT_TIMEOUT)
    except Unreachable as error:
        print(f"hotreload: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (OSError, _protocol.ProtocolError) as error:
        print(f"hotreload: process {pid}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if reply is None or not reply.get("ok"):
        print(_error_text((reply or {}).get("error") or {"message": "the process closed the connection"}), file=sys.stderr)
        return _status_of(reply) if reply else EXIT_UNREACHABLE
    sock.settimeout(None)
    return _relay(sock)


def _relay(sock: socket.socket) -> int:
    finished = threading.Event()
    wake_read, wake_write = os.pipe()

    def show_output() -> None:
        try:
            while True:
                message = _protocol.receive(sock)
                if message is None or message.get("exit"):
                    break
                text = message.get("output")
                if isinstance(text, str):
                    sys.stdout.write(text)
                    sys.stdout.flush()
        except (OSError, _protocol.ProtocolError):
            pass
        finally:
            finished.set()
            os.write(wake_write, b"x")

    reader = threading.Thread(target=show_output, name="hotreload-console-output", daemon=True)
    reader.start()
    stdin = sys.stdin.fileno()
    try:
        while not finished.is_set():
            try:
                ready, _, _ = select.select([stdin, wake_read], [], [])
                if stdin not in ready:
                    continue
                data = os.read(stdin, 65536)
                _protocol.send(
                    sock,
                    {"input": data.decode("utf-8", "replace")} if data else {"eof": True},
                    limit=_protocol.MAX_REQUEST,
                )
                if not data:
                    break
            except KeyboardInterrupt:
                _protocol.send(sock, {"interrupt": True}, limit=_protocol.MAX_REQUEST)
            except OSError as error:
                if error.errno not in (errno.EINTR,):
                    break
        finished.wait(5.0)
    except OSError:
        pass
    finally:
        sock.close()  # ends the output thread if the process did not
        reader.join(5.0)
        if not reader.is_alive():
            os.close(wake_read)
            os.close(wake_write)
    return EXIT_OK
