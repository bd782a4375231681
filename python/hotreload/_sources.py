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
from typing import Dict, Optional

from hotreload import _hotreload

_lock = threading.Lock()
_sources: Dict[str, bytes] = {}


def record(module_name: str, source: bytes) -> None:
    """Remembers ``source`` as what ``module_name`` was loaded from."""
    with _lock:
        _sources[module_name] = source


def record_file(module_name: str, path: str) -> None:
    """Remembers the current contents of ``path`` for ``module_name``, if it can be read.

    Called for every import once the finder is installed, so the read is one
    call into Rust (no file object); a file that cannot be read is not recorded.
    """
    data = _hotreload.read_file(path)
    if data is not None:
        _sources[module_name] = data


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
