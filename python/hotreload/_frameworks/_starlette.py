"""FastAPI (and Starlette) apps: edited endpoints and models reach validation and the OpenAPI schema.

FastAPI reads an endpoint's signature once, when the route is registered: its
parameters, request body and response model become validators held by the
route. An endpoint edited in place, or a pydantic model it uses that a reload
rebuilt, leaves those validators stale. After a reload, every route of the
program's apps whose endpoint, body or response model comes from the reloaded
module is built again from its endpoint (same path, methods and options) and
swapped in; routes a reload adds to an ``APIRouter`` that an app already
included are included there too; the cached OpenAPI schema is dropped. If the
reload fails after its statements ran, routes they added to the live routers
are taken out again.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading
import types
import typing
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Router
from starlette.routing import Route as StarletteRoute

from hotreload._frameworks import _pending, _snapshot
from hotreload._frameworks import _starlette_apps as apps
from hotreload._frameworks._dependencies import point_dependencies_at_kept
from hotreload._frameworks._endpoints import kept_function
from hotreload._frameworks._modules import user_modules
from hotreload._frameworks._types import mentions_class

# Whether FastAPI inferred a route's response model and description (from the endpoint's
# return annotation and docstring) rather than being given them: seen before the first edit,
# kept on the route itself (routes compare by value, so they cannot key a mapping).
_INFERRED = "_hotreload_inferred"


def _fastapi() -> Optional[types.ModuleType]:
    return sys.modules.get("fastapi.routing")


def _apps_and_routers(module: types.ModuleType) -> List[Any]:
    found: Dict[int, Any] = {}
    for candidate in user_modules(module):
        for value in list(vars(candidate).values()):
            if issubclass(type(value), (Starlette, Router)):  # type(), never __class__: a lazy module would load
                found[id(value)] = value
    return list(found.values())


def _routers(owner: Any, depth: int = 0) -> Iterator[Router]:
    """The router of an app (or the router itself), and those of the apps mounted in it."""
    router = owner.router if isinstance(owner, Starlette) else owner
    if not isinstance(router, Router) or depth > 8:
        return
    yield router
    for route in list(router.routes):
        if isinstance(route, Mount) and route.app is not None:
            yield from _routers(route.app, depth + 1)


@contextlib.contextmanager
def executing(module: types.ModuleType) -> Iterator[Callable[[], None]]:
    """Notes, before the endpoints change, which route options FastAPI inferred, and the
    routes each router has (put back if the reload fails)."""
    routing = _fastapi()
    owners = _apps_and_routers(module)
    routers = [router for owner in owners for router in _routers(owner)]
    if routing is not None:
        for router in routers:
            for route in router.routes:
                if isinstance(route, routing.APIRoute) and _INFERRED not in vars(route):
                    vars(route)[_INFERRED] = _what_was_inferred(routing, route)
    captured = [c for c in (_snapshot.capture(router.routes) for router in routers) if c is not None]
    live_apps = [owner for owner in owners if isinstance(owner, Starlette)]
    setups = [(app, _snapshot.capture_attributes(app, _SETUP)) for app in live_apps]

    def undo() -> None:
        for held in captured + [c for _, held_setup in setups for c in held_setup]:
            _snapshot.restore(held)
        _mark_changed(routers)

    _pending.take("starlette-routes-before", module)  # left by a reload that failed after its run
    _pending.stash("starlette-routes-before", module, {id(router): {id(route) for route in router.routes} for router in routers})
    thread = threading.get_ident()
    for app in live_apps:
        vars(app)["add_middleware"] = _late_add_middleware(app, app.add_middleware, thread)
    try:
        yield undo
    finally:
        for app, held_setup in setups:
            vars(app).pop("add_middleware", None)  # back to the class's own method
            # New exception handlers or middleware: the stack is built again by the next request.
            if getattr(app, "middleware_stack", None) is not None and any(map(_snapshot.changed_since, held_setup)):
                app.middleware_stack = None


def _late_add_middleware(app: Any, original: Callable[..., Any], thread: int) -> Callable[..., Any]:
    """``add_middleware`` that a reload's run may call on an app that has served (Starlette
    refuses once the middleware stack is built; it is built again after the run instead)."""

    def add_middleware(middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        if threading.get_ident() != thread or getattr(app, "middleware_stack", None) is None:
            original(middleware_class, *args, **kwargs)
            return
        app.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    return add_middleware


# What Starlette builds into an app's middleware stack when it first serves.
_SETUP = ("exception_handlers", "user_middleware")


def _mark_changed(routers: List[Any]) -> None:
    """FastAPI 0.13x+ caches an included router's routes by a version: bumped, they are read again."""
    for router in routers:
        mark = getattr(router, "_mark_routes_changed", None)
        if callable(mark):
            mark()


def _what_was_inferred(routing: types.ModuleType, route: Any) -> Dict[str, bool]:
    try:
        returned = typing.get_type_hints(route.endpoint).get("return")
    except Exception:
        returned = route.endpoint.__annotations__.get("return")
    return {
        "response_model": route.response_model is not None and route.response_model == returned,
        "description": route.description == inspect.cleandoc(route.endpoint.__doc__ or ""),
    }


def replacing_data(old: Any, new: Any, name: str, module_name: str, tx: Any) -> Any:
    """An edited ``app = FastAPI(...)`` keeps the live app (the server holds it) and gives it the
    new app's routes and descriptions; an edited ``routes = [...]`` reaches the routers built from it."""
    if apps.is_app_pair(old, new):
        apps.refuse_unchangeable(old, new, name, module_name)
        incoming = [route for route in new.router.routes if not apps.is_framework_made(route)]
        _replace_all(tx, old.router.routes, apps.merged(old.router.routes, incoming, set()))
        for attribute, value in apps.descriptive_changes(old, new):
            tx.setattr(old, attribute, value)
        if getattr(old, "openapi_schema", None) is not None:
            tx.setattr(old, "openapi_schema", None)
        return old
    if apps.is_route_list_pair(old, new):
        _pending.note("starlette-route-lists", tx, (old, new))
    return new


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    owners = _apps_and_routers(module)
    every_router = [router for owner in owners for router in _routers(owner)]
    tx.record(lambda: _mark_changed(every_router))  # undone last: after the routes are put back
    tx.on_commit(lambda: _mark_changed(every_router))
    lists = _pending.notes("starlette-route-lists", tx)
    removed = {id(value) for value in gone if callable(value)}
    before = {key: ids for stashed in _pending.take("starlette-routes-before", module) for key, ids in stashed.items()}
    for owner in owners:
        touched = False
        for router in _routers(owner):
            touched |= _drop_removed(router, removed, tx)
            touched |= _in_source_order(router, before.get(id(router)), module, tx)
            touched |= _follow_route_lists(router, lists, tx)
            touched |= _kept_endpoints(router, module, tx)
        if touched and isinstance(owner, Starlette) and getattr(owner, "openapi_schema", None) is not None:
            tx.setattr(owner, "openapi_schema", None)
    routing = _fastapi()
    if routing is None:
        return
    # Routes are built again below from what FastAPI learns of the endpoints: not from its caches.
    _clear_fastapi_caches()
    tx.record(_clear_fastapi_caches)
    changed_routers = [owner for owner in owners if isinstance(owner, routing.APIRouter) and _defined_in(owner, module)]
    for owner in owners:
        touched = False
        for router in _routers(owner):
            touched |= _rebuild_routes(routing, router, module, tx)
            touched |= _include_added(routing, router, changed_routers, tx)
        if touched and isinstance(owner, Starlette) and getattr(owner, "openapi_schema", None) is not None:
            tx.setattr(owner, "openapi_schema", None)
    tx.on_commit(_clear_fastapi_caches)


def _clear_fastapi_caches() -> None:
    """FastAPI caches what it learnt of callables and models by identity (is this endpoint a
    coroutine function, a model's fields): the reload kept those objects and changed them."""
    for name, loaded in list(sys.modules.items()):
        if name.split(".")[0] != "fastapi" or loaded is None:
            continue
        for value in list(vars(loaded).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()


def _defined_in(router: Any, module: types.ModuleType) -> bool:
    return any(getattr(route.endpoint, "__module__", None) == module.__name__ for route in router.routes if hasattr(route, "endpoint"))


def _uses_module(route: Any, module_name: str) -> bool:
    """The route's endpoint or one of its dependencies, or a type in their signatures or the
    response model (models nested in them included), comes from the module."""
    calls = [route.endpoint, *_dependency_calls(getattr(route, "dependant", None))]
    if any(getattr(call, "__module__", None) == module_name for call in calls):
        return True
    seen: Set[int] = set()
    from_module = lambda cls: _from_module(cls, module_name, seen)  # noqa: E731
    annotations = [a for call in calls for a in _annotations_of(call)] + [route.response_model]
    return any(mentions_class(annotation, from_module) for annotation in annotations)


def _dependency_calls(dependant: Any, depth: int = 0) -> Iterator[Any]:
    """The callables of a FastAPI dependant's dependencies, and of theirs."""
    if dependant is None or depth > 16:
        return
    for dependency in getattr(dependant, "dependencies", ()):
        call = getattr(dependency, "call", None)
        if call is not None:
            yield call
        yield from _dependency_calls(dependency, depth + 1)


def _annotations_of(call: Any) -> List[Any]:
    annotations = getattr(call, "__annotations__", None)
    return list(annotations.values()) if isinstance(annotations, dict) else []


def _from_module(cls: type, module_name: str, seen: Set[int], depth: int = 0) -> bool:
    """``cls`` comes from the module, or is a pydantic model with a field whose type does."""
    if cls.__module__ == module_name:
        return True
    fields = vars(cls).get("__pydantic_fields__") if depth < 8 and id(cls) not in seen else None
    seen.add(id(cls))
    if not isinstance(fields, dict):
        return False
    inner = lambda nested: _from_module(nested, module_name, seen, depth + 1)  # noqa: E731
    return any(mentions_class(getattr(field, "annotation", None), inner) for field in fields.values())


def _rebuild_routes(routing: types.ModuleType, router: Router, module: types.ModuleType, tx: Any) -> bool:
    touched = False
    for index, route in enumerate(list(router.routes)):
        if type(route) is not routing.APIRoute and not isinstance(route, routing.APIRoute):
            continue
        if not _uses_module(route, module.__name__):
            continue
        calls = [getattr(route, "endpoint", None), *_dependency_calls(getattr(route, "dependant", None))]
        for call in calls:
            if getattr(call, "__module__", None) == module.__name__:
                point_dependencies_at_kept(call, module, tx)
        _swap(tx, router.routes, index, route, _rebuilt(routing, route))
        touched = True
    return touched


def _options(routing: types.ModuleType, route: Any) -> Dict[str, Any]:
    """The keyword arguments that build ``route`` again, as it was registered."""
    parameters = inspect.signature(type(route).__init__).parameters
    options = {
        name: getattr(route, name)
        for name, parameter in parameters.items()
        if name not in ("self", "path", "endpoint") and parameter.kind is parameter.KEYWORD_ONLY and hasattr(route, name)
    }
    inferred = vars(route).get(_INFERRED, {})
    if inferred.get("response_model") and "response_model" in options:
        options["response_model"] = parameters["response_model"].default
    if inferred.get("description") and "description" in options:
        options["description"] = None
    return options


def _rebuilt(routing: types.ModuleType, route: Any, endpoint: Any = None) -> Any:
    new = type(route)(route.path, endpoint or route.endpoint, **_options(routing, route))
    if _INFERRED in vars(route):
        vars(new)[_INFERRED] = vars(route)[_INFERRED]
    return new


def _include_added(routing: types.ModuleType, router: Any, changed: List[Any], tx: Any) -> bool:
    """Routes an edit added to an APIRouter this router had included: included too, same prefix."""
    touched = False
    for source in changed:
        if source is router:
            continue
        present = {id(getattr(route, "endpoint", None)): route for route in router.routes}
        pairs = [(route, present[id(route.endpoint)]) for route in source.routes if id(getattr(route, "endpoint", None)) in present]
        missing = [route for route in source.routes if isinstance(route, routing.APIRoute) and id(route.endpoint) not in present]
        if not pairs or not missing:
            continue
        original, included = pairs[0]
        prefix = included.path[: len(included.path) - len(original.path)] if included.path.endswith(original.path) else ""
        accepted = inspect.signature(router.add_api_route).parameters
        for route in missing:
            options = {name: value for name, value in _options(routing, route).items() if name in accepted}
            for name in ("methods", "name"):
                options[name] = getattr(route, name)
            before = len(router.routes)
            router.add_api_route(prefix + route.path, route.endpoint, **options)
            _record_append(tx, router.routes, before)
            touched = True
    return touched


def _in_source_order(router: Router, before: Optional[Set[int]], module: types.ModuleType, tx: Any) -> bool:
    """Routes the run added stand where a fresh start would have put them: before the first
    route of the same module defined further down the source (Starlette matches in order, so a
    new route above a catch-all ``/{path:path}`` must not land after it)."""
    if before is None:
        return False
    routes = list(router.routes)
    added = [route for route in routes if id(route) not in before]
    if not added:
        return False
    ordered = [route for route in routes if id(route) in before]
    for route in added:
        line = _line_in(route, module)
        at = len(ordered)
        if line is not None:
            at = next((i for i, other in enumerate(ordered) if (_line_in(other, module) or -1) > line), at)
        ordered.insert(at, route)
    _replace_all(tx, router.routes, ordered)
    return len(ordered) == len(routes) and any(a is not b for a, b in zip(ordered, routes))


def _line_in(route: Any, module: types.ModuleType) -> Optional[int]:
    """Where the route's endpoint is defined, if the module defines it."""
    code = getattr(getattr(route, "endpoint", None), "__code__", None)
    if code is None or getattr(route.endpoint, "__module__", None) != module.__name__:
        return None
    line: int = code.co_firstlineno
    return line


def _drop_removed(router: Router, removed: Set[int], tx: Any) -> bool:
    """Routes whose endpoint the reload removed from the module (deleted, renamed) go with it."""
    kept = [route for route in router.routes if id(getattr(route, "endpoint", None)) not in removed]
    if len(kept) == len(router.routes):
        return False
    _replace_all(tx, router.routes, kept)
    return True


def _follow_route_lists(router: Router, lists: List[Any], tx: Any) -> bool:
    """Routes that came from a refreshed ``routes = [...]`` list are replaced by the new list's."""
    touched = False
    for old_list, new_list in lists:
        owned = {id(route) for route in old_list}
        if any(id(route) in owned for route in router.routes):
            _replace_all(tx, router.routes, apps.merged(router.routes, list(new_list), owned))
            touched = True
    return touched


def _kept_endpoints(router: Router, module: types.ModuleType, tx: Any) -> bool:
    """A route made by a re-run statement holds the new function object, which a later edit
    would not reach: the route is made again with the module's kept function, and a route
    its previous statement registered for that function (before the edit) goes."""
    stale: List[Any] = []
    touched = False
    for index, route in enumerate(list(router.routes)):
        endpoint = getattr(route, "endpoint", None)
        kept = kept_function(endpoint, module) if endpoint is not None else None
        if kept is None or kept is endpoint or type(route) not in (StarletteRoute, _api_route_class()):
            continue
        stale.extend(other for other in router.routes if getattr(other, "endpoint", None) is kept)
        _swap(tx, router.routes, index, route, _made_again(route, kept))
        touched = True
    if stale:
        gone = {id(route) for route in stale}
        _replace_all(tx, router.routes, [route for route in router.routes if id(route) not in gone])
    return touched


def _api_route_class() -> Any:
    routing = _fastapi()
    return routing.APIRoute if routing is not None else StarletteRoute


def _made_again(route: Any, endpoint: Any) -> Any:
    if type(route) is StarletteRoute:
        return StarletteRoute(route.path, endpoint, methods=route.methods, name=route.name, include_in_schema=route.include_in_schema)
    routing = _fastapi()
    assert routing is not None
    return _rebuilt(routing, route, endpoint)


def _replace_all(tx: Any, routes: List[Any], new: List[Any]) -> None:
    """The router's routes become ``new`` in one assignment (a request never sees them half-changed)."""
    before = list(routes)
    if _snapshot.same_items(before, new):
        return
    routes[:] = new
    tx.record(lambda: routes.__setitem__(slice(None), before))


def _swap(tx: Any, routes: List[Any], index: int, old: Any, new: Any) -> None:
    routes[index] = new

    def undo() -> None:
        if index < len(routes) and routes[index] is new:
            routes[index] = old

    tx.record(undo)


def _record_append(tx: Any, routes: List[Any], length: int) -> None:
    added = routes[length:]

    def undo() -> None:
        for route in added:
            if route in routes:
                routes.remove(route)

    tx.record(undo)
