"""The data policy of ``hotreload.reload`` (SPEC: "Data (every other name)").

Two regimes:

- *source unknown* (the module was imported before ``hotreload.install()`` and
  never reloaded by hotreload): immutable values (None, bool, numbers, str,
  bytes, tuples and frozensets of these) take the new value, everything else
  keeps its live value;
- *source known* (imported after ``install()``, or reloaded at least once by
  hotreload): a name whose top-level statement is textually unchanged keeps its
  live value, a changed or new statement gives the new value.

``__hotreload_keep__`` / ``__hotreload_refresh__`` override both. The same rules
apply to data inside class bodies.
"""

from __future__ import annotations

import hotreload
import pytest

# ---------------------------------------------------------------------------------------
# Regime 1: source unknown, type-based rule
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal, live",
    [
        ("0", 5),
        ("1.5", 2.5),
        ("'text'", "changed"),
        ("b'raw'", b"changed"),
        ("None", "set at runtime"),
        ("True", False),
        ("(1, 'a', None)", (2,)),
        ("frozenset({1, 2})", frozenset()),
        ("((1, 2), frozenset({b'x'}))", ()),
        ("3j", 1j),
    ],
)
def test_unknown_source_immutable_value_takes_new_value(modules, literal, live):
    m = modules.make(f"VALUE = {literal}\n")
    expected = eval(literal)
    m.VALUE = live  # the program changed it at runtime
    # the statement itself is unchanged; only an unrelated function is edited
    modules.edit(m, f"VALUE = {literal}\ndef touched():\n    return 1\n")
    hotreload.reload(m)
    assert m.VALUE == expected
    assert type(m.VALUE) is type(expected)


@pytest.mark.parametrize(
    "literal",
    ["[]", "{}", "set()", "bytearray(b'ab')", "([],)", "Box()"],
)
def test_unknown_source_mutable_value_keeps_live_value(modules, literal):
    prelude = "class Box:\n    pass\n"
    m = modules.make(prelude + f"VALUE = {literal}\n")
    live = m.VALUE
    # the statement changed too: without the previous source only the type decides
    modules.edit(m, prelude + f"VALUE = {literal} if True else None\nOTHER = 1\n")
    hotreload.reload(m)
    assert m.VALUE is live


def test_unknown_source_live_mutations_survive(modules):
    m = modules.make(
        """
        SESSIONS = {}
        QUEUE = []
        def login(user):
            SESSIONS[user] = True
        """
    )
    sessions, queue = m.SESSIONS, m.QUEUE
    m.login("ann")
    queue.append("job")
    modules.edit(
        m,
        """
        SESSIONS = {"default": False}
        QUEUE = ["seed"]
        def login(user):
            SESSIONS[user] = "yes"
        """,
    )
    report = hotreload.reload(m)
    assert m.SESSIONS is sessions and sessions == {"ann": True}
    assert m.QUEUE is queue and queue == ["job"]
    m.login("bob")
    assert sessions["bob"] == "yes"
    assert any(n == "SESSIONS" or n.endswith(".SESSIONS") for n in report.kept)


def test_unknown_source_class_data(modules):
    m = modules.make(
        """
        class Stats:
            hits = 0
            seen = []
            name = "stats"
        """
    )
    Stats = m.Stats
    seen = Stats.seen
    Stats.hits = 4
    seen.append("x")
    Stats.name = "runtime"
    modules.edit(
        m,
        """
        class Stats:
            hits = 0
            seen = []
            name = "stats-v2"
        """,
    )
    report = hotreload.reload(m)
    assert m.Stats is Stats
    assert Stats.hits == 0  # immutable: new value
    assert Stats.name == "stats-v2"
    assert Stats.seen is seen and seen == ["x"]  # mutable: live value
    assert any(e == "seen" or e.endswith("Stats.seen") for e in report.kept), report.kept
    assert any(e == "name" or e.endswith("Stats.name") for e in report.refreshed), report.refreshed


# ---------------------------------------------------------------------------------------
# Regime 2: source known
# ---------------------------------------------------------------------------------------


def _known_after_install(modules, source):
    modules.install()
    return modules.make(source)


def _known_after_first_reload(modules, source):
    m = modules.make(source)
    hotreload.reload(m)  # hotreload now knows the source it was loaded from
    return m


KNOWN = pytest.mark.parametrize(
    "load", [_known_after_install, _known_after_first_reload], ids=["imported-after-install", "after-first-reload"]
)


@KNOWN
def test_known_source_unchanged_statement_keeps_live_value(modules, load):
    m = load(
        modules,
        """
        COUNT = 0
        NAME = "app"
        ITEMS = []
        def f():
            return 1
        """,
    )
    items = m.ITEMS
    m.COUNT = 5
    m.NAME = "live"
    items.append(1)
    modules.edit(
        m,
        """
        COUNT = 0
        NAME = "app"
        ITEMS = []
        def f():
            return 2
        """,
    )
    report = hotreload.reload(m)
    assert m.COUNT == 5
    assert m.NAME == "live"
    assert m.ITEMS is items and items == [1]
    assert m.f() == 2
    for name in ("COUNT", "NAME", "ITEMS"):
        assert any(n == name or n.endswith("." + name) for n in report.kept), (name, report.kept)


@KNOWN
def test_known_source_changed_statement_takes_new_value(modules, load):
    m = load(
        modules,
        """
        LIMIT = 10
        CONFIG = {"mode": "a"}
        ITEMS = [1]
        """,
    )
    config = m.CONFIG
    m.LIMIT = 11
    m.ITEMS.append(2)
    modules.edit(
        m,
        """
        LIMIT = 20
        CONFIG = {"mode": "b"}
        ITEMS = [1]
        EXTRA = []
        """,
    )
    report = hotreload.reload(m)
    assert m.LIMIT == 20
    assert m.CONFIG == {"mode": "b"} and m.CONFIG is not config
    assert m.ITEMS == [1, 2]  # unchanged statement: the live list
    assert m.EXTRA == []
    assert any(n == "LIMIT" or n.endswith(".LIMIT") for n in report.refreshed)
    assert any(n == "CONFIG" or n.endswith(".CONFIG") for n in report.refreshed)


@KNOWN
def test_known_source_statement_moved_but_textually_unchanged_keeps_live_value(modules, load):
    m = load(
        modules,
        """
        TOTAL = 0
        def f():
            return 1
        """,
    )
    m.TOTAL = 99
    modules.edit(
        m,
        """
        import os

        def g():
            return 2


        def f():
            return 1

        TOTAL = 0
        """,
    )
    hotreload.reload(m)
    assert m.TOTAL == 99
    assert m.g() == 2


@KNOWN
def test_known_source_class_body_data(modules, load):
    m = load(
        modules,
        """
        class Pool:
            size = 4
            timeout = 1.0
            members = []
        """,
    )
    Pool = m.Pool
    members = Pool.members
    Pool.size = 8
    Pool.timeout = 9.0
    members.append("conn")
    modules.edit(
        m,
        """
        class Pool:
            size = 4
            timeout = 2.5
            members = []
            def grow(self):
                return self.size + 1
        """,
    )
    hotreload.reload(m)
    assert m.Pool is Pool
    assert Pool.size == 8  # unchanged statement
    assert Pool.timeout == 2.5  # changed statement
    assert Pool.members is members and members == ["conn"]
    assert Pool().grow() == 9


def test_known_source_spans_successive_reloads(modules):
    """After every hotreload reload, the source just loaded is the reference for the next one."""
    m = modules.make("LIMIT = 1\nCOUNT = 0\n")
    modules.edit(m, "LIMIT = 2\nCOUNT = 0\n")
    hotreload.reload(m)
    assert m.LIMIT == 2
    m.LIMIT = 50
    m.COUNT = 7
    modules.edit(m, "LIMIT = 2\nCOUNT = 0\nNEW = 1\n")
    hotreload.reload(m)
    assert m.LIMIT == 50  # unchanged since the last reload
    assert m.COUNT == 7
    modules.edit(m, "LIMIT = 3\nCOUNT = 0\nNEW = 1\n")
    hotreload.reload(m)
    assert m.LIMIT == 3 and m.COUNT == 7


def test_known_source_data_removed_and_added(modules):
    modules.install()
    m = modules.make("A = 1\nB = [2]\n")
    modules.edit(m, "B = [2]\nC = (3,)\n")
    report = hotreload.reload(m)
    assert not hasattr(m, "A")
    assert m.C == (3,)
    assert any(n == "A" or n.endswith(".A") for n in report.removed)
    assert any(n == "C" or n.endswith(".C") for n in report.added)


# ---------------------------------------------------------------------------------------
# __hotreload_keep__ / __hotreload_refresh__: both regimes
# ---------------------------------------------------------------------------------------


def _unknown(modules, source):
    return modules.make(source)


BOTH = pytest.mark.parametrize(
    "load",
    [_unknown, _known_after_install, _known_after_first_reload],
    ids=["source-unknown", "imported-after-install", "after-first-reload"],
)


@BOTH
def test_hotreload_keep_keeps_live_value_even_when_changed(modules, load):
    m = load(
        modules,
        """
        __hotreload_keep__ = ["PORT", "NAME"]
        PORT = 8000
        NAME = "a"
        """,
    )
    m.PORT = 9000
    m.NAME = "live"
    modules.edit(
        m,
        """
        __hotreload_keep__ = ["PORT", "NAME"]
        PORT = 8080
        NAME = "b"
        """,
    )
    hotreload.reload(m)
    assert m.PORT == 9000
    assert m.NAME == "live"


@BOTH
def test_hotreload_refresh_takes_new_value_even_when_unchanged(modules, load):
    m = load(
        modules,
        """
        __hotreload_refresh__ = ("CACHE",)
        CACHE = {}
        COUNT = 0
        """,
    )
    old_cache = m.CACHE
    old_cache["k"] = "stale"
    modules.edit(
        m,
        """
        __hotreload_refresh__ = ("CACHE",)
        CACHE = {}
        COUNT = 0
        def added():
            return 1
        """,
    )
    report = hotreload.reload(m)
    assert m.CACHE == {} and m.CACHE is not old_cache
    assert any(n == "CACHE" or n.endswith(".CACHE") for n in report.refreshed)


@BOTH
def test_hotreload_keep_and_refresh_in_class_body(modules, load):
    m = load(
        modules,
        """
        class Service:
            __hotreload_keep__ = ["retries"]
            __hotreload_refresh__ = ["handlers"]
            retries = 3
            handlers = []
        """,
    )
    S = m.Service
    old_handlers = S.handlers
    S.retries = 10
    old_handlers.append("h")
    modules.edit(
        m,
        """
        class Service:
            __hotreload_keep__ = ["retries"]
            __hotreload_refresh__ = ["handlers"]
            retries = 5
            handlers = []
        """,
    )
    hotreload.reload(m)
    assert m.Service is S
    assert S.retries == 10
    assert S.handlers == [] and S.handlers is not old_handlers


# ---------------------------------------------------------------------------------------
# try: X / except NameError: X = ...
# ---------------------------------------------------------------------------------------


@BOTH
def test_name_error_idiom_keeps_state(modules, load):
    source = """
        try:
            STATE
        except NameError:
            STATE = {{"hits": 0}}

        try:
            COUNTER
        except NameError:
            COUNTER = 0

        def hit():
            global COUNTER
            STATE["hits"] += 1
            COUNTER += 1
            return {result}
        """
    m = load(modules, source.format(result='"v1"'))
    state = m.STATE
    assert m.hit() == "v1"
    m.hit()
    modules.edit(m, source.format(result='"v2"'))
    hotreload.reload(m)
    assert m.STATE is state and state == {"hits": 2}
    assert m.COUNTER == 2
    assert m.hit() == "v2"
    assert state == {"hits": 3} and m.COUNTER == 3


@BOTH
def test_name_error_idiom_with_changed_default_still_keeps_state(modules, load):
    m = load(
        modules,
        """
        try:
            REGISTRY
        except NameError:
            REGISTRY = []
        """,
    )
    registry = m.REGISTRY
    registry.append("x")
    modules.edit(
        m,
        """
        try:
            REGISTRY
        except NameError:
            REGISTRY = ["default"]
        def count():
            return len(REGISTRY)
        """,
    )
    hotreload.reload(m)
    assert m.REGISTRY is registry
    assert m.count() == 1


def test_new_code_sees_live_values_of_module_globals_while_executing(modules):
    m = modules.make(
        """
        RUNS = []
        RUNS.append("import")
        """
    )
    runs = m.RUNS
    modules.edit(
        m,
        """
        RUNS = globals().get("RUNS", [])
        RUNS.append("reload")
        """,
    )
    hotreload.reload(m)
    assert m.RUNS is runs
    assert runs == ["import", "reload"]


def test_immutable_tuple_containing_mutable_is_kept_when_source_unknown(modules):
    m = modules.make("PAIR = ([], 1)\n")
    pair = m.PAIR
    pair[0].append("x")
    modules.edit(m, "PAIR = ([], 2)\n")
    hotreload.reload(m)
    assert m.PAIR is pair


@KNOWN
def test_known_source_multi_line_statement_changed_on_a_continuation_line(modules, load):
    m = load(
        modules,
        """
        CONFIG = {
            "a": 1,
            "b": 2,
        }
        SAME = {
            "x": 1,
        }
        """,
    )
    same = m.SAME
    same["live"] = True
    modules.edit(
        m,
        """
        CONFIG = {
            "a": 1,
            "b": 3,
        }
        SAME = {
            "x": 1,
        }
        """,
    )
    hotreload.reload(m)
    assert m.CONFIG == {"a": 1, "b": 3}
    assert m.SAME is same


@KNOWN
def test_known_source_annotated_and_compound_statements(modules, load):
    m = load(
        modules,
        """
        import sys
        LIMIT: int = 10
        if sys.maxsize > 0:
            LEVEL = 1
        else:
            LEVEL = 0
        A = B = 5
        """,
    )
    m.LIMIT, m.LEVEL, m.A, m.B = 11, 12, 13, 14
    modules.edit(
        m,
        """
        import sys
        LIMIT: int = 20
        if sys.maxsize > 0:
            LEVEL = 2
        else:
            LEVEL = 0
        A = B = 5
        """,
    )
    hotreload.reload(m)
    assert m.LIMIT == 20
    assert m.LEVEL == 2
    assert (m.A, m.B) == (13, 14)


@KNOWN
def test_known_source_comment_only_edit_elsewhere_keeps_values(modules, load):
    m = load(modules, "# version 1\nCOUNT = 0\nNAMES = ['a']\n")
    names = m.NAMES
    m.COUNT = 3
    modules.edit(m, "# version 2, with a longer comment\n\n\nCOUNT = 0\nNAMES = ['a']\n")
    hotreload.reload(m)
    assert m.COUNT == 3 and m.NAMES is names


@pytest.mark.parametrize(
    "broken",
    ["COUNT = 1\nLIMIT = (\n", "COUNT = 1\nLIMIT = 2\nraise RuntimeError('fail')\n"],
    ids=["syntax-error", "raises"],
)
def test_failed_reload_does_not_become_the_reference_source(modules, broken):
    """After a failed reload, the last *successfully loaded* source stays the reference."""
    modules.install()
    m = modules.make("COUNT = 0\nLIMIT = 1\n")
    m.COUNT = 5
    modules.edit(m, broken)
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    assert m.COUNT == 5
    modules.edit(m, "COUNT = 0\nLIMIT = 3\n")
    hotreload.reload(m)
    assert m.COUNT == 5  # textually unchanged since the last good load
    assert m.LIMIT == 3


@KNOWN
def test_known_source_changed_import_statement_takes_the_new_module(modules, load):
    m = load(modules, "import json as serializer\nfrom os import sep as separator\n")
    modules.edit(m, "import pickle as serializer\nfrom os import pathsep as separator\n")
    hotreload.reload(m)
    import os
    import pickle

    assert m.serializer is pickle
    assert m.separator == os.pathsep


@KNOWN
def test_names_set_at_runtime_are_not_removed(modules, load):
    """Only names the source no longer defines are removed; attributes the program
    set on the module at runtime (never defined by its source) stay. (Where the
    previous source is unknown, hotreload cannot tell the two apart.)"""
    m = load(modules, "def f():\n    return 1\nREMOVED = 1\n")
    m.runtime_attr = {"user": "ann"}
    attr = m.runtime_attr
    modules.edit(m, "def f():\n    return 2\n")
    hotreload.reload(m)
    assert m.runtime_attr is attr
    assert not hasattr(m, "REMOVED")
    assert m.f() == 2


@BOTH
def test_keep_list_protects_a_name_the_new_source_no_longer_assigns(modules, load):
    m = load(
        modules,
        """
        __hotreload_keep__ = ["CONNECTION"]
        CONNECTION = object()
        """,
    )
    conn = m.CONNECTION
    modules.edit(m, '__hotreload_keep__ = ["CONNECTION"]\n')
    hotreload.reload(m)
    assert m.CONNECTION is conn
