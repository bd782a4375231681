"""Edits of the statements that make an app, its route list or a route's decorator.

The running server holds the app object it started with, so an edit that makes
a new app, a new list of routes or a new route must reach that live app, or be
refused: a reload that reports success while the server keeps the old routes
is the failure this file guards against.
"""

from __future__ import annotations

from typing import Any, List

import hotreload
import pytest
from apps import FLASK_BLUEPRINT_APP

STARLETTE_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

def home(request):
    return PlainTextResponse("home v1")

routes = [Route("/", home)]
app = Starlette(routes=routes)
"""


def _client(app: Any) -> Any:
    pytest.importorskip("httpx", reason="httpx (for TestClient) is in the test extra")
    from starlette.testclient import TestClient

    return TestClient(app)


def _starlette(modules: Any, source: str = STARLETTE_APP) -> Any:
    pytest.importorskip("starlette", reason="Starlette is in the test extra; missing only if not installed")
    modules.install()
    m = modules.make(source)
    client = _client(m.app)
    assert client.get("/").text == "home v1"
    return m, m.app, client


def test_a_route_added_to_the_route_list_is_served_by_the_live_app(modules: Any) -> None:
    m, app, client = _starlette(modules)
    modules.edit(
        m,
        STARLETTE_APP.replace(
            'routes = [Route("/", home)]',
            'def about(request):\n    return PlainTextResponse("about")\n\nroutes = [Route("/", home), Route("/about", about)]',
        ),
    )
    hotreload.reload(m)
    assert m.app is app
    assert client.get("/about").text == "about"
    assert client.get("/").text == "home v1"


def test_a_route_removed_from_the_route_list_is_no_longer_served(modules: Any) -> None:
    source = STARLETTE_APP.replace(
        'routes = [Route("/", home)]',
        'def about(request):\n    return PlainTextResponse("about")\n\nroutes = [Route("/", home), Route("/about", about)]',
    )
    m, app, client = _starlette(modules, source)
    assert client.get("/about").text == "about"
    modules.edit(m, STARLETTE_APP)
    hotreload.reload(m)
    assert client.get("/about").status_code == 404
    assert client.get("/").text == "home v1"


def test_an_endpoint_edited_with_its_route_list_follows_later_edits(modules: Any) -> None:
    m, app, client = _starlette(modules)
    both = STARLETTE_APP.replace("home v1", "home v2").replace('Route("/", home)', 'Route("/", home, name="home")')
    modules.edit(m, both)
    hotreload.reload(m)
    assert client.get("/").text == "home v2"
    # Only the function this time: the route must hold the function the module keeps.
    modules.edit(m, both.replace("home v2", "home v3"))
    hotreload.reload(m)
    assert client.get("/").text == "home v3"
    assert [route.name for route in app.routes] == ["home"]


FASTAPI_APP = """
from fastapi import FastAPI

app = FastAPI(title="Shop")

@app.get("/items")
def items():
    return {"version": 1}
"""


def _fastapi(modules: Any) -> Any:
    pytest.importorskip("fastapi", reason="FastAPI is in the test extra; missing only if not installed")
    modules.install()
    m = modules.make(FASTAPI_APP)
    client = _client(m.app)
    assert client.get("/items").json() == {"version": 1}
    assert client.get("/openapi.json").json()["info"]["title"] == "Shop"
    return m, m.app, client


def test_an_edited_fastapi_constructor_keeps_the_live_app_and_its_routes(modules: Any) -> None:
    m, app, client = _fastapi(modules)
    edited = FASTAPI_APP.replace('FastAPI(title="Shop")', 'FastAPI(title="Shop", version="2.0")') + (
        '\n@app.get("/health")\ndef health():\n    return {"ok": True}\n'
    )
    modules.edit(m, edited)
    report = hotreload.reload(m)
    assert m.app is app, report
    assert client.get("/items").json() == {"version": 1}  # registered by a statement that did not run again
    assert client.get("/health").json() == {"ok": True}
    info = client.get("/openapi.json").json()
    assert info["info"]["version"] == "2.0"
    assert sorted(info["paths"]) == ["/health", "/items"]
    assert client.get("/docs").status_code == 200


def test_middleware_added_to_a_live_app_is_refused_with_restart(modules: Any) -> None:
    m, app, client = _fastapi(modules)
    edited = FASTAPI_APP.replace(
        'app = FastAPI(title="Shop")',
        "from starlette.middleware import Middleware\n"
        "from starlette.middleware.gzip import GZipMiddleware\n\n"
        'app = FastAPI(title="Shop", middleware=[Middleware(GZipMiddleware)])',
    ).replace('{"version": 1}', '{"version": 2}')
    modules.edit(m, edited)
    with pytest.raises(hotreload.ReloadError, match=r"middleware.*restart") as raised:
        hotreload.reload(m)
    assert raised.value.lineno == 7 and raised.value.path is not None
    assert m.app is app
    assert client.get("/items").json() == {"version": 1}  # nothing of the edit applied


def test_a_route_decorator_edit_moves_the_route(modules: Any) -> None:
    m, app, client = _fastapi(modules)
    modules.edit(m, FASTAPI_APP.replace('@app.get("/items")', '@app.get("/goods")'))
    hotreload.reload(m)
    assert client.get("/goods").json() == {"version": 1}
    assert client.get("/items").status_code == 404  # the previous registration of the same definition
    modules.edit(m, FASTAPI_APP.replace('@app.get("/items")', '@app.get("/goods")').replace("1}", "2}"))
    hotreload.reload(m)
    assert client.get("/goods").json() == {"version": 2}  # the route holds the function the module keeps
    paths: List[Any] = [getattr(route, "path", None) for route in app.routes]
    assert paths.count("/goods") == 1


FLASK_APP = FLASK_BLUEPRINT_APP


def _flask(modules: Any) -> Any:
    pytest.importorskip("flask", reason="Flask is in the test extra; missing only if not installed")
    modules.install()
    m = modules.make(FLASK_APP)
    client = m.app.test_client()
    assert client.get("/items").get_data(as_text=True) == "items v1"  # served: Flask's setup guards are up
    return m, m.app, client


def _served(client: Any, path: str) -> Any:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def test_a_flask_route_decorator_edit_moves_the_route(modules: Any) -> None:
    m, app, client = _flask(modules)
    moved = FLASK_APP.replace('@app.route("/items")', '@app.route("/goods")').replace('"/about"', '"/info"')
    modules.edit(m, moved)
    hotreload.reload(m)
    assert _served(client, "/goods") == (200, "items v1")
    assert _served(client, "/items")[0] == 404
    assert _served(client, "/pages/info") == (200, "about v1")  # a registered blueprint's route, too
    assert _served(client, "/pages/about")[0] == 404

    modules.edit(m, moved.replace("items v1", "items v2").replace("about v1", "about v2"))
    hotreload.reload(m)
    assert _served(client, "/goods") == (200, "items v2")  # the view is the function the module keeps
    assert _served(client, "/pages/info") == (200, "about v2")
    assert sorted(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static") == ["/goods", "/pages/info"]


def test_a_failed_reload_puts_back_the_rules_a_moved_route_replaced(modules: Any) -> None:
    m, app, client = _flask(modules)
    moved = FLASK_APP.replace('@app.route("/items")', '@app.route("/goods")')
    modules.edit(m, moved + "\nraise RuntimeError('not yet')\n")
    with pytest.raises(hotreload.ReloadError, match="not yet"):
        hotreload.reload(m)
    assert _served(client, "/items") == (200, "items v1")
    assert _served(client, "/goods")[0] == 404
    modules.edit(m, moved)
    hotreload.reload(m)
    assert _served(client, "/goods") == (200, "items v1")


def test_an_edited_flask_constructor_is_refused_with_restart(modules: Any) -> None:
    m, app, client = _flask(modules)
    modules.edit(m, FLASK_APP.replace("Flask(__name__)", 'Flask(__name__, static_url_path="/assets")').replace("v1", "v2"))
    with pytest.raises(hotreload.ReloadError, match=r"app = Flask\(\.\.\.\).*restart") as raised:
        hotreload.reload(m)
    assert raised.value.lineno == 4
    assert m.app is app
    assert _served(client, "/items") == (200, "items v1")  # nothing of the edit applied


def test_an_edited_blueprint_constructor_of_a_registered_blueprint_is_refused(modules: Any) -> None:
    m, app, client = _flask(modules)
    modules.edit(m, FLASK_APP.replace('Blueprint("pages", __name__)', 'Blueprint("pages", __name__, url_prefix="/p")'))
    with pytest.raises(hotreload.ReloadError, match=r"pages = Blueprint\(\.\.\.\).*restart"):
        hotreload.reload(m)
    assert _served(client, "/pages/about") == (200, "about v1")
