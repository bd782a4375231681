"""Reaching a process that never called ``listen()``: ``sys.remote_exec`` (Python 3.14+).

``sys.remote_exec(pid, path)`` (PEP 768) makes the target's main thread run a
file at its next bytecode boundary; it sends nothing back. So the file written
here only starts the listener, and writes one line saying how that went (the
socket's path, or the error) next to itself; the command then talks over the
socket as usual. The file deletes itself as its first action, and this side
deletes it too once the wait is over, so nothing is left behind either way
(a target that runs it later finds no file and does nothing).

The kernel's ptrace rules apply (same user plus the Yama scope, or
CAP_SYS_PTRACE), the target must run the same Python major.minor, it must not
have disabled remote debugging (``PYTHON_DISABLE_REMOTE_DEBUG``, ``-X
disable_remote_debug``), hotreload must be importable there, and its main
thread must get to run bytecode: a main thread blocked in a long C call
answers only when the call returns.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Callable, Optional

from hotreload._listen import private_directory

__all__ = ["BOOTSTRAP_TIMEOUT", "BootstrapError", "start_listener"]

BOOTSTRAP_TIMEOUT = 10.0
"""Seconds to wait for the target's main thread to run the bootstrap."""

_BOOTSTRAP = """\
def _hotreload_bootstrap(script, outcome):
    import os
    try:
        os.unlink(script)
    except OSError:
        pass
    try:
        import hotreload
        message = "ok\\n" + hotreload.listen().path
    except Exception as error:
        message = "error\\n" + type(error).__name__ + ": " + str(error)
    descriptor = os.open(outcome + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(message)
    os.rename(outcome + ".tmp", outcome)


_hotreload_bootstrap({script!r}, {outcome!r})
"""


class BootstrapError(Exception):
    """The process could not be made to listen; the message says why."""


def start_listener(pid: int, timeout: float = BOOTSTRAP_TIMEOUT) -> str:
    """Makes process ``pid`` call ``hotreload.listen()``; returns its socket's path."""
    remote_exec: Optional[Callable[[int, str], None]] = getattr(sys, "remote_exec", None)
    if remote_exec is None:
        raise BootstrapError(
            f"process {pid} is not listening: call hotreload.listen() in it (or run it with "
            "`python -m hotreload run --listen`); reaching a process that does not listen needs "
            f"Python 3.14+ (sys.remote_exec), and this is Python {sys.version.split()[0]}"
        )
    base = os.path.join(private_directory(), f"{pid}.bootstrap-{secrets.token_hex(8)}")
    script, outcome = base + ".py", base + ".outcome"
    descriptor = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(_BOOTSTRAP.format(script=script, outcome=outcome))
    try:
        try:
            remote_exec(pid, script)
        except Exception as error:
            raise BootstrapError(f"process {pid} is not listening, and sys.remote_exec cannot reach it: {error}") from None
        return _wait_for(pid, outcome, timeout)
    finally:
        for leftover in (script, outcome, outcome + ".tmp"):
            try:
                os.unlink(leftover)
            except OSError:
                pass


def _wait_for(pid: int, outcome: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(outcome) as file:
                status, _, detail = file.read().partition("\n")
        except FileNotFoundError:
            time.sleep(0.01)
            continue
        if status == "ok":
            return detail
        raise BootstrapError(f"process {pid} is not listening, and could not be made to: {detail}")
    raise BootstrapError(
        f"process {pid} is not listening, and did not run the sys.remote_exec bootstrap within "
        f"{timeout:g} s (its main thread may be blocked in a long call)"
    )
