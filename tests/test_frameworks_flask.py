"""Flask apps under ``python -m hotreload run``: edits are served by the next request, state stays.

Each test writes a Flask app as a user would, runs it under hotreload with a
real server on 127.0.0.1, saves edits to its files and asks it over HTTP.
"""

from __future__ import annotations

import pytest
from servers import Server, free_port, write_app

pytest.importorskip("flask", reason="Flask is in the test extra; missing only if not installed")

APP = """
    import sys
    from flask import Flask
    from views import pages

    app = Flask(__name__)
    app.register_blueprint(pages, url_prefix="/pages")
    HITS = {"count": 0}

    @app.route("/count")
    def count():
        HITS["count"] += 1
        return f"count {HITS['count']}"

    @app.route("/hello")
    def hello():
        return "hello v1"

    if __name__ == "__main__":
        # debug=True would start werkzeug's restarting reloader: hotreload turns it off.
        app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=True)
"""

VIEWS = """
    from flask import Blueprint

    pages = Blueprint("pages", __name__)

    @pages.route("/about")
    def about():
        return "about v1"
"""

EDITED_APP = APP.replace('"hello v1"', '"hello v2"').replace(
    "    if __name__",
    """    @app.route("/added")
    def added():
        return f"added, count is {HITS['count']}"

    from flask import Blueprint
    extra = Blueprint("extra", __name__)

    @extra.route("/ping")
    def ping():
        return "pong"

    app.register_blueprint(extra, url_prefix="/extra")

    if __name__""",
)

EDITED_VIEWS = (
    VIEWS.replace('"about v1"', '"about v2"')
    + """
    @pages.route("/contact")
    def contact():
        return "contact"
"""
)


def _exercise(server: Server) -> None:
    server.started("/hello")
    assert server.get("/count") == (200, "count 1")
    assert server.get("/count") == (200, "count 2")
    assert server.get("/pages/about") == (200, "about v1")

    server.edit("app.py", EDITED_APP)
    server.wait_for("/hello", lambda status, body: body == "hello v2")
    assert server.get("/added") == (200, "added, count is 2")  # a new route, on the live app, with its state
    assert server.get("/extra/ping") == (200, "pong")  # a new blueprint
    assert server.get("/count") == (200, "count 3")

    server.edit("views.py", EDITED_VIEWS)
    server.wait_for("/pages/about", lambda status, body: body == "about v2")
    assert server.get("/pages/contact") == (200, "contact")  # a route added to a registered blueprint
    assert server.get("/count") == (200, "count 4")


def test_app_run_script(tmp_path):
    write_app(tmp_path, {"app.py": APP, "views.py": VIEWS})
    port = free_port()
    server = Server(tmp_path, ["app.py", str(port)], port)
    try:
        _exercise(server)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    assert "Restarting with" not in output  # werkzeug's own reloader never started


def test_flask_command(tmp_path):
    write_app(tmp_path, {"app.py": APP, "views.py": VIEWS})
    port = free_port()
    server = Server(tmp_path, ["-m", "flask", "--app", "app", "run", "--debug", "--port", str(port)], port)
    try:
        _exercise(server)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    assert "Restarting with" not in output


def test_a_broken_edit_keeps_serving_the_last_good_code(tmp_path):
    write_app(tmp_path, {"app.py": APP, "views.py": VIEWS})
    port = free_port()
    server = Server(tmp_path, ["app.py", str(port)], port)
    try:
        server.started("/hello")
        server.edit("app.py", APP.replace('return "hello v1"', 'return "hello v1" +'))
        server.wait_for("/count", lambda status, body: "error" in server.output())
        assert server.get("/hello") == (200, "hello v1")
        server.edit("app.py", EDITED_APP)
        server.wait_for("/hello", lambda status, body: body == "hello v2")
    finally:
        output = server.stop()
    assert "app.py:17: SyntaxError" in output  # file and line of the broken edit
