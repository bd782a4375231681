"""``hotreload.reload`` is transactional.

Each failure mode (unreadable or missing file, syntax error, exception while
executing, failed reconciliation) must raise ``ReloadError`` (an ``ImportError``,
cause chained, module, file and line in the message) and leave the module, its
functions, classes and data exactly as before; names the new code defined before
failing are gone. A fixed file then reloads normally.
"""

from __future__ import annotations

import os
import sys

import hotreload
import pytest
from hotreload import ReloadError

ORIGINAL = """
import functools

LIMIT = 10
NAME = "orig"
ITEMS = [1, 2]
TABLE = {"a": 1}

def helper():
    return "helper-1"

def uses_helper():
    return helper() + "/" + NAME

@functools.lru_cache(maxsize=None)
def cached(x):
    return x + 1

def deco(fn):
    def wrapper(*args):
        return ("wrapped", fn(*args))
    return wrapper

@deco
def decorated(x):
    return x

class Base:
    KIND = "base"
    registry = []
    def who(self):
        return "base-1"
    @classmethod
    def make(cls):
        return cls()
    @property
    def prop(self):
        return 1

class Child(Base):
    def who(self):
        return "child-1/" + super().who()
"""

# Every definition above is edited, and new names appear before the failure point.
EDITED_PREFIX = """
import functools

LIMIT = 20
NAME = "edited"
ITEMS = [9]
TABLE = {"b": 2}
NEW_DATA = "new"

def helper():
    return "helper-2"

def uses_helper():
    return helper() + "|" + NAME

def brand_new():
    return "brand new"

@functools.lru_cache(maxsize=None)
def cached(x):
    return x + 100

def deco(fn):
    tag = "t"
    def wrapper(*args):
        return (tag, fn(*args))
    return wrapper

@deco
def decorated(x):
    return -x

class Base:
    KIND = "base-2"
    registry = ["new"]
    def who(self):
        return "base-2"
    def added_method(self):
        return "added"
    @classmethod
    def make(cls):
        return None
    @property
    def prop(self):
        return 2

class Child(Base):
    def who(self):
        return "child-2/" + super().who()

class NewClass(Base):
    pass
"""


def _load(modules, *, installed=False):
    if installed:
        modules.install()
    m = modules.make(ORIGINAL)
    consumer = modules.make(
        f"from {m.__name__} import LIMIT, NAME, helper, Base\n",
        hint="consumer",
    )
    live = {
        "child": m.Child(),
        "bound": m.Child().who,
        "helper": m.helper,
        "cached": m.cached,
    }
    assert m.cached(1) == 2  # fill the cache
    live["cache_info"] = m.cached.cache_info()
    m.ITEMS.append(3)  # live state
    return m, consumer, live


def _check_all_as_before(m, consumer, live, snap, consumer_snap):
    snap.assert_unchanged()
    consumer_snap.assert_unchanged()
    # the memoized results survive a failed reload (the cache is cleared only on success)
    assert m.cached.cache_info() == live["cache_info"]
    # and behaviourally:
    assert m.helper() == "helper-1"
    assert m.uses_helper() == "helper-1/orig"
    assert live["helper"] is m.helper
    assert m.cached(1) == 2 and live["cached"] is m.cached
    assert m.decorated(3) == ("wrapped", 3)
    assert live["child"].who() == "child-1/base-1"
    assert live["bound"]() == "child-1/base-1"
    assert m.Child.make().__class__ is m.Child
    assert live["child"].prop == 1
    assert not hasattr(m.Base, "added_method")
    assert m.Base.KIND == "base" and m.Base.registry == []
    assert m.LIMIT == 10 and m.NAME == "orig" and m.ITEMS == [1, 2, 3] and m.TABLE == {"a": 1}
    for gone in ("NEW_DATA", "brand_new", "NewClass", "AFTER"):
        assert not hasattr(m, gone), gone
    assert consumer.LIMIT == 10 and consumer.NAME == "orig"
    assert consumer.helper is m.helper and consumer.Base is m.Base
    assert m.Base.__subclasses__() == [m.Child]


def _check_recovers(modules, m, live):
    modules.edit(m, EDITED_PREFIX)
    hotreload.reload(m)
    assert live["helper"] is m.helper and m.helper() == "helper-2"
    assert live["child"].who() == "child-2/base-2"
    assert m.brand_new() == "brand new"


def _assert_error(error, m, path, lineno=None):
    assert isinstance(error, ImportError)
    assert error.name == m.__name__
    assert error.path == str(path)
    assert m.__name__ in str(error)
    assert str(path) in str(error)
    if lineno is not None:
        assert error.lineno == lineno
        assert str(lineno) in str(error)
    assert error.__cause__ is not None


@pytest.mark.parametrize("installed", [False, True], ids=["plain", "installed"])
def test_syntax_error(modules, installed):
    m, consumer, live = _load(modules, installed=installed)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    source = EDITED_PREFIX + "\ndef broken(:\n    pass\n"
    lineno = source.count("\n", 0, source.index("def broken(")) + 1
    path = modules.edit(m, source)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    _assert_error(info.value, m, path, lineno)
    assert isinstance(info.value.__cause__, SyntaxError)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)
    _check_recovers(modules, m, live)


@pytest.mark.parametrize("installed", [False, True], ids=["plain", "installed"])
def test_exception_while_executing(modules, installed):
    m, consumer, live = _load(modules, installed=installed)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    source = EDITED_PREFIX + "\nAFTER = 1\nraise ValueError('boom at import')\n"
    lineno = source.count("\n", 0, source.index("raise ValueError")) + 1
    path = modules.edit(m, source)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    _assert_error(info.value, m, path, lineno)
    assert isinstance(info.value.__cause__, ValueError)
    assert "boom at import" in str(info.value.__cause__)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)
    _check_recovers(modules, m, live)


def test_exception_raised_from_a_function_called_at_top_level(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    source = EDITED_PREFIX + "\ndef setup():\n    return {}['missing']\n\nCONFIGURED = setup()\n"
    path = modules.edit(m, source)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    _assert_error(info.value, m, path)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.lineno is not None
    assert str(info.value.lineno) in str(info.value)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


def test_exception_inside_class_body(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    source = EDITED_PREFIX + "\nclass Broken:\n    x = 1 / 0\n"
    path = modules.edit(m, source)
    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)
    _assert_error(info.value, m, path)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


def test_missing_file(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    path = modules.remove(m)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    error = info.value
    assert isinstance(error, ImportError)
    assert error.name == m.__name__ and m.__name__ in str(error)
    assert str(path) in str(error)
    assert isinstance(error.__cause__, OSError)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)
    path.write_text(EDITED_PREFIX)
    hotreload.reload(m)
    assert live["helper"]() == "helper-2"


def test_unreadable_file(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    path = modules.remove(m)
    os.mkdir(path)  # a directory where the source file was: reading it fails

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    assert info.value.name == m.__name__
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


def test_undecodable_file(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    path = modules.path_of(m)
    path.write_bytes(b"def helper():\n    return '\xff\xfe bad utf-8'\n")

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    assert info.value.name == m.__name__
    assert str(path) in str(info.value)
    assert info.value.__cause__ is not None
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


@pytest.mark.parametrize(
    "bad_class",
    [
        "class Base:\n    __slots__ = ('a',)\n    def who(self):\n        return 'x'\n",
        "class Meta(type):\n    pass\n\nclass Base(metaclass=Meta):\n    def who(self):\n        return 'x'\n",
        "class Base(dict):\n    def who(self):\n        return 'x'\n",
    ],
    ids=["slots", "metaclass", "base-layout"],
)
def test_failed_reconciliation_rolls_back_everything(modules, bad_class):
    """Functions and data edited before the offending class are rolled back too."""
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    start = EDITED_PREFIX.index("class Base:")
    end = EDITED_PREFIX.index("class Child(Base):")
    source = EDITED_PREFIX[:start] + bad_class + "\n" + EDITED_PREFIX[end:]
    path = modules.edit(m, source)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    error = info.value
    assert error.name == m.__name__
    assert "Base" in str(error)
    assert str(path) in str(error)
    assert error.lineno is not None and str(error.lineno) in str(error)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)
    _check_recovers(modules, m, live)


def test_failure_after_a_successful_reload_restores_the_reloaded_state(modules):
    m, consumer, live = _load(modules)
    modules.edit(m, EDITED_PREFIX)
    hotreload.reload(m)
    assert m.helper() == "helper-2"
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    modules.edit(m, EDITED_PREFIX.replace("helper-2", "helper-3") + "\nraise RuntimeError('x')\n")
    with pytest.raises(ReloadError):
        hotreload.reload(m)
    snap.assert_unchanged()
    consumer_snap.assert_unchanged()
    assert m.helper() == "helper-2"
    assert live["child"].who() == "child-2/base-2"


def test_failed_reload_leaves_sys_modules_and_import_state_intact(modules):
    m, consumer, live = _load(modules)
    modules.edit(m, EDITED_PREFIX + "\nraise RuntimeError('x')\n")
    with pytest.raises(ReloadError):
        hotreload.reload(m)
    assert sys.modules[m.__name__] is m
    # a later import statement gets the same, intact module
    again = __import__(m.__name__)
    assert again is m
    assert m.__spec__.name == m.__name__


def test_reload_error_is_catchable_as_import_error(modules):
    m = modules.make("X = 1\n")
    modules.edit(m, "X = (\n")
    with pytest.raises(ImportError):
        hotreload.reload(m)
    assert m.X == 1


def test_module_code_that_exits_does_not_leave_a_half_reloaded_module(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    modules.edit(m, EDITED_PREFIX + "\nimport sys\nsys.exit(3)\n")
    with pytest.raises((ReloadError, SystemExit)):
        hotreload.reload(m)
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


def test_unknown_module_name(modules):
    name = modules.unique("never_imported")
    with pytest.raises(ImportError) as info:
        hotreload.reload(name)
    assert name in str(info.value)
    assert name not in sys.modules


def test_module_without_a_source_file_raises_reload_error():
    import types

    fake = types.ModuleType("hotreload_test_fake_module_without_file")
    sys.modules[fake.__name__] = fake
    try:
        fake.X = 1
        with pytest.raises(ReloadError) as info:
            hotreload.reload(fake)
        assert fake.__name__ in str(info.value)
        assert fake.X == 1 and sys.modules[fake.__name__] is fake
    finally:
        del sys.modules[fake.__name__]


def test_builtin_module_raises_reload_error():
    before = dict(vars(sys))
    with pytest.raises(ReloadError) as info:
        hotreload.reload("sys")
    assert "sys" in str(info.value)
    assert set(vars(sys)) == set(before)


@pytest.mark.parametrize("argument", [42, None, b"name", ["m"]])
def test_wrong_argument_type_raises_type_error(argument):
    with pytest.raises(TypeError):
        hotreload.reload(argument)


def test_import_error_in_the_new_source(modules):
    m, consumer, live = _load(modules)
    snap, consumer_snap = modules.snapshot(m), modules.snapshot(consumer)
    missing = modules.unique("missing_dependency")
    path = modules.edit(m, EDITED_PREFIX + f"\nimport {missing}\n")
    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)
    _assert_error(info.value, m, path)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    assert info.value.name == m.__name__
    _check_all_as_before(m, consumer, live, snap, consumer_snap)


def test_failed_reload_does_not_clear_memoized_singletons(modules):
    """``@functools.cache`` is often a lazy singleton (a connection, a client):
    a failed reload must not make the program create a second one."""
    source = """
        import functools

        @functools.cache
        def connection():
            return object()

        class Handler:
            {slots}
            def handle(self):
                return {body}
        """
    m = modules.make(source.format(slots="pass", body="1"))
    conn = m.connection()
    modules.edit(m, source.format(slots="__slots__ = ('x',)", body="2").replace("return object()", "return [1]"))
    with pytest.raises(ReloadError):
        hotreload.reload(m)
    assert m.connection() is conn
    assert m.Handler().handle() == 1


def test_rollback_restores_effects_on_subclasses_in_other_modules(modules):
    """The edit adds an abstract method to an ABC (changing a subclass's
    ``__abstractmethods__`` in another module) and then fails on a later class."""
    base = modules.make(
        """
        import abc
        class Plugin(abc.ABC):
            @abc.abstractmethod
            def run(self): ...
            def describe(self):
                return "plugin-1"
        class Later:
            pass
        """,
        hint="base",
    )
    other = modules.make(
        f"""
        from {base.__name__} import Plugin
        class Impl(Plugin):
            def run(self):
                return "run"
        """,
        hint="other",
    )
    snap, other_snap = modules.snapshot(base), modules.snapshot(other)
    modules.edit(
        base,
        """
        import abc
        class Plugin(abc.ABC):
            @abc.abstractmethod
            def run(self): ...
            @abc.abstractmethod
            def stop(self): ...
            def describe(self):
                return "plugin-2"
        class Later:
            __slots__ = ("x",)
        """,
    )
    with pytest.raises(ReloadError) as info:
        hotreload.reload(base)
    assert "Later" in str(info.value)
    snap.assert_unchanged()
    other_snap.assert_unchanged()
    assert other.Impl.__abstractmethods__ == frozenset()
    assert other.Impl().run() == "run"
    assert other.Impl().describe() == "plugin-1"
