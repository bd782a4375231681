"""``%load_ext hotreload`` in a real IPython InteractiveShell running cells.

Each test gets a fresh directory on ``sys.path`` for its modules, a clean user
namespace and the extension loaded; modules are edited on disk between cells,
as a user's editor would, and the next cell must see the new code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from typing import Any, Callable, Iterator, List

import pytest

pytest.importorskip("IPython", reason="IPython comes with the test extra")

import hotreload  # noqa: E402
from hotreload import _sources  # noqa: E402
from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    main, displayhook, excepthook = sys.modules.get("__main__"), sys.displayhook, sys.excepthook
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    ip = InteractiveShell.instance(config=config)
    yield ip
    InteractiveShell.clear_instance()
    sys.modules["__main__"], sys.displayhook, sys.excepthook = main, displayhook, excepthook


class Notebook:
    """A shell with the extension loaded, plus the module files of one test."""

    def __init__(self, shell: InteractiveShell, directory: str) -> None:
        self.shell = shell
        self.directory = directory

    def write(self, name: str, source: str) -> str:
        """Writes module ``name`` (dotted names go into package directories)."""
        parts = name.split(".")
        path = os.path.join(self.directory, *parts) + ".py"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(textwrap.dedent(source))
        return path

    def run(self, code: str) -> Any:
        """Runs one cell; raises what the cell raised; returns its value."""
        result = self.shell.run_cell(textwrap.dedent(code), store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise error
        return result.result

    @property
    def ns(self) -> dict:
        return self.shell.user_ns

    def status(self) -> str:
        session = self.shell._hotreload_extension.session
        return str(session.status())

    def reloads(self) -> List[str]:
        return [text for _, text in self.shell._hotreload_extension.session.history]


@pytest.fixture
def nb(shell: InteractiveShell, tmp_path: Any) -> Iterator[Notebook]:
    directory = str(tmp_path / "nbmods")
    os.makedirs(directory)
    sys.path.insert(0, directory)
    before = set(sys.modules)
    finder_before = list(sys.meta_path)
    shell.reset(new_session=False)
    notebook = Notebook(shell, directory)
    notebook.run("%load_ext hotreload")
    try:
        yield notebook
    finally:
        if "hotreload" in shell.extension_manager.loaded:
            notebook.run("%unload_ext hotreload")
        sys.path.remove(directory)
        for name in set(sys.modules) - before:
            module = sys.modules.get(name)
            if (getattr(module, "__file__", None) or "").startswith(directory):
                del sys.modules[name]
        assert sys.meta_path == finder_before, "unloading the extension leaves the import system as it was"


def stderr_lines(captured: Any) -> List[str]:
    return [line for line in captured.err.splitlines() if line.strip()]


# -- edited code reaches what the notebook holds ---------------------------------------


def test_edited_function_runs_new_code_through_every_reference(nb: Notebook) -> None:
    nb.write("shapes", "def area(w, h):\n    return w * h\n")
    nb.run("import shapes\nfrom shapes import area\ncallbacks = [area]")
    assert nb.run("area(2, 3)") == 6
    nb.write("shapes", "def area(w, h):\n    return w * h / 2\n")
    assert nb.run("area(2, 3), shapes.area(2, 3), callbacks[0](2, 3)") == (3.0, 3.0, 3.0)
    assert nb.run("area is shapes.area") is True


def test_methods_of_instances_made_in_earlier_cells_run_new_code(nb: Notebook) -> None:
    nb.write(
        "model",
        """
        class Model:
            def __init__(self, n):
                self.n = n
            def predict(self):
                return self.n + 1
        """,
    )
    nb.run("from model import Model\nm = Model(41)\nbound = m.predict")
    assert nb.run("m.predict()") == 42
    nb.write(
        "model",
        """
        class Model:
            def __init__(self, n):
                self.n = n
            def predict(self):
                return self.n * 2
            def describe(self):
                return f"Model({self.n})"
        """,
    )
    assert nb.run("m.predict(), bound(), m.describe()") == (82, 82, "Model(41)")
    # The class the notebook holds is the module's: no stale copy, no failed isinstance.
    assert nb.run("import model; isinstance(m, model.Model) and Model is model.Model") is True


def test_from_import_names_take_edited_values_unless_the_notebook_reassigned_them(nb: Notebook) -> None:
    nb.write("config", "LIMIT = 10\nNAME = 'a'\nTHRESHOLD = 0.5\n")
    nb.run("from config import LIMIT, NAME as label, THRESHOLD")
    nb.run("THRESHOLD = 0.9  # the notebook's own value from now on")
    nb.write("config", "LIMIT = 20\nNAME = 'b'\nTHRESHOLD = 0.7\n")
    assert nb.run("LIMIT, label, THRESHOLD") == (20, "b", 0.9)
    assert nb.run("import config; config.THRESHOLD") == 0.7


def test_star_import_brings_names_added_to_the_module(nb: Notebook) -> None:
    nb.write("tools", "def one():\n    return 1\n")
    nb.run("from tools import *")
    with pytest.raises(NameError):
        nb.run("two()")
    nb.write(
        "tools",
        """
        def one():
            return 1
        def two():
            return 2
        class Helper:
            pass
        SCALE = 3
        _private = 4
        """,
    )
    assert nb.run("one() + two(), SCALE, Helper.__name__") == (3, 3, "Helper")
    assert "_private" not in nb.ns
    nb.write("tools", "__all__ = ['one', 'SCALE']\ndef one():\n    return 1\nSCALE = 30\ndef three():\n    return 3\n")
    assert nb.run("SCALE") == 30
    assert "three" not in nb.ns, "__all__ limits what a star import brings"


def test_star_import_does_not_overwrite_a_name_the_notebook_defined(nb: Notebook) -> None:
    nb.write("lib", "def a():\n    return 1\n")
    nb.run("from lib import *\ndef b():\n    return 'mine'")
    nb.write("lib", "def a():\n    return 1\ndef b():\n    return 'lib'\n")
    assert nb.run("b()") == "mine"


def test_alias_follows_and_the_latest_import_of_a_name_wins(nb: Notebook) -> None:
    nb.write("pair", "foo = 'foo1'\nbar = 'bar1'\nn = 1\n")
    nb.run("from pair import n as count")
    nb.run("from pair import foo as bar")
    nb.run("from pair import bar")  # 'bar' is pair.bar from now on, not the alias of foo
    nb.write("pair", "foo = 'foo2'\nbar = 'bar2'\nn = 100\ncount = 45\n")
    assert nb.run("count, bar") == (100, "bar2")
    nb.run("from pair import count")
    assert nb.run("count") == 45


def test_a_name_imported_twice_under_two_names_follows_under_both(nb: Notebook) -> None:
    nb.write("twice", "foo = 'old'\n")
    nb.run("from twice import foo as bar")
    nb.run("from twice import foo")
    nb.write("twice", "foo = 'new'\n")
    assert nb.run("foo, bar") == ("new", "new")


def test_module_imported_from_a_package_in_the_notebook_reloads(nb: Notebook) -> None:
    nb.write("pkg.__init__", "")
    nb.write("pkg.core", "def version():\n    return 1\n")
    nb.run("from pkg.core import version")
    nb.write("pkg.core", "def version():\n    return 2\n")
    assert nb.run("version()") == 2


# -- refused reloads -------------------------------------------------------------------


def test_syntax_error_prints_one_line_and_the_cell_runs_on_the_last_good_code(
    nb: Notebook, capsys: pytest.CaptureFixture[str]
) -> None:
    path = nb.write("calc", "def f():\n    return 1\n")
    nb.run("from calc import f")
    capsys.readouterr()
    nb.write("calc", "def f():\n    return 2\ndef g(:\n    pass\n")
    assert nb.run("f()") == 1
    lines = stderr_lines(capsys.readouterr())
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:3: SyntaxError"), lines
    assert "g" not in nb.ns and not hasattr(sys.modules["calc"], "g")
    # The refusal is said once, not before every cell.
    assert nb.run("f()") == 1
    assert stderr_lines(capsys.readouterr()) == []
    nb.write("calc", "def f():\n    return 2\ndef g():\n    return 3\n")
    assert nb.run("import calc; f(), calc.g()") == (2, 3)
    assert stderr_lines(capsys.readouterr()) == []


def test_error_while_executing_the_module_leaves_nothing_behind(nb: Notebook, capsys: pytest.CaptureFixture[str]) -> None:
    path = nb.write("job", "RATE = 1\ndef run():\n    return RATE\n")
    nb.run("import job")
    capsys.readouterr()
    nb.write("job", "RATE = 2\ndef run():\n    return RATE\nNEW = 5\nraise RuntimeError('config missing')\n")
    assert nb.run("job.run(), hasattr(job, 'NEW')") == (1, False)
    lines = stderr_lines(capsys.readouterr())
    assert len(lines) == 1 and lines[0].startswith(f"{path}:5: RuntimeError: config missing"), lines


def test_a_module_that_failed_on_a_missing_name_is_retried_when_its_dependency_reloads(nb: Notebook) -> None:
    nb.write("base", "def helper():\n    return 'h1'\n")
    nb.write("user", "from base import helper\ndef use():\n    return helper()\n")
    nb.run("import user")
    # Edit the dependent first, then the module it needs, with a cell in between.
    nb.write("user", "from base import helper, extra\ndef use():\n    return helper() + extra()\n")
    assert nb.run("user.use()") == "h1"
    nb.write("base", "def helper():\n    return 'h2'\ndef extra():\n    return '+x'\n")
    assert nb.run("user.use()") == "h2+x"


def test_modules_reload_before_the_modules_that_import_from_them(nb: Notebook) -> None:
    nb.write("low", "def value():\n    return 1\n")
    nb.write("high", "from low import value\ndef doubled():\n    return 2 * value()\n")
    nb.run("import high")
    nb.write("low", "def value():\n    return 1\ndef other():\n    return 10\n")
    nb.write("high", "from low import value, other\ndef doubled():\n    return 2 * value() + other()\n")
    assert nb.run("high.doubled()") == 12
    assert nb.reloads()[0].startswith("reloaded low") and nb.reloads()[1].startswith("reloaded high")


# -- change detection ------------------------------------------------------------------


def test_a_file_written_by_the_previous_cell_is_seen_by_the_next(nb: Notebook) -> None:
    path = nb.write("gen", "X = 1\n")
    nb.run("import gen")
    nb.run(f"with open({path!r}, 'w') as f:\n    f.write('X = 2\\n')")
    assert nb.run("gen.X") == 2


def test_a_save_without_changes_reloads_nothing(nb: Notebook) -> None:
    nb.write("same", "X = []\n")
    nb.run("import same\nsame.X.append(1)")
    nb.write("same", "X = []\n")
    nb.run("pass")
    assert nb.reloads() == []
    assert nb.run("same.X") == [1]


def test_a_deleted_module_keeps_running_and_reloads_when_it_comes_back(nb: Notebook, capsys: pytest.CaptureFixture[str]) -> None:
    path = nb.write("gone", "def f():\n    return 1\n")
    nb.run("from gone import f")
    os.unlink(path)
    assert nb.run("f()") == 1
    assert stderr_lines(capsys.readouterr()) == []
    nb.write("gone", "def f():\n    return 2\n")
    assert nb.run("f()") == 2


def test_modules_imported_before_the_extension_loaded_have_their_source_recorded(nb: Notebook) -> None:
    nb.run("%unload_ext hotreload")
    nb.write("early", "SETTING = 1\ndef f():\n    return 'a'\n")
    nb.run("import early\nearly.SETTING = 5  # changed at run time")
    _sources._sources.pop("early", None)  # as if hotreload had never seen the import
    nb.run("%load_ext hotreload")
    nb.write("early", "SETTING = 1\ndef f():\n    return 'b'\n")
    # Known source: SETTING's statement did not change, so its live value stays.
    assert nb.run("early.f(), early.SETTING") == ("b", 5)


def test_modules_imported_after_the_extension_loaded_have_their_source_recorded(nb: Notebook) -> None:
    nb.write("late", "SETTING = 1\ndef f():\n    return 'a'\n")
    nb.run("import late\nlate.SETTING = 5")
    assert _sources.previous("late") is not None
    nb.write("late", "SETTING = 1\ndef f():\n    return 'b'\n")
    assert nb.run("late.f(), late.SETTING") == ("b", 5)


def test_a_module_from_a_directory_first_seen_after_loading_is_watched(nb: Notebook, tmp_path: Any) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "far.py").write_text("def f():\n    return 1\n")
    nb.run(f"import sys; sys.path.append({str(other)!r})\nfrom far import f")
    try:
        # Edited before any cell had a chance to watch its directory: found by content.
        (other / "far.py").write_text("def f():\n    return 2\n")
        assert nb.run("f()") == 2
        (other / "far.py").write_text("def f():\n    return 3\n")
        assert nb.run("f()") == 3
    finally:
        sys.path.remove(str(other))
        sys.modules.pop("far", None)


def test_a_thousand_loaded_modules_only_the_edited_one_reloads(nb: Notebook) -> None:
    for package in range(10):
        nb.write(f"bulk{package}.__init__", "")
        for index in range(100):
            nb.write(f"bulk{package}.mod{index}", f"def f():\n    return {index}\n")
    nb.run("import importlib\nfor p in range(10):\n    for i in range(100):\n        importlib.import_module(f'bulk{p}.mod{i}')")
    assert sum(name.startswith("bulk") for name in sys.modules) >= 1010
    nb.run("from bulk7.mod42 import f")
    for _ in range(3):
        nb.run("pass")
    assert nb.reloads() == []
    nb.write("bulk7.mod42", "def f():\n    return -42\n")
    assert nb.run("import sys; f(), sys.modules['bulk7.mod43'].f()") == (-42, 43)
    assert [text.split(" in ")[0] for text in nb.reloads()] == ["reloaded bulk7.mod42"]
    assert nb.shell._hotreload_extension.session.detector.module_count >= 1000


# -- the magic -------------------------------------------------------------------------


def test_off_stops_reloading_now_reloads_at_once_on_resumes(nb: Notebook, capsys: pytest.CaptureFixture[str]) -> None:
    nb.write("switch", "def f():\n    return 1\n")
    nb.run("from switch import f")
    nb.run("%hotreload off")
    nb.write("switch", "def f():\n    return 2\n")
    assert nb.run("f()") == 1
    capsys.readouterr()
    nb.run("%hotreload now")
    assert "reloaded switch" in capsys.readouterr().out
    assert nb.run("f()") == 2
    nb.run("%hotreload now")
    assert "no module changed" in capsys.readouterr().out
    nb.write("switch", "def f():\n    return 3\n")
    assert nb.run("f()") == 2
    nb.run("%hotreload on")
    assert nb.run("f()") == 3, "changes made while off reload once it is on again"


def test_status_shows_the_last_reloads_and_refusals(nb: Notebook, capsys: pytest.CaptureFixture[str]) -> None:
    nb.run("%hotreload status")
    assert "hotreload is on" in capsys.readouterr().out
    nb.write("mine", "def f():\n    return 1\n")
    nb.run("import mine")
    nb.write("mine", "def f():\n    return 2\n")
    nb.run("pass")
    nb.write("mine", "def f(:\n")
    nb.run("pass")
    capsys.readouterr()
    nb.run("%hotreload status")
    out = capsys.readouterr().out
    assert "reloaded mine" in out
    assert "refused: " in out and "mine.py:1: SyntaxError" in out
    assert "reload refused): mine" in out


def test_bad_argument_is_a_usage_error_and_changes_nothing(nb: Notebook) -> None:
    with pytest.raises(UsageError, match="on\\|off\\|now\\|status"):
        nb.run("%hotreload sometimes")
    assert nb.shell._hotreload_extension.session.enabled


def test_unload_stops_reloading_and_removes_the_magic(nb: Notebook) -> None:
    nb.write("un", "def f():\n    return 1\n")
    nb.run("from un import f")
    nb.run("%unload_ext hotreload")
    nb.write("un", "def f():\n    return 2\n")
    assert nb.run("f()") == 1
    with pytest.raises(UsageError):
        nb.run("%hotreload status")
    assert not any(isinstance(finder, hotreload.ReloadFinder) for finder in sys.meta_path)


def test_loading_twice_keeps_one_session(nb: Notebook) -> None:
    session = nb.shell._hotreload_extension.session
    hotreload.load_ipython_extension(nb.shell)
    assert nb.shell._hotreload_extension.session is session
    callbacks: List[Callable[..., Any]] = nb.shell.events.callbacks["pre_run_cell"]
    assert sum(getattr(cb, "__self__", None) is nb.shell._hotreload_extension for cb in callbacks) == 1


def test_import_hotreload_does_not_import_ipython() -> None:
    code = "import hotreload, sys; print('IPython' in sys.modules, hotreload.load_ipython_extension.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["False", "load_ipython_extension"]


def test_module_type_is_unchanged_by_loading(nb: Notebook) -> None:
    # The user namespace stays a plain module namespace: the extension adds no names to it.
    assert not [name for name in nb.ns if "hotreload" in name.lower()]
    assert isinstance(sys.modules["__main__"], types.ModuleType)


def test_hotreload_does_not_watch_its_own_modules(nb: Notebook) -> None:
    tracked = nb.shell._hotreload_extension.session.detector._tracked
    assert not [name for name in tracked if name == "hotreload" or name.startswith("hotreload.")]
