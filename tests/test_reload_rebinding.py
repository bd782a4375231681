"""Rebinding ``from module import NAME`` copies in other loaded modules.

SPEC: "Module-level names in other loaded modules that were bound to an object
that this reload replaced (`from config import LIMIT`) are rebound to the new
value." A module that merely holds an equal or identical object of its own
(small ints and interned strings are shared objects!) must not be touched.
"""

from __future__ import annotations

import sys

import hotreload
import pytest


def _config(modules, body="LIMIT = 10\nMODE = 'fast'\nNAMES = ('a', 'b')\n"):
    return modules.make(body, hint="config")


def test_from_import_is_rebound(modules, report_has):
    config = _config(modules)
    user = modules.make(
        f"""
        from {config.__name__} import LIMIT, MODE, NAMES

        def limit():
            return LIMIT
        """,
        hint="user",
    )
    modules.edit(config, "LIMIT = 20\nMODE = 'slow'\nNAMES = ('c',)\n")
    report = hotreload.reload(config)

    assert config.LIMIT == 20
    assert user.LIMIT == 20
    assert user.limit() == 20
    assert user.MODE == "slow"
    assert user.NAMES == ("c",)
    assert any(user.__name__ in entry for entry in report.rebound), report.rebound
    assert report_has(report.rebound, f"{user.__name__}.LIMIT") or any("LIMIT" in e for e in report.rebound)


def test_from_import_with_alias_is_rebound(modules):
    config = _config(modules)
    user = modules.make(f"from {config.__name__} import LIMIT as MAX_ITEMS\n", hint="user")
    modules.edit(config, "LIMIT = 30\nMODE = 'fast'\nNAMES = ('a', 'b')\n")
    hotreload.reload(config)
    assert user.MAX_ITEMS == 30


def test_module_holding_an_equal_or_identical_object_of_its_own_is_not_touched(modules):
    config = _config(modules)
    # small ints and interned strings: these are the very same objects as config's
    bystander = modules.make(
        f"""
        import {config.__name__} as config
        LIMIT = 10
        MODE = "fast"
        THRESHOLD = 10
        NAMES = ('a', 'b')
        """,
        hint="bystander",
    )
    assert bystander.LIMIT is config.LIMIT and bystander.MODE is config.MODE
    unrelated = modules.make("LIMIT = 10\nMODE = 'fast'\n", hint="unrelated")
    modules.edit(config, "LIMIT = 20\nMODE = 'slow'\nNAMES = ('c',)\n")
    report = hotreload.reload(config)

    assert config.LIMIT == 20 and config.MODE == "slow"
    assert bystander.LIMIT == 10
    assert bystander.THRESHOLD == 10
    assert bystander.MODE == "fast"
    assert bystander.NAMES == ("a", "b")
    assert unrelated.LIMIT == 10 and unrelated.MODE == "fast"
    assert not any(bystander.__name__ in entry or unrelated.__name__ in entry for entry in report.rebound)


def test_importer_that_reassigned_its_copy_is_not_touched(modules):
    config = _config(modules)
    user = modules.make(
        f"""
        from {config.__name__} import LIMIT
        LIMIT = LIMIT * 3
        """,
        hint="user",
    )
    assert user.LIMIT == 30
    modules.edit(config, "LIMIT = 20\nMODE = 'fast'\nNAMES = ('a', 'b')\n")
    hotreload.reload(config)
    assert user.LIMIT == 30


def test_kept_values_need_no_rebinding_and_stay_shared(modules):
    config = modules.make("SETTINGS = {'debug': False}\nVERSION = 1\n", hint="config")
    user = modules.make(f"from {config.__name__} import SETTINGS, VERSION\n", hint="user")
    settings = config.SETTINGS
    settings["debug"] = True
    modules.edit(config, "SETTINGS = {'debug': False}\nVERSION = 2\n")
    hotreload.reload(config)
    assert config.SETTINGS is settings and user.SETTINGS is settings
    assert user.VERSION == 2


def test_functions_and_classes_imported_elsewhere_keep_identity(modules):
    config = modules.make(
        """
        def handler():
            return 1
        class Model:
            def save(self):
                return "s1"
        """,
        hint="config",
    )
    user = modules.make(f"from {config.__name__} import handler, Model\n", hint="user")
    handler, Model = config.handler, config.Model
    modules.edit(
        config,
        """
        def handler():
            return 2
        class Model:
            def save(self):
                return "s2"
        """,
    )
    hotreload.reload(config)
    assert user.handler is handler and user.Model is Model
    assert user.handler() == 2 and user.Model().save() == "s2"


def test_star_import_is_rebound(modules):
    config = modules.make("__all__ = ['LIMIT']\nLIMIT = 10\n", hint="config")
    user = modules.make(f"from {config.__name__} import *\n", hint="user")
    assert user.LIMIT == 10
    modules.edit(config, "__all__ = ['LIMIT']\nLIMIT = 11\n")
    hotreload.reload(config)
    assert user.LIMIT == 11


def test_relative_import_inside_a_package_is_rebound(modules):
    package = modules.make_package(
        {
            "__init__": "",
            "settings": "TIMEOUT = 5\n",
            "client": "from .settings import TIMEOUT\ndef timeout():\n    return TIMEOUT\n",
        }
    )
    settings = sys.modules[package.__name__ + ".settings"]
    client = sys.modules[package.__name__ + ".client"]
    modules.edit(settings, "TIMEOUT = 50\n")
    hotreload.reload(settings)
    assert client.TIMEOUT == 50
    assert client.timeout() == 50


def test_rebinding_happens_in_several_modules(modules):
    config = _config(modules)
    users = [modules.make(f"from {config.__name__} import LIMIT\n", hint=f"user{i}") for i in range(3)]
    modules.edit(config, "LIMIT = 99\nMODE = 'fast'\nNAMES = ('a', 'b')\n")
    hotreload.reload(config)
    assert [u.LIMIT for u in users] == [99, 99, 99]


def test_unchanged_value_is_not_reported_as_rebound(modules):
    config = _config(modules)
    user = modules.make(f"from {config.__name__} import LIMIT, MODE\n", hint="user")
    modules.edit(config, "LIMIT = 10\nMODE = 'slow'\nNAMES = ('a', 'b')\n")
    report = hotreload.reload(config)
    assert user.LIMIT == 10 and user.MODE == "slow"
    assert not any(e.endswith(".LIMIT") or e == "LIMIT" for e in report.rebound), report.rebound


def test_known_source_kept_value_is_not_rebound(modules):
    """Source known: an unchanged statement keeps its live value, so importers keep theirs."""
    modules.install()
    config = modules.make("LIMIT = 10\nOTHER = 1\n", hint="config")
    user = modules.make(f"from {config.__name__} import LIMIT\n", hint="user")
    config.LIMIT = 15
    user_value_before = user.LIMIT
    modules.edit(config, "LIMIT = 10\nOTHER = 2\n")
    hotreload.reload(config)
    assert config.LIMIT == 15
    assert user.LIMIT == user_value_before == 10


def test_rebind_when_reloading_through_importlib(modules):
    import importlib

    modules.install()
    config = modules.make("LIMIT = 1\n", hint="config")
    user = modules.make(f"from {config.__name__} import LIMIT\n", hint="user")
    modules.edit(config, "LIMIT = 2\n")
    assert importlib.reload(config) is config
    assert user.LIMIT == 2


@pytest.mark.parametrize("value", ["None", "True", "''", "()", "0"])
def test_shared_singletons_in_unrelated_modules_are_never_touched(modules, value):
    config = modules.make(f"FLAG = {value}\n", hint="config")
    importer = modules.make(f"from {config.__name__} import FLAG\n", hint="importer")
    bystander = modules.make(f"FLAG = {value}\nOTHER = {value}\n", hint="bystander")
    modules.edit(config, "FLAG = 'changed'\n")
    hotreload.reload(config)
    assert importer.FLAG == "changed"
    assert bystander.FLAG == eval(value) and bystander.OTHER == eval(value)


def test_module_without_a_source_file_is_rebound_too(modules):
    """A notebook's or REPL's namespace (no file) that did ``from config import ...``."""
    import types

    config = modules.make("NAMES = ('alpha', 'beta', 1.5)\nRATE = 0.125\n", hint="config")
    notebook = types.ModuleType(modules.unique("notebook"))
    sys.modules[notebook.__name__] = notebook
    exec(f"from {config.__name__} import NAMES, RATE", notebook.__dict__)
    assert notebook.NAMES is config.NAMES
    modules.edit(config, "NAMES = ('gamma',)\nRATE = 0.25\n")
    hotreload.reload(config)
    assert notebook.NAMES == ("gamma",)
    assert notebook.RATE == 0.25


def test_parenthesized_multi_line_import_with_comments_is_rebound(modules):
    config = _config(modules)
    user = modules.make(
        f"""
        from {config.__name__} import (  # settings used here
            LIMIT,  # the maximum
            MODE,  # how fast
            NAMES as KNOWN_NAMES,
        )
        """,
        hint="user",
    )
    modules.edit(config, "LIMIT = 21\nMODE = 'slow'\nNAMES = ('z',)\n")
    hotreload.reload(config)
    assert user.LIMIT == 21
    assert user.MODE == "slow"
    assert user.KNOWN_NAMES == ("z",)


def test_import_inside_try_block_is_rebound(modules):
    config = _config(modules)
    user = modules.make(
        f"""
        try:
            from {config.__name__} import LIMIT
        except ImportError:
            LIMIT = 0
        """,
        hint="user",
    )
    modules.edit(config, "LIMIT = 22\nMODE = 'fast'\nNAMES = ('a', 'b')\n")
    hotreload.reload(config)
    assert user.LIMIT == 22


def test_importer_that_rebinds_the_name_to_its_own_identical_value_is_not_touched(modules):
    """The last binding of LIMIT in ``user`` is its own statement, not the import
    (10 is the very same object as config's 10: identity proves nothing)."""
    config = _config(modules)
    user = modules.make(
        f"""
        from {config.__name__} import LIMIT, MODE
        LIMIT = 10  # local override
        """,
        hint="user",
    )
    assert user.LIMIT is config.LIMIT
    modules.edit(config, "LIMIT = 20\nMODE = 'slow'\nNAMES = ('a', 'b')\n")
    hotreload.reload(config)
    assert user.MODE == "slow"
    assert user.LIMIT == 10


def test_alias_that_now_names_another_function_is_rebound_in_importers(modules):
    """``f = foo`` becomes ``f = bar``: ``from config import f`` copies follow ``f``,
    while ``foo`` itself is untouched."""
    config = modules.make(
        """
        def foo():
            return "foo"
        def bar():
            return "bar"
        handler = foo
        """,
        hint="config",
    )
    user = modules.make(f"from {config.__name__} import handler, foo\n", hint="user")
    foo, bar = config.foo, config.bar
    modules.edit(
        config,
        """
        def foo():
            return "foo"
        def bar():
            return "bar"
        handler = bar
        """,
    )
    report = hotreload.reload(config)
    assert config.handler is bar
    assert user.handler is bar and user.handler() == "bar"
    assert user.foo is foo and foo() == "foo"
    assert any(entry.endswith(".handler") for entry in report.rebound), report.rebound
