"""Lazy imports and reloads: a reload never imports what a lazy import names.

3.15 has lazy imports in the language (PEP 810: ``lazy import x``, ``lazy from
x import y``): the module dict holds a proxy until the name is first used. On
every version ``importlib.util.LazyLoader`` makes modules that execute on first
attribute access. A reload must not trigger either, and treats ``lazy import x``
as the binding ``import x`` is (it follows the source; rebinding in other
modules' copies included).
"""

from __future__ import annotations

import sys
import types
from typing import Any, List, Tuple

import hotreload
import pytest

LAZY_SYNTAX = sys.version_info >= (3, 15)

LAZY_LOADER = """
import importlib.util, sys

def _lazy(name):
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

{target} = _lazy("{target}")
"""

FORMS = {
    "lazy_loader": (LAZY_LOADER, "{target}.VALUE"),
    "lazy_import": ("lazy import {target}\n", "{target}.VALUE"),
    "lazy_from": ("lazy from {target} import VALUE\n", "VALUE"),
}


def _cases() -> List[Tuple[str, bool]]:
    """(form, hotreload installed before the import). Without install() the previous
    source is unknown and the whole module runs again, which for LazyLoader re-runs
    the program's own ``find_spec`` (that reads the lazy module): not hotreload's doing."""
    cases = [("lazy_loader", True)]
    if LAZY_SYNTAX:
        cases += [(form, installed) for form in ("lazy_import", "lazy_from") for installed in (True, False)]
    return cases


def _make_target(modules: Any) -> Tuple[str, types.ModuleType]:
    """A module that records in a marker module every time it is executed."""
    marker = modules.make("ran = []\n", hint="marker")
    target = modules.unique("target")
    modules.write(f"{target}.py", f"import {marker.__name__}\n{marker.__name__}.ran.append(__name__)\nVALUE = 42\n")
    return target, marker


@pytest.mark.parametrize("form, installed", _cases())
def test_reload_never_imports_what_a_lazy_import_names(modules, form, installed):
    target, marker = _make_target(modules)
    statement, use = FORMS[form]
    source = statement.format(target=target) + "LIMIT = {limit}\n\ndef use():\n    return (LIMIT, {use})\n"
    if installed:
        modules.install()
    m = modules.make(source.format(limit=1, use=use.format(target=target)))
    assert marker.ran == []
    modules.edit(m, source.format(limit=2, use=use.format(target=target) + " + 1"))
    report = hotreload.reload(m)
    assert marker.ran == [], f"the reload imported {target}"
    assert "use" in report.updated
    assert m.__dict__["LIMIT"] == 2
    assert m.use() == (2, 43)  # first use imports it, once
    assert marker.ran == [target]


def _binding_forms() -> List[str]:
    return ["import", "lazy import"] if LAZY_SYNTAX else ["import"]


@pytest.mark.parametrize("installed", [True, False], ids=["source-known", "source-unknown"])
@pytest.mark.parametrize("keyword", _binding_forms())
def test_changed_import_statement_rebinds_the_name(modules, keyword, installed):
    first, _ = _make_target(modules)
    second, _ = _make_target(modules)
    if installed:
        modules.install()
    m = modules.make(f"{keyword} {first} as table\n\ndef get():\n    return table.__name__\n")
    modules.edit(m, f"{keyword} {second} as table\n\ndef get():\n    return table.__name__\n")
    hotreload.reload(m)
    assert m.get() == second


@pytest.mark.parametrize("keyword", ["from"] + (["lazy from"] if LAZY_SYNTAX else []))
def test_copies_imported_with_from_are_rebound(modules, keyword):
    config = modules.make("LIMIT = 1\n", hint="config")
    user = modules.make(f"{keyword} {config.__name__} import LIMIT\n\ndef get():\n    return LIMIT\n", hint="user")
    assert user.get() == 1  # a lazy copy is resolved by its first use
    modules.edit(config, "LIMIT = 2\n")
    report = hotreload.reload(config)
    assert f"{user.__name__}.LIMIT" in report.rebound
    assert user.get() == 2


def test_unused_lazy_from_copy_stays_lazy_and_sees_the_new_value(modules):
    if not LAZY_SYNTAX:
        # Before 3.15 there is no lazy copy: an eager one is rebound (the test above).
        config = modules.make("LIMIT = 1\n", hint="config")
        user = modules.make(f"from {config.__name__} import LIMIT\n", hint="user")
        modules.edit(config, "LIMIT = 2\n")
        hotreload.reload(config)
        assert user.LIMIT == 2
        return
    config_name = modules.unique("config")
    modules.write(f"{config_name}.py", "LIMIT = 1\n")
    # The user is imported first, so its lazy copy is a proxy, not a value yet.
    user = modules.make(f"lazy from {config_name} import LIMIT\n\ndef get():\n    return LIMIT\n", hint="user")
    assert type(user.__dict__["LIMIT"]) is types.LazyImportType  # type: ignore[attr-defined]
    import importlib

    config = importlib.import_module(config_name)
    modules.edit(config, "LIMIT = 2\n")
    report = hotreload.reload(config)
    assert f"{user.__name__}.LIMIT" not in report.rebound
    assert type(user.__dict__["LIMIT"]) is types.LazyImportType  # type: ignore[attr-defined]
    assert user.get() == 2
