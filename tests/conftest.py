"""Shared fixtures for the reload tests.

``modules`` writes module files into a temporary directory that is put on
``sys.path``, imports them under names unique to the test, edits them in place
(also the "same size, same second" edit that a stale ``.pyc`` would hide), takes
snapshots of a module for "nothing changed" checks, and cleans everything up:
the modules leave ``sys.modules``, the directory leaves ``sys.path``, and if the
test installed hotreload's finder, ``hotreload.uninstall()`` is called.

``report_has`` matches names in :class:`hotreload.ReloadReport` lists, which may
hold bare (``"method"``) or qualified (``"Class.method"``, ``"module.NAME"``)
names.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import itertools
import os
import pathlib
import py_compile
import re
import sys
import textwrap
import threading
import types
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import hotreload
import pytest

_PRIMITIVES = (str, int, float, complex, bytes, bool, type(None))


def _same(a: Any, b: Any) -> bool:
    """Identity, or equality for immutable primitives (whose identity is not observable state)."""
    if a is b:
        return True
    if type(a) is type(b) and isinstance(a, _PRIMITIVES):
        return a == b
    if type(a) is type(b) is tuple and len(a) == len(b):
        return all(_same(x, y) for x, y in zip(a, b))
    return False


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


_EMPTY = object()


class Snapshot:
    """Everything observable about a module's functions, classes and data, by identity.

    ``assert_unchanged()`` fails with the list of differences, so a failure-mode
    test shows exactly what a failed reload left behind.
    """

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.name = module.__name__
        self.namespace = module.__dict__
        self.items = dict(module.__dict__)
        self.in_sys_modules = sys.modules.get(self.name)
        self.records: Dict[str, Tuple[Any, Any]] = {}
        self._seen: set = set()
        for key, value in self.items.items():
            if key == "__builtins__":
                continue
            self._capture(key, value)

    # -- capture ----------------------------------------------------------------------

    def _capture(self, label: str, obj: Any) -> None:
        if id(obj) in self._seen:
            return
        if isinstance(obj, types.FunctionType):
            self._seen.add(id(obj))
            self._capture_function(label, obj)
        elif isinstance(obj, type) and obj.__module__ == self.name:
            self._seen.add(id(obj))
            self._capture_class(label, obj)
        elif hasattr(obj, "cache_info") and hasattr(obj, "__wrapped__"):
            self._seen.add(id(obj))
            self.records[label + ".__wrapped__"] = (obj, obj.__wrapped__)
            self._capture(label + ".__wrapped__", obj.__wrapped__)
        elif isinstance(obj, (classmethod, staticmethod)):
            self._seen.add(id(obj))
            self.records[label + ".__func__"] = (obj, obj.__func__)
            self._capture(label + ".__func__", obj.__func__)
        elif isinstance(obj, property):
            self._seen.add(id(obj))
            for part in ("fget", "fset", "fdel"):
                self.records[f"{label}.{part}"] = (obj, getattr(obj, part))
                if getattr(obj, part) is not None:
                    self._capture(f"{label}.{part}", getattr(obj, part))
        elif type(obj) is list:
            self._seen.add(id(obj))
            self.records[label + "[:]"] = (obj, list(obj))
        elif type(obj) is dict:
            self._seen.add(id(obj))
            self.records[label + ".items()"] = (obj, list(obj.items()))
        elif type(obj) is set:
            self._seen.add(id(obj))
            self.records[label + "{}"] = (obj, set(obj))

    def _capture_function(self, label: str, func: types.FunctionType) -> None:
        closure = func.__closure__
        state = {
            "__code__": func.__code__,
            "__closure__": closure,
            "cells": tuple(_cell_value(c) for c in closure) if closure else None,
            "__globals__": func.__globals__,
            "__defaults__": func.__defaults__,
            "__kwdefaults__": func.__kwdefaults__,
            "__dict__": dict(func.__dict__),
            "__doc__": func.__doc__,
            "__annotations__": dict(func.__annotations__),
            "__name__": func.__name__,
            "__qualname__": func.__qualname__,
        }
        self.records[label] = (func, state)
        if closure:
            for name, cell in zip(func.__code__.co_freevars, closure):
                value = _cell_value(cell)
                # A 3.14+ annotate function's __classdict__ is the namespace of the class body that
                # made it: CPython clears it when that class is collected (attrs' slotted classes
                # replace theirs), at whatever moment the collector runs; its identity is kept above.
                if value is not _EMPTY and name != "__classdict__":
                    self._capture(f"{label}<cell {name}>", value)

    def _capture_class(self, label: str, cls: type) -> None:
        state = {
            "vars": dict(vars(cls)),
            "__bases__": cls.__bases__,
            "__mro__": cls.__mro__,
            "type": type(cls),
            "__abstractmethods__": getattr(cls, "__abstractmethods__", None),
        }
        self.records[label] = (cls, state)
        for key, value in vars(cls).items():
            if key in ("__dict__", "__weakref__", "__module__", "__doc__"):
                continue
            self._capture(f"{label}.{key}", value)

    # -- compare ----------------------------------------------------------------------

    def differences(self) -> List[str]:
        problems: List[str] = []
        if self.module.__dict__ is not self.namespace:
            problems.append("module.__dict__ is a different dict")
        if sys.modules.get(self.name) is not self.in_sys_modules:
            problems.append(f"sys.modules[{self.name!r}] is a different object")
        now = dict(self.module.__dict__)
        added = sorted(set(now) - set(self.items))
        removed = sorted(set(self.items) - set(now))
        if added:
            problems.append(f"names added to the module: {added}")
        if removed:
            problems.append(f"names removed from the module: {removed}")
        for key in sorted(set(now) & set(self.items)):
            if not _same(now[key], self.items[key]):
                problems.append(f"module.{key}: {self.items[key]!r} became {now[key]!r}")
        for label, (obj, before) in self.records.items():
            after = self._state_of(label, obj, before)
            problems.extend(self._compare(label, before, after))
        return problems

    @staticmethod
    def _state_of(label: str, obj: Any, before: Any) -> Any:
        if isinstance(obj, types.FunctionType) and isinstance(before, dict):
            closure = obj.__closure__
            return {
                "__code__": obj.__code__,
                "__closure__": closure,
                "cells": tuple(_cell_value(c) for c in closure) if closure else None,
                "__globals__": obj.__globals__,
                "__defaults__": obj.__defaults__,
                "__kwdefaults__": obj.__kwdefaults__,
                "__dict__": dict(obj.__dict__),
                "__doc__": obj.__doc__,
                "__annotations__": dict(obj.__annotations__),
                "__name__": obj.__name__,
                "__qualname__": obj.__qualname__,
            }
        if isinstance(obj, type) and isinstance(before, dict):
            return {
                "vars": dict(vars(obj)),
                "__bases__": obj.__bases__,
                "__mro__": obj.__mro__,
                "type": type(obj),
                "__abstractmethods__": getattr(obj, "__abstractmethods__", None),
            }
        if label.endswith(".__wrapped__"):
            return obj.__wrapped__
        if label.endswith(".__func__"):
            return obj.__func__
        if label.endswith((".fget", ".fset", ".fdel")):
            return getattr(obj, label.rsplit(".", 1)[1])
        if label.endswith("[:]"):
            return list(obj)
        if label.endswith(".items()"):
            return list(obj.items())
        if label.endswith("{}"):
            return set(obj)
        raise AssertionError(label)

    @staticmethod
    def _compare(label: str, before: Any, after: Any) -> List[str]:
        problems = []
        if isinstance(before, dict) and isinstance(after, dict):
            for key in before:
                b, a = before[key], after[key]
                if isinstance(b, dict) and isinstance(a, dict):
                    if set(a) != set(b):
                        problems.append(f"{label}.{key}: keys {sorted(map(str, b))} became {sorted(map(str, a))}")
                    for k in set(a) & set(b):
                        if not _same(a[k], b[k]) and not (k == "__abstractmethods__" and a[k] == b[k]):
                            problems.append(f"{label}.{key}[{k!r}]: {b[k]!r} became {a[k]!r}")
                elif not _same(a, b):
                    if key == "__abstractmethods__" and a == b:
                        continue
                    problems.append(f"{label}.{key}: {b!r} became {a!r}")
        elif isinstance(before, list) and isinstance(after, list):
            if len(before) != len(after) or not all(_same_item(x, y) for x, y in zip(before, after)):
                problems.append(f"{label}: {before!r} became {after!r}")
        elif isinstance(before, set):
            if before != after:
                problems.append(f"{label}: {before!r} became {after!r}")
        elif not _same(before, after):
            problems.append(f"{label}: {before!r} became {after!r}")
        return problems

    def assert_unchanged(self) -> None:
        problems = self.differences()
        assert not problems, "the module changed:\n  " + "\n  ".join(problems)


def _same_item(x: Any, y: Any) -> bool:
    if isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y) == 2:
        return _same(x[0], y[0]) and _same(x[1], y[1])
    return _same(x, y)


class Modules:
    """Module files in a temporary directory, imported under names unique to the test."""

    def __init__(self, root: pathlib.Path, nodeid: str) -> None:
        self.root = root
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:6]
        short = re.sub(r"\W+", "_", nodeid.rsplit("::", 1)[-1]).strip("_")[:40]
        self.prefix = f"hr_{short}_{digest}"
        self._counter = itertools.count()
        self.names: List[str] = []
        self.installed = False

    # -- names and files ---------------------------------------------------------------

    def unique(self, hint: str = "m") -> str:
        """A fresh, valid, test-unique module name."""
        name = f"{self.prefix}_{hint}_{next(self._counter)}"
        self.names.append(name)
        return name

    def path_of(self, module: Any) -> pathlib.Path:
        if isinstance(module, types.ModuleType):
            return pathlib.Path(module.__file__)
        return pathlib.Path(sys.modules[module].__file__)

    def write(self, relpath: str, source: str) -> pathlib.Path:
        """Writes ``source`` (dedented) to ``root/relpath``."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return path

    def make(self, source: str, hint: str = "m", name: Optional[str] = None) -> types.ModuleType:
        """Writes a module with ``source`` and imports it."""
        name = name or self.unique(hint)
        if name not in self.names:
            self.names.append(name)
        self.write(name.replace(".", os.sep) + ".py", source)
        return importlib.import_module(name)

    def make_package(self, files: Dict[str, str], hint: str = "pkg") -> types.ModuleType:
        """Writes a package: ``files`` maps "__init__" or a submodule name to its source.

        Returns the imported package; submodules are imported too.
        """
        name = self.unique(hint)
        for sub, source in files.items():
            self.write(f"{name}/{sub}.py", source)
        package = importlib.import_module(name)
        for sub in files:
            if sub != "__init__":
                importlib.import_module(f"{name}.{sub}")
        return package

    def edit(self, module: Any, source: str) -> pathlib.Path:
        """Rewrites the module's file in place, as an editor would.

        If the write landed in the same second as the previous version, the
        mtime is moved forward so that the standard import system (used in the
        tests that compare with a plain ``importlib.reload``) sees the edit too.
        """
        path = self.path_of(module)
        before = path.stat()
        path.write_text(textwrap.dedent(source))
        after = path.stat()
        if int(after.st_mtime) == int(before.st_mtime):
            os.utime(path, ns=(after.st_atime_ns, before.st_mtime_ns + 2_000_000_000))
        importlib.invalidate_caches()
        return path

    def edit_same_stat(self, module: Any, source: str) -> pathlib.Path:
        """Rewrites the module's file with a same-size source and puts the old mtime back.

        Size and mtime are what a ``.pyc`` is validated against, so a cached
        ``.pyc`` now looks valid although the source changed.
        """
        path = self.path_of(module)
        # A .pyc of the current source, as a normal import writes it (this
        # environment may run with PYTHONDONTWRITEBYTECODE).
        py_compile.compile(
            str(path),
            cfile=importlib.util.cache_from_source(str(path)),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
        )
        before = path.stat()
        data = textwrap.dedent(source).encode()
        if len(data) != before.st_size:
            raise ValueError(f"test bug: new source has {len(data)} bytes, old has {before.st_size}")
        path.write_bytes(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = path.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        return path

    def remove(self, module: Any) -> pathlib.Path:
        path = self.path_of(module)
        path.unlink()
        importlib.invalidate_caches()
        return path

    # -- hotreload -------------------------------------------------------------------------

    def install(self) -> Any:
        """``hotreload.install()``, undone at teardown."""
        self.installed = True
        return hotreload.install()

    @staticmethod
    def snapshot(module: types.ModuleType) -> Snapshot:
        return Snapshot(module)

    # -- cleanup -----------------------------------------------------------------------

    def cleanup(self) -> None:
        root = str(self.root)
        for name in list(sys.modules):
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None) or ""
            if name.startswith(self.prefix) or (isinstance(file, str) and file.startswith(root)):
                del sys.modules[name]


def report_has(entries: Iterable[str], *names: str) -> bool:
    """True if one of ``names`` appears in a report list, bare or qualified.

    ``report_has(report.updated, "C.method")`` accepts "C.method" and
    "module.C.method"; ``report_has(report.added, "g")`` accepts "g" and
    "module.g".
    """
    entries = list(entries)
    for name in names:
        for entry in entries:
            if entry == name or entry.endswith("." + name):
                return True
    return False


@pytest.fixture
def modules(tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[Modules]:
    root = tmp_path / "src"
    root.mkdir()
    meta_path = list(sys.meta_path)
    path_hooks = list(sys.path_hooks)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    helper = Modules(root, request.node.nodeid)
    try:
        yield helper
    finally:
        if any(isinstance(f, hotreload.ReloadFinder) for f in sys.meta_path):
            hotreload.uninstall()
        if list(sys.meta_path) != meta_path:
            sys.meta_path[:] = meta_path
        if list(sys.path_hooks) != path_hooks:
            sys.path_hooks[:] = path_hooks
        helper.cleanup()
        while str(root) in sys.path:
            sys.path.remove(str(root))
        sys.path_importer_cache.pop(str(root), None)
        importlib.invalidate_caches()


@pytest.fixture(name="report_has")
def report_has_fixture() -> Any:
    return report_has


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serves a WSGI app on 127.0.0.1 with werkzeug's threaded server, in a thread; returns its
    base URL. Stops at teardown."""
    servers = []

    def start(app: Any) -> str:
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
