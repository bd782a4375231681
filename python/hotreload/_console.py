"""The remote console: an interactive Python prompt inside the process, over the socket.

``python -m hotreload console PID`` gets a prompt that runs in a thread of the
target process, while the program goes on running in its own threads. After
the opening request the connection carries console frames (see
:mod:`hotreload._protocol`)::

    client -> process   {"input": "text"}   {"interrupt": true}   {"eof": true}
    process -> client   {"output": "text"}  {"exit": true}

``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` are routed per thread while a
console is open: the console's thread reads and writes the connection, every
other thread keeps the program's own streams. So ``print`` and tracebacks at
the prompt reach the operator, ``pdb`` (which reads ``sys.stdin`` and writes
``sys.stdout``) runs with its input and output on the operator's terminal, and
the program's own output still goes where it always went.

``{"interrupt": true}`` (the operator's Ctrl-C) discards the line being typed,
or raises ``KeyboardInterrupt`` in code the console is running.
"""

from __future__ import annotations

import code
import ctypes
import io
import logging
import os
import queue
import socket
import sys
import threading
from typing import Any, Dict, Optional, Tuple

from hotreload import _protocol

__all__ = ["serve_console"]

logger = logging.getLogger("hotreload")

_routes_lock = threading.Lock()
_routes: Dict[int, Tuple["_Input", "_Output"]] = {}
_originals: Optional[Tuple[Any, Any, Any]] = None


class _Routed:
    """Stands in for ``sys.stdin``/``stdout``/``stderr``: the console's stream in its thread."""

    def __init__(self, index: int, original: Any) -> None:
        self._index = index
        self._original = original

    def _target(self) -> Any:
        route = _routes.get(threading.get_ident())
        if route is None:
            return self._original
        return route[0] if self._index == 0 else route[1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __iter__(self) -> Any:
        return iter(self._target())


def _route(thread: int, streams: Tuple["_Input", "_Output"]) -> None:
    """Sends ``thread``'s standard streams to a console; the first route installs the proxies."""
    global _originals
    with _routes_lock:
        if not _routes:
            _originals = (sys.stdin, sys.stdout, sys.stderr)
            sys.stdin, sys.stdout, sys.stderr = (_Routed(i, stream) for i, stream in enumerate(_originals))
        _routes[thread] = streams


def _unroute(thread: int) -> None:
    """Removes a route; the last one puts the program's own streams back (if still ours)."""
    global _originals
    with _routes_lock:
        _routes.pop(thread, None)
        if _routes or _originals is None:
            return
        for attribute, original in zip(("stdin", "stdout", "stderr"), _originals):
            if isinstance(getattr(sys, attribute), _Routed):
                setattr(sys, attribute, original)
        _originals = None


class _Connection:
    """The console's side of the socket: a reader thread feeding a queue, and framed writes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbox: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self.running_code = threading.Event()
        self.console_thread = threading.get_ident()
        self._send_lock = threading.Lock()
        self.gone = False
        self._reader = threading.Thread(target=self._read, name="hotreload-console-input", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                message = _protocol.receive(self.sock, limit=_protocol.MAX_REQUEST)
                if message is None:
                    break
                if message.get("interrupt") and self.running_code.is_set():
                    _raise_in_thread(self.console_thread, KeyboardInterrupt)
                    continue
                self.inbox.put(message)
        except (OSError, _protocol.ProtocolError) as error:
            logger.debug("console: connection ended: %s", error)
        finally:
            self.inbox.put(None)

    def send(self, message: Dict[str, Any]) -> None:
        if self.gone:
            return
        with self._send_lock:
            try:
                _protocol.send(self.sock, message)
            except OSError:
                self.gone = True  # the operator went away; the console ends at its next read


def _raise_in_thread(thread: int, exception: type) -> None:
    """Raises ``exception`` in ``thread`` at its next bytecode (how Ctrl-C stops console code)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exception))


class _Input(io.TextIOBase):
    """The console's stdin: lines the operator typed."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self._pending = ""
        self._ended = False

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def readline(self, size: Optional[int] = -1) -> str:  # type: ignore[override]
        while "\n" not in self._pending and not self._ended:
            message = self._connection.inbox.get()
            if message is None or message.get("eof"):
                self._ended = True
            elif message.get("interrupt"):
                self._pending = ""
                raise KeyboardInterrupt
            elif isinstance(message.get("input"), str):
                self._pending += message["input"]
        line, newline, self._pending = self._pending.partition("\n")
        return line + newline

    def read(self, size: Optional[int] = -1) -> str:
        return self.readline()


class _Output(io.TextIOBase):
    """The console's stdout and stderr: each write goes to the operator at once."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if text:
            self._connection.send({"output": str(text)})
        return len(text)


class _Console(code.InteractiveConsole):
    def __init__(self, connection: _Connection, stdin: _Input, stdout: _Output, namespace: Dict[str, Any]) -> None:
        super().__init__(namespace, filename="<hotreload console>")
        self._connection = connection
        self._stdin = stdin
        self._stdout = stdout

    def raw_input(self, prompt: str = "") -> str:
        self._stdout.write(prompt)
        line = self._stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def write(self, data: str) -> None:
        self._stdout.write(data)

    def runcode(self, code_object: Any) -> None:
        self._connection.running_code.set()
        try:
            super().runcode(code_object)
        finally:
            self._connection.running_code.clear()


def serve_console(sock: socket.socket, peer: str) -> None:
    """Runs one console session on ``sock`` in the calling thread, until the operator leaves."""
    import hotreload  # the package is loaded by now; imported here to keep this module a leaf

    connection = _Connection(sock)
    stdin, stdout = _Input(connection), _Output(connection)
    namespace: Dict[str, Any] = {"__name__": "__console__", "__doc__": None, "hotreload": hotreload}
    console = _Console(connection, stdin, stdout, namespace)
    banner = (
        f"hotreload console in process {os.getpid()} (Python {sys.version.split()[0]}, {sys.executable}).\n"
        "The program keeps running. `import __main__` reaches it; pdb works here. Ctrl-D leaves."
    )
    logger.info("console opened by %s", peer)
    thread = threading.get_ident()
    _route(thread, (stdin, stdout))
    try:
        console.interact(banner=banner, exitmsg="")
    except SystemExit:
        pass  # exit() at the prompt ends the session, never the program
    except BaseException as error:  # an interrupt that arrived after the code ended
        logger.debug("console ended by %r", error)
    finally:
        _unroute(thread)
        connection.send({"exit": True})
        logger.info("console closed (%s)", peer)
