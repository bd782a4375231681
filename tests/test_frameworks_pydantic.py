"""pydantic v2 models edited in a running program: the kept classes validate with the new schema.

Each test writes a module of models as a user would, imports it with
hotreload installed, edits the file and reloads it; then validation,
nested models, ``TypeAdapter`` and live instances are checked against the
kept classes.
"""

from __future__ import annotations

import hotreload
import pytest

pydantic = pytest.importorskip("pydantic", reason="pydantic is in the test extra; missing only if not installed")

MODELS = """
    from typing import List, Optional
    from pydantic import BaseModel, ConfigDict, TypeAdapter, field_serializer, field_validator

    class User(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def tidy(cls, value):
            return value.strip()

        def greet(self):
            return "hi " + self.name

    class Order(BaseModel):
        user: User
        others: List[User] = []
        note: Optional[str] = None

    USERS = TypeAdapter(List[User])
"""


def _edited(source: str, *replacements: tuple) -> str:
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


def test_added_field_validator_and_method_apply_to_the_kept_class(modules):
    modules.install()
    m = modules.make(MODELS)
    User = m.User
    before = User(name=" ada ")
    modules.edit(
        m,
        _edited(
            MODELS,
            ("        name: str\n", "        name: str\n        age: int = 30\n"),
            ("return value.strip()", "return value.strip().title()"),
            ('"hi "', '"hello "'),
        ),
    )
    hotreload.reload(m)

    assert m.User is User
    made = User.model_validate({"name": " grace "})
    assert type(made) is User and isinstance(made, m.User)
    assert (made.name, made.age, made.greet()) == ("Grace", 30, "hello Grace")
    assert User(name="x", age="5").age == 5
    with pytest.raises(pydantic.ValidationError):
        User(name="x", age="not a number")
    # An instance made before the reload keeps its data, runs the new code, reads the new default.
    assert (before.name, before.greet(), before.age) == ("ada", "hello ada", 30)
    assert before.model_dump()["name"] == "ada"
    assert "age" in User.model_json_schema()["properties"]


def test_nested_models_and_type_adapters_build_the_kept_class(modules):
    modules.install()
    m = modules.make(MODELS)
    User, Order, USERS = m.User, m.Order, m.USERS
    modules.edit(m, _edited(MODELS, ("        name: str\n", "        name: str\n        age: int = 1\n")))
    hotreload.reload(m)

    assert (m.User, m.Order) == (User, Order)
    order = Order(user=User(name="a"))  # an instance of the kept class is accepted
    assert type(order.user) is User
    validated = Order.model_validate({"user": {"name": " b ", "age": 4}, "others": [{"name": "c"}]})
    assert type(validated.user) is User and validated.user.age == 4 and validated.user.name == "b"
    assert type(validated.others[0]) is User
    listed = m.USERS.validate_python([{"name": "d", "age": 9}])
    assert m.USERS is USERS and type(listed[0]) is User and listed[0].age == 9
    assert "age" in Order.model_json_schema()["$defs"]["User"]["properties"]


def test_a_model_in_another_module_that_uses_the_edited_one_is_rebuilt(modules):
    modules.install()
    m = modules.make(MODELS, hint="models")
    other = modules.make(
        f"""
        from {m.__name__} import User
        from pydantic import BaseModel, TypeAdapter

        class Admin(User):
            level: int = 1

        class Team(BaseModel):
            lead: User
            admins: list = []

        LEADS = TypeAdapter(User)
        """,
        hint="team",
    )
    modules.edit(m, _edited(MODELS, ("        name: str\n", "        name: str\n        email: str = 'none'\n")))
    hotreload.reload(m)

    team = other.Team.model_validate({"lead": {"name": "x", "email": "x@example.com"}})
    assert type(team.lead) is m.User and team.lead.email == "x@example.com"
    admin = other.Admin(name=" y ", level=3)
    assert (admin.name, admin.email, admin.level) == ("y", "none", 3)  # inherited field and validator
    assert list(other.Admin.model_fields) == ["name", "email", "level"]
    lead = other.LEADS.validate_python({"name": "z", "email": "z@example.com"})
    assert type(lead) is m.User and lead.email == "z@example.com"


def test_removed_and_retyped_fields_config_and_serializers(modules):
    source = """
        from pydantic import BaseModel, ConfigDict, field_serializer

        class Item(BaseModel):
            model_config = ConfigDict(extra="ignore")
            sku: str
            price: int
            legacy: str = ""

            @field_serializer("price")
            def show_price(self, value):
                return value
    """
    modules.install()
    m = modules.make(source)
    Item = m.Item
    modules.edit(
        m,
        _edited(
            source,
            ('extra="ignore"', 'extra="forbid"'),
            ("price: int", "price: float"),
            ('            legacy: str = ""\n', ""),
            ("return value", 'return f"{value:.2f} EUR"'),
        ),
    )
    hotreload.reload(m)

    item = Item(sku="a", price="2.5")
    assert type(item) is m.Item is Item
    assert item.price == 2.5 and item.model_dump() == {"sku": "a", "price": "2.50 EUR"}
    assert list(Item.model_fields) == ["sku", "price"]
    with pytest.raises(pydantic.ValidationError):
        Item(sku="a", price=1, unexpected=True)  # extra="forbid" now


def test_a_failing_reload_leaves_the_models_validating_as_before(modules):
    modules.install()
    m = modules.make(MODELS)
    User = m.User
    schema = User.__pydantic_validator__
    modules.edit(
        m,
        _edited(MODELS, ("        name: str\n", "        name: str\n        age: int = 1\n"))
        + "\n    raise RuntimeError('broken edit')\n",
    )
    with pytest.raises(hotreload.ReloadError, match="broken edit"):
        hotreload.reload(m)

    assert User.__pydantic_validator__ is schema
    made = User.model_validate({"name": " a ", "age": 3})
    assert type(made) is User and not hasattr(made, "age") and made.name == "a"
    assert list(User.model_fields) == ["name"]


def test_an_edit_of_an_unrelated_function_leaves_the_models_working(modules):
    source = MODELS + "\n    def describe(user):\n        return 'user ' + user.name\n"
    modules.install()
    m = modules.make(source)
    User, Order = m.User, m.Order
    modules.edit(m, source.replace("'user '", "'person '"))
    hotreload.reload(m)

    assert m.describe(User(name="a")) == "person a"
    order = Order.model_validate({"user": {"name": "b"}})
    assert type(order.user) is User and m.User is User and m.Order is Order
