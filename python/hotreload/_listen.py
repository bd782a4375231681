"""The control socket: hotfixes, reloads, status and a console, from the same user's shell.

``listen()`` binds ``PID.sock`` in a directory only this user can enter
(``$XDG_RUNTIME_DIR/hotreload`` or ``/tmp/hotreload-UID``, mode 0700; the socket
0600) and serves it on a daemon thread named ``hotreload-listen``. There is no
network listener at all. Every connection's peer uid is read from the kernel
(``SO_PEERCRED``) and a peer that is neither this process's effective uid nor
root is refused and logged, whatever the file modes say.

The listener thread never runs user code: it accepts connections and reads
their request frames (non-blocking, all connections in one selector), so a
client that connects and says nothing costs one file descriptor until its
:data:`REQUEST_TIMEOUT` passes, and cannot delay anyone else. A complete request
goes to a worker thread (at most :data:`MAX_WORKERS` at once, a console being
one); a change waits at most :data:`LOCK_TIMEOUT` for the process's change lock
and is refused as busy after that, changing nothing.

A forked child (a pre-fork server's workers) does not inherit the listener: it
gets its own socket for its own pid, with the same journal.
"""

from __future__ import annotations

import atexit
import dataclasses
import errno
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Union

from hotreload import _history, _journal, _protocol
from hotreload._errors import ReloadError
from hotreload._lock import change_lock
from hotreload._reload import reload
from hotreload._watch import default_directories, source_file

__all__ = ["Listener", "listen", "socket_directory", "socket_path"]

logger = logging.getLogger("hotreload")

REQUEST_TIMEOUT = 5.0
"""Seconds a client has, from connecting, to send its whole request."""
SEND_TIMEOUT = 10.0
"""Seconds a reply may take to leave (a client that stops reading is dropped)."""
LOCK_TIMEOUT = 10.0
"""Seconds remote work waits for the change lock before it is refused as busy."""
MAX_PENDING = 64
"""Connections that may be waiting for their request at once; more are refused."""
MAX_WORKERS = 8
"""Requests (consoles included) that may run at once; more are refused as busy."""

_PEERCRED = struct.Struct("3i")
_SUN_PATH_MAX = 107

Handler = Callable[["_Request"], Dict[str, Any]]


# -- where sockets live ------------------------------------------------------------------


def socket_directory() -> str:
    """This user's socket directory: ``$XDG_RUNTIME_DIR/hotreload`` or ``/tmp/hotreload-UID``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "hotreload")
    return os.path.join("/tmp", f"hotreload-{os.geteuid()}")


def socket_path(pid: int) -> str:
    return os.path.join(socket_directory(), f"{pid}.sock")


def private_directory() -> str:
    """The socket directory, created 0700 if missing; refused if someone else could use it.

    ``/tmp/hotreload-UID`` could have been created by another user to catch
    our sockets: it must be a real directory (not a symlink) owned by us.
    """
    directory = socket_directory()
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"socket directory {directory} is not a directory (a symlink?); refusing to use it")
    if info.st_uid != os.geteuid():
        raise PermissionError(f"socket directory {directory} belongs to uid {info.st_uid}, not to this user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        logger.warning("socket directory %s had mode %o; set to 700", directory, stat.S_IMODE(info.st_mode))
        os.chmod(directory, 0o700)
    return directory


# -- the listener ----------------------------------------------------------------------------


@dataclasses.dataclass
class _Pending:
    """A connection whose request has not fully arrived yet."""

    sock: socket.socket
    peer: str
    deadline: float
    reader: _protocol.FrameReader


@dataclasses.dataclass
class _Request:
    sock: socket.socket
    peer: str
    message: Dict[str, Any]


class _Refusal(Exception):
    """A request answered with an error; ``kind`` tells the client which exit status."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Listener:
    """This process's control socket, served on the thread ``hotreload-listen``.

    Made by :func:`listen`. A context manager: leaving the ``with`` block calls
    :meth:`close`.
    """

    def __init__(self, journal: Optional[_journal.Journal] = None) -> None:
        self.pid = os.getpid()
        self.journal = journal
        self.started = time.time()
        self.path = os.path.join(private_directory(), f"{self.pid}.sock")
        self._server = _bind(self.path)
        self._inode = os.stat(self.path).st_ino
        self._wake_read, self._wake_write = socket.socketpair()
        self._workers = threading.BoundedSemaphore(MAX_WORKERS)
        self._closing = threading.Event()
        self._handlers: Dict[str, Handler] = {
            "hello": self._hello,
            "status": self._status,
            "apply": self._apply,
            "reload": self._reload,
        }
        if journal is not None:
            _journal.activate(journal)
        self._thread = threading.Thread(target=self._serve, name="hotreload-listen", daemon=True)
        self._thread.start()
        logger.info("listening on %s%s", self.path, f" (journal {journal.directory})" if journal else "")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "listening"
        return f"<hotreload.Listener {state} on {self.path!r}>"

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Stops serving and removes the socket (if it is still this listener's). Idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._remove_socket()
        if self.journal is not None:
            _journal.deactivate(self.journal)
        _forget(self)
        logger.info("stopped listening on %s", self.path)

    def _remove_socket(self) -> None:
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    def _abandon(self) -> None:
        """In a forked child: drop the parent's listener without touching its socket file."""
        self._closing.set()
        for sock in (self._server, self._wake_read, self._wake_write):
            sock.close()
        if self.journal is not None:
            _journal.deactivate(self.journal)

    # -- the listener thread: accept and read requests -------------------------------

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._server, selectors.EVENT_READ, None)
        selector.register(self._wake_read, selectors.EVENT_READ, None)
        pending: Dict[socket.socket, _Pending] = {}
        try:
            while not self._closing.is_set():
                for key, _ in selector.select(_next_timeout(pending)):
                    if key.fileobj is self._server:
                        self._accept(selector, pending)
                    elif key.fileobj is not self._wake_read:
                        self._read(selector, pending, key.data)
                self._expire(selector, pending)
        except Exception:  # never expected; the program must not notice either way
            logger.exception("hotreload listener on %s failed; it no longer serves", self.path)
        finally:
            for waiting in list(pending.values()):
                waiting.sock.close()
            selector.close()
            self._server.close()
            self._wake_read.close()
            self._wake_write.close()

    def _accept(self, selector: selectors.BaseSelector, pending: Dict[socket.socket, _Pending]) -> None:
        try:
            sock, _ = self._server.accept()
        except OSError as error:  # EMFILE and friends: try again on the next event
            logger.warning("listener %s: accept failed: %s", self.path, error)
            time.sleep(0.05)
            return
        try:
            pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        except OSError as error:  # without the kernel's word on who it is, nobody gets in
            logger.warning("listener %s: cannot read the peer's credentials (%s); connection refused", self.path, error)
            sock.close()
            return
        peer = f"pid {pid} uid {uid}"
        if uid not in (os.geteuid(), 0):
            logger.warning("listener %s: refused a connection from %s (not this user, not root)", self.path, peer)
            _reply_and_close(sock, _error("permission", "permission denied: this process accepts only its own user and root"))
            return
        if len(pending) >= MAX_PENDING:
            logger.warning("listener %s: too many connections waiting; refused %s", self.path, peer)
            _reply_and_close(sock, _error("busy", "busy: too many connections are waiting; try again"))
            return
        sock.setblocking(False)
        waiting = _Pending(sock, peer, time.monotonic() + REQUEST_TIMEOUT, _protocol.FrameReader(_protocol.MAX_REQUEST))
        pending[sock] = waiting
        selector.register(sock, selectors.EVENT_READ, waiting)

    def _read(self, selector: selectors.BaseSelector, pending: Dict[socket.socket, _Pending], waiting: _Pending) -> None:
        try:
            data = waiting.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        try:
            messages = waiting.reader.feed(data) if data else []
        except _protocol.ProtocolError as error:
            logger.warning("listener %s: bad message from %s: %s", self.path, waiting.peer, error)
            self._drop(selector, pending, waiting, _error("protocol", str(error)))
            return
        if not data:  # the client went away before its request was whole: nothing to do
            logger.debug("listener %s: %s left without a complete request", self.path, waiting.peer)
            self._drop(selector, pending, waiting, None)
        elif messages:
            selector.unregister(waiting.sock)
            del pending[waiting.sock]
            self._dispatch(_Request(waiting.sock, waiting.peer, messages[0]))

    def _expire(self, selector: selectors.BaseSelector, pending: Dict[socket.socket, _Pending]) -> None:
        now = time.monotonic()
        for waiting in [w for w in pending.values() if w.deadline <= now]:
            logger.warning("listener %s: %s sent no complete request within %.0f s", self.path, waiting.peer, REQUEST_TIMEOUT)
            self._drop(selector, pending, waiting, _error("protocol", f"no complete request within {REQUEST_TIMEOUT:.0f} s"))

    @staticmethod
    def _drop(
        selector: selectors.BaseSelector,
        pending: Dict[socket.socket, _Pending],
        waiting: _Pending,
        reply: Optional[Dict[str, Any]],
    ) -> None:
        selector.unregister(waiting.sock)
        del pending[waiting.sock]
        if reply is None:
            waiting.sock.close()
        else:
            _reply_and_close(waiting.sock, reply)

    def _dispatch(self, request: _Request) -> None:
        if not self._workers.acquire(blocking=False):
            logger.warning("listener %s: %d requests running; refused %s", self.path, MAX_WORKERS, request.peer)
            _reply_and_close(request.sock, _error("busy", f"busy: {MAX_WORKERS} requests are running; try again"))
            return
        worker = threading.Thread(target=self._work, args=(request,), name="hotreload-request", daemon=True)
        try:
            worker.start()
        except RuntimeError:  # cannot start a thread (interpreter shutting down, limits)
            self._workers.release()
            _reply_and_close(request.sock, _error("busy", "busy: cannot start a worker thread"))

    # -- worker threads: run one request ---------------------------------------------------

    def _work(self, request: _Request) -> None:
        sock = request.sock
        token = _history.origin.set(f"remote ({request.peer})")
        try:
            sock.setblocking(True)
            sock.settimeout(SEND_TIMEOUT)
            if request.message.get("op") == "console":
                # Imported when first asked for: every process imports hotreload, few open a console.
                from hotreload._console import serve_console

                sock.settimeout(None)  # an operator's session: idle as long as they like
                _protocol.send(sock, {"ok": True, "result": {"pid": self.pid}})
                serve_console(sock, request.peer)
                return
            reply = self._answer(request)
            try:
                data = _protocol.encode(reply)
            except ValueError as error:  # a reply too large for the protocol
                data = _protocol.encode(_error("internal", f"the reply could not be sent: {error}"))
            sock.sendall(data, socket.MSG_NOSIGNAL)
        except OSError as error:  # the client went away; whatever ran, ran
            logger.info("listener %s: could not reply to %s: %s", self.path, request.peer, error)
        finally:
            _history.origin.reset(token)
            sock.close()
            self._workers.release()

    def _answer(self, request: _Request) -> Dict[str, Any]:
        message = request.message
        operation = message.get("op")
        handler = self._handlers.get(operation) if isinstance(operation, str) else None
        if handler is None:
            return _error("usage", f"unknown operation {operation!r} (known: {', '.join(sorted([*self._handlers, 'console']))})")
        try:
            return handler(request)
        except _Refusal as refusal:
            return _error(refusal.kind, str(refusal))
        except BaseException as error:  # a hotfix calling sys.exit() must not end the process
            logger.exception("listener %s: %s failed", self.path, operation)
            return _error("internal", f"{type(error).__name__}: {error}")

    def _hello(self, request: _Request) -> Dict[str, Any]:
        return {"ok": True, "result": self._identity()}

    def _identity(self) -> Dict[str, Any]:
        import hotreload

        return {
            "pid": self.pid,
            "argv": list(sys.argv),
            "executable": sys.executable,
            "python": sys.version.split()[0],
            "hotreload": hotreload.__version__,
            "cwd": os.getcwd(),
            "started": self.started,
            "socket": self.path,
            "journal": self.journal.directory if self.journal else None,
        }

    def _status(self, request: _Request) -> Dict[str, Any]:
        loaded = [name for name, module in list(sys.modules.items()) if module is not None]
        directories = default_directories()
        program: List[Dict[str, str]] = []
        for name in sorted(loaded):
            path = source_file(sys.modules.get(name))
            if path and os.path.dirname(os.path.realpath(path)) in directories:
                program.append({"module": name, "file": path})
        result = self._identity()
        result.update(
            modules_loaded=len(loaded),
            program_modules=program,
            history=_history.entries(),
            journal_entries=len(self.journal.entries()) if self.journal else None,
        )
        return {"ok": True, "result": result}

    def _apply(self, request: _Request) -> Dict[str, Any]:
        path = request.message.get("path")
        if not isinstance(path, str) or not os.path.isabs(path) or "\0" in path:
            raise _Refusal("usage", "apply needs 'path', the absolute path of the hotfix script")
        with _holding_change_lock():
            try:
                report, entry = _journal.apply_and_record(path)
            except ReloadError as error:
                return _error("refused", str(error), error)
            except BaseException as error:  # rolled back by apply_hotfix before it re-raised
                return _error("refused", f"hotfix {path} raised {type(error).__name__}: {error} (rolled back)")
        result = dataclasses.asdict(report)
        result.update(summary=str(report), journal_entry=entry)
        return {"ok": True, "result": result}

    def _reload(self, request: _Request) -> Dict[str, Any]:
        modules = request.message.get("modules")
        if not isinstance(modules, list) or not modules or not all(isinstance(m, str) and m for m in modules):
            raise _Refusal("usage", "reload needs 'modules', a non-empty list of module names")
        results: List[Dict[str, Any]] = []
        for name in modules:
            with _holding_change_lock():
                outcome = _reload_one(name)
            results.append(outcome)
            if not outcome["ok"]:
                # Later modules may build on this one: stop, so nothing runs against a failed module.
                results.extend({"module": rest, "ok": False, "skipped": True} for rest in modules[len(results) :])
                reply = _error("refused", outcome["error"]["message"], None)
                reply["error"] = outcome["error"]
                reply["result"] = {"results": results}
                return reply
        return {"ok": True, "result": {"results": results}}


def _reload_one(name: str) -> Dict[str, Any]:
    try:
        report = reload(name)  # reload() itself notes it in the history
    except ReloadError as error:
        return {"module": name, "ok": False, "error": _error("refused", str(error), error)["error"]}
    except BaseException as error:  # reload is transactional: whatever it raised, nothing changed
        message = f"reload of {name} raised {type(error).__name__}: {error}"
        _history.note("reload", name, ok=False, summary=message, origin=_history.origin.get())
        return {"module": name, "ok": False, "error": _error("refused", message)["error"]}
    result = dataclasses.asdict(report)
    result.update(ok=True, summary=str(report))
    return result


class _holding_change_lock:
    """The change lock for one piece of remote work, or a busy refusal after LOCK_TIMEOUT."""

    def __enter__(self) -> None:
        if not change_lock.acquire(timeout=LOCK_TIMEOUT):
            raise _Refusal("busy", f"busy: another change has held the lock for {LOCK_TIMEOUT:.0f} s; nothing was changed")

    def __exit__(self, *exc_info: object) -> None:
        change_lock.release()


def _error(kind: str, message: str, error: Optional[ReloadError] = None) -> Dict[str, Any]:
    detail: Dict[str, Any] = {"kind": kind, "message": message}
    if error is not None:
        detail.update(type=type(error).__name__, module=error.name, file=error.path, line=error.lineno)
    return {"ok": False, "error": detail}


def _reply_and_close(sock: socket.socket, reply: Dict[str, Any]) -> None:
    """Best effort, never blocking: a small error frame fits any socket buffer."""
    try:
        sock.setblocking(False)
        sock.send(_protocol.encode(reply), socket.MSG_NOSIGNAL)
    except OSError:
        pass
    finally:
        sock.close()


def _next_timeout(pending: Dict[socket.socket, _Pending]) -> Optional[float]:
    if not pending:
        return None
    return max(0.0, min(w.deadline for w in pending.values()) - time.monotonic())


def _bind(path: str) -> socket.socket:
    """A listening socket at ``path``, mode 0600, replacing whatever stale file was there.

    Bound under a temporary name and renamed into place, so a client never
    sees a half-made socket and a stale file is replaced in one step.
    """
    # The same directory (rename is atomic only there), and short: sun_path holds 107 bytes.
    temporary = os.path.join(os.path.dirname(path), f".{os.getpid()}.tmp")
    if len(os.fsencode(temporary)) > _SUN_PATH_MAX:
        raise OSError(
            errno.ENAMETOOLONG,
            f"socket path {path} is too long for a Unix socket ({_SUN_PATH_MAX} bytes at most); "
            "set XDG_RUNTIME_DIR to a shorter directory",
        )
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        server.bind(temporary)
        os.chmod(temporary, 0o600)
        server.listen(MAX_PENDING)
        os.rename(temporary, path)
    except BaseException:
        server.close()
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return server


# -- the process's one listener --------------------------------------------------------------

_current_lock = threading.Lock()
_current: Optional[Listener] = None
_fork_hook_registered = False


def listen(*, journal: Union[str, "os.PathLike[str]", None] = None) -> Listener:
    """Opens this process's control socket and serves it; returns the :class:`Listener`.

    With ``journal=DIR``, every hotfix that applies from then on (remotely or
    not) is saved into DIR, for :func:`hotreload.replay`. Calling ``listen``
    again while listening returns the same listener (``ValueError`` if it asks
    for a different journal). Raises ``OSError`` (``PermissionError``) if the
    socket directory is not this user's alone.
    """
    global _current, _fork_hook_registered
    wanted = None if journal is None else os.path.abspath(os.fsdecode(os.fspath(journal)))
    with _current_lock:
        current = _current
        if current is not None and not current.closed:
            have = current.journal.directory if current.journal else None
            if wanted is not None and wanted != have:
                raise ValueError(f"already listening on {current.path} with journal {have}, not {wanted}")
            return current
        _current = Listener(_journal.Journal(wanted) if wanted is not None else None)
        if not _fork_hook_registered:
            os.register_at_fork(after_in_child=_listen_in_child)
            atexit.register(_close_at_exit)
            _fork_hook_registered = True
        return _current


def _forget(listener: Listener) -> None:
    global _current
    with _current_lock:
        if _current is listener:
            _current = None


def _listen_in_child() -> None:
    """A forked child gets its own socket (its own pid), with the parent's journal."""
    global _current, _current_lock
    _current_lock = threading.Lock()  # the parent's could have been held by another thread
    parent = _current
    if parent is None or parent.closed:
        return
    parent._abandon()
    _current = None
    try:
        listen(journal=parent.journal.directory if parent.journal else None)
    except Exception as error:
        logger.warning("forked process %d could not listen: %s", os.getpid(), error)


def _close_at_exit() -> None:
    listener = _current
    if listener is not None and listener.pid == os.getpid():
        listener.close(timeout=1.0)
