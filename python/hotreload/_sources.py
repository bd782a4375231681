"""The source each module was last loaded from, as far as hotreload knows it.

The data policy compares a module's new source with the one it was loaded
from. hotreload knows that source for modules imported after ``install()``
(the finder records the file as the import finds it) and for every module after
its first hotreload reload. Bytes are kept and decoded only when needed, so
recording costs one file read per import.

It also answers which source a module has now (:func:`read_source`): its file
if that is a regular file, or what its loader says (a module in a zip archive).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import stat
import threading
import types
from typing import Any, Dict, Optional, Tuple

from hotreload import _hotreload
from hotreload._errors import ReloadError
from hotreload._source_map import SourceMap, map_source

_lock = threading.Lock()
_sources: Dict[str, bytes] = {}
# The statements of a recorded source, once cut (a reload cuts the new source
# anyway, and the next reload compares against it).
_maps: Dict[str, Tuple[bytes, SourceMap]] = {}


def record(module_name: str, source: bytes, statements: Optional[SourceMap] = None) -> None:
    """Remembers ``source`` (and its statements, if already cut) as what ``module_name`` was loaded from."""
    with _lock:
        _sources[module_name] = source
        if statements is not None:
            _maps[module_name] = (source, statements)


def record_file(module_name: str, path: str) -> bool:
    """Remembers the current contents of ``path`` for ``module_name``, if it can be read.

    Called for every import once the finder is installed, so the read is one
    call into Rust (no file object); a file that cannot be read is not recorded
    (and False returned).
    """
    data = _hotreload.read_file(path)
    if data is None:
        return False
    _sources[module_name] = data
    return True


def record_from_loader(module_name: str, loader: Any) -> None:
    """Remembers what ``loader`` says ``module_name``'s source is (a zip archive's member).

    Called on import only for modules whose origin is no file that can be read.
    """
    get_source = getattr(loader, "get_source", None)
    if get_source is None:
        return
    try:
        text = get_source(module_name)
        data = None if text is None else _encode(text)
    except Exception:  # an import must never fail because of hotreload's bookkeeping
        return
    if data is not None:
        record(module_name, data)


def is_current(module_name: str, path: Optional[str]) -> bool:
    """True if the file at ``path`` holds exactly the source ``module_name`` was last loaded from."""
    with _lock:
        recorded = _sources.get(module_name)
    if recorded is None or path is None or not os.path.isfile(path):
        return False  # not a regular file (a FIFO would block): let the reload say what it is
    return _hotreload.read_file(path) == recorded


def known(module_name: str) -> bool:
    """True if the source ``module_name`` was last loaded from is recorded."""
    return module_name in _sources


def previous_map(module_name: str) -> Optional[SourceMap]:
    """The statements of the source ``module_name`` was last loaded from, or None if unknown."""
    with _lock:
        data = _sources.get(module_name)
        cached = _maps.get(module_name)
    if data is None:
        return None
    if cached is not None and cached[0] is data:
        return cached[1]
    text = previous(module_name)
    return None if text is None else map_source(text)


def previous(module_name: str) -> Optional[str]:
    """The source ``module_name`` was last loaded from, decoded, or None if unknown."""
    with _lock:
        data = _sources.get(module_name)
    if data is None:
        return None
    try:
        return importlib.util.decode_source(data)
    except (SyntaxError, UnicodeDecodeError):
        return None


# -- the module's current source ------------------------------------------------------

# PEP 263: the encoding declaration in the first two lines.
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def source_path(module: types.ModuleType) -> str:
    """The ``.py`` path a module is loaded from (a file, or a zip archive's member).

    Raises :class:`ReloadError` if it has none.
    """
    name = getattr(module, "__name__", "?")
    spec = getattr(module, "__spec__", None)
    path = getattr(spec, "origin", None) if spec is not None else None
    if not path or not isinstance(path, str) or path in ("built-in", "frozen"):
        path = getattr(module, "__file__", None)
    if isinstance(path, str) and path.endswith((".pyc", ".pyo")):
        try:
            path = importlib.util.source_from_cache(path)
        except ValueError:
            pass
    if not isinstance(path, str) or not path.endswith(".py"):
        raise ReloadError(
            f"module {name} has no Python source file to reload (found {path!r})",
            name=name,
            path=path if isinstance(path, str) else None,
        )
    return path


def read_source(module: types.ModuleType) -> Tuple[bytes, str]:
    """The current source of ``module`` (bytes, as stored) and the path it is known by.

    The file at :func:`source_path` if it exists; it must be a regular file: a
    FIFO, a device or a directory is refused at once, never opened in a way that
    could wait. If no file has that path (a module imported from a zip archive),
    the module's loader is asked (``get_source``). The source must not contain a
    null byte. Raises :class:`ReloadError` naming the module and the path.
    """
    path = source_path(module)
    name = getattr(module, "__name__", "?")
    try:
        data = read_regular_file(path)
    except (FileNotFoundError, NotADirectoryError) as missing:
        data = _from_loader(module, name, path, missing)
    except (OSError, ValueError) as error:
        raise ReloadError(f"cannot read the source of module {name} from {path}: {_reason(error)}", name=name, path=path) from error
    _refuse_null_byte(data, name, path)
    return data, path


def read_regular_file(path: str) -> bytes:
    """The bytes of ``path``; OSError if it is not a regular file, without waiting on it.

    ``os.stat`` first, so a FIFO is never opened (opening one waits for a
    writer); the file is then opened non-blocking and checked again, in case
    it was replaced in between.
    """
    _refuse_irregular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb", closefd=True) as file:
        _refuse_irregular(os.fstat(fd).st_mode, path)
        return file.read()


def _refuse_irregular(mode: int, path: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory, not a source file", path)
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "not a regular file"
    raise OSError(errno.EINVAL, f"it is {kind}, not a source file", path)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"


def _from_loader(module: types.ModuleType, name: str, path: str, missing: OSError) -> bytes:
    """What the module's loader has for ``path`` (a zip archive's member), as bytes.

    ``get_data`` gives the bytes as stored (a coding declaration still holds);
    ``get_source`` the decoded text, encoded back in its declared encoding.
    """
    spec = getattr(module, "__spec__", None)
    loader = getattr(module, "__loader__", None) or getattr(spec, "loader", None)
    try:
        for method, argument in (("get_data", path), ("get_source", name)):
            read = getattr(loader, method, None)
            if read is None:
                continue
            try:
                found = read(argument)
            except (OSError, ImportError):
                continue  # not there either (a file loader whose file is gone): try the next way
            if found is not None:
                return _encode(found)
    except Exception as error:
        raise ReloadError(
            f"cannot read the source of module {name} ({path}) from its loader: {_reason(error)}",
            name=name,
            path=path,
        ) from error
    raise ReloadError(f"cannot read the source of module {name} from {path}: {_reason(missing)}", name=name, path=path) from missing


def _encode(text: Any) -> bytes:
    """Source text back to bytes in the encoding it declares, so that decoding finds it again."""
    if isinstance(text, bytes):
        return text
    head = "\n".join(str(text).split("\n", 2)[:2]).encode("ascii", "replace")
    declared = _CODING.search(head)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    return str(text).encode(encoding)


def _refuse_null_byte(data: bytes, name: str, path: str) -> None:
    index = data.find(b"\0")
    if index < 0:
        return
    line = data.count(b"\n", 0, index) + 1
    column = index - (data.rfind(b"\n", 0, index) + 1) + 1
    raise ReloadError(
        f"cannot reload module {name}: {path}, line {line}: the source contains a null byte (column {column})",
        name=name,
        path=path,
        lineno=line,
    )
