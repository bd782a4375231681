"""Reloads while other threads run: nothing another thread does is disturbed, and a refused
reload is never visible to them, not even for a moment (SPEC: "Module reload", transactional).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Iterator, List

import hotreload
import pytest

EDITED_EACH_TIME = """
class Point:
    def __init__(self, x):
        self.x = x

    def shifted(self):
        return self.x + {version}

def compute(values):
    return tuple(v * {version} for v in values)

ORIGIN = Point(0)
"""


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Makes the interpreter switch threads as often as it can, so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _run_in_threads(count: int, body: Callable[[threading.Event, List[BaseException]], None]) -> Any:
    stop = threading.Event()
    errors: List[BaseException] = []
    threads = [threading.Thread(target=body, args=(stop, errors), daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()

    def finish() -> List[BaseException]:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
        return errors

    return finish


def test_tuple_of_a_generator_in_other_threads_never_fails_during_reloads(modules: Any, fast_switching: None) -> None:
    modules.install()
    m = modules.make(EDITED_EACH_TIME.format(version=0))
    expected = tuple(range(50))
    calls = [0]

    def build_tuples(stop: threading.Event, errors: List[BaseException]) -> None:
        while not stop.is_set():
            try:
                result = tuple(x for x in range(50))
                if result != expected:
                    errors.append(AssertionError(f"tuple came out as {result!r}"))
                calls[0] += 1
            except BaseException as error:  # noqa: BLE001 - SystemError is what this looks for
                errors.append(error)

    finish = _run_in_threads(3, build_tuples)
    try:
        for version in range(1, 301):
            modules.edit(m, EDITED_EACH_TIME.format(version=version))
            hotreload.reload(m, full=(version % 10 == 0))
    finally:
        errors = finish()

    assert not errors, f"{len(errors)} errors in other threads, first: {errors[0]!r}"
    assert calls[0] > 0
    assert m.compute((1, 2)) == (300, 600)
    assert isinstance(m.ORIGIN, m.Point) and m.ORIGIN.shifted() == 300


def test_callers_in_other_threads_see_old_or_new_code_never_an_error(modules: Any, fast_switching: None) -> None:
    modules.install()
    m = modules.make(EDITED_EACH_TIME.format(version=0))
    point = m.Point(1)
    compute, shifted = m.compute, point.shifted
    seen_versions = set()

    def call(stop: threading.Event, errors: List[BaseException]) -> None:
        while not stop.is_set():
            try:
                (value,) = compute((1,))
                moved = shifted() - 1
                seen_versions.add(value)
                if not 0 <= value <= 100 or not 0 <= moved <= 100:
                    errors.append(AssertionError(f"unexpected results {value}, {moved}"))
            except BaseException as error:  # noqa: BLE001 - any error in a caller is a failure
                errors.append(error)

    finish = _run_in_threads(2, call)
    try:
        for version in range(1, 101):
            modules.edit(m, EDITED_EACH_TIME.format(version=version))
            hotreload.reload(m)
    finally:
        errors = finish()

    assert not errors, f"{len(errors)} errors in callers, first: {errors[0]!r}"
    assert compute((1,)) == (100,) and shifted() == 101
    assert len(seen_versions) > 1, "the callers never saw a reload happen"


# Functions between f and the class make the time between a premature swap of f and the refusal long.
_FILLER = "".join(f"def filler{i}():\n    return {i}\n\n" for i in range(100))

REFUSED_BASE = (
    'def f():\n    return "old"\n\n' + _FILLER + "class Other:\n    pass\n\nclass Plain:\n    pass\n\nclass Child(Plain):\n    pass\n"
)

# CPython refuses both base changes when they are assigned to the live class: int has another
# layout than object, and Child already derives from Plain (an inheritance cycle).
REFUSALS = {
    "layout": "class Plain(int):\n    pass\n",
    "cycle": "class Plain(Other, Child):\n    pass\n",
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refused_base_change_is_never_visible_to_other_threads(modules: Any, fast_switching: None, refusal: str) -> None:
    modules.install()
    m = modules.make(REFUSED_BASE)
    f, plain = m.f, m.Plain
    observed = set()

    def poll(stop: threading.Event, errors: List[BaseException]) -> None:
        while not stop.is_set():
            try:
                observed.add(f())
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    edited = (
        REFUSED_BASE.replace('return "old"', 'return "new"')
        .replace(_FILLER, _FILLER.replace("return ", "return -"))
        .replace("class Plain:\n    pass\n", REFUSALS[refusal])
    )
    finish = _run_in_threads(2, poll)
    try:
        modules.edit(m, edited)
        for _ in range(30):
            with pytest.raises(hotreload.ReloadError) as caught:
                hotreload.reload(m)
            assert "Plain" in str(caught.value)
    finally:
        errors = finish()

    assert not errors, errors
    assert observed == {"old"}, "another thread ran the new f of a reload that was refused"
    assert m.f is f and f() == "old"
    assert m.filler1() == 1
    assert m.Plain is plain and plain.__bases__ == (object,)
