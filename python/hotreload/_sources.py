"""The source each module was last loaded from, as far as hotreload knows it.

The data policy compares a module's new source with the one it was loaded
from. hotreload knows that source for modules imported after ``install()``
(the finder records the file as the import finds it) and for every module after
its first hotreload reload. Bytes are kept and decoded only when needed, so
recording costs one file read per import.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Dict, Optional, Tuple

from hotreload import _hotreload
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


def record_file(module_name: str, path: str) -> None:
    """Remembers the current contents of ``path`` for ``module_name``, if it can be read.

    Called for every import once the finder is installed, so the read is one
    call into Rust (no file object); a file that cannot be read is not recorded.
    """
    data = _hotreload.read_file(path)
    if data is not None:
        _sources[module_name] = data


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
