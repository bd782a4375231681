"""Real frameworks reloaded in place: only the edited statements run (SPEC: "Module reload").

Flask and FastAPI apps gain routes on the live app, SQLAlchemy and pydantic models survive an
unrelated edit untouched, click groups get edited and new commands and options.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import hotreload
import pytest

# -- Flask ----------------------------------------------------------------------------------------

FLASK_APP = """
from flask import Flask

app = Flask(__name__)

@app.route("/")
def index():
    return "index v1"
"""

FLASK_APP_WITH_ROUTE = (
    FLASK_APP.replace("index v1", "index v2")
    + """
@app.route("/new")
def new():
    return "new route"
"""
)


def test_a_flask_app_gains_a_route_on_the_live_app(modules: Any) -> None:
    pytest.importorskip("flask", reason="Flask is not installed for this Python version")
    modules.install()
    m = modules.make(FLASK_APP)
    app = m.app
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "index v1"
    assert client.get("/new").status_code == 404

    modules.edit(m, FLASK_APP_WITH_ROUTE)
    report = hotreload.reload(m)

    assert m.app is app, "the app statement ran again"
    assert client.get("/").get_data(as_text=True) == "index v2"
    response = client.get("/new")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "new route"
    assert report.statements_run == 2


def test_a_flask_route_added_before_the_first_request_is_on_the_live_app(modules: Any) -> None:
    pytest.importorskip("flask", reason="Flask is not installed for this Python version")
    modules.install()
    m = modules.make(FLASK_APP)
    app = m.app

    modules.edit(m, FLASK_APP_WITH_ROUTE)
    hotreload.reload(m)

    assert m.app is app
    assert sorted(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static") == ["/", "/new"]
    client = app.test_client()
    assert client.get("/new").get_data(as_text=True) == "new route"
    assert client.get("/").get_data(as_text=True) == "index v2"


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_a_running_flask_server_answers_the_new_route(modules: Any, serve: Any) -> None:
    pytest.importorskip("flask", reason="Flask is not installed for this Python version")
    modules.install()
    m = modules.make(FLASK_APP)
    app = m.app
    base = serve(app)
    assert _get(base + "/") == (200, "index v1")
    assert _get(base + "/new")[0] == 404

    modules.edit(m, FLASK_APP_WITH_ROUTE)
    hotreload.reload(m)

    assert m.app is app
    assert _get(base + "/new") == (200, "new route")
    assert _get(base + "/") == (200, "index v2")


def test_a_served_flask_view_gets_its_edit(modules: Any, serve: Any) -> None:
    pytest.importorskip("flask", reason="Flask is not installed for this Python version")
    modules.install()
    m = modules.make(FLASK_APP)
    app, index = m.app, m.app.view_functions["index"]
    base = serve(app)
    assert _get(base + "/") == (200, "index v1")

    modules.edit(m, FLASK_APP.replace("index v1", "index v2"))
    report = hotreload.reload(m)

    assert m.app is app and app.view_functions["index"] is index
    assert _get(base + "/") == (200, "index v2")
    assert report.statements_run == 1


# -- FastAPI --------------------------------------------------------------------------------------

FASTAPI_APP = """
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float = 0.0


@app.post("/items")
def create_item(item: Item):
    return {"name": item.name, "price": item.price, "kind": type(item).__name__}

@app.get("/items/{item_id}")
def read_item(item_id: int):
    return {"item": item_id, "version": 1}
"""


def test_a_fastapi_app_gains_a_route_on_the_live_app(modules: Any) -> None:
    pytest.importorskip("fastapi", reason="FastAPI is not installed for this Python version")
    pytest.importorskip("httpx", reason="httpx (for TestClient) is not installed for this Python version")
    from fastapi.testclient import TestClient

    modules.install()
    m = modules.make(FASTAPI_APP)
    app = m.app
    client = TestClient(app)
    assert client.get("/items/3").json() == {"item": 3, "version": 1}
    assert client.get("/health").status_code == 404
    routes = len(app.routes)

    edited = (
        FASTAPI_APP.replace('"version": 1', '"version": 2')
        + """
@app.get("/health")
def health():
    return {"ok": True}
"""
    )
    modules.edit(m, edited)
    hotreload.reload(m)

    assert m.app is app, "the app statement ran again"
    assert len(app.routes) == routes + 1, "a route was registered twice or not at all"
    assert client.get("/items/3").json() == {"item": 3, "version": 2}
    assert client.get("/health").json() == {"ok": True}
    created = client.post("/items", json={"name": "pen", "price": "2.5"})
    assert created.json() == {"name": "pen", "price": 2.5, "kind": "Item"}
    assert client.post("/items", json={"price": 1}).status_code == 422


# -- SQLAlchemy 2 and pydantic v2 models ------------------------------------------------------------

MODELS = """
from typing import Optional

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list["Post"]] = relationship(back_populates="author")

    def label(self):
        return "user " + self.name


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped["User"] = relationship(back_populates="posts")


class UserIn(BaseModel):
    name: str
    age: int = 0
    nickname: Optional[str] = None


class Envelope(BaseModel):
    user: UserIn


def greet(name):
    return "hello " + name
"""


def _models_available() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed for this Python version")
    pydantic = pytest.importorskip("pydantic", reason="pydantic is not installed for this Python version")
    if int(sqlalchemy.__version__.split(".")[0]) < 2 or int(pydantic.VERSION.split(".")[0]) < 2:
        pytest.skip("needs SQLAlchemy 2 and pydantic 2, not available for this Python version")


def test_models_are_untouched_by_an_unrelated_edit(modules: Any, report_has: Any) -> None:
    _models_available()
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    modules.install()
    m = modules.make(MODELS)
    classes = {name: getattr(m, name) for name in ("Base", "User", "Post", "UserIn", "Envelope")}
    mapper, table, metadata = m.User.__mapper__, m.User.__table__, m.Base.metadata
    validator = m.UserIn.__pydantic_validator__
    envelope_validator = m.Envelope.__pydantic_validator__
    name_column = vars(m.User)["name"]

    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    session = Session(engine)
    ann = m.User(name="ann")
    session.add(ann)
    session.add(m.Post(title="first", author=ann))
    session.commit()

    modules.edit(m, MODELS.replace('"hello " + name', '"hi " + name'))
    report = hotreload.reload(m)

    assert m.greet("bo") == "hi bo"
    assert report.statements_run == 1
    assert report.updated and all(report_has([entry], "greet") for entry in report.updated), report.updated
    for name, cls in classes.items():
        assert getattr(m, name) is cls, f"{name} was re-created"
    assert m.User.__mapper__ is mapper
    assert m.User.__table__ is table
    assert m.Base.metadata is metadata
    assert vars(m.User)["name"] is name_column
    assert m.UserIn.__pydantic_validator__ is validator
    assert m.Envelope.__pydantic_validator__ is envelope_validator

    # the session opened before the reload keeps working, with the live classes
    users = session.scalars(select(m.User).where(m.User.name == "ann")).all()
    assert users == [ann]
    assert ann.label() == "user ann"
    assert [post.title for post in ann.posts] == ["first"]
    session.add(m.User(name="bob"))
    session.commit()
    assert sorted(session.scalars(select(m.User.name))) == ["ann", "bob"]
    session.close()
    engine.dispose()

    # validation builds instances of the live classes
    user = m.UserIn.model_validate({"name": "cy", "age": "7"})
    assert type(user) is classes["UserIn"] and user.age == 7
    envelope = m.Envelope.model_validate({"user": {"name": "di"}})
    assert type(envelope.user) is classes["UserIn"]
    assert m.Envelope(user=user).model_dump() == {"user": {"name": "cy", "age": 7, "nickname": None}}


def test_a_new_model_joins_the_live_declarative_base(modules: Any) -> None:
    _models_available()
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    modules.install()
    m = modules.make(MODELS)
    base, metadata = m.Base, m.Base.metadata

    modules.edit(
        m,
        MODELS
        + """

class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str]
""",
    )
    hotreload.reload(m)

    assert m.Base is base and m.Tag.__bases__ == (base,)
    assert metadata.tables["tags"] is m.Tag.__table__
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        session.add(m.Tag(word="w"))
        session.commit()
        assert session.scalars(select(m.Tag.word)).all() == ["w"]
    engine.dispose()


def _reload_applied(module: Any) -> bool:
    """True if the reload applied, False if it was refused (then nothing may have changed)."""
    try:
        hotreload.reload(module)
    except hotreload.ReloadError:
        return False
    return True


def test_a_sqlalchemy_model_edit_is_applied_completely_or_refused(modules: Any) -> None:
    """Editing a model itself: either the live class follows the edit and keeps working, or the
    reload is refused and nothing changed; never a success that leaves the model broken."""
    _models_available()
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    modules.install()
    m = modules.make(MODELS)
    user_cls, mapper, table = m.User, m.User.__mapper__, m.User.__table__
    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    session = Session(engine)
    session.add(m.User(name="ann"))
    session.commit()

    modules.edit(m, MODELS.replace('"user " + self.name', '"member " + self.name'))
    applied = _reload_applied(m)

    assert m.User is user_cls
    assert m.User.__mapper__ is mapper and m.User.__table__ is table
    (ann,) = session.scalars(select(m.User).where(m.User.name == "ann")).all()
    assert ann.label() == ("member ann" if applied else "user ann")
    session.add(m.User(name="bob"))
    session.commit()
    assert session.scalars(select(m.User.name).order_by(m.User.name)).all() == ["ann", "bob"]
    session.close()
    engine.dispose()


COMMENT_MODEL = """

class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped["User"] = relationship()
"""


def test_after_a_model_edit_a_new_model_can_name_the_model(modules: Any) -> None:
    """Whatever the model edit did (applied or refused), the declarative registry still knows
    exactly one User: a model added next can refer to it by name."""
    _models_available()
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    modules.install()
    m = modules.make(MODELS)
    user_cls = m.User
    modules.edit(m, MODELS.replace('"user " + self.name', '"member " + self.name'))
    _reload_applied(m)

    modules.edit(m, MODELS + COMMENT_MODEL)
    hotreload.reload(m)
    m.Base.registry.configure()

    assert m.User is user_cls
    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    with Session(engine) as session:
        ann = m.User(name="ann")
        session.add(m.Comment(user=ann))
        session.commit()
        assert session.scalars(select(m.Comment)).one().user is ann
    engine.dispose()


def test_a_pydantic_model_edit_is_applied_completely_or_refused(modules: Any) -> None:
    """A pydantic model gains a field and a method: either validation builds instances of the live
    class with the new field, or the reload is refused and the model is as before."""
    _models_available()
    modules.install()
    m = modules.make(MODELS)
    user_in = m.UserIn

    modules.edit(
        m,
        MODELS.replace(
            "    nickname: Optional[str] = None\n",
            '    nickname: Optional[str] = None\n    email: str = "none"\n\n    def shout(self):\n        return self.name.upper()\n',
        ),
    )
    applied = _reload_applied(m)

    assert m.UserIn is user_in
    user = m.UserIn.model_validate({"name": "cy"})
    assert type(user) is user_in, "validation builds instances of a discarded class"
    assert isinstance(m.UserIn(name="di"), user_in)
    if applied:
        assert user.email == "none" and user.shout() == "CY"
        assert m.UserIn(name="di", email="d@x").model_dump()["email"] == "d@x"
    else:
        assert "email" not in user.model_dump()


# -- click ------------------------------------------------------------------------------------------

CLICK_CLI = """
import click

@click.group()
def cli():
    pass

@cli.command()
def hello():
    click.echo("hello v1")
"""


def _invoke(command: Any, *args: str) -> str:
    from click.testing import CliRunner

    result = CliRunner().invoke(command, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return str(result.output)


def test_a_click_command_body_edit_is_run_by_the_live_group(modules: Any) -> None:
    pytest.importorskip("click", reason="click is not installed for this Python version")
    modules.install()
    m = modules.make(CLICK_CLI)
    cli = m.cli
    assert _invoke(cli, "hello") == "hello v1\n"

    modules.edit(m, CLICK_CLI.replace("hello v1", "hello v2"))
    report = hotreload.reload(m)

    assert m.cli is cli
    assert _invoke(cli, "hello") == "hello v2\n"
    assert _invoke(m.hello) == "hello v2\n"
    assert report.statements_run == 1


def test_a_click_group_gains_an_option_and_a_subcommand(modules: Any) -> None:
    pytest.importorskip("click", reason="click is not installed for this Python version")
    modules.install()
    m = modules.make(CLICK_CLI)
    cli = m.cli

    modules.edit(
        m,
        CLICK_CLI.replace(
            '@cli.command()\ndef hello():\n    click.echo("hello v1")',
            '@cli.command()\n@click.option("--name", default="world")\ndef hello(name):\n    click.echo("hello " + name)',
        )
        + '\n@cli.command()\ndef bye():\n    click.echo("bye")\n',
    )
    hotreload.reload(m)

    assert m.cli is cli
    assert _invoke(cli, "hello", "--name", "bob") == "hello bob\n"
    assert _invoke(cli, "hello") == "hello world\n"
    assert _invoke(cli, "bye") == "bye\n"
    assert sorted(cli.commands) == ["bye", "hello"]
    assert _invoke(m.hello, "--name", "cy") == "hello cy\n"


def test_a_click_edit_is_not_dropped_when_the_previous_source_is_unknown(modules: Any) -> None:
    pytest.importorskip("click", reason="click is not installed for this Python version")
    m = modules.make(CLICK_CLI)  # imported before install(): its source was not recorded
    modules.install()
    assert _invoke(m.cli, "hello") == "hello v1\n"

    modules.edit(m, CLICK_CLI.replace("hello v1", "hello v2"))
    report = hotreload.reload(m)

    assert "unknown" in report.ran
    assert _invoke(m.cli, "hello") == "hello v2\n", "the edit of a decorated command was dropped"
    assert _invoke(m.hello) == "hello v2\n"
    kept = {entry.rsplit(".", 1)[-1] for entry in report.kept}
    assert not kept & {"cli", "hello"}, report.kept
