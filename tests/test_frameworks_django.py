"""A Django project under ``python -m hotreload run manage.py runserver``.

Django's own autoreloader is off; edited views, URL patterns (new ones too),
forms, template tags, admin options and model methods are served by the next
request with in-memory state kept; a model field change is refused with a
"restart" error and the server keeps running the last good code.
"""

from __future__ import annotations

import json

import pytest
from servers import Server, free_port, write_app

pytest.importorskip("django", reason="Django is in the test extra; missing only if not installed")

SETTINGS = """
    SECRET_KEY = "test-only"
    DEBUG = True
    ALLOWED_HOSTS = ["127.0.0.1"]
    ROOT_URLCONF = "site_urls"
    INSTALLED_APPS = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "shop",
    ]
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    TEMPLATES = [{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
    DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
    USE_TZ = True
"""

MANAGE = """
    import os
    import sys

    if __name__ == "__main__":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
"""

SITE_URLS = """
    from django.urls import include, path

    urlpatterns = [path("shop/", include("shop.urls"))]
"""

MODELS = """
    from django.db import models

    class Product(models.Model):
        name = models.CharField(max_length=40)
        price = models.IntegerField(default=0)

        def label(self):
            return "product " + self.name
"""

VIEWS = """
    import json
    from django.contrib import admin
    from django.http import HttpResponse
    from django.template import Context, Template
    from shop.forms import ProductForm
    from shop.models import Product

    VISITS = []

    def visit(request):
        VISITS.append(1)
        return HttpResponse(f"visits {len(VISITS)}")

    def label(request):
        return HttpResponse(Product(name="lamp").label())

    def form(request):
        bound = ProductForm({"name": request.GET.get("name", "")})
        return HttpResponse(json.dumps({"valid": bound.is_valid(), "errors": list(bound.errors)}))

    def tag(request):
        return HttpResponse(Template("{% load shop_tags %}{% greet 'ada' %}").render(Context()))

    def admin_options(request):
        return HttpResponse(json.dumps(list(admin.site._registry[Product].list_display)))
"""

URLS = """
    from django.urls import path
    from shop import views

    urlpatterns = [
        path("visit", views.visit),
        path("label", views.label),
        path("form", views.form),
        path("tag", views.tag),
        path("admin-options", views.admin_options),
    ]
"""

FORMS = """
    from django import forms

    class ProductForm(forms.Form):
        name = forms.CharField(max_length=40)
"""

TAGS = """
    from django import template

    register = template.Library()

    @register.simple_tag
    def greet(name):
        return "hello " + name
"""

ADMIN = """
    from django.contrib import admin
    from shop.models import Product

    @admin.register(Product)
    class ProductAdmin(admin.ModelAdmin):
        list_display = ("name",)
"""


def _project(directory) -> None:
    write_app(
        directory,
        {
            "manage.py": MANAGE,
            "settings.py": SETTINGS,
            "site_urls.py": SITE_URLS,
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/views.py": VIEWS,
            "shop/urls.py": URLS,
            "shop/forms.py": FORMS,
            "shop/admin.py": ADMIN,
            "shop/templatetags/__init__.py": "",
            "shop/templatetags/shop_tags.py": TAGS,
        },
    )


def test_runserver_serves_edits_and_keeps_state(tmp_path):
    _project(tmp_path)
    port = free_port()
    server = Server(tmp_path, ["manage.py", "runserver", f"127.0.0.1:{port}"], port)
    try:
        server.started("/shop/visit")
        assert server.get("/shop/visit") == (200, "visits 2")

        server.edit("shop/views.py", VIEWS.replace('f"visits {len(VISITS)}"', 'f"visits now {len(VISITS)}"'))
        _, body = server.wait_for("/shop/visit", lambda status, body: body.startswith("visits now"))
        seen = int(body.split()[-1])
        assert seen >= 3  # the list survived the reload
        assert server.get("/shop/visit") == (200, f"visits now {seen + 1}")

        server.edit("shop/urls.py", URLS.replace("    ]", '        path("new", views.visit),\n    ]'))
        server.wait_for("/shop/new", lambda status, body: status == 200)

        server.edit("shop/models.py", MODELS.replace('"product "', '"item "'))
        server.wait_for("/shop/label", lambda status, body: body == "item lamp")

        server.edit("shop/forms.py", FORMS.replace("max_length=40", "max_length=3"))
        server.wait_for("/shop/form?name=abcdef", lambda status, body: json.loads(body)["valid"] is False)
        assert json.loads(server.get("/shop/form?name=abc")[1])["valid"] is True

        server.edit("shop/templatetags/shop_tags.py", TAGS.replace('"hello "', '"welcome "'))
        server.wait_for("/shop/tag", lambda status, body: body == "welcome ada")

        server.edit("shop/admin.py", ADMIN.replace('("name",)', '("name", "price")'))
        server.wait_for("/shop/admin-options", lambda status, body: json.loads(body) == ["name", "price"])

        # A field change is refused, naming the model and the field; the server keeps going.
        server.edit("shop/models.py", MODELS.replace('"product "', '"thing "') + "        stock = models.IntegerField(default=0)\n")
        server.wait_for("/shop/visit", lambda status, body: "Product.stock" in server.output())
        assert server.get("/shop/label") == (200, "item lamp")
    finally:
        output = server.stop()
    assert "restart" in output and "models.py" in output
    assert "already registered" not in output and "Conflicting" not in output
    assert "Watching for file changes" not in output  # Django's autoreloader never started
