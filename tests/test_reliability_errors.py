"""Every error a reload or a hotfix meets is a ReloadError with its cause (issue 11, items 4 and 6).

The module (or the hotfix's target) is unchanged in every case; only
``KeyboardInterrupt`` is let through as it is.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any, Iterator, List

import hotreload
import pytest
from hotreload import ReloadError, apply_hotfix

BAD_STR = textwrap.dedent(
    """
    class BadStr(Exception):
        def __str__(self):
            raise ValueError("no str for you")
    """
)

# A unary chain the parser gives up on with MemoryError on every version.
TOO_DEEP_UNARY = "X = " + "-" * 100_000 + "1\n"
# A chain the compiler recurses on: RecursionError on 3.10+, compiled by 3.9.
TOO_DEEP_BINOP = "X = 1" + " + 1" * 100_000 + "\n"

ORIGINAL = "X = 1\n\ndef f():\n    return ('old', X)\n"


def _edit_and_reload(modules: Any, body: str) -> ReloadError:
    module = modules.make(ORIGINAL)
    f = module.f
    snapshot = modules.snapshot(module)
    modules.edit(module, "X = 2\n\ndef f():\n    return ('new', X)\n" + body)
    with pytest.raises(ReloadError) as caught:
        hotreload.reload(module)
    snapshot.assert_unchanged()
    assert f() == ("old", 1)
    assert sys.modules[module.__name__] is module
    assert gc.isenabled()
    error = caught.value
    assert error.name == module.__name__ and error.path == str(modules.path_of(module))
    assert module.__name__ in str(error) and str(modules.path_of(module)) in str(error)
    return error


# -- reload ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement, cause",
    [
        ("raise SystemExit(3)\n", SystemExit),
        ("import sys\nsys.exit('bye')\n", SystemExit),
        ("raise GeneratorExit\n", GeneratorExit),
    ],
    ids=["SystemExit", "sys.exit", "GeneratorExit"],
)
def test_reload_turns_an_import_time_exit_into_a_reload_error(modules: Any, statement: str, cause: type) -> None:
    error = _edit_and_reload(modules, statement)
    assert isinstance(error.__cause__, cause)


def test_reload_turns_a_parser_memory_error_into_a_reload_error(modules: Any) -> None:
    error = _edit_and_reload(modules, TOO_DEEP_UNARY)
    assert isinstance(error.__cause__, MemoryError)


def test_reload_of_a_too_deep_expression(modules: Any) -> None:
    if sys.version_info < (3, 10):
        module = modules.make(ORIGINAL)
        modules.edit(module, TOO_DEEP_BINOP)
        hotreload.reload(module)  # 3.9's compiler does not recurse on it
        assert module.X == 100_001
        return
    error = _edit_and_reload(modules, TOO_DEEP_BINOP)
    assert isinstance(error.__cause__, RecursionError)


def test_reload_names_an_exception_whose_str_raises(modules: Any) -> None:
    error = _edit_and_reload(modules, BAD_STR + "raise BadStr()\n")
    assert type(error.__cause__).__name__ == "BadStr"
    assert "BadStr" in str(error)


def test_reload_survives_an_exception_whose_str_raises_in_a_class_body(modules: Any) -> None:
    error = _edit_and_reload(modules, BAD_STR + "class C:\n    raise BadStr()\n")
    assert "BadStr" in str(error)


def test_reload_lets_keyboard_interrupt_through_and_changes_nothing(modules: Any) -> None:
    module = modules.make(ORIGINAL)
    snapshot = modules.snapshot(module)
    modules.edit(module, "X = 2\nraise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        hotreload.reload(module)
    snapshot.assert_unchanged()
    assert gc.isenabled()


def test_a_module_that_deletes_itself_from_sys_modules_is_refused(modules: Any) -> None:
    module = modules.make(ORIGINAL)
    name = module.__name__
    snapshot = modules.snapshot(module)
    modules.edit(module, "import sys\nX = 2\ndel sys.modules[__name__]\n")
    with pytest.raises(ReloadError, match="sys.modules"):
        hotreload.reload(module)
    assert sys.modules.get(name) is module
    snapshot.assert_unchanged()


def test_reload_lock_and_collector_are_free_while_a_reload_is_refused(modules: Any) -> None:
    """A refused reload leaves neither the lock taken nor the collector paused."""
    module = modules.make(ORIGINAL)
    modules.edit(module, "raise SystemExit(1)\n")
    with pytest.raises(ReloadError):
        hotreload.reload(module)
    assert gc.isenabled()
    done: List[bool] = []
    other = modules.make("Y = 1\n")
    modules.edit(other, "Y = 2\n")
    thread = threading.Thread(target=lambda: done.append(hotreload.reload(other) is not None))
    thread.start()
    thread.join(10)
    assert done == [True] and other.Y == 2


# -- hotfix ---------------------------------------------------------------------------

_names = itertools.count()


@pytest.fixture
def target() -> Iterator[types.ModuleType]:
    name = f"hr_errors_target_{next(_names)}"
    module = types.ModuleType(name)
    exec("def handle(x):\n    return ('original', x)\n", module.__dict__)
    sys.modules[name] = module
    yield module
    del sys.modules[name]


def _fix_then(module: types.ModuleType, tail: str) -> str:
    return (
        "import hotreload, sys\n"
        f"target = sys.modules[{module.__name__!r}]\n"
        "@hotreload.replace_func(target)\n"
        "def handle(x):\n"
        "    return ('fixed', x)\n"
        "hotreload.replace_func(target, name='added')(lambda: 1)\n" + tail
    )


def _refused(module: types.ModuleType, source: str) -> ReloadError:
    handle = module.handle
    with pytest.raises(ReloadError) as caught:
        apply_hotfix(source)
    assert module.handle is handle and handle(1) == ("original", 1), "the fix was rolled back"
    assert "added" not in vars(module)
    return caught.value


@pytest.mark.parametrize(
    "tail, cause",
    [
        ("raise SystemExit(2)\n", SystemExit),
        ("sys.exit()\n", SystemExit),
        ("raise GeneratorExit\n", GeneratorExit),
        ("def down(n):\n    return down(n + 1)\ndown(0)\n", RecursionError),
        ("raise MemoryError\n", MemoryError),
    ],
    ids=["SystemExit", "sys.exit", "GeneratorExit", "RecursionError", "MemoryError"],
)
def test_hotfix_errors_of_any_kind_are_reload_errors(target: types.ModuleType, tail: str, cause: type) -> None:
    error = _refused(target, _fix_then(target, tail))
    assert isinstance(error.__cause__, cause)
    assert cause.__name__ in str(error) and "line" in str(error)


def test_hotfix_with_an_exception_whose_str_raises(target: types.ModuleType) -> None:
    error = _refused(target, _fix_then(target, BAD_STR + "raise BadStr()\n"))
    assert type(error.__cause__).__name__ == "BadStr"
    assert "BadStr" in str(error) and error.lineno is not None


def test_hotfix_that_does_not_compile_for_depth(target: types.ModuleType) -> None:
    error = _refused(target, _fix_then(target, TOO_DEEP_UNARY))
    assert isinstance(error.__cause__, MemoryError)


def test_hotfix_path_with_a_null_byte(target: types.ModuleType) -> None:
    with pytest.raises(ReloadError) as caught:
        apply_hotfix("fix\0.py")
    assert isinstance(caught.value.__cause__, ValueError)
    assert "\\x00" in str(caught.value)  # shown, not hidden in the message
    assert target.handle(1) == ("original", 1)


def test_hotfix_source_with_a_null_byte_names_its_line(target: types.ModuleType) -> None:
    error = _refused(target, _fix_then(target, "X = '\0'\n"))
    assert error.lineno == 7


def test_hotfix_path_that_is_a_directory(tmp_path: Path, target: types.ModuleType) -> None:
    with pytest.raises(ReloadError) as caught:
        apply_hotfix(str(tmp_path))
    assert "directory" in str(caught.value) and str(tmp_path) in str(caught.value)
    assert not isinstance(caught.value.__cause__, SyntaxError)
    with pytest.raises(ReloadError, match="directory"):
        apply_hotfix(tmp_path)  # as a PathLike too


def test_hotfix_path_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fix.py"
    os.mkfifo(fifo)
    outcome: List[BaseException] = []

    def attempt() -> None:
        try:
            apply_hotfix(str(fifo))
        except BaseException as error:  # recorded for the main thread
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(5)
    blocked = thread.is_alive()
    if blocked:  # before the fix: blocked in open(); let it go
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
    fifo.unlink()
    assert not blocked, "apply_hotfix blocked on a FIFO"
    assert time.monotonic() - started < 2
    assert len(outcome) == 1 and isinstance(outcome[0], ReloadError) and "FIFO" in str(outcome[0])
