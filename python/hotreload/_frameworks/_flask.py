"""Flask: routes and blueprints added by a reload are served by the live app.

Flask refuses ``@app.route`` once the app has handled a request, and
``@blueprint.route`` once the blueprint is registered: guards against setup
code running late, which is exactly what a reload of a running app does. While
a reload runs the module's new statements the guards are lifted (and put back
after); routes a reload adds to a blueprint that is already registered are
then replayed onto every app that registered it, with the URL prefix it got.
Edited views need nothing: the view functions are updated in place. If the
reload fails after its statements ran, what they registered on the live apps
and blueprints (rules, view functions, blueprints, request hooks, error
handlers) is taken out again, so the fixed edit registers it afresh.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from typing import Any, Callable, Dict, Iterator, List, Tuple

from flask import Blueprint, Flask

from hotreload._errors import ReloadError
from hotreload._frameworks import _pending, _snapshot, _werkzeug_rules
from hotreload._frameworks._endpoints import kept_function
from hotreload._frameworks._modules import user_modules

# What route, hook and handler decorators write to, on apps and blueprints alike
# (error_handler_spec nests three deep: scope -> code -> exception class -> handler).
_REGISTRIES = (
    "view_functions",
    "blueprints",
    "deferred_functions",
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "teardown_appcontext_funcs",
    "template_context_processors",
    "url_value_preprocessors",
    "url_default_functions",
    "shell_context_processors",
    "error_handler_spec",
)


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

    started = [(app, app._got_first_request) for app in apps]
    registered = [(bp, getattr(bp, "_got_registered_once", False), len(bp.deferred_functions)) for bp in blueprints]
    for app in apps:
        app._got_first_request = False
    for blueprint in blueprints:
        blueprint._got_registered_once = False
    try:
        with _redefinitions_replace_their_rules(apps, module):
            yield undo
    finally:
        for app, flag in started:
            app._got_first_request = flag or app._got_first_request
        for blueprint, flag, count in registered:
            blueprint._got_registered_once = flag or blueprint._got_registered_once
            if flag and len(blueprint.deferred_functions) > count:
                _pending.stash("flask", module, (blueprint, list(blueprint.deferred_functions[count:])))


@contextlib.contextmanager
def _redefinitions_replace_their_rules(apps: List[Any], module: types.ModuleType) -> Iterator[None]:
    """A view registered again by its re-run definition (its ``@app.route`` line was edited)
    replaces the rules its previous version registered, instead of tripping Flask's
    "overwriting an existing endpoint function" guard."""
    thread = threading.get_ident()
    for app in apps:
        vars(app)["add_url_rule"] = _replacing_add_url_rule(app, app.add_url_rule, module, thread)
    try:
        yield
    finally:
        for app in apps:
            vars(app).pop("add_url_rule", None)  # back to the class's own method


def _replacing_add_url_rule(app: Any, original: Callable[..., Any], module: types.ModuleType, thread: int) -> Callable[..., Any]:
    def add_url_rule(rule: str, endpoint: Any = None, view_func: Any = None, *args: Any, **options: Any) -> Any:
        name = endpoint if endpoint is not None else getattr(view_func, "__name__", None)
        previous = app.view_functions.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and threading.get_ident() == thread and _is_redefinition(previous, view_func, module):
            _werkzeug_rules.remove_endpoint(app.url_map, name)
            del app.view_functions[name]
        return original(rule, endpoint, view_func, *args, **options)

    return add_url_rule


def _is_redefinition(previous: Any, view: Any, module: types.ModuleType) -> bool:
    return (
        type(previous) is types.FunctionType
        and type(view) is types.FunctionType
        and previous is not view
        and view.__module__ == module.__name__ == previous.__module__
        and view.__qualname__ == previous.__qualname__
    )


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
    )
    error.label = name  # type: ignore[attr-defined]
    raise error


def _live_apps(module_name: str) -> List[Any]:
    module = sys.modules.get(module_name)
    return _objects(module)[0] if module is not None else []


def after_reload(module: types.ModuleType, tx: Any) -> None:
    """Routes added to registered blueprints reach the apps that registered them; views that a
    re-run definition registered are the module's kept functions."""
    apps, _ = _objects(module)
    for blueprint, functions in _pending.take("flask", module):
        for app in apps:
            if app.blueprints.get(blueprint.name) is blueprint:
                _replay(app, blueprint, functions, module)
    for app in apps:
        for endpoint, view in list(app.view_functions.items()):
            kept = kept_function(view, module)
            if kept is not view:
                tx.set_item(app.view_functions, endpoint, kept)


def _replay(app: Any, blueprint: Any, functions: List[Any], module: types.ModuleType) -> None:
    state = blueprint.make_setup_state(app, {"url_prefix": _prefix(app, blueprint)}, False)
    started, app._got_first_request = app._got_first_request, False
    try:
        with _redefinitions_replace_their_rules([app], module):
            for function in functions:
                function(state)
    finally:
        app._got_first_request = started


def _prefix(app: Any, blueprint: Any) -> Any:
    """The URL prefix the blueprint got when it was registered (Flask keeps no record of it):
    recovered from a rule it made, compared with the rule it was asked for."""
    for function in blueprint.deferred_functions:
        code = getattr(function, "__code__", None)
        cells = dict(zip(getattr(code, "co_freevars", ()), getattr(function, "__closure__", None) or ()))
        try:
            rule, endpoint, view = (cells[name].cell_contents for name in ("rule", "endpoint", "view_func"))
        except (KeyError, ValueError):
            continue
        endpoint = endpoint or getattr(view, "__name__", None)
        if not isinstance(rule, str) or not isinstance(endpoint, str):
            continue
        tail = rule.lstrip("/")
        made_rules = [made for made in app.url_map.iter_rules() if made.endpoint == f"{blueprint.name}.{endpoint}"]
        for made in made_rules:
            if made.rule.endswith(tail):
                return made.rule[: len(made.rule) - len(tail)] if tail else made.rule
    return blueprint.url_prefix
