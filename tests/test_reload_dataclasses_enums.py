"""``hotreload.reload`` of classes with generated methods: dataclasses, enums,
``typing.NamedTuple``."""

from __future__ import annotations

import dataclasses
import enum
import sys

import hotreload
import pytest
from hotreload import ReloadError


def test_dataclass_gains_a_field_with_a_default(modules):
    m = modules.make(
        """
        from dataclasses import dataclass

        @dataclass
        class Item:
            name: str
            price: int

            def total(self):
                return self.price
        """
    )
    Item = m.Item
    live = Item("pen", 3)
    modules.edit(
        m,
        """
        from dataclasses import dataclass

        @dataclass
        class Item:
            name: str
            price: int
            quantity: int = 1

            def total(self):
                return self.price * self.quantity
        """,
    )
    hotreload.reload(m)

    assert m.Item is Item
    assert [f.name for f in dataclasses.fields(Item)] == ["name", "price", "quantity"]
    new = Item("pen", 3, 4)
    assert new.quantity == 4 and new.total() == 12
    assert Item("ink", 2).quantity == 1
    assert repr(new) == "Item(name='pen', price=3, quantity=4)"
    assert new == Item("pen", 3, 4)
    assert new != Item("pen", 3, 5)
    # live instances keep working
    assert live.quantity == 1
    assert live.total() == 3
    assert repr(live) == "Item(name='pen', price=3, quantity=1)"
    assert live == Item("pen", 3)
    assert dataclasses.asdict(live) == {"name": "pen", "price": 3, "quantity": 1}


def test_dataclass_loses_a_field(modules):
    m = modules.make(
        """
        from dataclasses import dataclass
        @dataclass
        class Cfg:
            a: int
            b: int = 2
        """
    )
    Cfg = m.Cfg
    modules.edit(
        m,
        """
        from dataclasses import dataclass
        @dataclass
        class Cfg:
            a: int
        """,
    )
    hotreload.reload(m)
    assert m.Cfg is Cfg
    assert [f.name for f in dataclasses.fields(Cfg)] == ["a"]
    assert repr(Cfg(1)) == "Cfg(a=1)"
    with pytest.raises(TypeError):
        Cfg(1, 2)


def test_dataclass_default_factory_and_post_init(modules):
    m = modules.make(
        """
        from dataclasses import dataclass, field
        @dataclass
        class Bag:
            items: list = field(default_factory=list)
            def __post_init__(self):
                self.items.append("v1")
        """
    )
    Bag = m.Bag
    modules.edit(
        m,
        """
        from dataclasses import dataclass, field
        @dataclass
        class Bag:
            items: list = field(default_factory=list)
            tags: dict = field(default_factory=dict)
            def __post_init__(self):
                self.items.append("v2")
        """,
    )
    hotreload.reload(m)
    a, b = Bag(), Bag()
    assert a.items == ["v2"] and a.tags == {}
    assert a.items is not b.items and a.tags is not b.tags


def test_frozen_dataclass_generated_methods_refer_to_kept_class(modules):
    m = modules.make(
        """
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Point:
            x: int
            y: int
            def norm1(self):
                return abs(self.x) + abs(self.y)
        """
    )
    Point = m.Point
    live = Point(1, -2)
    modules.edit(
        m,
        """
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Point:
            x: int
            y: int
            def norm1(self):
                return 10 * (abs(self.x) + abs(self.y))
            def swapped(self):
                return Point(self.y, self.x)
        """,
    )
    hotreload.reload(m)

    assert m.Point is Point
    assert live.norm1() == 30
    assert live.swapped() == Point(-2, 1)
    # the generated __setattr__/__delattr__ must refuse with FrozenInstanceError,
    # not a TypeError from super(<new class>, <old instance>)
    for obj in (live, Point(3, 4)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.x = 5
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.other = 5
        with pytest.raises(dataclasses.FrozenInstanceError):
            del obj.x
    assert hash(live) == hash(Point(1, -2))
    assert {live, Point(1, -2)} == {live}


def test_frozen_dataclass_gains_a_field(modules):
    m = modules.make(
        """
        from dataclasses import dataclass
        @dataclass(frozen=True)
        class Key:
            a: int
        """
    )
    Key = m.Key
    modules.edit(
        m,
        """
        from dataclasses import dataclass
        @dataclass(frozen=True)
        class Key:
            a: int
            b: int = 0
        """,
    )
    hotreload.reload(m)
    k = Key(1, 2)
    assert (k.a, k.b) == (1, 2)
    assert Key(1) == Key(1, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        k.b = 3


def test_dataclass_subclass_in_another_module(modules):
    m = modules.make(
        """
        from dataclasses import dataclass
        @dataclass
        class Base:
            id: int
            def label(self):
                return f"base-{self.id}"
        """,
        hint="base",
    )
    other = modules.make(
        f"""
        from dataclasses import dataclass
        from {m.__name__} import Base
        @dataclass
        class Child(Base):
            name: str = "c"
            def label(self):
                return "child/" + super().label()
        """,
        hint="other",
    )
    child = other.Child(7)
    modules.edit(
        m,
        """
        from dataclasses import dataclass
        @dataclass
        class Base:
            id: int
            def label(self):
                return f"BASE#{self.id}"
        """,
    )
    hotreload.reload(m)
    assert child.label() == "child/BASE#7"
    assert isinstance(child, m.Base)


# A slotted dataclass: `slots=True` from 3.10, an explicit `__slots__` before.
if sys.version_info >= (3, 10):
    SLOTTED = "@dataclass(slots=True)\n        class Vec:"
    SLOTTED_XY = SLOTTED
else:
    SLOTTED = "@dataclass\n        class Vec:\n            __slots__ = ('x',)"
    SLOTTED_XY = "@dataclass\n        class Vec:\n            __slots__ = ('x', 'y')"


def test_slots_dataclass_method_update_and_field_change_refused(modules):
    source = """
        from dataclasses import dataclass
        {slotted}
            x: int
            def double(self):
                return {body}
        """
    m = modules.make(source.format(slotted=SLOTTED, body="self.x * 2"))
    Vec = m.Vec
    live = Vec(4)
    assert not hasattr(live, "__dict__")
    modules.edit(m, source.format(slotted=SLOTTED, body="self.x * 20"))
    hotreload.reload(m)
    assert m.Vec is Vec and live.double() == 80

    snap = modules.snapshot(m)
    modules.edit(
        m,
        f"""
        from dataclasses import dataclass
        {SLOTTED_XY}
            x: int
            y: int
            def double(self):
                return 0
        """,
    )
    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)
    assert "Vec" in str(info.value)
    snap.assert_unchanged()
    assert live.double() == 80


def test_enum_members_keep_identity_and_methods_update(modules):
    m = modules.make(
        """
        import enum

        class Color(enum.Enum):
            RED = 1
            GREEN = 2

            def describe(self):
                return "v1 " + self.name

            @property
            def lower(self):
                return self.name.lower()
        """
    )
    Color = m.Color
    red, green = Color.RED, Color.GREEN
    saved = {"favourite": red}
    modules.edit(
        m,
        """
        import enum

        class Color(enum.Enum):
            RED = 1
            GREEN = 2

            def describe(self):
                return "v2 " + self.name

            @property
            def lower(self):
                return "<" + self.name.lower() + ">"

            @classmethod
            def default(cls):
                return cls.GREEN
        """,
    )
    hotreload.reload(m)

    assert m.Color is Color
    assert m.Color.RED is red and m.Color.GREEN is green
    assert Color(1) is red and Color["GREEN"] is green
    assert list(Color) == [red, green]
    assert saved["favourite"] is Color.RED
    assert red.describe() == "v2 RED"
    assert green.lower == "<green>"
    assert Color.default() is green
    assert isinstance(red, Color)


def test_int_enum_and_flag(modules):
    m = modules.make(
        """
        import enum
        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2
            def loud(self):
                return self.name
        class Perm(enum.Flag):
            R = 1
            W = 2
            def short(self):
                return "p1"
        """
    )
    Level, Perm = m.Level, m.Perm
    low, r, w = Level.LOW, Perm.R, Perm.W
    modules.edit(
        m,
        """
        import enum
        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2
            def loud(self):
                return self.name + "!"
        class Perm(enum.Flag):
            R = 1
            W = 2
            def short(self):
                return "p2"
        """,
    )
    hotreload.reload(m)

    assert m.Level.LOW is low and low == 1 and low < Level.HIGH
    assert low.loud() == "LOW!"
    assert m.Perm.R is r and (r | w) == Perm(3)
    assert (r | w).short() == "p2"
    assert Level(2) is Level.HIGH


def test_enum_used_as_dict_key_and_in_match_before_reload(modules):
    m = modules.make(
        """
        import enum
        class State(enum.Enum):
            ON = "on"
            OFF = "off"
        def flip(s):
            return State.OFF if s is State.ON else State.ON
        """
    )
    on = m.State.ON
    table = {m.State.ON: 1, m.State.OFF: 0}
    modules.edit(
        m,
        """
        import enum
        class State(enum.Enum):
            ON = "on"
            OFF = "off"
            def __str__(self):
                return "state:" + self.value
        def flip(s):
            return State.OFF if s is State.ON else State.ON
        """,
    )
    hotreload.reload(m)
    assert table[m.State.ON] == 1
    assert m.flip(on) is m.State.OFF
    assert str(on) == "state:on"


def test_named_tuple_methods_update(modules):
    m = modules.make(
        """
        from typing import NamedTuple
        class Pair(NamedTuple):
            a: int
            b: int
            def total(self):
                return self.a + self.b
        """
    )
    Pair = m.Pair
    live = Pair(1, 2)
    modules.edit(
        m,
        """
        from typing import NamedTuple
        class Pair(NamedTuple):
            a: int
            b: int
            def total(self):
                return 100 * (self.a + self.b)
            def swapped(self):
                return Pair(self.b, self.a)
        """,
    )
    hotreload.reload(m)
    assert m.Pair is Pair
    assert live.total() == 300
    assert live.swapped() == Pair(2, 1)
    assert type(live.swapped()) is Pair
    assert live._asdict() == {"a": 1, "b": 2}


def test_named_tuple_gains_a_field_with_a_default(modules):
    m = modules.make(
        """
        from typing import NamedTuple
        class Row(NamedTuple):
            x: int
            y: int
        """
    )
    Row = m.Row
    modules.edit(
        m,
        """
        from typing import NamedTuple
        class Row(NamedTuple):
            x: int
            y: int
            z: int = 0
        """,
    )
    hotreload.reload(m)
    assert m.Row is Row
    assert Row._fields == ("x", "y", "z")
    r = Row(1, 2)
    assert r == (1, 2, 0) and r.z == 0
    assert Row(1, 2, 3).z == 3
    assert repr(Row(1, 2, 3)) == "Row(x=1, y=2, z=3)"
    assert Row._make([4, 5, 6]).z == 6


def test_enum_member_values_keep_working_after_several_reloads(modules):
    source = """
        import enum
        class Op(enum.Enum):
            ADD = "+"
            SUB = "-"
            def apply(self, a, b):
                return {body}
        """
    m = modules.make(source.format(body="a + b if self is Op.ADD else a - b"))
    add = m.Op.ADD
    for k in range(3):
        modules.edit(m, source.format(body=f"(a + b if self is Op.ADD else a - b) + {k}"))
        hotreload.reload(m)
        assert m.Op.ADD is add
        assert add.apply(2, 1) == 3 + k
        assert m.Op("-").apply(2, 1) == 1 + k
    assert isinstance(add, enum.Enum)


def test_new_code_referring_to_enum_members_gets_the_kept_members(modules):
    m = modules.make(
        """
        import enum
        class Color(enum.Enum):
            RED = 1
            BLUE = 2
        def paint(color=Color.RED):
            return color
        """
    )
    red, blue = m.Color.RED, m.Color.BLUE
    modules.edit(
        m,
        """
        import enum
        class Color(enum.Enum):
            RED = 1
            BLUE = 2
        def paint(color=Color.BLUE):
            return color
        FAVOURITES = [Color.RED]
        """,
    )
    hotreload.reload(m)
    assert m.paint() is blue
    assert m.paint.__defaults__[0] is blue
    assert m.FAVOURITES[0] is red
    assert m.paint() == m.Color.BLUE


def test_dataclass_default_factory_refers_to_kept_class(modules):
    m = modules.make(
        """
        from dataclasses import dataclass, field
        class Engine:
            pass
        @dataclass
        class Car:
            name: str = "car"
        """
    )
    Engine = m.Engine
    modules.edit(
        m,
        """
        from dataclasses import dataclass, field
        class Engine:
            def start(self):
                return "vroom"
        @dataclass
        class Car:
            name: str = "car"
            engine: Engine = field(default_factory=Engine)
        """,
    )
    hotreload.reload(m)
    car = m.Car()
    assert type(car.engine) is Engine
    assert car.engine.start() == "vroom"


def test_plain_class_becomes_a_dataclass(modules):
    m = modules.make(
        """
        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y
        """
    )
    Point = m.Point
    live = Point(1, 2)
    modules.edit(
        m,
        """
        from dataclasses import dataclass
        @dataclass
        class Point:
            x: int
            y: int = 0
        """,
    )
    hotreload.reload(m)
    assert m.Point is Point
    assert dataclasses.is_dataclass(Point)
    assert Point(1) == Point(1, 0)
    assert repr(live) == "Point(x=1, y=2)"
    assert live == Point(1, 2)


def test_enum_missing_hook_and_classmethods_update(modules):
    source = """
        import enum
        class Mode(enum.Enum):
            FAST = "fast"
            SLOW = "slow"
            @classmethod
            def _missing_(cls, value):
                {body}
        """
    m = modules.make(source.format(body="return None"))
    Mode = m.Mode
    fast = Mode.FAST
    with pytest.raises(ValueError):
        Mode("FAST")
    modules.edit(
        m,
        source.format(body="return cls.__members__.get(str(value).upper())"),
    )
    hotreload.reload(m)
    assert Mode("FAST") is fast
    assert Mode("fast") is fast
