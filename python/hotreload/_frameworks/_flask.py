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
import types
from typing import Any, Callable, Dict, Iterator, List, Tuple

from flask import Blueprint, Flask

from hotreload._frameworks import _pending, _snapshot
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
    rules = [_rules_undo(app.url_map) for app in apps]

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
        yield undo
    finally:
        for app, flag in started:
            app._got_first_request = flag or app._got_first_request
        for blueprint, flag, count in registered:
            blueprint._got_registered_once = flag or blueprint._got_registered_once
            if flag and len(blueprint.deferred_functions) > count:
                _pending.stash("flask", module, (blueprint, list(blueprint.deferred_functions[count:])))


def _rules_undo(url_map: Any) -> Callable[[], None]:
    """Takes out of a werkzeug ``Map`` the rules added after this call (werkzeug keeps them
    by endpoint and, from 2.2 on, in a state machine too: both are pruned)."""
    known = {id(rule): rule for rule in url_map.iter_rules()}  # held, so no id is reused

    def undo() -> None:
        added = {id(rule) for rule in url_map.iter_rules() if id(rule) not in known}
        if not added:
            return
        by_endpoint = url_map._rules_by_endpoint
        for endpoint in list(by_endpoint):
            kept = [rule for rule in by_endpoint[endpoint] if id(rule) not in added]
            if kept:
                by_endpoint[endpoint][:] = kept
            else:
                del by_endpoint[endpoint]
        listed = vars(url_map).get("_rules")  # werkzeug before 2.2: a plain list
        if isinstance(listed, list):
            listed[:] = [rule for rule in listed if id(rule) not in added]
        matcher = getattr(url_map, "_matcher", None)
        if matcher is not None:
            _prune(matcher._root, added)
        url_map._remap = True

    return undo


def _prune(state: Any, rules: set[int]) -> None:
    states = [state]
    while states:
        state = states.pop()
        state.rules[:] = [rule for rule in state.rules if id(rule) not in rules]
        states.extend(state.static.values())
        states.extend(next_state for _, next_state in state.dynamic)


def after_reload(module: types.ModuleType, tx: Any) -> None:
    """Routes added to registered blueprints reach the apps that registered them."""
    added = _pending.take("flask", module)
    if not added:
        return
    apps, _ = _objects(module)
    for blueprint, functions in added:
        for app in apps:
            if app.blueprints.get(blueprint.name) is blueprint:
                state = blueprint.make_setup_state(app, {"url_prefix": _prefix(app, blueprint)}, False)
                started, app._got_first_request = app._got_first_request, False
                try:
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
