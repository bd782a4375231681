"""``hotreload.update_class(old, new) -> old``, called directly.

The classes come from two executions of class definitions (as a reload would
produce them); ``old`` must keep its identity, its instances and subclasses,
and get ``new``'s behaviour. Class-level data follows the data rules of
``reload`` with the source unknown (type-based), plus ``__hotreload_keep__`` /
``__hotreload_refresh__``.
"""

from __future__ import annotations

import abc
import dataclasses
import sys
import textwrap
import types
from typing import Any, Dict

import hotreload
import pytest
from hotreload import ReloadError


def define(source: str, **names: Any) -> Dict[str, Any]:
    """Executes class definitions in a fresh namespace (a stand-in module)."""
    module = types.ModuleType("update_class_defs")
    module.__dict__.update(names)
    exec(compile(textwrap.dedent(source), "<update_class test>", "exec", dont_inherit=True), module.__dict__)
    return module.__dict__


def _class_state(cls):
    return dict(vars(cls)), cls.__bases__, type(cls)


def test_returns_old_and_updates_methods_for_live_instances():
    old = define(
        """
        class C:
            def __init__(self):
                self.x = 1
            def get(self):
                return self.x
            def gone(self):
                return "gone"
        """
    )["C"]
    new = define(
        """
        class C:
            def __init__(self):
                self.x = 1
            def get(self):
                return self.x * 100
            def added(self):
                return "added"
        """
    )["C"]
    instance = old()
    bound = instance.get
    result = hotreload.update_class(old, new)
    assert result is old
    assert bound() == 100
    assert instance.added() == "added"
    assert not hasattr(instance, "gone")
    assert type(instance) is old


def test_method_objects_keep_identity():
    old = define("class C:\n    def f(self):\n        return 1\n")["C"]
    new = define("class C:\n    def f(self):\n        return 2\n")["C"]
    f = old.f
    hotreload.update_class(old, new)
    assert old.__dict__["f"] is f
    assert f(None) == 2


def test_classmethod_staticmethod_property_and_other_descriptors():
    old = define(
        """
        class C:
            @classmethod
            def cm(cls):
                return ("cm1", cls.__name__)
            @staticmethod
            def sm():
                return "sm1"
            @property
            def p(self):
                return "p1"
        """
    )["C"]
    new = define(
        """
        import functools
        class C:
            @classmethod
            def cm(cls):
                return ("cm2", cls.__name__)
            @staticmethod
            def sm():
                return "sm2"
            @property
            def p(self):
                return "p2"
            @functools.cached_property
            def expensive(self):
                return ["computed"]
        """
    )["C"]
    cm = old.cm
    instance = old()
    hotreload.update_class(old, new)
    assert cm() == ("cm2", "C")
    assert old.sm() == "sm2"
    assert instance.p == "p2"
    assert instance.expensive == ["computed"]
    assert instance.expensive is instance.expensive  # cached_property works (its __set_name__ ran)


def test_zero_argument_super_in_new_methods_works_on_old_class():
    defs = define(
        """
        class Base:
            def hello(self):
                return "base"
        class Child(Base):
            def hello(self):
                return "child"
        """
    )
    Base, old = defs["Base"], defs["Child"]
    new = define(
        """
        class Child(Base):
            def hello(self):
                return "child+" + super().hello()
            def __init__(self):
                super().__init__()
                self.ready = True
        """,
        Base=Base,
    )["Child"]
    live = old.__new__(old)
    hotreload.update_class(old, new)
    assert live.hello() == "child+base"
    assert old().ready is True
    assert old().hello() == "child+base"


def test_nested_classes_recursively():
    old = define(
        """
        class Outer:
            class Inner:
                def f(self):
                    return 1
        """
    )["Outer"]
    new = define(
        """
        class Outer:
            class Inner:
                def f(self):
                    return 2
                def g(self):
                    return 3
        """
    )["Outer"]
    inner = old.Inner
    obj = inner()
    hotreload.update_class(old, new)
    assert old.Inner is inner
    assert obj.f() == 2 and obj.g() == 3


def test_subclasses_follow():
    old = define("class Base:\n    def who(self):\n        return 'b1'\n")["Base"]

    class Sub(old):
        pass

    new = define("class Base:\n    def who(self):\n        return 'b2'\n    def extra(self):\n        return 'e'\n")["Base"]
    s = Sub()
    hotreload.update_class(old, new)
    assert s.who() == "b2" and s.extra() == "e"
    assert Sub.__bases__ == (old,)


def test_set_name_replayed_for_added_descriptor():
    class Named:
        def __set_name__(self, owner, name):
            self.owner, self.name = owner, name

        def __get__(self, obj, owner=None):
            return self if obj is None else self.name

    old = define("class C:\n    pass\n")["C"]
    new = define("class C:\n    field = Named()\n", Named=Named)["C"]
    hotreload.update_class(old, new)
    assert old().field == "field"
    assert old.field.owner is old


def test_abstractmethods_recomputed_for_class_and_subclasses():
    old = define(
        """
        import abc
        class Base(abc.ABC):
            @abc.abstractmethod
            def a(self): ...
        """
    )["Base"]

    class Impl(old):
        def a(self):
            return "a"

    new = define(
        """
        import abc
        class Base(abc.ABC):
            @abc.abstractmethod
            def a(self): ...
            @abc.abstractmethod
            def b(self): ...
        """
    )["Base"]
    assert Impl().a() == "a"
    hotreload.update_class(old, new)
    assert old.__abstractmethods__ == frozenset({"a", "b"})
    assert Impl.__abstractmethods__ == frozenset({"b"})
    with pytest.raises(TypeError):
        Impl()
    assert isinstance(old, abc.ABCMeta)


def test_dataclass_field_added():
    old = define(
        """
        from dataclasses import dataclass
        @dataclass
        class D:
            a: int
        """
    )["D"]
    new = define(
        """
        from dataclasses import dataclass
        @dataclass
        class D:
            a: int
            b: str = "x"
        """
    )["D"]
    live = old(1)
    hotreload.update_class(old, new)
    assert [f.name for f in dataclasses.fields(old)] == ["a", "b"]
    d = old(1, "y")
    assert type(d) is old and d.b == "y" and repr(d) == "D(a=1, b='y')"
    assert old(2) == old(2, "x")
    assert live == old(1) and repr(live) == "D(a=1, b='x')"


def test_frozen_dataclass_setattr_refers_to_old_class():
    old = define(
        """
        from dataclasses import dataclass
        @dataclass(frozen=True)
        class F:
            a: int
        """
    )["F"]
    new = define(
        """
        from dataclasses import dataclass
        @dataclass(frozen=True)
        class F:
            a: int
            def twice(self):
                return 2 * self.a
        """
    )["F"]
    live = old(3)
    hotreload.update_class(old, new)
    assert live.twice() == 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        live.something = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        live.a = 1


def test_enum_members_kept_methods_updated():
    old = define(
        """
        import enum
        class E(enum.Enum):
            A = 1
            B = 2
            def f(self):
                return "f1"
        """
    )["E"]
    new = define(
        """
        import enum
        class E(enum.Enum):
            A = 1
            B = 2
            def f(self):
                return "f2:" + self.name
        """
    )["E"]
    a = old.A
    hotreload.update_class(old, new)
    assert old.A is a and old(1) is a and old["B"] is old.B
    assert a.f() == "f2:A"
    assert list(old) == [old.A, old.B]
    assert type(a) is old


def test_named_tuple_method_update():
    old = define("from typing import NamedTuple\nclass P(NamedTuple):\n    x: int\n    def f(self):\n        return 1\n")["P"]
    new = define("from typing import NamedTuple\nclass P(NamedTuple):\n    x: int\n    def f(self):\n        return self.x + 1\n")["P"]
    p = old(5)
    hotreload.update_class(old, new)
    assert p.f() == 6 and old(1).f() == 2


def test_custom_metaclass_same_metaclass():
    Meta = define("class Meta(type):\n    def kind(cls):\n        return 'meta'\n")["Meta"]
    old = define("class C(metaclass=Meta):\n    def f(self):\n        return 1\n", Meta=Meta)["C"]
    new = define("class C(metaclass=Meta):\n    def f(self):\n        return 2\n", Meta=Meta)["C"]
    hotreload.update_class(old, new)
    assert type(old) is Meta and old.kind() == "meta" and old().f() == 2


def test_class_data_type_rule_and_overrides():
    old = define(
        """
        class C:
            limit = 1
            label = "a"
            items = []
            cache = {}
            port = 80
        """
    )["C"]
    items, cache = old.items, old.cache
    items.append("live")
    cache["k"] = "v"
    old.port = 8080
    new = define(
        """
        class C:
            __hotreload_keep__ = ["port"]
            __hotreload_refresh__ = ["cache"]
            limit = 2
            label = "b"
            items = ["new"]
            cache = {}
            port = 81
        """
    )["C"]
    hotreload.update_class(old, new)
    assert old.limit == 2 and old.label == "b"  # immutable: new value
    assert old.items is items and items == ["live"]  # mutable: live value
    assert old.cache == {} and old.cache is not cache  # listed in __hotreload_refresh__
    assert old.port == 8080  # listed in __hotreload_keep__


def test_adding_eq_sets_hash_none_like_class_creation():
    old = define("class C:\n    pass\n")["C"]
    new = define("class C:\n    def __eq__(self, other):\n        return True\n")["C"]
    hotreload.update_class(old, new)
    assert old() == object()
    with pytest.raises(TypeError):
        hash(old())


@pytest.mark.parametrize(
    "old_src, new_src",
    [
        ("class C:\n    __slots__ = ('a',)\n", "class C:\n    __slots__ = ('a', 'b')\n    def f(self):\n        return 1\n"),
        ("class C:\n    pass\n", "class C:\n    __slots__ = ()\n    def f(self):\n        return 1\n"),
        ("class C(metaclass=M1):\n    pass\n", "class C(metaclass=M2):\n    def f(self):\n        return 1\n"),
        ("class C:\n    pass\n", "class C(int):\n    def f(self):\n        return 1\n"),
        ("class C(list):\n    pass\n", "class C(dict):\n    def f(self):\n        return 1\n"),
    ],
    ids=["slots-changed", "slots-added", "metaclass", "base-to-int", "list-to-dict"],
)
def test_impossible_change_raises_and_changes_nothing(old_src, new_src):
    metas = define("class M1(type):\n    pass\nclass M2(type):\n    pass\n")
    old = define(old_src + "    X = 1\n    def g(self):\n        return 'g1'\n", **metas)["C"]
    new = define(new_src + "    X = 2\n    def g(self):\n        return 'g2'\n    def added(self):\n        return 0\n", **metas)["C"]
    g = vars(old)["g"]
    code = g.__code__
    before = _class_state(old)
    with pytest.raises(ReloadError) as info:
        hotreload.update_class(old, new)
    assert "C" in str(info.value)
    after = _class_state(old)
    assert after[1] == before[1] and after[2] is before[2]
    assert set(after[0]) == set(before[0])
    assert all(after[0][k] is before[0][k] for k in before[0])
    assert g.__code__ is code and vars(old)["g"] is g
    assert old.X == 1 and not hasattr(old, "added")


def test_compatible_base_change():
    defs = define("class A:\n    def who(self):\n        return 'A'\nclass B:\n    def who(self):\n        return 'B'\n")
    A, B = defs["A"], defs["B"]
    old = define("class C(A):\n    pass\n", A=A)["C"]
    new = define("class C(B):\n    pass\n", B=B)["C"]
    hotreload.update_class(old, new)
    assert old.__bases__ == (B,) and old().who() == "B"


def test_update_class_with_itself_does_nothing():
    C = define("class C:\n    X = []\n    def f(self):\n        return 1\n")["C"]
    before = dict(vars(C))
    assert hotreload.update_class(C, C) is C
    assert dict(vars(C)) == before and C().f() == 1


def test_lru_cache_method_wrapper_updated_and_cleared():
    old = define(
        """
        import functools
        class C:
            @functools.lru_cache(maxsize=None)
            def value(self, x):
                return x
        """
    )["C"]
    new = define(
        """
        import functools
        class C:
            @functools.lru_cache(maxsize=None)
            def value(self, x):
                return x * 10
        """
    )["C"]
    obj = old()
    wrapper = vars(old)["value"]
    assert obj.value(2) == 2
    hotreload.update_class(old, new)
    assert vars(old)["value"] is wrapper
    assert obj.value(2) == 20


def test_slots_dataclass_method_only_change():
    if sys.version_info >= (3, 10):
        slotted = "@dataclass(slots=True)\nclass S:\n"
    else:  # `slots=True` arrived in 3.10; an explicit `__slots__` is the same layout
        slotted = "@dataclass\nclass S:\n    __slots__ = ('a',)\n"
    src = "from dataclasses import dataclass\n" + slotted + "    a: int\n    def f(self):\n        return {}\n"
    old = define(src.format("self.a"))["S"]
    new = define(src.format("self.a + 1"))["S"]
    s = old(1)
    hotreload.update_class(old, new)
    assert s.f() == 2 and type(s) is old
