"""attrs classes reloaded: methods edit in place; a field change applies or is refused clearly.

``attrs.define`` makes slotted classes: a field added or removed changes the
instance layout, which no live class can take, so the reload is refused,
naming the class and the field. Classes with a ``__dict__`` take the change,
and instances made before it read the new field's default.
"""

from __future__ import annotations

import hotreload
import pytest

attrs = pytest.importorskip("attrs", reason="attrs is in the test extra; missing only if not installed")

SLOTTED = """
    import attrs

    @attrs.define
    class Point:
        x: int
        y: int = 0

        def norm(self):
            return abs(self.x) + abs(self.y)

        def __str__(self):
            return f"<{self.x}, {self.y}>"
"""


def test_slotted_class_methods_edit_in_place(modules):
    modules.install()
    m = modules.make(SLOTTED)
    Point = m.Point
    before = Point(3, -4)
    edited = SLOTTED.replace("abs(self.x) + abs(self.y)", "max(abs(self.x), abs(self.y))")
    modules.edit(m, edited.replace("<{", "({").replace("}>", "})"))
    hotreload.reload(m)

    assert m.Point is Point and isinstance(before, m.Point)
    assert before.norm() == 4 and str(before) == "(3, -4)"
    assert Point(1, 2) == Point(1, 2) and repr(Point(1)) == "Point(x=1, y=0)"
    assert attrs.evolve(before, x=10).norm() == 10


def test_a_field_added_to_a_slotted_class_is_refused_clearly(modules):
    modules.install()
    m = modules.make(SLOTTED)
    snapshot = modules.snapshot(m)
    edited = SLOTTED.replace("        y: int = 0\n", "        y: int = 0\n        z: int = 0\n")
    modules.edit(m, edited.replace("abs(self.y)", "abs(self.z)"))
    with pytest.raises(hotreload.ReloadError) as caught:
        hotreload.reload(m)

    message = str(caught.value)
    assert "Point" in message and "Point.z" in message and "slots" in message and "restart" in message
    assert caught.value.lineno == 4  # the class statement, from its decorator
    snapshot.assert_unchanged()
    assert m.Point(1, 2).norm() == 3


def test_a_field_added_to_a_dict_class_applies(modules):
    source = SLOTTED.replace("@attrs.define", "@attrs.define(slots=False)")
    modules.install()
    m = modules.make(source)
    Point = m.Point
    before = Point(1, 2)
    edited = source.replace("        y: int = 0\n", "        y: int = 0\n        z: int = 5\n")
    modules.edit(m, edited.replace("abs(self.y)", "abs(self.y) + self.z"))
    hotreload.reload(m)

    assert m.Point is Point
    assert Point(1, 2, 3).norm() == 6 and [f.name for f in attrs.fields(Point)] == ["x", "y", "z"]
    assert before.z == 5 and before.norm() == 8  # made before the reload: the new field's default
    assert repr(before) == "Point(x=1, y=2, z=5)"
