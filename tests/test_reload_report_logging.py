"""``ReloadReport`` and logging under the logger ``hotreload``."""

from __future__ import annotations

import logging

import hotreload
import pytest
from hotreload import ReloadError, ReloadReport

BEFORE = """
LIMIT = 10
SESSIONS = {}
OLD_FLAG = True

def edited():
    return 1

def untouched():
    return 0

def removed_func():
    return "bye"

class Service:
    def call(self):
        return 1
    def gone(self):
        return 2
"""

AFTER = """
LIMIT = 20
SESSIONS = {}

def edited():
    return 2

def untouched():
    return 0

def added_func():
    return "hi"

class Service:
    def call(self):
        return 2
    def fresh(self):
        return 3

class Added:
    pass
"""


def _reload_with_consumer(modules):
    m = modules.make(BEFORE)
    consumer = modules.make(f"from {m.__name__} import LIMIT\n", hint="consumer")
    modules.edit(m, AFTER)
    return m, consumer, hotreload.reload(m)


def test_report_lists_what_happened_by_name(modules, report_has):
    m, consumer, report = _reload_with_consumer(modules)

    assert isinstance(report, ReloadReport)
    assert report.module == m.__name__
    assert report.filename == m.__file__
    assert report_has(report.updated, "edited")
    assert report_has(report.updated, "Service", "Service.call")
    assert report_has(report.added, "added_func")
    assert report_has(report.added, "Added")
    assert report_has(report.removed, "removed_func")
    assert report_has(report.removed, "OLD_FLAG")
    assert report_has(report.kept, "SESSIONS")
    assert report_has(report.refreshed, "LIMIT")
    assert any(consumer.__name__ in entry for entry in report.rebound), report.rebound
    # names are in the right list only
    assert not report_has(report.added, "edited", "LIMIT", "SESSIONS")
    assert not report_has(report.removed, "edited", "added_func", "Service")
    assert not report_has(report.updated, "added_func", "removed_func")
    assert isinstance(report.warnings, list)
    for field in ("updated", "added", "removed", "kept", "refreshed", "rebound", "warnings"):
        value = getattr(report, field)
        assert isinstance(value, list) and all(isinstance(x, str) for x in value), field


def test_report_class_member_changes(modules, report_has):
    m, consumer, report = _reload_with_consumer(modules)
    # class members may be reported qualified; accept the class or the member name
    assert report_has(report.added, "Service.fresh") or report_has(report.updated, "Service")
    assert report_has(report.removed, "Service.gone") or report_has(report.updated, "Service")


def test_report_duration(modules):
    m, consumer, report = _reload_with_consumer(modules)
    assert isinstance(report.duration, float)
    assert 0 < report.duration < 10


def test_report_str_is_a_short_readable_summary(modules):
    m, consumer, report = _reload_with_consumer(modules)
    text = str(report)
    assert isinstance(text, str)
    assert m.__name__ in text
    assert "edited" in text or "updated" in text
    assert "object at 0x" not in text
    assert len(text.splitlines()) <= 20


def test_report_of_a_no_change_reload(modules):
    m = modules.make("X = [1]\ndef f():\n    return 1\n")
    report = hotreload.reload(m)
    assert report.module == m.__name__
    assert report.added == [] and report.removed == [] and report.rebound == []
    assert m.__name__ in str(report)


def test_enum_member_change_is_applied_refused_or_warned_never_silently_ignored(modules):
    m = modules.make("import enum\nclass E(enum.Enum):\n    A = 1\n")
    a = m.E.A
    snap = modules.snapshot(m)
    modules.edit(m, "import enum\nclass E(enum.Enum):\n    A = 1\n    B = 2\n")
    try:
        report = hotreload.reload(m)
    except ReloadError as error:
        assert "E" in str(error)
        snap.assert_unchanged()
        return
    assert m.E.A is a
    applied = "B" in m.E.__members__ and m.E(2).name == "B"
    assert applied or report.warnings, "a member change was silently ignored"
    for warning in report.warnings:
        assert isinstance(warning, str) and warning
        assert warning in str(report)


def test_each_reload_is_logged_at_info(modules, caplog):
    m = modules.make("def f():\n    return 1\n")
    modules.edit(m, "def f():\n    return 2\n")
    with caplog.at_level(logging.INFO, logger="hotreload"):
        hotreload.reload(m)
        hotreload.reload(m)
    records = [
        r
        for r in caplog.records
        if (r.name == "hotreload" or r.name.startswith("hotreload.")) and r.levelno == logging.INFO and m.__name__ in r.getMessage()
    ]
    assert len(records) >= 2


def test_reload_through_importlib_is_logged(modules, caplog):
    import importlib

    modules.install()
    m = modules.make("def f():\n    return 1\n")
    modules.edit(m, "def f():\n    return 2\n")
    with caplog.at_level(logging.INFO, logger="hotreload"):
        importlib.reload(m)
    assert any(
        r.name.split(".")[0] == "hotreload" and r.levelno == logging.INFO and m.__name__ in r.getMessage() for r in caplog.records
    )


def test_nothing_logged_at_info_is_misleading_on_failure(modules, caplog):
    m = modules.make("def f():\n    return 1\n")
    modules.edit(m, "def f(:\n")
    with caplog.at_level(logging.DEBUG, logger="hotreload"):
        with pytest.raises(ReloadError):
            hotreload.reload(m)
    # a failed reload is not logged as a successful one
    for record in caplog.records:
        if record.name.split(".")[0] == "hotreload" and m.__name__ in record.getMessage():
            assert record.levelno >= logging.WARNING or "reloaded" not in record.getMessage().lower()


FACTORY = """
class App:
    def __init__(self):
        self.views = {}

def create_app():
    app = App()
    def index():
        return "i1"
    app.views["/"] = index
    return app

def make_handler():
    def handler():
        return "h1"
    return handler

def helper():
    return 1

app = create_app()
handler = make_handler()
"""


def test_an_edited_factory_warns_that_what_it_made_keeps_the_old_code(modules):
    modules.install()
    m = modules.make(FACTORY)
    app = m.app
    edited = FACTORY.replace('"i1"', '"i2"').replace('"h1"', '"h2"').replace("return 1", "return 2")
    modules.edit(m, edited)
    report = hotreload.reload(m)
    assert m.app is app and app.views["/"]() == "i1"  # made by the earlier call: what the warning says
    assert m.create_app().views["/"]() == "i2"
    warnings = [w for w in report.warnings if "create_app" in w]
    assert len(warnings) == 1 and "index" in warnings[0] and "called again" in warnings[0]
    assert "create_app" in str(report)
    # ``handler = make_handler()`` ran again and its handler was folded into the live one: no warning.
    assert m.handler() == "h2"
    assert not any("make_handler" in w or "helper" in w for w in report.warnings)
