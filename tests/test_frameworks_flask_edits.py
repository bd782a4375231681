"""Flask edits that once reported success and left the live app serving the old code.

Every test holds the app and a test client from before the edit, as a server
does, lets the app serve first (so Flask's setup guards are up), edits the
module and asks again.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import hotreload
import pytest

pytest.importorskip("flask", reason="Flask is in the test extra; missing only if not installed")


def _serve(modules: Any, source: str) -> Tuple[Any, Any]:
    modules.install()
    m = modules.make(source)
    client = m.app.test_client()
    client.get("/")  # the app has served
    return m, client


def _get(client: Any, path: str, method: str = "GET") -> Tuple[int, str]:
    response = client.open(path, method=method)
    return response.status_code, response.get_data(as_text=True)


def _rules(app: Any) -> List[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static")


HOOKS_APP = """
from flask import Flask, g

app = Flask(__name__)

@app.route("/")
def index():
    return getattr(g, "tag", "none")

@app.route("/gone")
def gone():
    return "still here"

@app.before_request
def tag():
    g.tag = "tagged"

@app.after_request
def header(response):
    response.headers["X-Hook"] = "on"
    return response

@app.errorhandler(404)
def not_found(error):
    return "custom 404", 404
"""


def test_deleted_routes_and_hooks_stop_running(modules: Any) -> None:
    m, client = _serve(modules, HOOKS_APP)
    assert _get(client, "/") == (200, "tagged")
    assert _get(client, "/nowhere") == (404, "custom 404")
    kept = HOOKS_APP[: HOOKS_APP.index('@app.route("/gone")')]
    modules.edit(m, kept)
    hotreload.reload(m)
    assert _get(client, "/") == (200, "none")
    assert "X-Hook" not in client.get("/").headers
    status, body = _get(client, "/gone")
    assert status == 404 and "custom 404" not in body


def test_a_renamed_view_serves_its_route_alone(modules: Any) -> None:
    m, client = _serve(modules, HOOKS_APP)
    modules.edit(m, HOOKS_APP.replace('def gone():\n    return "still here"', 'def went():\n    return "renamed"'))
    hotreload.reload(m)
    assert _get(client, "/gone") == (200, "renamed")
    assert "gone" not in m.app.view_functions and "went" in m.app.view_functions
    assert [rule.endpoint for rule in m.app.url_map.iter_rules() if rule.rule == "/gone"] == ["went"]


def test_an_edited_error_handler_code_handles_the_new_code_only(modules: Any) -> None:
    m, client = _serve(modules, HOOKS_APP + '\n@app.route("/only-get")\ndef only_get():\n    return "get"\n')
    edited = HOOKS_APP.replace("@app.errorhandler(404)", "@app.errorhandler(405)").replace('"custom 404", 404', '"custom 405", 405')
    modules.edit(m, edited + '\n@app.route("/only-get")\ndef only_get():\n    return "get"\n')
    hotreload.reload(m)
    assert _get(client, "/only-get", method="POST") == (405, "custom 405")
    status, body = _get(client, "/nowhere")
    assert status == 404 and "custom" not in body
    # The handler Flask holds is the module's function: a body edit reaches it.
    modules.edit(m, edited.replace('"custom 405"', '"edited 405"') + '\n@app.route("/only-get")\ndef only_get():\n    return "get"\n')
    hotreload.reload(m)
    assert _get(client, "/only-get", method="POST") == (405, "edited 405")


BLUEPRINTS_APP = """
from flask import Blueprint, Flask, g

app = Flask(__name__)
parent = Blueprint("parent", __name__)
child = Blueprint("child", __name__)
api = Blueprint("api", __name__)

@child.route("/a")
def a():
    return "a"

@api.route("/ping")
def ping():
    return "pong " + getattr(g, "who", "nobody")

@app.route("/")
def index():
    return "index"

parent.register_blueprint(child, url_prefix="/c")
app.register_blueprint(parent, url_prefix="/p")
app.register_blueprint(api, url_prefix="/v1")
app.register_blueprint(api, url_prefix="/v2", name="api2")
"""


def test_a_route_added_to_a_nested_blueprint_is_served(modules: Any) -> None:
    m, client = _serve(modules, BLUEPRINTS_APP)
    assert _get(client, "/p/c/a") == (200, "a")
    modules.edit(
        m,
        BLUEPRINTS_APP.replace(
            "parent.register_blueprint", '@child.route("/b")\ndef b():\n    return "b"\n\nparent.register_blueprint'
        ),
    )
    hotreload.reload(m)
    assert _get(client, "/p/c/b") == (200, "b")


def test_a_route_added_to_a_blueprint_registered_twice_is_served_under_both(modules: Any) -> None:
    m, client = _serve(modules, BLUEPRINTS_APP)
    modules.edit(
        m, BLUEPRINTS_APP.replace('@app.route("/")', '@api.route("/more")\ndef more():\n    return "more"\n\n@app.route("/")')
    )
    hotreload.reload(m)
    assert _get(client, "/v1/more") == (200, "more")
    assert _get(client, "/v2/more") == (200, "more")


def test_hooks_added_to_a_registered_blueprint_run(modules: Any) -> None:
    m, client = _serve(modules, BLUEPRINTS_APP)
    assert _get(client, "/v1/ping") == (200, "pong nobody")
    added = """
@api.before_request
def who():
    g.who = "api"

@api.errorhandler(KeyError)
def missing(error):
    return "no such key", 400

@api.route("/key")
def key():
    raise KeyError("k")

@api.app_template_filter()
def shout(text):
    return text.upper()

@app.route("/")"""
    modules.edit(m, BLUEPRINTS_APP.replace('@app.route("/")', added))
    hotreload.reload(m)
    assert _get(client, "/v1/ping") == (200, "pong api")
    assert _get(client, "/v2/ping") == (200, "pong api")
    assert _get(client, "/v1/key") == (400, "no such key")
    assert m.app.jinja_env.filters["shout"]("x") == "X"


def test_an_edited_register_blueprint_prefix_moves_its_routes(modules: Any) -> None:
    m, client = _serve(modules, BLUEPRINTS_APP)
    modules.edit(m, BLUEPRINTS_APP.replace('url_prefix="/v1")', 'url_prefix="/v3")'))
    hotreload.reload(m)
    assert _get(client, "/v3/ping") == (200, "pong nobody")
    assert _get(client, "/v1/ping")[0] == 404
    assert _get(client, "/v2/ping") == (200, "pong nobody")  # the other registration stays


VIEWS_APP = """
from flask import Flask
from flask.views import MethodView

app = Flask(__name__)

class Items(MethodView):
    def get(self):
        return "list"

def hello():
    return "hello"

def other():
    return "other"

app.add_url_rule("/items", view_func=Items.as_view("items"))
app.add_url_rule("/hi", "hello", hello)

@app.route("/")
def index():
    return "index"
"""


def test_a_method_added_to_a_method_view_is_served(modules: Any) -> None:
    m, client = _serve(modules, VIEWS_APP)
    assert _get(client, "/items", method="POST")[0] == 405
    modules.edit(
        m, VIEWS_APP.replace('        return "list"\n', '        return "list"\n\n    def post(self):\n        return "created"\n')
    )
    hotreload.reload(m)
    assert _get(client, "/items", method="POST") == (200, "created")
    assert _get(client, "/items") == (200, "list")


def test_add_url_rule_pointed_at_another_view(modules: Any) -> None:
    m, client = _serve(modules, VIEWS_APP)
    assert _get(client, "/hi") == (200, "hello")
    modules.edit(m, VIEWS_APP.replace('app.add_url_rule("/hi", "hello", hello)', 'app.add_url_rule("/hi", "hello", other)'))
    hotreload.reload(m)
    assert _get(client, "/hi") == (200, "other")
    assert _rules(m.app) == ["/", "/hi", "/items"]


def test_an_endpoint_given_a_new_name_leaves_the_old_one(modules: Any) -> None:
    m, client = _serve(modules, VIEWS_APP)
    modules.edit(m, VIEWS_APP.replace('@app.route("/")', '@app.route("/", endpoint="home")'))
    hotreload.reload(m)
    assert _get(client, "/") == (200, "index")
    assert "index" not in m.app.view_functions and "home" in m.app.view_functions
    with m.app.test_request_context():
        import flask

        assert flask.url_for("home") == "/"
