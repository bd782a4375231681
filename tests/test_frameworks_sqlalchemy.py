"""SQLAlchemy 2 declarative models edited in a running program.

Methods, properties, hybrid properties and validators apply to the live
mapped class; sessions and objects loaded before the reload keep working; a
change to the mapping itself is refused, naming the class and the attribute,
and changes nothing.
"""

from __future__ import annotations

import hotreload
import pytest

sqlalchemy = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is in the test extra; missing only if not installed")
from sqlalchemy import create_engine, select  # noqa: E402
from sqlalchemy.orm import Session, configure_mappers  # noqa: E402

MODELS = """
    from typing import List
    from sqlalchemy import ForeignKey, String
    from sqlalchemy.ext.hybrid import hybrid_property
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        first: Mapped[str] = mapped_column(String(30))
        last: Mapped[str] = mapped_column(String(30))
        addresses: Mapped[List["Address"]] = relationship(back_populates="user")

        @hybrid_property
        def full(self):
            return self.first + " " + self.last

        @property
        def initials(self):
            return self.first[0] + self.last[0]

        @validates("first")
        def check_first(self, key, value):
            return value.strip()

        def greet(self):
            return "hi " + self.first

    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str]
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
        user: Mapped[User] = relationship(back_populates="addresses")
"""


def _edited(source: str, *replacements: tuple) -> str:
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


@pytest.fixture
def db(modules):
    modules.install()
    m = modules.make(MODELS, hint="models")
    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    session = Session(engine)
    session.add(m.User(first=" ada ", last="lovelace", addresses=[m.Address(email="ada@example.com")]))
    session.commit()
    yield m, session
    session.close()
    engine.dispose()


def test_methods_hybrids_and_validators_edit_the_live_mapped_class(modules, db):
    m, session = db
    User, mapper, table = m.User, m.User.__mapper__, m.User.__table__
    loaded = session.scalars(select(User)).one()
    modules.edit(
        m,
        _edited(
            MODELS,
            ('self.first + " " + self.last', 'self.last + ", " + self.first'),
            ("self.first[0] + self.last[0]", "(self.first[0] + self.last[0]).upper()"),
            ("return value.strip()", "return value.strip().title()"),
            ('"hi "', '"hello "'),
        ),
    )
    report = hotreload.reload(m)

    assert report.updated
    assert m.User is User and User.__mapper__ is mapper and User.__table__ is table
    assert m.Base.registry.mappers == {User.__mapper__, m.Address.__mapper__}
    # The object loaded before the reload, through the session opened before it.
    assert (loaded.greet(), loaded.full, loaded.initials) == ("hello ada", "lovelace, ada", "AL")
    assert loaded.addresses[0].email == "ada@example.com"
    session.add(User(first=" grace ", last="hopper"))  # the edited validator runs
    session.commit()
    statement = select(User.full).order_by(User.id)
    assert str(statement).count("FROM users") == 1 and "users, users" not in str(statement)
    assert session.scalars(statement).all() == ["lovelace, ada", "hopper, Grace"]
    assert session.scalars(select(User).where(User.full == "hopper, Grace")).one().first == "Grace"
    configure_mappers()  # no throwaway mapping left behind to trip over


@pytest.mark.parametrize(
    "replacement, attribute",
    [
        (("    def greet", "    age: Mapped[int] = mapped_column(default=0)\n\n        def greet"), "User.age"),
        (("first: Mapped[str] = mapped_column(String(30))", "first: Mapped[str] = mapped_column(String(80))"), "User.first"),
        (('relationship(back_populates="user")', 'relationship(back_populates="user", lazy="joined")'), "User.addresses"),
        (('__tablename__ = "users"', '__tablename__ = "people"'), "User.__tablename__"),
        (('@validates("first")', '@validates("first", "last")'), "User"),
    ],
)
def test_a_mapping_change_is_refused_and_changes_nothing(modules, db, replacement, attribute):
    m, session = db
    User = m.User
    snapshot = modules.snapshot(m)
    modules.edit(m, _edited(MODELS, replacement, ('"hi "', '"hello "')))
    with pytest.raises(hotreload.ReloadError) as caught:
        hotreload.reload(m)

    message = str(caught.value)
    assert "User" in message and attribute in message and "restart" in message
    assert caught.value.lineno == 10  # the class statement
    snapshot.assert_unchanged()
    assert session.scalars(select(User)).one().greet() == "hi ada"
    session.add(User(first="b", last="c"))
    session.commit()
    configure_mappers()
    # Putting the mapping back makes the next reload apply the rest of the edit.
    modules.edit(m, _edited(MODELS, ('"hi "', '"hello "')))
    hotreload.reload(m)
    assert session.scalars(select(User).where(User.first == "ada")).one().greet() == "hello ada"


def test_an_unrelated_edit_keeps_every_mapping_object(modules, db):
    source = MODELS + "\n    def describe(user):\n        return 'user ' + user.full\n"
    m, session = db
    modules.edit(m, source)
    hotreload.reload(m)
    mapper, table, attribute = m.User.__mapper__, m.User.__table__, m.User.__dict__["first"]
    modules.edit(m, source.replace("'user '", "'person '"))
    hotreload.reload(m)

    assert m.User.__mapper__ is mapper and m.User.__table__ is table and m.User.__dict__["first"] is attribute
    assert m.describe(session.scalars(select(m.User)).one()) == "person ada lovelace"


def test_a_new_mapped_class_joins_the_live_registry(modules, db):
    m, session = db
    addition = """
    class Tag(Base):
        __tablename__ = "tags"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str]
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
        user: Mapped[User] = relationship()
"""
    modules.edit(m, MODELS + addition)
    hotreload.reload(m)

    assert m.Tag.metadata is m.Base.metadata and "tags" in m.Base.metadata.tables
    m.Base.metadata.create_all(session.get_bind())
    user = session.scalars(select(m.User)).one()
    session.add(m.Tag(label="first", user=user))
    session.commit()
    assert session.scalars(select(m.Tag)).one().user is user


def test_classic_declarative_base_with_columns(modules):
    source = """
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()

        class Item(Base):
            __tablename__ = "items"
            id = Column(Integer, primary_key=True)
            name = Column(String(20), nullable=False)

            def label(self):
                return "item " + self.name
    """
    modules.install()
    m = modules.make(source)
    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(m.Item(name="a"))
        session.commit()
        item = session.scalars(select(m.Item)).one()
        modules.edit(m, source.replace('"item "', '"thing "'))
        hotreload.reload(m)
        assert item.label() == "thing a"
        modules.edit(m, source.replace("nullable=False", "nullable=True"))
        with pytest.raises(hotreload.ReloadError, match=r"Item\.name.*restart"):
            hotreload.reload(m)
        assert item.label() == "thing a"
    engine.dispose()
