"""Defaults of fields a reload added, for the instances made before it.

A :class:`FieldDefault` is a non-data descriptor put on the kept class under
the new field's name: an instance's own value (every instance made after the
reload has one) comes first; an instance made before reads the default. On the
class itself the attribute does not exist, so a framework that inspects class
attributes never takes it for a declared default.
"""

from __future__ import annotations

from typing import Any, Callable


class FieldDefault:
    def __init__(self, name: str, default: Callable[[Any], Any]) -> None:
        self.name = name
        self.default = default  # instance -> its value for the field

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            raise AttributeError(self.name)
        return self.default(instance)

    def __repr__(self) -> str:
        return f"<default of field {self.name!r} for instances made before a reload>"
