"""Flask: routes and blueprints added by a reload are served by the live app.

Flask refuses ``@app.route`` once the app has handled a request, and
``@blueprint.route`` once the blueprint is registered: guards against setup
code running late, which is exactly what a reload of a running app does. While
a reload runs the module's new statements the guards let the reloading thread
through (requests served meanwhile see them as they were); what a reload adds
to a blueprint that is already registered is carried to every app that
registered it (see _flask_blueprints.py), and registrations of removed or
re-run definitions follow the edit (see _flask_registrations.py).
Edited views need nothing: the view functions are updated in place. If the
reload fails after its statements ran, what they registered on the live apps
and blueprints (rules, view functions, blueprints, request hooks, error
handlers) is taken out again, so the fixed edit registers it afresh.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Callable, Dict, Iterator, List, Tuple

from flask import Blueprint, Flask

from hotreload._errors import ReloadError
from hotreload._frameworks import _pending, _snapshot, _werkzeug_rules
from hotreload._frameworks._flask_blueprints import carry_to_apps, hooks_of
from hotreload._frameworks._flask_registrations import (
    HOOK_LISTS,
    PLAIN_LISTS,
    prune_hooks,
    prune_views,
    registered_again_replaces,
    setup_open,
)
from hotreload._frameworks._modules import user_modules

# What route, hook and handler decorators write to, on apps and blueprints alike
# (error_handler_spec nests three deep: scope -> code -> exception class -> handler).
_REGISTRIES = ("view_functions", "blueprints", "deferred_functions", *HOOK_LISTS, *PLAIN_LISTS, "error_handler_spec")


def _objects(module: types.ModuleType) -> Tuple[List[Any], List[Any]]:
    apps: Dict[int, Any] = {}
    blueprints: Dict[int, Any] = {}
    for candidate in user_modules(module):
        for value in list(vars(candidate).values()):
            if issubclass(type(value), Flask):  # type(), never __class__: a lazy module would load
                apps[id(value)] = value
            elif issubclass(type(value), Blueprint):
                blueprints[id(value)] = value
    for app in list(apps.values()):
        for blueprint in app.blueprints.values():
            blueprints.setdefault(id(blueprint), blueprint)
    return list(apps.values()), list(blueprints.values())


@contextlib.contextmanager
def executing(module: types.ModuleType) -> Iterator[Callable[[], None]]:
    _pending.take("flask", module)  # left by a reload that failed after its run: never replayed
    apps, blueprints = _objects(module)
    captured = [c for owner in apps + blueprints for c in _snapshot.capture_attributes(owner, _REGISTRIES, depth=3)]
    rules = [_werkzeug_rules.capture(app.url_map) for app in apps]

    def undo() -> None:
        _pending.take("flask", module)
        for held in captured:
            _snapshot.restore(held)
        for undo_rules in rules:
            undo_rules()

    registered = [(bp, getattr(bp, "_got_registered_once", False), len(bp.deferred_functions), hooks_of(bp)) for bp in blueprints]
    try:
        with setup_open(apps + blueprints), registered_again_replaces(apps, module):
            yield undo
    finally:
        for blueprint, flag, count, hooks in registered:
            if flag:
                _pending.stash("flask", module, (blueprint, list(blueprint.deferred_functions[count:]), hooks))


def replacing_data(old: Any, new: Any, name: str, module_name: str, tx: Any) -> Any:
    """An edited ``app = Flask(...)`` or ``bp = Blueprint(...)`` of a registered blueprint would
    make an object the running server never serves: refused."""
    if type(old) is not type(new) or not issubclass(type(old), (Flask, Blueprint)):
        return new
    if isinstance(old, Blueprint) and not any(old in app.blueprints.values() for app in _live_apps(module_name)):
        return new  # not registered yet: the new blueprint is registered by the statements that follow
    kind = "Flask app" if isinstance(old, Flask) else "registered blueprint"
    error = ReloadError(
        f"cannot reload module {module_name}: the edit of {name} = {type(old).__name__}(...) would make a new "
        f"{kind} that the running server does not serve, without the routes of the live one; its constructor "
        "arguments cannot change while it runs: restart the program to apply this change "
        "(routes, views and app.config settings apply without a restart)",
        name=module_name,
        label=name,
    )
    raise error


def after_class_update(old: type, new: type, tx: Any) -> None:
    """A class-based view that gained or lost a method (``MethodView`` reads its methods from its
    handlers when the class is made; ``View`` from ``methods``) serves it: the class, its view
    functions and the rules made from them take the new methods."""
    view_base = getattr(sys.modules.get("flask.views"), "View", None)
    if view_base is None or not issubclass(old, view_base):
        return
    methods = getattr(new, "methods", None)
    if not methods:
        return
    if set(getattr(old, "methods", None) or ()) != set(methods):
        tx.setattr(old, "methods", methods)
    for app in _live_apps(old.__module__):
        for endpoint, view in list(app.view_functions.items()):
            if getattr(view, "view_class", None) is not old:
                continue
            derived = {method.upper() for method in getattr(view, "methods", None) or ()}
            if derived != {method.upper() for method in methods}:
                tx.setattr(view, "methods", methods)
            for rule in app.url_map._rules_by_endpoint.get(endpoint, ()):
                _follow_view_methods(rule, derived, methods, tx)
        app.url_map._remap = True


def _follow_view_methods(rule: Any, derived: Any, methods: Any, tx: Any) -> None:
    """A rule whose methods came from the view (not given to ``add_url_rule``) takes the new ones,
    with the HEAD and OPTIONS that Flask and werkzeug add."""
    automatic = {"HEAD", "OPTIONS"}
    if rule.methods is None or rule.methods - automatic != derived - automatic:
        return
    wanted = {method.upper() for method in methods} | (rule.methods & {"OPTIONS"})
    if "GET" in wanted:
        wanted.add("HEAD")
    if wanted != rule.methods:
        tx.setattr(rule, "methods", wanted)


def _live_apps(module_name: str) -> List[Any]:
    module = sys.modules.get(module_name)
    return _objects(module)[0] if module is not None else []


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    """What the reload added to registered blueprints reaches the apps; registrations of removed
    and re-run definitions follow the edit."""
    apps, blueprints = _objects(module)
    for blueprint, functions, before in _pending.take("flask", module):
        carry_to_apps(apps, blueprint, functions, before, module, tx)
    removed = {id(value) for value in gone if type(value) is types.FunctionType}
    for app in apps:
        prune_views(app, module, removed, tx)
    for owner in apps + blueprints:
        prune_hooks(owner, module, removed, tx)
