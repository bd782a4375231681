"""Starlette and FastAPI apps whose own statement was edited, and route lists passed to them.

The running server holds the app object it was started with. When an edit
changes ``app = FastAPI(title=...)`` or ``routes = [Route(...), ...]``, the
re-run makes a new app or a new list that nothing serves. Instead the live app
stays and takes the edit: a new app's routes are merged into the live router
(same path and methods: replaced in place; others kept, since decorated routes
whose statements did not change were not registered on the new app), FastAPI's
descriptive settings are copied and its OpenAPI schema dropped. What cannot
change on a running app (middleware, exception handlers, lifespan, debug) is
refused with a restart message. A refreshed list of routes replaces, in every
live router built from it, the routes it held.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from hotreload._errors import ReloadError

# FastAPI settings that only describe the app (its OpenAPI document and docs pages).
_DESCRIPTIVE = (
    "title",
    "summary",
    "description",
    "version",
    "openapi_version",
    "openapi_tags",
    "servers",
    "terms_of_service",
    "contact",
    "license_info",
    "swagger_ui_init_oauth",
    "swagger_ui_parameters",
)

# FastAPI serves its OpenAPI document and docs pages from routes made once, in its constructor.
_DOCUMENTATION_URLS = ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")


def is_app_pair(old: Any, new: Any) -> bool:
    return issubclass(type(old), Starlette) and type(new) is type(old) and new is not old


def is_route_list_pair(old: Any, new: Any) -> bool:
    """Two lists of routes: the value of a ``routes = [...]`` statement before and after."""
    return (
        type(old) is list
        and type(new) is list
        and any(issubclass(type(route), BaseRoute) for route in old)
        and all(issubclass(type(route), BaseRoute) for route in new)
    )


def refuse_unchangeable(old: Any, new: Any, name: str, module_name: str) -> None:
    """Raises ReloadError if the edit changes what a running app cannot take."""
    for setting, (before, after) in _setup_differences(old, new).items():
        error = ReloadError(
            f"cannot reload module {module_name}: the edit of {name} = {type(old).__name__}(...) changes "
            f"its {setting} ({before} -> {after}), which the running app built once, when it first served; "
            f"restart the program to apply it (routes and descriptive settings apply without a restart)",
            name=module_name,
            label=name,
        )
        raise error


def _setup_differences(old: Any, new: Any) -> Dict[str, Tuple[str, str]]:
    found = {}
    for setting, read in (
        ("middleware", lambda app: [(m.cls, m.args, m.kwargs) for m in getattr(app, "user_middleware", [])]),
        ("exception handlers", lambda app: sorted(map(repr, getattr(app, "exception_handlers", {})))),
        ("debug", lambda app: getattr(app, "debug", None)),
        ("max_body_size", lambda app: getattr(app, "max_body_size", None)),
        ("lifespan", lambda app: _qualname(getattr(app.router, "lifespan_context", None))),
        ("documentation URLs", lambda app: [getattr(app, name, None) for name in _DOCUMENTATION_URLS]),
    ):
        before, after = read(old), read(new)
        if not _equal(before, after):
            found[setting] = (_short(before), _short(after))
    return found


def _qualname(value: Any) -> Optional[str]:
    return None if value is None else f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # user objects in middleware options that cannot be compared
        return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def descriptive_changes(old: Any, new: Any) -> List[Tuple[str, Any]]:
    """FastAPI's descriptive settings the edit changed, with their new values."""
    return [
        (name, getattr(new, name))
        for name in _DESCRIPTIVE
        if name in vars(new) and not _equal(getattr(old, name, None), getattr(new, name))
    ]


def is_framework_made(route: Any) -> bool:
    """A route the framework added itself (FastAPI's OpenAPI and docs pages)."""
    module = getattr(getattr(route, "endpoint", None), "__module__", None) or ""
    return module.split(".")[0] in ("fastapi", "starlette")


def route_key(route: Any) -> Tuple[str, Any, Any]:
    methods = getattr(route, "methods", None)
    return type(route).__name__, getattr(route, "path", None), tuple(sorted(methods)) if methods else None


def merged(current: List[Any], incoming: List[Any], owned: Set[int]) -> List[Any]:
    """``current`` with each route that ``incoming`` has one of the same path and methods for
    replaced by it where it stands; routes in ``owned`` (ids) that ``incoming`` lacks dropped;
    the rest of ``incoming`` put where the replaced or dropped routes ended (or at the end)."""
    by_key: Dict[Tuple[str, Any, Any], Any] = {}
    for route in incoming:
        by_key.setdefault(route_key(route), route)
    used: Set[int] = set()
    result: List[Any] = []
    position: Optional[int] = None
    for route in current:
        match = by_key.get(route_key(route))
        if match is not None and id(match) not in used:
            used.add(id(match))
            result.append(match)
            position = len(result)
        elif id(route) in owned:
            position = len(result)
        else:
            result.append(route)
    rest = [route for route in incoming if id(route) not in used]
    at = len(result) if position is None else position
    return result[:at] + rest + result[at:]
