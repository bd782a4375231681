"""FastAPI apps under uvicorn, run by ``python -m hotreload run``: edits reach the next request.

Edited endpoints, new routes (on the app and on an included router), and an
edited request/response model are reflected in validation and in the OpenAPI
schema, with in-memory state kept.
"""

from __future__ import annotations

import json

import pytest
from servers import Server, free_port, write_app

pytest.importorskip("fastapi", reason="FastAPI is in the test extra; missing only if not installed")
pytest.importorskip("uvicorn", reason="uvicorn is in the test extra; missing only if not installed")

MODELS = """
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
"""

ROUTES = """
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/status")
    def status():
        return {"status": "ok"}
"""

APP = """
    import sys
    from fastapi import FastAPI
    from models import Item
    from routes import router

    app = FastAPI()
    app.include_router(router, prefix="/api")
    STORE = []

    @app.post("/items")
    def create(item: Item) -> Item:
        STORE.append(item)
        return item

    @app.get("/count")
    def count():
        return {"count": len(STORE), "version": 1}

    if __name__ == "__main__":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", reload=False)
"""


def _post(server: Server, body: dict):
    return server.get("/items", json.dumps(body).encode())


def _exercise(server: Server) -> None:
    server.started("/count")
    assert _post(server, {"name": "a"})[0] == 200
    assert json.loads(server.get("/count")[1]) == {"count": 1, "version": 1}

    # The request/response model gains a field: validation and the schema follow.
    server.edit("models.py", MODELS + "        price: int = 0\n")
    server.wait_for("/openapi.json", lambda status, body: "price" in body)
    status, body = _post(server, {"name": "b", "price": 3})
    assert status == 200 and json.loads(body) == {"name": "b", "price": 3}
    assert _post(server, {"name": "c", "price": "not a number"})[0] == 422

    # The endpoint is edited and a route is added, in the app and in the included router.
    server.edit(
        "main.py",
        APP.replace('"version": 1', '"version": 2')
        + """
    @app.get("/names")
    def names():
        return [item.name for item in STORE]
""",
    )
    server.wait_for("/count", lambda status, body: '"version":2' in body.replace(" ", ""))
    assert json.loads(server.get("/count")[1]) == {"count": 2, "version": 2}  # the store survived
    assert json.loads(server.get("/names")[1]) == ["a", "b"]
    server.edit(
        "routes.py",
        ROUTES
        + """
    @router.get("/health")
    def health():
        return {"healthy": True}
""",
    )
    server.wait_for("/api/health", lambda status, body: status == 200)
    assert "/api/health" in json.loads(server.get("/openapi.json")[1])["paths"]
    assert "/names" in json.loads(server.get("/openapi.json")[1])["paths"]


def test_uvicorn_command(tmp_path):
    write_app(tmp_path, {"main.py": APP, "models.py": MODELS, "routes.py": ROUTES})
    port = free_port()
    server = Server(tmp_path, ["-m", "uvicorn", "main:app", "--port", str(port), "--reload", "--log-level", "warning"], port)
    try:
        _exercise(server)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    assert "Started reloader process" not in output  # uvicorn's own reloader never started


def test_uvicorn_run_in_process(tmp_path):
    write_app(tmp_path, {"main.py": APP, "models.py": MODELS, "routes.py": ROUTES})
    port = free_port()
    server = Server(tmp_path, ["main.py", str(port)], port)
    try:
        _exercise(server)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
