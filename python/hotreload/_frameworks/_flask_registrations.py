"""Flask registrations that an edit removed or replaced.

Two ways a registration outlives its statement. A definition removed from the
source (or renamed) leaves its rule, view and hooks registered: they are taken
out. A decorated definition whose decorator line changed runs again and
registers the new function object (``@app.errorhandler(404)`` made
``(405)``): the registrations its previous version made with the function the
module keeps are taken out, and the new ones are pointed at the kept function,
so a later edit of the body reaches them.
"""

from __future__ import annotations

import contextlib
import threading
import types
from typing import Any, Callable, Dict, Iterator, List, Set

from hotreload._frameworks import _snapshot, _werkzeug_rules
from hotreload._frameworks._endpoints import kept_function

# Registries of functions: name -> key (blueprint name or None) -> functions. A blueprint's own
# are merged into the app's under the name it is registered with.
HOOK_LISTS = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "template_context_processors",
    "url_value_preprocessors",
    "url_default_functions",
)
PLAIN_LISTS = ("teardown_appcontext_funcs", "shell_context_processors")


@contextlib.contextmanager
def setup_open(owners: List[Any]) -> Iterator[None]:
    """Flask's setup methods (``route``, ``before_request``, ...) accept calls from this thread
    while the block runs, on apps that have served and blueprints that are registered. Only this
    thread's calls: a request served meanwhile must not see the guard down, and must not put it
    back up halfway through the run either (flipping ``_got_first_request`` would do both)."""
    thread = threading.get_ident()
    for owner in owners:
        check = getattr(owner, "_check_setup_finished", None)
        if callable(check):
            vars(owner)["_check_setup_finished"] = _open_to(thread, check)
    try:
        yield
    finally:
        for owner in owners:
            vars(owner).pop("_check_setup_finished", None)  # back to the class's own method


def _open_to(thread: int, check: Callable[[str], None]) -> Callable[[str], None]:
    def check_setup_finished(f_name: str) -> None:
        if threading.get_ident() != thread:
            check(f_name)

    return check_setup_finished


@contextlib.contextmanager
def registered_again_replaces(apps: List[Any], module: types.ModuleType) -> Iterator[None]:
    """What a re-run statement registers again replaces what its previous version registered:
    a view (an edited ``@app.route`` line, an edited ``app.add_url_rule(...)`` call) takes the
    endpoint's rules over instead of tripping Flask's "overwriting an existing endpoint function"
    guard, and a blueprint registered again under its name (an edited ``url_prefix``) is
    unregistered first instead of tripping "already registered"."""
    thread = threading.get_ident()
    for app in apps:
        vars(app)["add_url_rule"] = _replacing_add_url_rule(app, app.add_url_rule, module, thread)
        vars(app)["register_blueprint"] = _replacing_register_blueprint(app, app.register_blueprint, thread)
    try:
        yield
    finally:
        for app in apps:
            vars(app).pop("add_url_rule", None)  # back to the class's own methods
            vars(app).pop("register_blueprint", None)


def _replacing_register_blueprint(app: Any, original: Callable[..., Any], thread: int) -> Callable[..., Any]:
    def register_blueprint(blueprint: Any, **options: Any) -> Any:
        name = options.get("name", getattr(blueprint, "name", None))
        if threading.get_ident() != thread or not isinstance(name, str) or app.blueprints.get(name) is not blueprint:
            return original(blueprint, **options)
        _unregister(app, name)
        # Still registered under a placeholder while it registers again, so its record_once
        # setup (app-wide hooks, already in place) does not run a second time.
        placeholder = f"\0hotreload:{name}"
        app.blueprints[placeholder] = blueprint
        try:
            return original(blueprint, **options)
        finally:
            app.blueprints.pop(placeholder, None)

    return register_blueprint


def _unregister(app: Any, name: str) -> None:
    """Takes out of the app what registering a blueprint as ``name`` put in (nested ones too)."""
    owned = lambda key: key == name or (isinstance(key, str) and key.startswith(name + "."))  # noqa: E731
    # Only the rules: the views stay for requests that matched a rule a moment ago, and the
    # registration that follows sets the same endpoints again.
    for endpoint in [endpoint for endpoint in app.view_functions if isinstance(endpoint, str) and endpoint.startswith(name + ".")]:
        _werkzeug_rules.remove_endpoint(app.url_map, endpoint)
    for registry_name in ("blueprints", "error_handler_spec", *HOOK_LISTS):
        registry = getattr(app, registry_name, None)
        if isinstance(registry, dict):
            for key in [key for key in registry if owned(key)]:
                del registry[key]


def _replacing_add_url_rule(app: Any, original: Callable[..., Any], module: types.ModuleType, thread: int) -> Callable[..., Any]:
    def add_url_rule(rule: str, endpoint: Any = None, view_func: Any = None, *args: Any, **options: Any) -> Any:
        name = endpoint if endpoint is not None else getattr(view_func, "__name__", None)
        previous = app.view_functions.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and threading.get_ident() == thread and _is_redefinition(previous, view_func, module):
            # The view first, then the old rules out: a request that matched an old rule a moment
            # ago finds a view for its endpoint (the new one), never a missing one (a 500).
            app.view_functions[name] = view_func
            _werkzeug_rules.remove_endpoint(app.url_map, name)
        return original(rule, endpoint, view_func, *args, **options)

    return add_url_rule


def _is_redefinition(previous: Any, view: Any, module: types.ModuleType) -> bool:
    """The endpoint's view and the one now registered for it both come from the module being
    reloaded: only a statement of it that ran again can be registering it."""
    return (
        type(previous) is types.FunctionType
        and type(view) is types.FunctionType
        and previous is not view
        and view.__module__ == module.__name__ == previous.__module__
    )


def prune_views(app: Any, module: types.ModuleType, gone: Set[int], tx: Any) -> None:
    """Endpoints whose view was removed, or was registered again (by its edited statement) under
    another endpoint, go with their rules; views made again are the module's kept functions."""
    views = app.view_functions
    pairs = _made_again(views.values(), module)
    stale = gone | {id(kept) for kept in pairs.values()}
    endpoints = [endpoint for endpoint, view in views.items() if id(view) in stale]
    if endpoints:
        tx.record(_werkzeug_rules.capture(app.url_map))
        for endpoint in endpoints:
            _werkzeug_rules.remove_endpoint(app.url_map, endpoint)
            tx.del_item(views, endpoint)
    for endpoint, view in list(views.items()):
        if id(view) in pairs:
            tx.set_item(views, endpoint, pairs[id(view)])


def prune_hooks(owner: Any, module: types.ModuleType, gone: Set[int], tx: Any) -> None:
    """The same for request hooks, context processors and error handlers, registry by registry."""
    for name in HOOK_LISTS + PLAIN_LISTS:
        registry = getattr(owner, name, None)
        if isinstance(registry, dict):
            lists = [functions for functions in registry.values() if isinstance(functions, list)]
        elif isinstance(registry, list):
            lists = [registry]
        else:
            continue
        _prune_lists(registry, lists, module, gone, tx)
    spec = getattr(owner, "error_handler_spec", None)
    if isinstance(spec, dict):
        _prune_handlers(spec, module, gone, tx)


def _prune_lists(registry: Any, lists: List[List[Any]], module: types.ModuleType, gone: Set[int], tx: Any) -> None:
    pairs = _made_again((f for functions in lists for f in functions), module)
    stale = gone | {id(kept) for kept in pairs.values()}
    if not any(id(f) in stale or id(f) in pairs for functions in lists for f in functions):
        return
    _snapshot.record_restore(tx, registry)
    for functions in lists:
        functions[:] = [pairs.get(id(f), f) for f in functions if id(f) not in stale]


def _prune_handlers(spec: Dict[Any, Any], module: types.ModuleType, gone: Set[int], tx: Any) -> None:
    """``error_handler_spec``: scope -> code -> exception class -> handler."""
    leaves = [(handlers, exception) for codes in spec.values() for handlers in codes.values() for exception in handlers]
    pairs = _made_again((handlers[exception] for handlers, exception in leaves), module)
    stale = gone | {id(kept) for kept in pairs.values()}
    if not any(id(handlers[e]) in stale or id(handlers[e]) in pairs for handlers, e in leaves):
        return
    _snapshot.record_restore(tx, spec, depth=3)
    for handlers, exception in leaves:
        handler = handlers[exception]
        if id(handler) in stale:
            del handlers[exception]
        elif id(handler) in pairs:
            handlers[exception] = pairs[id(handler)]


def _made_again(functions: Any, module: types.ModuleType) -> Dict[int, Any]:
    """id of a function a re-run statement registered -> the module's kept function."""
    pairs = {}
    for function in functions:
        kept = kept_function(function, module)
        if kept is not function:
            pairs[id(function)] = kept
    return pairs
