"""Standard-library machinery that frameworks are built on: singledispatch, enum, Protocol, abc.

Each is reloaded as a user would edit it; the live objects keep their identity
and dispatch, membership and isinstance answers follow the edit.
"""

from __future__ import annotations

import hotreload
import pytest

DISPATCH = """
    from functools import singledispatch

    @singledispatch
    def describe(value):
        return "thing"

    @describe.register
    def describe_int(value: int):
        return "int " + str(value)

    @describe.register
    def describe_str(value: str):
        return "str " + value
"""


def test_singledispatch_implementations_edit_and_register(modules):
    modules.install()
    m = modules.make(DISPATCH)
    describe = m.describe
    edited = (
        DISPATCH.replace('"int " + str(value)', '"integer " + str(value)')
        + """
    @describe.register
    def describe_list(value: list):
        return "list of " + str(len(value))
"""
    )
    modules.edit(m, edited)
    hotreload.reload(m)

    assert m.describe is describe
    assert (describe(3), describe("a"), describe([1, 2]), describe(1.5)) == ("integer 3", "str a", "list of 2", "thing")


ENUM = """
    import enum

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

        def label(self):
            return self.name.lower()
"""


def test_enum_members_keep_identity_and_methods_follow(modules):
    modules.install()
    m = modules.make(ENUM)
    red = m.Color.RED
    modules.edit(m, ENUM.replace("self.name.lower()", "self.name.title()"))
    hotreload.reload(m)

    assert m.Color.RED is red and m.Color(1) is red and red.label() == "Red"


PROTOCOL = """
    from typing import Protocol, runtime_checkable

    @runtime_checkable
    class Closer(Protocol):
        def close(self): ...

    class File:
        def close(self):
            return "closed"
"""


def test_runtime_protocol_gaining_a_method_changes_isinstance(modules):
    modules.install()
    m = modules.make(PROTOCOL)
    Closer, f = m.Closer, m.File()
    assert isinstance(f, Closer)
    gained = "        def close(self): ...\n        def flush(self): ...\n"
    modules.edit(m, PROTOCOL.replace("        def close(self): ...\n", gained, 1))
    hotreload.reload(m)

    assert m.Closer is Closer and m.File is type(f)
    assert not isinstance(f, Closer)  # File has no flush: the cached answer was forgotten


ABSTRACT = """
    import abc

    class Store(abc.ABC):
        @abc.abstractmethod
        def get(self, key): ...

    class Memory(Store):
        def get(self, key):
            return key
"""


def test_abstract_methods_added_are_enforced(modules):
    modules.install()
    m = modules.make(ABSTRACT)
    Memory = m.Memory
    assert Memory().get(1) == 1
    gained = "        def get(self, key): ...\n\n        @abc.abstractmethod\n        def put(self, key): ...\n"
    modules.edit(m, ABSTRACT.replace("        def get(self, key): ...\n", gained, 1))
    hotreload.reload(m)

    with pytest.raises(TypeError, match="put"):
        Memory()
    assert m.Memory is Memory and m.Store.__abstractmethods__ == frozenset({"get", "put"})
