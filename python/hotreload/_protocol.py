"""The control socket's wire protocol: length-prefixed, versioned JSON frames.

Every message, in either direction, is one frame::

    b"HRL"  version (1 byte)  length (4 bytes, big-endian)  body (length bytes)

The body is a UTF-8 JSON object. A request names its operation in ``"op"``; a
reply is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {...}}``.
The header has the same shape in every version, so a peer that speaks another
version can always read the error that says so. Frames are size-limited
(:data:`MAX_REQUEST` towards the process, :data:`MAX_REPLY` back): an oversized
length is refused from the header alone, before any body is read.

This module only encodes and decodes; it knows nothing of sockets' owners or of
what the operations do.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any, Dict, List, Optional

__all__ = [
    "HEADER",
    "MAGIC",
    "MAX_REPLY",
    "MAX_REQUEST",
    "VERSION",
    "FrameReader",
    "ProtocolError",
    "decode_body",
    "encode",
    "receive",
    "send",
]

MAGIC = b"HRL"
VERSION = 1
_HEADER = struct.Struct(">3sBI")
HEADER = _HEADER.size

MAX_REQUEST = 64 * 1024
"""Largest request body a process accepts (requests name files, they do not carry them)."""
MAX_REPLY = 16 * 1024 * 1024
"""Largest reply body a client accepts (a status of a process with many modules)."""

Message = Dict[str, Any]


class ProtocolError(Exception):
    """A frame that is not a valid message: bad magic, version, size or body."""


def encode(message: Message, *, limit: int = MAX_REPLY) -> bytes:
    """One frame holding ``message``; ``ValueError`` if it exceeds ``limit``."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    if len(body) > limit:
        raise ValueError(f"message of {len(body)} bytes exceeds the limit of {limit}")
    return _HEADER.pack(MAGIC, VERSION, len(body)) + body


def parse_header(header: bytes, limit: int) -> int:
    """The body length announced by ``header``, or ProtocolError saying what is wrong."""
    magic, version, length = _HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError("not a hotreload message (bad magic bytes)")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version} is not supported (this side speaks version {VERSION})")
    if length > limit:
        raise ProtocolError(f"message of {length} bytes exceeds the limit of {limit}")
    return int(length)


def decode_body(body: bytes) -> Message:
    """The JSON object in ``body``, or ProtocolError."""
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"malformed message: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"malformed message: a JSON object was expected, not {type(message).__name__}")
    return message


class FrameReader:
    """Decodes frames from bytes as they arrive (for non-blocking sockets)."""

    def __init__(self, limit: int = MAX_REQUEST) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._length: Optional[int] = None

    def feed(self, data: bytes) -> List[Message]:
        """Adds ``data``; returns the messages it completes. ProtocolError on a bad frame."""
        self._buffer += data
        messages: List[Message] = []
        while True:
            if self._length is None:
                if len(self._buffer) < HEADER:
                    return messages
                self._length = parse_header(bytes(self._buffer[:HEADER]), self._limit)
                del self._buffer[:HEADER]
            if len(self._buffer) < self._length:
                return messages
            body = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._length = None
            messages.append(decode_body(body))

    @property
    def pending(self) -> bool:
        """True if a frame has started but not finished."""
        return bool(self._buffer) or self._length is not None


def send(sock: socket.socket, message: Message, *, limit: int = MAX_REPLY) -> None:
    """Sends one frame; a peer that went away raises ``OSError`` (never SIGPIPE)."""
    sock.sendall(encode(message, limit=limit), socket.MSG_NOSIGNAL)


def receive(sock: socket.socket, *, limit: int = MAX_REPLY, deadline: Optional[float] = None) -> Optional[Message]:
    """Reads one frame from a blocking socket; None if the peer closed before a frame began.

    ``deadline`` (a ``time.monotonic()`` value) bounds the whole read:
    ``socket.timeout`` when it passes. A frame cut short raises ProtocolError.
    """
    header = _read_exactly(sock, HEADER, deadline, allow_eof=True)
    if header is None:
        return None
    length = parse_header(header, limit)
    body = _read_exactly(sock, length, deadline, allow_eof=False)
    assert body is not None
    return decode_body(body)


def _read_exactly(sock: socket.socket, size: int, deadline: Optional[float], *, allow_eof: bool) -> Optional[bytes]:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(remaining)
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            if allow_eof and not chunks:
                return None
            raise ProtocolError("connection closed in the middle of a message")
        chunks += chunk
    return bytes(chunks)
