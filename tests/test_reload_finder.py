"""``hotreload.ReloadFinder``, ``install()`` and ``uninstall()``.

SPEC: ``install()`` puts the finder at the front of ``sys.meta_path``; from then
on the source of every imported module is recorded and a plain
``importlib.reload(module)`` performs the same in-place, transactional reload.
``import hotreload`` alone changes nothing; ``uninstall()`` restores the import
system exactly.
"""

from __future__ import annotations

import importlib
import importlib.abc
import subprocess
import sys
import textwrap

import hotreload
import pytest
from hotreload import ReloadError, ReloadFinder


def test_import_hotreload_alone_changes_nothing():
    script = textwrap.dedent(
        """
        import importlib, sys
        before = (list(sys.meta_path), list(sys.path_hooks), dict(sys.path_importer_cache),
                  importlib.reload, importlib.import_module, __import__)
        import hotreload
        after = (list(sys.meta_path), list(sys.path_hooks), dict(sys.path_importer_cache),
                 importlib.reload, importlib.import_module, __import__)
        assert len(before[0]) == len(after[0]) and all(a is b for a, b in zip(before[0], after[0])), (before[0], after[0])
        assert len(before[1]) == len(after[1]) and all(a is b for a, b in zip(before[1], after[1]))
        for key, value in before[2].items():
            assert after[2].get(key) is value, key
        assert before[3:] == after[3:]
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_install_importlib_reload_is_the_plain_one(modules):
    assert not any(isinstance(f, ReloadFinder) for f in sys.meta_path)
    m = modules.make("def f():\n    return 1\n")
    f = m.f
    modules.edit(m, "def f():\n    return 2\n")
    importlib.reload(m)
    assert m.f is not f  # plain re-execution: a new function object
    assert f() == 1 and m.f() == 2


def test_install_puts_the_finder_first_and_once(modules):
    meta_path = list(sys.meta_path)
    finder = modules.install()
    assert isinstance(sys.meta_path[0], ReloadFinder)
    assert isinstance(sys.meta_path[0], importlib.abc.MetaPathFinder)
    assert finder is None or finder is sys.meta_path[0]
    assert sys.meta_path[1:] == meta_path
    hotreload.install()
    assert sum(isinstance(f, ReloadFinder) for f in sys.meta_path) == 1
    assert sys.meta_path[1:] == meta_path


def test_uninstall_restores_the_import_system_exactly(modules):
    meta_path = list(sys.meta_path)
    path_hooks = list(sys.path_hooks)
    modules.install()
    imported = modules.make("X = 1\n")  # an import while installed
    hotreload.uninstall()
    assert len(sys.meta_path) == len(meta_path)
    assert all(a is b for a, b in zip(sys.meta_path, meta_path))
    assert all(a is b for a, b in zip(sys.path_hooks, path_hooks)) and len(sys.path_hooks) == len(path_hooks)
    # and importlib.reload is the plain one again
    m = modules.make("def f():\n    return 1\n")
    f = m.f
    modules.edit(m, "def f():\n    return 2\n")
    importlib.reload(m)
    assert m.f is not f and m.f() == 2
    # a module imported while installed is a normal module afterwards
    modules.edit(imported, "X = 2\n")
    assert importlib.reload(imported) is imported and imported.X == 2
    hotreload.uninstall()  # a second uninstall is harmless
    assert all(a is b for a, b in zip(sys.meta_path, meta_path)) and len(sys.meta_path) == len(meta_path)


def test_importlib_reload_is_in_place_when_installed(modules):
    modules.install()
    m = modules.make(
        """
        def f():
            return 1
        class C:
            def m(self):
                return "a"
        """
    )
    f, C = m.f, m.C
    c = C()
    user = modules.make(f"from {m.__name__} import f\n", hint="user")
    modules.edit(
        m,
        """
        def f():
            return 2
        class C:
            def m(self):
                return "b"
        """,
    )
    result = importlib.reload(m)
    assert result is m and sys.modules[m.__name__] is m
    assert m.f is f and f() == 2 and user.f() == 2
    assert m.C is C and c.m() == "b"


def test_importlib_reload_keeps_module_metadata(modules):
    modules.install()
    m = modules.make("def f():\n    return 1\n")
    spec, loader, file = m.__spec__, m.__loader__, m.__file__
    modules.edit(m, "def f():\n    return 2\n")
    importlib.reload(m)
    assert m.__file__ == file
    assert m.__spec__.name == spec.name and m.__spec__.origin == spec.origin
    assert m.__loader__ is loader
    # inspect/linecache see the new source
    import inspect

    assert "return 2" in inspect.getsource(m.f)
    # after uninstall, a plain reload still works on this module
    hotreload.uninstall()
    modules.edit(m, "def f():\n    return 3\n")
    importlib.reload(m)
    assert m.f() == 3


@pytest.mark.parametrize("broken", ["def f(:\n", "def f():\n    return 2\nraise KeyError('x')\n"], ids=["syntax", "raises"])
def test_importlib_reload_is_transactional_when_installed(modules, broken):
    modules.install()
    m = modules.make("LIMIT = 1\ndef f():\n    return 1\n")
    f = m.f
    snap = modules.snapshot(m)
    path = modules.edit(m, "NEW = 1\n" + broken)
    with pytest.raises(ReloadError) as info:
        importlib.reload(m)
    assert isinstance(info.value, ImportError)
    assert m.__name__ in str(info.value) and str(path) in str(info.value)
    snap.assert_unchanged()
    assert sys.modules[m.__name__] is m
    assert m.f is f and f() == 1 and not hasattr(m, "NEW")


def test_modules_imported_after_install_get_the_source_aware_policy(modules):
    modules.install()
    m = modules.make("COUNT = 0\nLIMIT = 1\n")
    m.COUNT = 5
    m.LIMIT = 6
    modules.edit(m, "COUNT = 0\nLIMIT = 2\n")
    importlib.reload(m)
    assert m.COUNT == 5  # statement unchanged since import: live value
    assert m.LIMIT == 2  # statement changed: new value


def test_modules_imported_before_install_use_the_type_rule_on_first_reload(modules):
    m = modules.make("COUNT = 0\nITEMS = []\n")
    modules.install()
    items = m.ITEMS
    m.COUNT = 5
    modules.edit(m, "COUNT = 0\nITEMS = [1]\n")
    importlib.reload(m)
    assert m.COUNT == 0  # immutable: new value
    assert m.ITEMS is items  # mutable: live value


def test_package_submodule_source_recorded(modules):
    modules.install()
    package = modules.make_package({"__init__": "", "state": "HITS = 0\nMODE = 'a'\n"})
    state = sys.modules[package.__name__ + ".state"]
    state.HITS = 42
    modules.edit(state, "HITS = 0\nMODE = 'b'\n")
    importlib.reload(state)
    assert state.HITS == 42 and state.MODE == "b"


def test_same_size_same_second_edit_seen_through_importlib_reload(modules):
    modules.install()
    m = modules.make("def value():\n    return 'aaa'\n")
    value = m.value
    modules.edit_same_stat(m, "def value():\n    return 'bbb'\n")
    importlib.reload(m)
    assert m.value is value and value() == "bbb"


def test_imports_work_normally_while_installed(modules):
    modules.install()
    package = modules.make_package({"__init__": "from . import sub\n", "sub": "X = 1\n"})
    assert package.sub.X == 1
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(modules.unique("does_not_exist"))
    import json
    import xml.dom.minidom  # a stdlib package imported for the first time, maybe

    assert json.dumps([1]) == "[1]"
    assert xml.dom.minidom.parseString("<a/>").documentElement.tagName == "a"


def test_reload_of_a_builtin_module_is_left_to_the_import_system(modules):
    modules.install()
    import math

    assert importlib.reload(math) is math
    assert math.sqrt(9) == 3


def test_finder_is_public_and_pure_python():
    import inspect

    assert inspect.isclass(ReloadFinder)
    assert issubclass(ReloadFinder, importlib.abc.MetaPathFinder)
    assert inspect.getsourcefile(ReloadFinder).endswith(".py")


def test_other_meta_path_finders_keep_working_after_install(modules):
    """A custom finder (virtual modules, as plugin systems use) is still asked,
    and reloading its modules is left to it."""
    import importlib.machinery
    import importlib.util

    name = modules.unique("virtual")
    loads = []

    class VirtualLoader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            loads.append(module.__name__)
            module.VALUE = len(loads)

    class VirtualFinder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == name:
                return importlib.util.spec_from_loader(fullname, VirtualLoader())
            return None

    finder = VirtualFinder()
    sys.meta_path.append(finder)
    try:
        modules.install()
        module = importlib.import_module(name)
        assert module.VALUE == 1
        assert importlib.reload(module) is module
        assert module.VALUE == 2 and loads == [name, name]
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop(name, None)


def test_importlib_reload_of_a_deleted_file_changes_nothing(modules):
    modules.install()
    m = modules.make("def f():\n    return 1\nX = [1]\n")
    snap = modules.snapshot(m)
    modules.remove(m)
    with pytest.raises(ImportError):
        importlib.reload(m)
    snap.assert_unchanged()
    assert sys.modules[m.__name__] is m and m.f() == 1
