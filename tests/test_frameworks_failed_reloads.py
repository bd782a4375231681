"""A reload that fails after its new statements ran leaves the live app as it was.

A reload runs its new statements against the live objects, so ``@app.route``
registers on the live app before the reload knows whether the rest succeeds.
When the reload is then refused (a later statement raises, a class edit is
refused) the app must not keep the half-applied route: it would answer with a
view the program never committed to, and the user's fixed edit would be
refused by the framework as a duplicate registration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any, List

import hotreload
import pytest
from apps import FLASK_BLUEPRINT_APP
from servers import write_app

FLASK_APP = FLASK_BLUEPRINT_APP

FLASK_ADDITIONS = """
@app.route("/new")
def new():
    return "new {version}"

@pages.route("/contact")
def contact():
    return "contact {version}"

extra = Blueprint("extra", __name__)

@extra.route("/ping")
def ping():
    return "pong {version}"

app.register_blueprint(extra, url_prefix="/extra")

@app.before_request
def stamp():
    pass

@app.errorhandler(418)
def teapot(error):
    return "teapot", 418
"""


def _flask_edit(version: str, failing: str = "") -> str:
    return FLASK_APP + FLASK_ADDITIONS.format(version=version) + failing


def _rules(app: Any) -> List[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules())


def _text(client: Any, path: str) -> Any:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def _flask_app(modules: Any) -> Any:
    pytest.importorskip("flask", reason="Flask is in the test extra; missing only if not installed")
    modules.install()
    m = modules.make(FLASK_APP)
    client = m.app.test_client()
    assert _text(client, "/items") == (200, "items v1")  # the app has served: Flask's setup guards are up
    return m, client


def _flask_state(app: Any) -> Any:
    hooks = {scope: list(funcs) for scope, funcs in app.before_request_funcs.items() if funcs}
    return _rules(app), sorted(app.view_functions), sorted(app.blueprints), hooks, dict(app.error_handler_spec)


def test_a_flask_reload_that_raises_after_adding_routes_takes_them_out(modules: Any) -> None:
    m, client = _flask_app(modules)
    app = m.app
    before = _flask_state(app)

    modules.edit(m, _flask_edit("bad", failing="\nraise RuntimeError('configuration missing')\n"))
    with pytest.raises(hotreload.ReloadError, match="configuration missing"):
        hotreload.reload(m)

    assert _flask_state(app) == before
    assert _text(client, "/new")[0] == 404
    assert _text(client, "/pages/contact")[0] == 404
    assert _text(client, "/extra/ping")[0] == 404
    assert _text(client, "/pages/about") == (200, "about v1")

    # The fixed edit registers everything afresh: no "overwriting an existing endpoint",
    # no "name 'extra' is already registered", and the committed views are the ones served.
    modules.edit(m, _flask_edit("good"))
    hotreload.reload(m)
    assert _text(client, "/new") == (200, "new good")
    assert _text(client, "/pages/contact") == (200, "contact good")
    assert _text(client, "/extra/ping") == (200, "pong good")
    assert len(app.before_request_funcs[None]) == 1


def test_a_flask_reload_refused_after_its_run_takes_the_routes_out(modules: Any) -> None:
    m, client = _flask_app(modules)
    slotted = "\nclass Point:\n    __slots__ = ('x',)\n"
    modules.edit(m, FLASK_APP + slotted)
    hotreload.reload(m)
    app = m.app
    before = _flask_state(app)

    # The run succeeds; folding the new Point into the live one is refused (its layout changed).
    modules.edit(m, _flask_edit("bad") + slotted.replace("('x',)", "('x', 'y')"))
    with pytest.raises(hotreload.ReloadError, match="Point"):
        hotreload.reload(m)

    assert _flask_state(app) == before
    assert _text(client, "/new")[0] == 404
    modules.edit(m, _flask_edit("good") + slotted)
    hotreload.reload(m)
    assert _text(client, "/new") == (200, "new good")


FASTAPI_APP = """
from fastapi import APIRouter, FastAPI

app = FastAPI()
router = APIRouter()

@router.get("/listed")
def listed():
    return {"version": 1}

app.include_router(router, prefix="/api")

@app.get("/")
def index():
    return {"version": 1}
"""

FASTAPI_ADDITIONS = """
@app.get("/new")
def new():
    return {{"version": "{version}"}}
"""


def _paths(app: Any) -> List[Any]:
    return [getattr(route, "path", route) for route in app.routes]  # FastAPI 0.13x includes routers whole


def test_a_fastapi_reload_that_raises_after_adding_a_route_takes_it_out(modules: Any) -> None:
    pytest.importorskip("fastapi", reason="FastAPI is in the test extra; missing only if not installed")
    pytest.importorskip("httpx", reason="httpx (for TestClient) is in the test extra")
    from fastapi.testclient import TestClient

    modules.install()
    m = modules.make(FASTAPI_APP)
    app = m.app
    client = TestClient(app)
    assert client.get("/").json() == {"version": 1}
    paths = _paths(app)

    failing = FASTAPI_APP + FASTAPI_ADDITIONS.format(version="bad") + "\nraise RuntimeError('no database')\n"
    modules.edit(m, failing)
    with pytest.raises(hotreload.ReloadError, match="no database"):
        hotreload.reload(m)
    assert _paths(app) == paths
    assert client.get("/new").status_code == 404

    # Starlette would serve the first of two "/new" routes: the failed run's must be gone.
    modules.edit(m, FASTAPI_APP + FASTAPI_ADDITIONS.format(version="good"))
    hotreload.reload(m)
    assert client.get("/new").json() == {"version": "good"}
    assert _paths(app).count("/new") == 1
    assert "/new" in client.get("/openapi.json").json()["paths"]


# -- Django: admin registrations and template tags, in a process of its own (django.setup is global)

DJANGO_MODELS = """
    from django.db import models

    class Product(models.Model):
        name = models.CharField(max_length=40)

    class Tag(models.Model):
        label = models.CharField(max_length=40)
"""

DJANGO_ADMIN = """
    from django.contrib import admin
    from shop.models import Product, Tag

    @admin.register(Product)
    class ProductAdmin(admin.ModelAdmin):
        list_display = ("name",)
"""

DJANGO_TAG_ADMIN = """
    @admin.register(Tag)
    class TagAdmin(admin.ModelAdmin):
        list_display = {display}
"""

DJANGO_TAGS = """
    from django import template

    register = template.Library()

    @register.simple_tag
    def greet(name):
        return "hello " + name
"""

DJANGO_SHOUT = """
    @register.simple_tag
    def shout(name):
        return name.upper() + {suffix!r}
"""

DJANGO_SCRIPT = """
    import json, os, sys, textwrap
    import django
    from django.conf import settings
    import hotreload

    settings.configure(
        SECRET_KEY="test-only",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                        "django.contrib.sessions", "django.contrib.messages", "shop"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    )
    hotreload.install()
    django.setup()
    from django.contrib import admin
    from django.template import Context, Template
    import shop.admin, shop.models
    from shop.templatetags import shop_tags

    def edit(module, source):
        path = module.__file__
        stat = os.stat(path)
        with open(path, "w") as file:
            file.write(source)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))

    def attempt(module, source):
        edit(module, source)
        try:
            hotreload.reload(module)
            return "ok"
        except hotreload.ReloadError as error:
            return str(error)

    def render(text):
        try:
            return Template("{% load shop_tags %}" + text).render(Context())
        except Exception as error:
            return type(error).__name__

    edits = json.loads(sys.argv[1])
    result = {"failed_admin": attempt(shop.admin, edits["admin_bad"])}
    result["tag_registered_after_failure"] = shop.models.Tag in admin.site._registry
    result["fixed_admin"] = attempt(shop.admin, edits["admin_good"])
    entry = admin.site._registry.get(shop.models.Tag)
    result["tag_display"] = list(entry.list_display) if entry is not None else None
    result["tag_admin_is_the_module_class"] = entry is not None and type(entry) is shop.admin.TagAdmin
    result["failed_tags"] = attempt(shop_tags, edits["tags_bad"])
    result["shout_after_failure"] = render("{% shout 'ada' %}")
    result["fixed_tags"] = attempt(shop_tags, edits["tags_good"])
    result["shout_after_fix"] = render("{% shout 'ada' %}")
    print(json.dumps(result))
"""


def test_a_django_reload_that_fails_leaves_no_admin_registration_or_template_tag(tmp_path: Any) -> None:
    pytest.importorskip("django", reason="Django is in the test extra; missing only if not installed")
    write_app(
        tmp_path,
        {
            "run.py": DJANGO_SCRIPT,
            "shop/__init__.py": "",
            "shop/models.py": DJANGO_MODELS,
            "shop/admin.py": DJANGO_ADMIN,
            "shop/templatetags/__init__.py": "",
            "shop/templatetags/shop_tags.py": DJANGO_TAGS,
        },
    )
    raising = "\n    raise RuntimeError('half-way')\n"
    edits = {
        "admin_bad": DJANGO_ADMIN + DJANGO_TAG_ADMIN.format(display='("label",)') + raising,
        "admin_good": DJANGO_ADMIN + DJANGO_TAG_ADMIN.format(display='("label", "id")'),
        "tags_bad": DJANGO_TAGS + DJANGO_SHOUT.format(suffix="?") + raising,
        "tags_good": DJANGO_TAGS + DJANGO_SHOUT.format(suffix="!"),
    }
    edits = {name: textwrap.dedent(source) for name, source in edits.items()}
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    finished = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), json.dumps(edits)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert "half-way" in result["failed_admin"]
    assert result["tag_registered_after_failure"] is False
    assert result["fixed_admin"] == "ok"
    assert result["tag_display"] == ["label", "id"]  # the committed TagAdmin, not the failed run's
    assert result["tag_admin_is_the_module_class"] is True
    assert "half-way" in result["failed_tags"]
    assert result["shout_after_failure"] == "TemplateSyntaxError"  # the failed run's tag is gone
    assert result["fixed_tags"] == "ok"
    assert result["shout_after_fix"] == "ADA!"
