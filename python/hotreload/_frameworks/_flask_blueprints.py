"""What a reload adds to a blueprint that is already registered, carried to the apps.

Flask copies a blueprint into an app when it is registered: its deferred
setup functions (routes, ``record_once`` hooks such as ``before_app_request``)
run then, and its request hooks and error handlers are merged into the app's
registries under the name it was registered with. Added later, by a reload,
they would reach no app. For every registration of the blueprint (nested ones
are registered under ``parent.child``, a blueprint may be registered twice
under other names), the new setup functions are run with that registration's
name and URL prefix, and the new hooks and handlers are merged as Flask merges
them.
"""

from __future__ import annotations

import types
from typing import Any, Dict, List, Tuple

from hotreload._frameworks import _snapshot
from hotreload._frameworks._flask_registrations import HOOK_LISTS, registered_again_replaces, setup_open

Hooks = Dict[str, Dict[Any, List[Any]]]


def hooks_of(blueprint: Any) -> Tuple[Hooks, Dict[Any, Dict[Any, Dict[Any, Any]]]]:
    """A copy of the blueprint's own hooks and error handlers, to tell later what was added."""
    hooks = {name: {key: list(values) for key, values in getattr(blueprint, name, {}).items()} for name in HOOK_LISTS}
    spec = {scope: {code: dict(handlers) for code, handlers in codes.items()} for scope, codes in blueprint.error_handler_spec.items()}
    return hooks, spec


def carry_to_apps(apps: List[Any], blueprint: Any, functions: List[Any], before: Any, module: types.ModuleType, tx: Any) -> None:
    """Runs ``functions`` (deferred setup added by the reload) for every registration of
    ``blueprint`` in ``apps``, and merges the hooks and handlers added since ``before``."""
    first = True
    for app in apps:
        for registered, candidate in list(app.blueprints.items()):
            if candidate is not blueprint:
                continue
            _replay(app, blueprint, registered, functions, first, module)
            _merge_hooks(app, blueprint, registered, before, tx)
            first = False


def _replay(app: Any, blueprint: Any, registered: str, functions: List[Any], first: bool, module: types.ModuleType) -> None:
    name_prefix, _, name = registered.rpartition(".")
    options = {"url_prefix": _prefix(app, blueprint, registered), "name": name, "name_prefix": name_prefix}
    state = blueprint.make_setup_state(app, options, first)
    with setup_open([app]), registered_again_replaces([app], module):
        for function in functions:
            function(state)


def _merge_hooks(app: Any, blueprint: Any, registered: str, before: Any, tx: Any) -> None:
    hooks, spec = before
    for name in HOOK_LISTS:
        for key, values in getattr(blueprint, name, {}).items():
            known = {id(f) for f in hooks[name].get(key, ())}
            added = [f for f in values if id(f) not in known]
            if added:
                target = getattr(app, name)
                _snapshot.record_restore(tx, target)
                target.setdefault(registered if key is None else f"{registered}.{key}", []).extend(added)
    for scope, codes in blueprint.error_handler_spec.items():
        for code, handlers in codes.items():
            for exception, handler in handlers.items():
                if spec.get(scope, {}).get(code, {}).get(exception) is handler:
                    continue
                target_scope = registered if scope is None else f"{registered}.{scope}"
                _snapshot.record_restore(tx, app.error_handler_spec, depth=3)
                app.error_handler_spec.setdefault(target_scope, {}).setdefault(code, {})[exception] = handler


def _prefix(app: Any, blueprint: Any, registered: str) -> Any:
    """The URL prefix the blueprint got when it was registered under ``registered`` (Flask keeps
    no record of it): recovered from a rule it made, compared with the rule it was asked for."""
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
        for made in app.url_map._rules_by_endpoint.get(f"{registered}.{endpoint}", ()):
            if made.rule.endswith(tail):
                return made.rule[: len(made.rule) - len(tail)] if tail else made.rule
    return blueprint.url_prefix
