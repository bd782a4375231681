"""FastAPI edits that once reported success and left the running app serving the old code.

Each test holds the app and a TestClient from before the edit, as a server
does, and asks it after the reload.
"""

from __future__ import annotations

from typing import Any

import hotreload
import pytest

pytest.importorskip("fastapi", reason="FastAPI is in the test extra; missing only if not installed")
pytest.importorskip("httpx", reason="httpx (for TestClient) is in the test extra")


def _client(app: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app)


ROUTER_APP = """
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

router = APIRouter()

class Item(BaseModel):
    name: str

@router.get("/items")
def items(q: int = 1):
    return {"q": q}

@router.post("/items")
def create(item: Item):
    return item.model_dump()

app = FastAPI()
app.include_router(router, prefix="/api")
"""


def test_an_endpoint_of_an_included_router_gets_its_new_signature(modules: Any) -> None:
    modules.install()
    m = modules.make(ROUTER_APP)
    client = _client(m.app)
    assert client.get("/api/items?q=5").json() == {"q": 5}
    modules.edit(
        m,
        ROUTER_APP.replace(
            'def items(q: int = 1):\n    return {"q": q}', 'def items(q: int = 1, r: str = \'x\'):\n    return {"q": q, "r": r}'
        ),
    )
    hotreload.reload(m)
    assert client.get("/api/items?q=5&r=z").json() == {"q": 5, "r": "z"}


def test_a_field_added_to_a_body_model_of_an_included_router_is_validated(modules: Any) -> None:
    modules.install()
    m = modules.make(ROUTER_APP)
    client = _client(m.app)
    assert client.post("/api/items", json={"name": "pen"}).json() == {"name": "pen"}
    modules.edit(m, ROUTER_APP.replace("    name: str\n", "    name: str\n    qty: int = 1\n"))
    hotreload.reload(m)
    assert client.post("/api/items", json={"name": "pen", "qty": 3}).json() == {"name": "pen", "qty": 3}
    assert client.post("/api/items", json={"name": "pen", "qty": "many"}).status_code == 422


ASYNC_APP = """
from fastapi import FastAPI

app = FastAPI()

@app.get("/x")
{kind}def x():
    return "{kind}v"
"""


@pytest.mark.parametrize(("before", "after"), [("async ", ""), ("", "async ")])
def test_an_endpoint_turned_to_or_from_a_coroutine_function_is_called_as_it_is_now(modules: Any, before: str, after: str) -> None:
    modules.install()
    m = modules.make(ASYNC_APP.format(kind=before))
    client = _client(m.app)
    assert client.get("/x").json() == f"{before}v"
    modules.edit(m, ASYNC_APP.format(kind=after))
    hotreload.reload(m)
    assert client.get("/x").json() == f"{after}v"


def test_a_dependency_in_another_module_gains_a_parameter(modules: Any) -> None:
    modules.install()
    deps = modules.make("def get_user():\n    return 'alice'\n", hint="deps")
    app_source = f"""
from fastapi import Depends, FastAPI
from {deps.__name__} import get_user

app = FastAPI()

@app.get("/me")
def me(user: str = Depends(get_user)):
    return user
"""
    m = modules.make(app_source)
    client = _client(m.app)
    assert client.get("/me").json() == "alice"
    modules.edit(deps, "from fastapi import Header\n\ndef get_user(x_user: str = Header('anon')):\n    return 'u:' + x_user\n")
    hotreload.reload(deps)
    assert client.get("/me", headers={"x-user": "bob"}).json() == "u:bob"


def test_a_model_nested_from_a_third_module_reaches_validation_and_the_schema(modules: Any) -> None:
    modules.install()
    inner = modules.make("from pydantic import BaseModel\n\nclass Item(BaseModel):\n    name: str\n", hint="inner")
    outer = modules.make(
        f"from pydantic import BaseModel\nfrom {inner.__name__} import Item\n\nclass Order(BaseModel):\n    first: Item\n",
        hint="outer",
    )
    m = modules.make(
        f"from fastapi import FastAPI\nfrom {outer.__name__} import Order\n\napp = FastAPI()\n\n"
        '@app.post("/orders", response_model=Order)\ndef order(o: Order):\n    return o\n'
    )
    client = _client(m.app)
    assert client.post("/orders", json={"first": {"name": "x"}}).json() == {"first": {"name": "x"}}
    modules.edit(inner, "from pydantic import BaseModel\n\nclass Item(BaseModel):\n    name: str\n    qty: int = 7\n")
    hotreload.reload(inner)
    assert client.post("/orders", json={"first": {"name": "x"}}).json() == {"first": {"name": "x", "qty": 7}}
    assert client.post("/orders", json={"first": {"name": "x", "qty": "zz"}}).status_code == 422
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert sorted(schemas["Item"]["properties"]) == ["name", "qty"]


OVERRIDE_APP = """
from typing import Annotated

from fastapi import Depends, FastAPI

app = FastAPI()

def get_db():
    return "db1"

@app.get("/default")
def by_default(db: str = Depends(get_db)):
    return db

@app.get("/annotated")
def by_annotation(db: Annotated[str, Depends(get_db)]):
    return db
"""


def test_dependency_overrides_keep_applying_after_the_dependency_and_endpoints_are_edited(modules: Any) -> None:
    modules.install()
    m = modules.make(OVERRIDE_APP)
    client = _client(m.app)
    m.app.dependency_overrides[m.get_db] = lambda: "override"
    assert client.get("/default").json() == client.get("/annotated").json() == "override"
    edited = OVERRIDE_APP.replace('"db1"', '"db2"').replace("return db", "return db + '!'")
    modules.edit(m, edited)
    hotreload.reload(m)
    assert client.get("/default").json() == client.get("/annotated").json() == "override!"
    m.app.dependency_overrides.clear()
    assert client.get("/default").json() == "db2!"
    modules.edit(m, edited.replace('"db2"', '"db3"'))  # only the dependency: the routes must reach it
    hotreload.reload(m)
    assert client.get("/annotated").json() == "db3!"


HANDLER_APP = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()

@app.get("/ve")
def ve():
    raise ValueError("bad")
"""


def test_an_exception_handler_added_after_the_first_request_handles(modules: Any) -> None:
    modules.install()
    m = modules.make(HANDLER_APP)
    client = _client(m.app)
    with pytest.raises(ValueError):
        client.get("/ve")  # the app has served: its middleware stack is built
    edited = HANDLER_APP + (
        "\n@app.exception_handler(ValueError)\ndef on_value_error(request, error):\n"
        '    return JSONResponse({"error": str(error)}, status_code=400)\n'
    )
    modules.edit(m, edited)
    hotreload.reload(m)
    response = client.get("/ve")
    assert (response.status_code, response.json()) == (400, {"error": "bad"})


def test_a_renamed_endpoint_serves_its_route_alone(modules: Any) -> None:
    source = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n@app.get("/items")\ndef items():\n    return "v1"\n'
    modules.install()
    m = modules.make(source)
    client = _client(m.app)
    assert client.get("/items").json() == "v1"
    modules.edit(m, source.replace('def items():\n    return "v1"', 'def list_items():\n    return "v2"'))
    hotreload.reload(m)
    assert client.get("/items").json() == "v2"
    assert [route.name for route in m.app.routes if getattr(route, "path", None) == "/items"] == ["list_items"]


CATCH_ALL_APP = """
from fastapi import FastAPI

app = FastAPI()

@app.get("/items")
def items():
    return "items"

@app.get("/{path:path}")
def spa(path: str):
    return "spa:" + path
"""


def test_a_route_added_above_a_catch_all_route_is_matched_first(modules: Any) -> None:
    modules.install()
    m = modules.make(CATCH_ALL_APP)
    client = _client(m.app)
    assert client.get("/api/users").json() == "spa:api/users"
    edited = CATCH_ALL_APP.replace(
        '@app.get("/{path:path}")', '@app.get("/api/users")\ndef users():\n    return "users"\n\n@app.get("/{path:path}")'
    )
    modules.edit(m, edited)
    hotreload.reload(m)
    assert client.get("/api/users").json() == "users"
    assert client.get("/elsewhere").json() == "spa:elsewhere"
    assert client.get("/items").json() == "items"


MIDDLEWARE_APP = """
from fastapi import FastAPI

app = FastAPI()
SEEN = []

class Counting:
    def __init__(self, app):
        self.app = app
        self.count = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.count += 1
            SEEN.append(self.count)
        await self.app(scope, receive, send)

app.add_middleware(Counting)

@app.get("/")
def index():
    return "v1"
"""


def test_middleware_keeps_its_state_across_reloads_and_new_middleware_applies(modules: Any) -> None:
    modules.install()
    m = modules.make(MIDDLEWARE_APP)
    client = _client(m.app)
    client.get("/")
    client.get("/")
    modules.edit(m, MIDDLEWARE_APP.replace('"v1"', '"v2"'))
    hotreload.reload(m)
    assert client.get("/").json() == "v2"
    assert m.SEEN == [1, 2, 3]  # the same middleware instance: an unrelated edit rebuilt nothing
    stamped = MIDDLEWARE_APP.replace('"v1"', '"v2"') + (
        '\n@app.middleware("http")\nasync def stamp(request, call_next):\n'
        '    response = await call_next(request)\n    response.headers["X-Stamp"] = "on"\n    return response\n'
    )
    modules.edit(m, stamped)
    hotreload.reload(m)
    assert client.get("/").headers.get("X-Stamp") == "on"
