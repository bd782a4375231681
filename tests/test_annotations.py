"""Annotations after ``update_function`` and after a class reload.

3.9-3.13 evaluate annotations when the definition runs; 3.14+ (PEP 649/749)
evaluate them on first read, through the function's ``__annotate__`` or the
class's annotate function, and cache the result. Either way, what a user reads
afterwards (``__annotations__``, ``typing.get_type_hints``, dataclass fields,
``annotationlib.get_annotations`` on 3.14+) is the new definition's, and names
the objects the reload kept.
"""

from __future__ import annotations

import builtins
import dataclasses
import gc
import sys
import types
import typing
from typing import Any, Dict, Tuple

import hotreload
from hotreload import update_function
from hotreload._transaction import Transaction

LAZY = sys.version_info >= (3, 14)


def define(source: str, name: str) -> Tuple[types.FunctionType, Dict[str, Any]]:
    """Runs ``source`` (no ``from __future__`` flags inherited) and returns ``name`` and the namespace."""
    namespace: Dict[str, Any] = {"__builtins__": builtins, "__name__": "hr_annotations"}
    exec(compile(source, "<annotations>", "exec", dont_inherit=True), namespace)
    return namespace[name], namespace


def own_annotations(obj: Any) -> Dict[str, Any]:
    """The annotations ``obj`` itself declares, as the standard library reads them."""
    if LAZY:
        import annotationlib

        return dict(annotationlib.get_annotations(obj))
    if isinstance(obj, type):
        return dict(vars(obj).get("__annotations__", {}))
    return dict(obj.__annotations__)


def test_update_function_takes_the_new_annotations_even_after_the_old_ones_were_read():
    old, _ = define("def f(a: int) -> int:\n    return a\n", "f")
    assert old.__annotations__ == {"a": int, "return": int}  # 3.14+: now cached in the function
    new, _ = define("def f(a: str, b: bytes = b'') -> str:\n    return a\n", "f")
    update_function(old, new)
    assert old.__annotations__ == {"a": str, "b": bytes, "return": str}
    assert typing.get_type_hints(old) == {"a": str, "b": bytes, "return": str}
    if LAZY:
        assert old.__annotate__ is new.__annotate__  # type: ignore[attr-defined]
        # The cache is not shared: old computed a dict of its own.
        assert old.__annotations__ is not new.__annotations__
        old.__annotations__["extra"] = int
        assert "extra" not in new.__annotations__


def test_annotations_naming_a_later_definition_resolve_when_read():
    # 3.14+ leave `Later` unevaluated until the annotations are read; older
    # versions need the string form, which get_type_hints resolves the same way.
    annotation = "Later" if LAZY else "'Later'"
    old, _ = define("def f(x: int) -> int:\n    return x\n", "f")
    new, namespace = define(f"def f(x: {annotation}) -> {annotation}:\n    return x\n", "f")
    update_function(old, new)

    class Later:
        pass

    namespace["Later"] = Later  # defined after the function, in its globals
    assert typing.get_type_hints(old) == {"x": Later, "return": Later}
    if LAZY:
        assert old.__annotations__ == {"x": Later, "return": Later}


def test_rollback_restores_the_annotations_and_annotate_function_exactly():
    old, _ = define("def f(a: int) -> int:\n    return a\n", "f")
    annotations = old.__annotations__
    annotate = getattr(old, "__annotate__", None)
    new, _ = define("def f(a: str) -> str:\n    return a\n", "f")
    tx = Transaction()
    tx.update_function(old, new)
    assert old.__annotations__ == {"a": str, "return": str}
    tx.rollback()
    assert old.__annotations__ is annotations
    assert getattr(old, "__annotate__", None) is annotate
    assert old.__annotations__ == {"a": int, "return": int}


def test_function_without_annotations_after_update_has_none():
    old, _ = define("def f(a: int) -> int:\n    return a\n", "f")
    assert old.__annotations__
    new, _ = define("def f(a):\n    return a\n", "f")
    update_function(old, new)
    assert old.__annotations__ == {}
    if LAZY:
        assert old.__annotate__ is None  # type: ignore[attr-defined]


CLASSES = """
import dataclasses

@dataclasses.dataclass
class Point:
    class Tag:
        pass
    x: Tag

class Plain:
    class Inner:
        pass
    a: Inner

    def method(self, value: Inner) -> Inner:
        return value

class Service:  # no annotations of its own: only its method's name a nested class
    class Request:
        pass

    def handle(self, request: Request) -> Request:
        return request
"""

CLASSES_EDITED = """
import dataclasses

@dataclasses.dataclass
class Point:
    class Tag:
        pass
    x: Tag
    w: Tag

class Plain:
    class Inner:
        pass
    a: Inner
    b: int

    def method(self, value: Inner, other: int = 0) -> Inner:
        return value

class Service:
    class Request:
        pass

    def handle(self, request: Request, retries: int = 0) -> Request:
        return request
"""


def _check_classes_agree(m: Any, Tag: type, Inner: type) -> None:
    gc.collect()  # the discarded new classes go, and their dicts are cleared with them
    assert m.Point.Tag is Tag and m.Plain.Inner is Inner  # the nested classes were kept
    point = {"x": Tag, "w": Tag}
    assert {f.name: f.type for f in dataclasses.fields(m.Point)} == point
    assert typing.get_type_hints(m.Point) == point
    assert own_annotations(m.Point) == point
    plain = {"a": Inner, "b": int}
    assert typing.get_type_hints(m.Plain) == plain
    assert own_annotations(m.Plain) == plain
    assert m.Point(Tag(), Tag()).w.__class__ is Tag


def test_class_reload_annotations_fields_and_type_hints_agree(modules):
    modules.install()
    m = modules.make(CLASSES)
    Tag, Inner = m.Point.Tag, m.Plain.Inner
    modules.edit(m, CLASSES_EDITED)
    report = hotreload.reload(m)
    assert "Point" in report.updated and "Plain" in report.updated
    _check_classes_agree(m, Tag, Inner)


def test_class_reload_after_the_annotations_were_read(modules):
    """3.14+ caches a class's annotations on first read: the cache must not survive the reload."""
    modules.install()
    m = modules.make(CLASSES)
    Tag, Inner = m.Point.Tag, m.Plain.Inner
    assert own_annotations(m.Plain) == {"a": Inner}
    assert typing.get_type_hints(m.Point) == {"x": Tag}
    modules.edit(m, CLASSES_EDITED)
    hotreload.reload(m)
    _check_classes_agree(m, Tag, Inner)


def test_method_annotations_after_a_class_reload_name_the_kept_nested_class(modules):
    modules.install()
    m = modules.make(CLASSES)
    Inner, Request = m.Plain.Inner, m.Service.Request
    method, handle = m.Plain.method, m.Service.handle
    modules.edit(m, CLASSES_EDITED)
    hotreload.reload(m)
    gc.collect()
    assert m.Plain.method is method and m.Service.handle is handle
    assert typing.get_type_hints(method) == {"value": Inner, "other": int, "return": Inner}
    assert typing.get_type_hints(handle) == {"request": Request, "retries": int, "return": Request}
    assert own_annotations(handle) == {"request": Request, "retries": int, "return": Request}


def test_standalone_update_class_takes_the_new_annotations():
    old, _ = define("class C:\n    a: int\n", "C")
    assert own_annotations(old) == {"a": int}
    new, _ = define("class C:\n    a: str\n    b: bytes\n", "C")
    hotreload.update_class(old, new)
    assert own_annotations(old) == {"a": str, "b": bytes}
    # 3.9's get_type_hints looks the class's module up in sys.modules.
    assert typing.get_type_hints(old, globalns={}) == {"a": str, "b": bytes}
