"""The program's own modules: the ones not from the standard library or an installed package.

Adapters look for framework objects (apps, type adapters) only there, never in
the whole heap: a program keeps its apps and adapters in module globals.
"""

from __future__ import annotations

import sys
import sysconfig
import types
from typing import Iterator, Tuple

from hotreload._kinds import is_plain_module

_INSTALLED: Tuple[str, ...] = tuple(
    {path for key in ("stdlib", "platstdlib", "purelib", "platlib") for path in [sysconfig.get_paths().get(key)] if path}
)


def user_modules(first: types.ModuleType) -> Iterator[types.ModuleType]:
    """``first``, then every other loaded module whose file is not installed code."""
    yield first
    for module in list(sys.modules.values()):
        if module is first or not is_plain_module(module):
            continue  # a lazily loaded module is not loaded by looking
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and not path.startswith(_INSTALLED) and "site-packages" not in path:
            yield module
