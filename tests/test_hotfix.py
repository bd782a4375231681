"""Hotfix scripts: ``replace_func`` and transactional ``apply_hotfix``.

Each test builds a small "live" module in a temporary directory, captures
references to its functions the way a running program does (handler tables,
bound methods, ``from x import f`` copies), applies a hotfix and checks what the
program now runs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import logging
import os
import pathlib
import pickle
import sys
import textwrap
import threading
import traceback
import types
from typing import Any, Callable, Dict, Iterator, List, Tuple

import hotreload
import pytest
from hotreload import HotfixReport, ReloadError, apply_hotfix, replace_func

_counter = itertools.count()


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def make_module(tmp_path: pathlib.Path) -> Iterator[Callable[[str], types.ModuleType]]:
    """Writes source to a uniquely named module in tmp_path and imports it."""
    created: List[str] = []
    sys.path.insert(0, str(tmp_path))

    def make(source: str) -> types.ModuleType:
        name = f"hotfix_target_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        created.append(name)
        return importlib.import_module(name)

    yield make
    sys.path.remove(str(tmp_path))
    for name in created:
        sys.modules.pop(name, None)


@pytest.fixture
def write_hotfix(tmp_path: pathlib.Path) -> Callable[..., pathlib.Path]:
    """Writes a hotfix script (dedented) to tmp_path and returns its path."""

    def write(source: str, filename: str = "fix.py") -> pathlib.Path:
        path = tmp_path / "hotfixes" / filename
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    return write


GAME = """
    BASE = 10

    def damage(amount):
        return amount * BASE

    HANDLERS = {"damage": damage}

    class Player:
        def __init__(self, hp=100):
            self.hp = hp

        def hit(self, amount):
            self.hp -= amount
            return self.hp

        @staticmethod
        def greeting():
            return "hello"

        @classmethod
        def make(cls):
            return ("old make", cls.__name__)

        @property
        def alive(self):
            return self.hp > 0
"""


def state(function: types.FunctionType) -> Dict[str, Any]:
    """Everything update_function may change in a function, by identity where it matters."""
    return {
        "code": function.__code__,
        "closure": function.__closure__,
        "cells": tuple(function.__closure__ or ()),
        "globals": function.__globals__,
        "defaults": function.__defaults__,
        "kwdefaults": function.__kwdefaults__,
        "dict": function.__dict__,
        "dict_items": dict(function.__dict__),
        "doc": function.__doc__,
        "annotations": function.__annotations__,
        "name": function.__name__,
        "qualname": function.__qualname__,
        "module": function.__module__,
    }


def assert_same_state(function: types.FunctionType, before: Dict[str, Any]) -> None:
    after = state(function)
    for key in ("code", "closure", "globals", "defaults", "kwdefaults", "dict", "annotations"):
        assert after[key] is before[key], f"{function.__qualname__}.{key} changed"
    assert all(a is b for a, b in zip(after["cells"], before["cells"]))
    assert len(after["cells"]) == len(before["cells"])
    for key in ("dict_items", "doc", "name", "qualname", "module"):
        assert after[key] == before[key], f"{function.__qualname__}.{key} changed"


def namespace_snapshot(obj: Any) -> Dict[str, Any]:
    return dict(vars(obj))


def assert_namespace_unchanged(obj: Any, before: Dict[str, Any]) -> None:
    after = dict(vars(obj))
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] is value, f"{key} changed"


# -- replace_func: what the running program sees ------------------------------------------


def test_module_function_is_updated_for_every_captured_reference(make_module, write_hotfix):
    game = make_module(GAME)
    original = game.damage
    table = {"damage": game.damage}
    consumer = make_module(f"from {game.__name__} import damage\ndef use():\n    return damage(2)\n")
    timer = functools.partial(game.damage, 3)
    path = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def damage(amount):
            return amount * game.BASE + 1
        """
    )

    report = apply_hotfix(path)

    assert game.damage is original
    assert game.HANDLERS["damage"](2) == 21
    assert table["damage"](2) == 21
    assert consumer.damage is original and consumer.use() == 21
    assert timer() == 31
    assert report.replaced == [f"{game.__name__}.damage"]
    assert report.added == []
    assert isinstance(report, HotfixReport)


def test_patched_function_uses_names_the_hotfix_imported_itself(make_module):
    game = make_module("def area(r):\n    return 3 * r * r\n")
    apply_hotfix(
        "import hotreload, math\n"
        f"import {game.__name__} as game\n"
        "@hotreload.replace_func(game)\n"
        "def area(r):\n"
        "    return math.pi * r * r\n"
    )
    assert "math" not in vars(game)
    assert game.area(1) == pytest.approx(3.141592653589793)


def test_method_held_by_live_instances_and_bound_methods(make_module):
    game = make_module(GAME)
    player = game.Player()
    bound = player.hit
    callbacks = [player.hit]
    original = game.Player.__dict__["hit"]

    @replace_func(game.Player)
    def hit(self, amount):
        self.hp -= amount // 2
        return self.hp

    assert hit is original
    assert game.Player.__dict__["hit"] is original
    assert bound(10) == 95
    assert callbacks[0](10) == 90
    assert player.hit(10) == 85
    assert game.Player(50).hit(10) == 45
    # The method still says where it lives.
    assert original.__qualname__ == "Player.hit"
    assert original.__module__ == game.__name__


def test_staticmethod_classmethod_and_property_update_the_function_inside(make_module):
    game = make_module(GAME)
    static = game.Player.__dict__["greeting"].__func__
    klass = game.Player.__dict__["make"].__func__
    getter = game.Player.__dict__["alive"].fget
    wrappers = {n: game.Player.__dict__[n] for n in ("greeting", "make", "alive")}
    player = game.Player(hp=0)
    held_static = game.Player.greeting
    held_classmethod = game.Player.make

    class Sub(game.Player):
        pass

    @replace_func(game.Player)
    def greeting():
        return "hi"

    @replace_func(game.Player)
    def make(cls):
        return ("new make", cls.__name__)

    @replace_func(game.Player)
    def alive(self):
        return self.hp >= 0

    # The wrappers and the functions inside them keep their identity...
    assert {n: game.Player.__dict__[n] for n in wrappers} == wrappers
    assert (greeting, make, alive) == (static, klass, getter)
    # ...and run the new code, whoever holds them.
    assert held_static() == "hi"
    assert held_classmethod() == ("new make", "Player")
    assert Sub.make() == ("new make", "Sub")
    assert player.alive is True


def test_hotfix_may_spell_out_the_matching_wrapper(make_module):
    game = make_module(GAME)
    static = game.Player.__dict__["greeting"].__func__

    @replace_func(game.Player)
    @staticmethod
    def greeting():
        return "hi"

    @replace_func(game.Player, name="alive")
    @property
    def new_alive(self):
        return "patched"

    assert greeting is static
    assert game.Player.greeting() == "hi"
    assert game.Player().alive == "patched"


def test_name_renames_the_target(make_module):
    game = make_module(GAME)
    original = game.damage

    @replace_func(game, name="damage")
    def damage_v2(amount):
        return -amount

    assert damage_v2 is original
    assert game.damage(3) == -3
    assert "damage_v2" not in vars(game)
    assert original.__name__ == "damage"


def test_name_renames_in_a_hotfix_script(make_module):
    game = make_module(GAME)
    report = apply_hotfix(
        f"import hotreload\n"
        f"import {game.__name__} as game\n"
        f"@hotreload.replace_func(game.Player, name='hit')\n"
        f"def fixed_hit(self, amount):\n"
        f"    return 'fixed'\n"
    )
    assert game.Player().hit(1) == "fixed"
    assert "fixed_hit" not in vars(game.Player)
    assert report.replaced == [f"{game.__name__}.Player.hit"]


def test_handler_table_captured_before_the_fix(make_module):
    game = make_module(
        """
        HANDLERS = {}

        def on(event):
            def register(function):
                HANDLERS.setdefault(event, []).append(function)
                return function
            return register

        @on("login")
        def greet(user):
            return "welcome " + user

        class Commands:
            def kick(self, user):
                return "kicked " + user

        COMMANDS = Commands()
        DISPATCH = {"kick": COMMANDS.kick}
        """
    )
    apply_hotfix(
        textwrap.dedent(
            f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def greet(user):
            return "welcome back " + user

        @hotreload.replace_func(game.Commands)
        def kick(self, user):
            return "kicked " + user + " (logged)"
        """
        )
    )
    assert [handler("ann") for handler in game.HANDLERS["login"]] == ["welcome back ann"]
    assert game.DISPATCH["kick"]("bob") == "kicked bob (logged)"


def test_missing_attribute_is_added(make_module):
    game = make_module(GAME)
    report = apply_hotfix(
        textwrap.dedent(
            f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def heal(amount):
            return amount

        @hotreload.replace_func(game.Player, name="revive")
        def _revive(self):
            self.hp = 100
            return self

        @hotreload.replace_func(game.Player)
        @staticmethod
        def motd():
            return "be nice"
        """
        )
    )
    assert game.heal(5) == 5
    assert game.Player(hp=0).revive().hp == 100
    assert game.Player.motd() == "be nice"
    assert isinstance(game.Player.__dict__["motd"], staticmethod)
    assert report.replaced == []
    assert report.added == [
        f"{game.__name__}.heal",
        f"{game.__name__}.Player.revive",
        f"{game.__name__}.Player.motd",
    ]
    # Added functions are named after where they now live, so they pickle and print right.
    revive = game.Player.__dict__["revive"]
    assert (revive.__module__, revive.__qualname__, revive.__name__) == (
        game.__name__,
        "Player.revive",
        "revive",
    )
    assert pickle.loads(pickle.dumps(game.heal)) is game.heal


def test_inherited_method_is_overridden_on_the_target_not_changed_on_the_base(make_module):
    game = make_module(textwrap.dedent(GAME) + "\nclass Boss(Player):\n    pass\n")
    hit_before = state(game.Player.__dict__["hit"])
    report = apply_hotfix(
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "@hotreload.replace_func(game.Boss)\n"
        "def hit(self, amount):\n"
        "    return 'boss shrugs'\n"
    )
    assert game.Boss().hit(10) == "boss shrugs"
    assert game.Player().hit(10) == 90
    assert_same_state(game.Player.__dict__["hit"], hit_before)
    assert report.added == [f"{game.__name__}.Boss.hit"]
    assert report.replaced == []


def test_replace_func_outside_a_hotfix_applies_at_once(make_module, caplog):
    game = make_module(GAME)
    original = game.damage
    with caplog.at_level(logging.INFO, logger="hotreload"):
        result = replace_func(game, name="damage")(lambda amount: 0)
        added = replace_func(game, name="heal")(lambda amount: amount)

    assert result is original
    assert game.HANDLERS["damage"](10) == 0
    assert added is game.heal and game.heal(4) == 4
    assert f"replaced {game.__name__}.damage" in caplog.text
    assert f"added {game.__name__}.heal" in caplog.text


def test_a_lambda_needs_a_name():
    module = types.ModuleType("lambda_target")
    with pytest.raises(TypeError, match="name="):
        replace_func(module)(lambda: 0)
    with pytest.raises(TypeError, match="identifier"):
        replace_func(module, name="not a name")
    assert vars(module).keys() == {"__name__", "__doc__", "__package__", "__loader__", "__spec__"}


def test_existing_function_attributes_survive_unless_the_fix_sets_them(make_module):
    game = make_module(GAME)
    game.damage.command = "dmg"
    game.damage.level = 1
    game.damage.__wrapped__ = len  # describes the old code: does not outlive it

    def damage(amount):
        return amount

    damage.level = 2
    replace_func(game)(damage)
    assert game.damage.command == "dmg"
    assert game.damage.level == 2
    assert not hasattr(game.damage, "__wrapped__")


def test_updating_a_function_borrowed_from_another_module_warns(make_module, caplog):
    helpers = make_module("def clamp(value):\n    return value\n")
    game = make_module(f"from {helpers.__name__} import clamp\n")
    with caplog.at_level(logging.WARNING, logger="hotreload"):

        @replace_func(game)
        def clamp(value):
            return min(value, 10)

    # In place means everywhere: the helper module runs the fix too, and says so.
    assert helpers.clamp(99) == 10
    assert f"{helpers.__name__}.clamp" in caplog.text
    assert "every module" in caplog.text


# -- TypeError: nothing changed ----------------------------------------------------------


class _Plain:
    pass


@pytest.mark.parametrize(
    "target, words",
    [
        (42, ["module or a class", "int"]),
        (_Plain(), ["module or a class", "_Plain"]),
        ("game", ["module or a class", "str"]),
        (len, ["module or a class", "@replace_func(target)"]),
    ],
)
def test_target_must_be_a_module_or_a_class(target, words):
    with pytest.raises(TypeError) as error:
        replace_func(target)
    for word in words:
        assert word in str(error.value)


def test_bare_decorator_gives_a_clear_error():
    with pytest.raises(TypeError, match=r"@replace_func\(target\)"):

        @replace_func  # forgot the target
        def damage(amount):
            return amount


def test_non_function_attributes_are_refused_and_nothing_changes(make_module):
    game = make_module(
        """
        import os
        from os import getpid
        LIMIT = 5
        class Thing:
            pass
        def keep():
            return "kept"
        class Player:
            speed = 3
            lookup = staticmethod(len)
        """
    )
    module_before = namespace_snapshot(game)
    class_before = namespace_snapshot(game.Player)
    keep_before = state(game.keep)

    def fix():
        return "fixed"

    cases = [
        (game, "LIMIT", "int"),
        (game, "Thing", "type"),
        (game, "os", "module"),
        (game, "getpid", "builtin_function_or_method"),
        (game.Player, "speed", "int"),
        (game.Player, "lookup", "staticmethod around builtin_function_or_method"),
    ]
    for target, name, what in cases:
        with pytest.raises(TypeError) as error:
            replace_func(target, name=name)(fix)
        assert f".{name}" in str(error.value)
        assert what in str(error.value)

    assert_namespace_unchanged(game, module_before)
    assert_namespace_unchanged(game.Player, class_before)
    assert_same_state(game.keep, keep_before)


def test_bad_decorated_objects_and_mismatched_wrappers_change_nothing(make_module):
    game = make_module(GAME)
    module_before = namespace_snapshot(game)
    class_before = namespace_snapshot(game.Player)
    hit_before = state(game.Player.__dict__["hit"])

    def hit(self, amount):
        return 0

    with pytest.raises(TypeError, match="plain function.*staticmethod"):
        replace_func(game.Player)(staticmethod(hit))
    with pytest.raises(TypeError, match="classmethod.*staticmethod"):
        replace_func(game.Player, name="make")(staticmethod(hit))
    with pytest.raises(TypeError, match="getter only"):
        replace_func(game.Player, name="alive")(property(hit, hit))
    with pytest.raises(TypeError, match="only make sense on a class"):
        replace_func(game, name="damage")(staticmethod(hit))
    with pytest.raises(TypeError, match="not int"):
        replace_func(game)(5)
    with pytest.raises(TypeError, match="name must be a str"):
        replace_func(game, name=b"damage")  # type: ignore[arg-type]

    assert_namespace_unchanged(game, module_before)
    assert_namespace_unchanged(game.Player, class_before)
    assert_same_state(game.Player.__dict__["hit"], hit_before)


# -- apply_hotfix: all or nothing -------------------------------------------------------


ROLLBACK_TARGET = """
    SCALE = 2

    def make_counter():
        count = 0
        def counter(step=1, *, scale=SCALE):
            "Counts."
            nonlocal count
            count += step * scale
            return count
        counter.tag = "original"
        return counter

    counter = make_counter()

    def damage(amount: int) -> int:
        return amount * SCALE

    class Player:
        def hit(self, amount):
            return "old hit"

        @staticmethod
        def greeting():
            return "hello"
"""


def test_hotfix_failing_half_way_is_rolled_back_byte_for_byte(make_module, write_hotfix):
    game = make_module(ROLLBACK_TARGET)
    functions = {
        "counter": game.counter,
        "damage": game.damage,
        "hit": game.Player.__dict__["hit"],
        "greeting": game.Player.__dict__["greeting"].__func__,
    }
    before = {name: state(function) for name, function in functions.items()}
    module_before = namespace_snapshot(game)
    class_before = namespace_snapshot(game.Player)
    held = game.Player().hit
    path = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game

        LIMIT = 3
        def _closure_with_more_cells():
            a, b = 1, 2
            def counter(step=5):
                return a + b + step + LIMIT
            return counter

        hotreload.replace_func(game)(_closure_with_more_cells())

        @hotreload.replace_func(game)
        def damage(amount, bonus=1):
            return 0

        @hotreload.replace_func(game.Player)
        def hit(self, amount):
            return "new hit"

        @hotreload.replace_func(game.Player)
        def greeting():
            return "hi"

        @hotreload.replace_func(game)
        def brand_new():
            return "new"

        @hotreload.replace_func(game.Player)
        def brand_new_method(self):
            return "new"

        assert game.damage(3) == 0  # the changes are live while the script runs
        raise RuntimeError("half-way")
        """
    )

    with pytest.raises(ReloadError) as error:
        apply_hotfix(path)

    assert isinstance(error.value.__cause__, RuntimeError)
    for name, function in functions.items():
        assert_same_state(function, before[name])
    assert_namespace_unchanged(game, module_before)
    assert_namespace_unchanged(game.Player, class_before)
    assert not hasattr(game, "brand_new")
    assert not hasattr(game.Player, "brand_new_method")
    # And the program runs exactly the old code.
    assert game.counter() == 2
    assert game.counter.tag == "original"
    assert game.damage(3) == 6
    assert held(1) == "old hit"
    assert game.Player.greeting() == "hello"
    assert "6 changes rolled back" in str(error.value)


def test_reload_error_names_file_and_line_and_chains_the_script_error(make_module, write_hotfix):
    game = make_module(GAME)
    path = write_hotfix(
        f"""\
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def damage(amount):
            return 0

        settings = {{}}
        timeout = settings["timeout"]
        """,
        filename="fix_timeout.py",
    )

    with pytest.raises(ReloadError) as error:
        apply_hotfix(path)

    err = error.value
    assert isinstance(err, ImportError)
    assert isinstance(err.__cause__, KeyError)
    assert str(path) in str(err) and "line 9" in str(err)
    assert "KeyError" in str(err)
    assert err.lineno == 9
    assert err.path == err.filename == str(path)
    assert err.name == "hotfix_fix_timeout"
    assert game.damage(1) == 10


def test_error_line_is_the_innermost_line_of_the_script(make_module):
    game = make_module(GAME)
    source = (
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "def check(value):\n"
        "    if value < 0:\n"
        "        raise ValueError('negative')\n"  # line 5
        "check(1)\n"
        "check(-1)\n"
    )
    with pytest.raises(ReloadError) as error:
        apply_hotfix(source)
    assert error.value.lineno == 5
    assert "line 5" in str(error.value)
    assert isinstance(error.value.__cause__, ValueError)


def test_type_error_inside_a_hotfix_rolls_back_earlier_changes(make_module):
    game = make_module(GAME)
    damage_before = state(game.damage)
    source = (
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "@hotreload.replace_func(game)\n"
        "def damage(amount):\n"
        "    return 0\n"
        "@hotreload.replace_func(game, name='BASE')\n"
        "def base():\n"
        "    return 1\n"
    )
    with pytest.raises(ReloadError) as error:
        apply_hotfix(source)
    assert isinstance(error.value.__cause__, TypeError)
    assert f"{game.__name__}.BASE" in str(error.value.__cause__)
    assert_same_state(game.damage, damage_before)
    assert game.BASE == 10


@pytest.mark.parametrize("as_path", [True, False])
def test_syntax_error_raises_reload_error_with_file_and_line(make_module, write_hotfix, as_path):
    game = make_module(GAME)
    source = (
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "@hotreload.replace_func(game)\n"
        "def damage(amount)\n"  # line 4: missing colon
        "    return 0\n"
    )
    damage_before = state(game.damage)
    hotfix = write_hotfix(source, filename="broken.py") if as_path else source

    with pytest.raises(ReloadError) as error:
        apply_hotfix(hotfix)

    err = error.value
    assert isinstance(err.__cause__, SyntaxError)
    assert err.lineno == 4
    assert "line 4" in str(err) and "SyntaxError" in str(err)
    if as_path:
        assert str(hotfix) in str(err)
    assert_same_state(game.damage, damage_before)


def test_missing_py_path_is_an_error_not_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for missing in ("no_such_fix.py", str(tmp_path / "no_such_fix.py")):
        with pytest.raises(ReloadError) as error:
            apply_hotfix(missing)
        assert isinstance(error.value.__cause__, FileNotFoundError)
        assert str(tmp_path / "no_such_fix.py") in str(error.value)
    with pytest.raises(ReloadError) as error:
        apply_hotfix(tmp_path / "missing_too.py")
    assert isinstance(error.value.__cause__, FileNotFoundError)


def test_argument_must_be_a_path_or_source_text():
    with pytest.raises(TypeError, match="path .* or source text, not bytes"):
        apply_hotfix(b"x = 1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        apply_hotfix(3)  # type: ignore[arg-type]


def test_keyboard_interrupt_rolls_back_and_propagates_as_is(make_module):
    game = make_module(GAME)
    damage_before = state(game.damage)
    source = (
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "hotreload.replace_func(game, name='heal')(lambda amount: 0)\n"
        "@hotreload.replace_func(game)\n"
        "def damage(amount):\n"
        "    return 0\n"
        "raise KeyboardInterrupt\n"
    )
    with pytest.raises(KeyboardInterrupt):
        apply_hotfix(source)
    assert_same_state(game.damage, damage_before)
    assert "heal" not in vars(game)


def test_hotfix_applied_by_a_failing_hotfix_is_rolled_back_with_it(make_module, write_hotfix):
    game = make_module(GAME)
    damage_before = state(game.damage)
    inner = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def damage(amount):
            return 0
        """,
        filename="inner.py",
    )
    outer = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game
        report = hotreload.apply_hotfix({str(inner)!r})
        assert game.damage(5) == 0
        raise RuntimeError("outer fails")
        """,
        filename="outer.py",
    )
    with pytest.raises(ReloadError, match="outer fails"):
        apply_hotfix(outer)
    assert_same_state(game.damage, damage_before)
    assert game.damage(1) == 10


# -- apply_hotfix: inputs, names, reports ------------------------------------------------


def test_path_forms_name_and_file(make_module, write_hotfix):
    game = make_module("def whoami():\n    return None\n")
    path = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game)
        def whoami():
            return __name__, __file__
        """,
        filename="fix_identity.py",
    )

    class Location(os.PathLike):
        def __fspath__(self) -> str:
            return str(path)

    for form in (path, str(path), Location()):
        report = apply_hotfix(form)
        assert report.name == "hotfix_fix_identity"
        assert report.filename == str(path)
        assert game.whoami() == ("hotfix_fix_identity", str(path))
        assert report.duration > 0
        assert "hotfix_fix_identity" in str(report)


def test_source_text_runs_and_tracebacks_show_its_lines(make_module):
    game = make_module("def explode():\n    return None\n")
    source = (
        "import hotreload\n"
        f"import {game.__name__} as game\n"
        "@hotreload.replace_func(game)\n"
        "def explode():\n"
        "    raise LookupError('patched code raised')\n"
    )
    report = apply_hotfix(source)
    digest = hashlib.sha1(source.encode()).hexdigest()
    assert report.name == f"hotfix_{digest[:8]}"  # named after the text; its lines under the longer digest
    assert report.replaced == [f"{game.__name__}.explode"]
    with pytest.raises(LookupError) as error:
        game.explode()
    formatted = "".join(traceback.format_exception(error.type, error.value, error.tb))
    assert report.filename in formatted
    assert "raise LookupError('patched code raised')" in formatted


def test_applying_the_same_hotfix_twice_is_harmless(make_module, write_hotfix):
    game = make_module(GAME)
    player = game.Player()
    bound = player.hit
    path = write_hotfix(
        f"""
        import hotreload
        import {game.__name__} as game

        @hotreload.replace_func(game.Player)
        def hit(self, amount):
            self.hp -= 2 * amount
            return self.hp

        @hotreload.replace_func(game)
        def heal(amount):
            return amount + 1
        """
    )
    first = apply_hotfix(path)
    heal = game.heal
    hit = game.Player.__dict__["hit"]
    second = apply_hotfix(path)

    assert first.added == [f"{game.__name__}.heal"]
    assert set(second.replaced) == {f"{game.__name__}.Player.hit", f"{game.__name__}.heal"}
    assert game.heal is heal and game.heal(1) == 2
    assert game.Player.__dict__["hit"] is hit
    assert bound(5) == 90
    assert heal.__qualname__ == "heal" and heal.__module__ == game.__name__


def test_each_hotfix_is_logged(make_module, caplog):
    game = make_module(GAME)
    source = f"import hotreload\nimport {game.__name__} as game\n@hotreload.replace_func(game)\ndef damage(amount):\n    return 0\n"
    with caplog.at_level(logging.INFO, logger="hotreload"):
        apply_hotfix(source)
    records = [r for r in caplog.records if r.name == "hotreload" and r.levelno == logging.INFO]
    assert any(f"{game.__name__}.damage" in r.getMessage() for r in records)
    assert any(f"hotfix_{hashlib.sha1(source.encode()).hexdigest()[:8]}" in r.getMessage() for r in records)


def test_exports():
    assert hotreload.apply_hotfix is apply_hotfix
    assert hotreload.replace_func is replace_func
    assert "apply_hotfix" in hotreload.__all__ and "replace_func" in hotreload.__all__


# -- threads ---------------------------------------------------------------------------------


def _versioned_hotfix(module_name: str, version: int) -> str:
    """A hotfix whose functions return a tuple that is all ``version`` if nothing is torn.

    Code, default, global and closure all carry the version, and odd versions
    close over one more variable, so a call that mixed two versions' code,
    closure, globals or defaults would return a tuple of mixed values (or crash).
    """
    extra_cell = f"    other = {version}\n" if version % 2 else ""
    extra_use = ", other" if version % 2 else ""
    return (
        "import hotreload\n"
        f"import {module_name} as target\n"
        f"VERSION = {version}\n"
        "def _build():\n"
        f"    tag = {version}\n"
        f"{extra_cell}"
        f"    def compute(marker={version}):\n"
        f"        return ({version}, marker, VERSION, tag{extra_use})\n"
        f"    def step(self, marker={version}):\n"
        f"        return ({version}, marker, VERSION, tag{extra_use})\n"
        "    return compute, step\n"
        "compute, step = _build()\n"
        "hotreload.replace_func(target)(compute)\n"
        "hotreload.replace_func(target.Worker)(step)\n"
    )


def test_hotfixes_applied_while_threads_call_the_patched_functions(make_module):
    game = make_module(
        """
        def compute(marker=-1):
            return (-1, marker, -1, -1)

        class Worker:
            def step(self, marker=-1):
                return (-1, marker, -1, -1)
        """
    )
    table = {"compute": game.compute}
    worker = game.Worker()
    stop = threading.Event()
    torn: List[Tuple[Any, ...]] = []
    errors: List[BaseException] = []
    calls = [0] * 4
    sources = [_versioned_hotfix(game.__name__, version) for version in range(4)]

    def hammer(slot: int) -> None:
        bound = worker.step
        try:
            while not stop.is_set():
                for result in (table["compute"](), bound(), game.compute()):
                    if len(set(result)) != 1:
                        torn.append(result)
                calls[slot] += 1
        except BaseException as error:  # noqa: BLE001 - any error is a failure
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=hammer, args=(slot,)) for slot in range(len(calls))]
    try:
        for thread in threads:
            thread.start()
        for round_number in range(200):
            apply_hotfix(sources[round_number % len(sources)])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)

    assert errors == []
    assert torn == []
    assert all(count > 0 for count in calls)
    last = (200 - 1) % len(sources)
    assert set(game.compute()) == {last} and set(worker.step()) == {last}
