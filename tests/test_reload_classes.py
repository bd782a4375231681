"""``hotreload.reload``: classes keep their identity and get the edited behaviour.

Live instances, bound methods, subclasses (also in other modules) and
``isinstance`` checks against captured classes must all keep working.
"""

from __future__ import annotations

import abc

import hotreload
import pytest
from hotreload import ReloadError


def test_methods_update_for_live_instances_and_bound_methods(modules):
    m = modules.make(
        """
        class Counter:
            def __init__(self):
                self.n = 0
            def step(self):
                self.n += 1
                return self.n
        """
    )
    Counter = m.Counter
    c = Counter()
    step = c.step
    assert step() == 1
    modules.edit(
        m,
        """
        class Counter:
            def __init__(self):
                self.n = 0
            def step(self):
                self.n += 10
                return self.n
        """,
    )
    hotreload.reload(m)

    assert m.Counter is Counter
    assert type(c) is m.Counter and isinstance(c, Counter)
    assert step() == 11
    assert c.step() == 21
    assert Counter().step() == 10


def test_classmethod_staticmethod_property_update(modules):
    m = modules.make(
        """
        class C:
            def __init__(self):
                self._v = 1
            @classmethod
            def make(cls):
                return ("cm1", cls)
            @staticmethod
            def helper(x):
                return x + 1
            @property
            def value(self):
                return self._v
        """
    )
    C = m.C
    c = C()
    make = C.make  # bound classmethod captured before the reload
    helper = C.helper
    modules.edit(
        m,
        """
        class C:
            def __init__(self):
                self._v = 1
            @classmethod
            def make(cls):
                return ("cm2", cls)
            @staticmethod
            def helper(x):
                return x + 2
            @property
            def value(self):
                return self._v * 100
            @value.setter
            def value(self, v):
                self._v = v
        """,
    )
    hotreload.reload(m)

    assert m.C is C
    assert make() == ("cm2", C)
    assert C.make() == ("cm2", C)
    assert helper(1) == 3 and C.helper(1) == 3
    assert c.value == 100
    c.value = 3
    assert c.value == 300


def test_added_and_removed_methods_and_attributes(modules):
    m = modules.make(
        """
        class C:
            LABEL = "x"
            def old(self):
                return "old"
            def stays(self):
                return "stays"
        """
    )
    C = m.C
    c = C()
    modules.edit(
        m,
        """
        class C:
            COLOR = "red"
            def stays(self):
                return self.added()
            def added(self):
                return "added"
        """,
    )
    hotreload.reload(m)

    assert m.C is C
    assert not hasattr(c, "old") and "old" not in vars(C)
    assert not hasattr(C, "LABEL")
    assert c.added() == "added"
    assert c.stays() == "added"
    assert C.COLOR == "red"


def test_dunder_methods_update_type_slots(modules):
    m = modules.make(
        """
        class Money:
            def __init__(self, cents):
                self.cents = cents
            def __repr__(self):
                return f"Money({self.cents})"
            def __len__(self):
                return 1
        """
    )
    a = m.Money(5)
    modules.edit(
        m,
        """
        class Money:
            def __init__(self, cents):
                self.cents = cents
            def __repr__(self):
                return f"<{self.cents} cents>"
            def __len__(self):
                return self.cents
            def __add__(self, other):
                return Money(self.cents + other.cents)
        """,
    )
    hotreload.reload(m)

    assert repr(a) == "<5 cents>"
    assert len(a) == 5
    total = a + m.Money(2)
    assert type(total) is type(a) and total.cents == 7


def test_adding_eq_makes_instances_unhashable_like_a_fresh_class(modules):
    m = modules.make(
        """
        class Point:
            def __init__(self, x):
                self.x = x
        """
    )
    p = m.Point(1)
    hash(p)
    modules.edit(
        m,
        """
        class Point:
            def __init__(self, x):
                self.x = x
            def __eq__(self, other):
                return isinstance(other, Point) and other.x == self.x
        """,
    )
    hotreload.reload(m)

    assert p == m.Point(1)
    assert p != m.Point(2)
    with pytest.raises(TypeError):
        hash(p)


def test_zero_argument_super_after_reload(modules):
    m = modules.make(
        """
        class Base:
            def greet(self):
                return "base"
            def other(self):
                return "base-other"

        class Child(Base):
            def greet(self):
                return "child+" + super().greet()
            def other(self):
                return "child-other"
        """
    )
    Base, Child = m.Base, m.Child
    child = Child()
    greet = child.greet
    modules.edit(
        m,
        """
        class Base:
            def greet(self):
                return "BASE"
            def other(self):
                return "BASE-OTHER"

        class Child(Base):
            def greet(self):
                return "CHILD+" + super().greet()
            def other(self):
                return "CHILD-OTHER+" + super().other()
        """,
    )
    hotreload.reload(m)

    assert m.Child is Child and m.Base is Base
    assert greet() == "CHILD+BASE"
    assert child.greet() == "CHILD+BASE"
    # the method gained super() in the edit: its __class__ cell must be the kept class
    assert child.other() == "CHILD-OTHER+BASE-OTHER"
    assert Child().other() == "CHILD-OTHER+BASE-OTHER"
    cell = dict(zip(Child.other.__code__.co_freevars, Child.other.__closure__))["__class__"]
    assert cell.cell_contents is Child


def test_super_in_init_and_classmethod(modules):
    m = modules.make(
        """
        class Base:
            def __init__(self):
                self.tags = ["base"]
        class Child(Base):
            def __init__(self):
                super().__init__()
                self.tags.append("child")
            @classmethod
            def create(cls):
                return cls()
        """
    )
    Child = m.Child
    modules.edit(
        m,
        """
        class Base:
            def __init__(self):
                self.tags = ["base2"]
        class Child(Base):
            def __init__(self):
                super().__init__()
                self.tags.append("child2")
            @classmethod
            def create(cls):
                obj = super().__new__(cls)
                obj.__init__()
                return obj
        """,
    )
    hotreload.reload(m)

    assert Child().tags == ["base2", "child2"]
    made = Child.create()
    assert type(made) is Child and made.tags == ["base2", "child2"]


def test_subclass_in_another_module_follows(modules):
    base = modules.make(
        """
        class Shape:
            def area(self):
                return 0
            def describe(self):
                return "shape"
        """,
        hint="base",
    )
    other = modules.make(
        f"""
        from {base.__name__} import Shape

        class Square(Shape):
            def __init__(self, side):
                self.side = side
            def area(self):
                return self.side ** 2
            def describe(self):
                return "square/" + super().describe()
        """,
        hint="other",
    )
    Shape = base.Shape
    sq = other.Square(3)
    modules.edit(
        base,
        """
        class Shape:
            def area(self):
                return -1
            def describe(self):
                return "SHAPE v2"
            def perimeter(self):
                return None
        """,
    )
    hotreload.reload(base)

    assert base.Shape is Shape
    assert other.Square.__bases__ == (Shape,)
    assert isinstance(sq, Shape)
    assert sq.describe() == "square/SHAPE v2"
    assert sq.perimeter() is None
    assert sq.area() == 9


def test_new_subclass_in_the_edit_has_the_kept_class_as_base(modules):
    m = modules.make(
        """
        class Animal:
            def sound(self):
                return "..."
        """
    )
    Animal = m.Animal
    pet = Animal()
    modules.edit(
        m,
        """
        class Animal:
            def sound(self):
                return "generic"
            def speak(self):
                return "says " + self.sound()

        class Dog(Animal):
            def sound(self):
                return "woof/" + super().sound()
        """,
    )
    hotreload.reload(m)

    assert m.Dog.__bases__ == (Animal,)
    assert issubclass(m.Dog, Animal)
    dog = m.Dog()
    assert isinstance(dog, Animal)
    assert dog.speak() == "says woof/generic"
    assert pet.speak() == "says generic"
    assert m.Dog in Animal.__subclasses__()


def test_nested_classes_keep_identity(modules):
    m = modules.make(
        """
        class Outer:
            class Inner:
                def who(self):
                    return "inner-1"
                class Deep:
                    LEVEL = 1
                    def level(self):
                        return "deep-1"
            def make(self):
                return self.Inner()
        """
    )
    Outer, Inner, Deep = m.Outer, m.Outer.Inner, m.Outer.Inner.Deep
    inner = Inner()
    deep = Deep()
    modules.edit(
        m,
        """
        class Outer:
            class Inner:
                def who(self):
                    return "inner-2"
                class Deep:
                    LEVEL = 1
                    def level(self):
                        return "deep-2"
                    def extra(self):
                        return "extra"
            def make(self):
                return self.Inner()
        """,
    )
    hotreload.reload(m)

    assert m.Outer is Outer and m.Outer.Inner is Inner and Inner.Deep is Deep
    assert inner.who() == "inner-2"
    assert deep.level() == "deep-2" and deep.extra() == "extra"
    assert type(Outer().make()) is Inner


def test_set_name_called_for_added_descriptors(modules):
    m = modules.make(
        """
        class Field:
            def __set_name__(self, owner, name):
                self.owner = owner
                self.name = name
            def __get__(self, obj, owner=None):
                if obj is None:
                    return self
                return "field:" + self.name

        class Model:
            a = Field()
        """
    )
    Model = m.Model
    instance = Model()
    modules.edit(
        m,
        """
        class Field:
            def __set_name__(self, owner, name):
                self.owner = owner
                self.name = name
            def __get__(self, obj, owner=None):
                if obj is None:
                    return self
                return "field:" + self.name

        class Model:
            a = Field()
            b = Field()
        """,
    )
    hotreload.reload(m)

    assert instance.b == "field:b"
    assert Model.b.name == "b"
    assert Model.b.owner is Model
    assert instance.a == "field:a"


def test_abc_abstract_methods_recomputed(modules):
    m = modules.make(
        """
        from abc import ABC, abstractmethod

        class Plugin(ABC):
            @abstractmethod
            def run(self):
                ...

        class Partial(Plugin):
            pass

        class Full(Plugin):
            def run(self):
                return "full"
        """
    )
    Plugin, Partial, Full = m.Plugin, m.Partial, m.Full
    with pytest.raises(TypeError):
        Partial()
    modules.edit(
        m,
        """
        from abc import ABC, abstractmethod

        class Plugin(ABC):
            def run(self):
                return "default"
            @abstractmethod
            def stop(self):
                ...

        class Partial(Plugin):
            def stop(self):
                return "stopped"

        class Full(Plugin):
            def run(self):
                return "full"
        """,
    )
    hotreload.reload(m)

    assert m.Plugin is Plugin and m.Partial is Partial and m.Full is Full
    assert Plugin.__abstractmethods__ == frozenset({"stop"})
    assert Partial.__abstractmethods__ == frozenset()
    assert Partial().run() == "default"
    assert Full.__abstractmethods__ == frozenset({"stop"})
    with pytest.raises(TypeError):
        Full()
    assert isinstance(Partial(), Plugin)
    # registered virtual subclasses still work (the ABC's registry was kept)
    Plugin.register(int)
    assert isinstance(3, Plugin)


def test_abc_registry_survives_reload(modules):
    m = modules.make(
        """
        import abc
        class Sized(abc.ABC):
            @abc.abstractmethod
            def size(self): ...
        """
    )
    Sized = m.Sized

    class External:
        def size(self):
            return 1

    Sized.register(External)
    modules.edit(
        m,
        """
        import abc
        class Sized(abc.ABC):
            @abc.abstractmethod
            def size(self): ...
            def twice(self):
                return 2 * self.size()
        """,
    )
    hotreload.reload(m)
    assert isinstance(External(), Sized)
    assert issubclass(External, Sized)


def test_custom_metaclass(modules):
    m = modules.make(
        """
        class Meta(type):
            registry = []
            def __new__(mcs, name, bases, ns):
                cls = super().__new__(mcs, name, bases, ns)
                mcs.registry.append(name)
                return cls
            def describe(cls):
                return "meta-1 " + cls.__name__

        class Model(metaclass=Meta):
            def save(self):
                return "save-1"
        """
    )
    Meta, Model = m.Meta, m.Model
    obj = Model()
    modules.edit(
        m,
        """
        class Meta(type):
            registry = []
            def __new__(mcs, name, bases, ns):
                cls = super().__new__(mcs, name, bases, ns)
                mcs.registry.append(name)
                return cls
            def describe(cls):
                return "meta-2 " + cls.__name__

        class Model(metaclass=Meta):
            def save(self):
                return "save-2"
        """,
    )
    hotreload.reload(m)

    assert m.Meta is Meta and m.Model is Model
    assert type(Model) is Meta
    assert Model.describe() == "meta-2 Model"
    assert obj.save() == "save-2"


def test_compatible_base_change_is_applied(modules):
    m = modules.make(
        """
        class A:
            def who(self):
                return "A"
        class B:
            def who(self):
                return "B"
        class C(A):
            pass
        """
    )
    A, B, C = m.A, m.B, m.C
    c = C()
    modules.edit(
        m,
        """
        class A:
            def who(self):
                return "A"
        class B:
            def who(self):
                return "B"
        class C(B):
            pass
        """,
    )
    hotreload.reload(m)

    assert m.C is C
    assert C.__bases__ == (B,)
    assert c.who() == "B"
    assert isinstance(c, B) and not isinstance(c, A)


@pytest.mark.parametrize(
    "old_class, new_class",
    [
        pytest.param(
            "class Point:\n    __slots__ = ('x',)\n    def get(self):\n        return 1\n",
            "class Point:\n    __slots__ = ('x', 'y')\n    def get(self):\n        return 2\n",
            id="slots-change",
        ),
        pytest.param(
            "class Point:\n    def get(self):\n        return 1\n",
            "class Point:\n    __slots__ = ('x',)\n    def get(self):\n        return 2\n",
            id="slots-added",
        ),
        pytest.param(
            "class Point(metaclass=Meta):\n    def get(self):\n        return 1\n",
            "class Point(metaclass=OtherMeta):\n    def get(self):\n        return 2\n",
            id="metaclass-change",
        ),
        pytest.param(
            "class Point(Plain):\n    def get(self):\n        return 1\n",
            "class Point(int):\n    def get(self):\n        return 2\n",
            id="incompatible-base",
        ),
        pytest.param(
            "class Point(Plain):\n    def get(self):\n        return 1\n",
            "class Point(Plain, Slotted):\n    def get(self):\n        return 2\n",
            id="layout-conflicting-bases",
        ),
    ],
)
def test_change_that_cannot_be_applied_in_place_raises_and_changes_nothing(modules, old_class, new_class):
    prelude = """
class Meta(type):
    pass

class OtherMeta(type):
    pass

class Plain:
    pass

class Slotted:
    __slots__ = ('s',)

def helper():
    return "helper-1"

VALUE = 1

"""
    m = modules.make(prelude + old_class)
    Point = m.Point
    helper = m.helper
    snap = modules.snapshot(m)
    before_vars = dict(vars(Point))
    new_prelude = prelude.replace('"helper-1"', '"helper-2"').replace("VALUE = 1", "VALUE = 2\nADDED = 3")
    path = modules.edit(m, new_prelude + new_class)

    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)

    error = info.value
    assert "Point" in str(error)
    assert m.__name__ in str(error)
    assert error.name == m.__name__
    assert str(path) in str(error) or error.path == str(path)
    snap.assert_unchanged()
    assert m.Point is Point and dict(vars(Point)) == before_vars
    assert helper() == "helper-1"
    assert m.VALUE == 1 and not hasattr(m, "ADDED")
    assert Point().get() == 1


def test_class_alias_and_registry_refer_to_the_kept_class(modules):
    m = modules.make(
        """
        class Service:
            def run(self):
                return 1
        Alias = Service
        """
    )
    Service = m.Service
    modules.edit(
        m,
        """
        class Service:
            def run(self):
                return 2
        Alias = Service
        SERVICES = {"main": Service}
        """,
    )
    hotreload.reload(m)
    assert m.Alias is Service
    assert m.SERVICES["main"] is Service
    assert m.Service().run() == 2


def test_isinstance_checks_in_other_module_functions(modules):
    m = modules.make(
        """
        class Token:
            def kind(self):
                return "a"
        """
    )
    checker = modules.make(
        f"""
        from {m.__name__} import Token
        def check(obj):
            return isinstance(obj, Token)
        """,
        hint="checker",
    )
    token = m.Token()
    modules.edit(
        m,
        """
        class Token:
            def kind(self):
                return "b"
        """,
    )
    hotreload.reload(m)
    assert checker.check(token)
    assert checker.check(m.Token())
    assert token.kind() == "b"


def test_class_methods_calling_module_functions(modules):
    m = modules.make(
        """
        def tax(x):
            return x * 0.1
        class Invoice:
            def __init__(self, amount):
                self.amount = amount
            def total(self):
                return self.amount + tax(self.amount)
        """
    )
    inv = m.Invoice(100)
    modules.edit(
        m,
        """
        def tax(x):
            return x * 0.2
        def fee():
            return 5
        class Invoice:
            def __init__(self, amount):
                self.amount = amount
            def total(self):
                return self.amount + tax(self.amount) + fee()
        """,
    )
    hotreload.reload(m)
    assert inv.total() == pytest.approx(125.0)


def test_init_subclass_hook_updated(modules):
    m = modules.make(
        """
        class Base:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                cls.tag = "v1"
        """
    )
    Base = m.Base
    modules.edit(
        m,
        """
        class Base:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                cls.tag = "v2"
        """,
    )
    hotreload.reload(m)

    class Later(Base):
        pass

    assert Later.tag == "v2"


def test_abstract_class_stays_an_abc_instance(modules):
    m = modules.make(
        """
        import abc
        class Repo(abc.ABC):
            @abc.abstractmethod
            def get(self): ...
        class Memory(Repo):
            def get(self):
                return 1
        """
    )
    modules.edit(
        m,
        """
        import abc
        class Repo(abc.ABC):
            @abc.abstractmethod
            def get(self): ...
            @abc.abstractmethod
            def put(self, x): ...
        class Memory(Repo):
            def get(self):
                return 2
            def put(self, x):
                return x
        """,
    )
    hotreload.reload(m)
    assert isinstance(m.Repo, abc.ABCMeta)
    assert m.Memory().get() == 2
    assert m.Repo.__abstractmethods__ == frozenset({"get", "put"})


def test_unchanged_slots_with_changed_methods_is_applied(modules):
    m = modules.make(
        """
        class Vec:
            __slots__ = ("x", "y")
            def __init__(self, x, y):
                self.x, self.y = x, y
            def norm(self):
                return abs(self.x) + abs(self.y)
        """
    )
    Vec = m.Vec
    v = Vec(1, -2)
    modules.edit(
        m,
        """
        class Vec:
            __slots__ = ("x", "y")
            def __init__(self, x, y):
                self.x, self.y = x, y
            def norm(self):
                return (self.x ** 2 + self.y ** 2)
            def scaled(self, k):
                return Vec(self.x * k, self.y * k)
        """,
    )
    hotreload.reload(m)
    assert m.Vec is Vec
    assert v.norm() == 5
    assert type(v.scaled(2)) is Vec and v.scaled(2).x == 2
    v.x = 3
    assert v.x == 3


def test_nested_class_that_cannot_be_updated_is_named_and_nothing_changes(modules):
    m = modules.make(
        """
        def top():
            return 1
        class Outer:
            class Inner:
                __slots__ = ("a",)
            def f(self):
                return 1
        """
    )
    snap = modules.snapshot(m)
    modules.edit(
        m,
        """
        def top():
            return 2
        class Outer:
            class Inner:
                __slots__ = ("a", "b")
            def f(self):
                return 2
        """,
    )
    with pytest.raises(ReloadError) as info:
        hotreload.reload(m)
    assert "Inner" in str(info.value)
    snap.assert_unchanged()
    assert m.top() == 1 and m.Outer().f() == 1


def test_method_becomes_property_and_back(modules):
    m = modules.make(
        """
        class C:
            def size(self):
                return 1
            @property
            def name(self):
                return "n"
        """
    )
    c = m.C()
    modules.edit(
        m,
        """
        class C:
            @property
            def size(self):
                return 2
            def name(self):
                return "called"
        """,
    )
    hotreload.reload(m)
    assert c.size == 2
    assert c.name() == "called"


def test_generic_class_methods_update(modules):
    m = modules.make(
        """
        from typing import Generic, TypeVar
        T = TypeVar("T")
        class Box(Generic[T]):
            def __init__(self, item: T):
                self.item = item
            def get(self) -> T:
                return self.item
        """
    )
    Box = m.Box
    b = Box[int](1)
    modules.edit(
        m,
        """
        from typing import Generic, TypeVar
        T = TypeVar("T")
        class Box(Generic[T]):
            def __init__(self, item: T):
                self.item = item
            def get(self) -> T:
                return [self.item]
        """,
    )
    hotreload.reload(m)
    assert m.Box is Box
    assert b.get() == [1]
    assert Box[str]("x").get() == ["x"]
    assert type(Box[str]("x")) is Box


def test_init_subclass_registry_in_another_module_holds_kept_classes(modules):
    framework = modules.make(
        """
        REGISTRY = {}
        class Plugin:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                REGISTRY[cls.__name__] = cls
        """,
        hint="framework",
    )
    plugins = modules.make(
        f"""
        from {framework.__name__} import Plugin
        class Audio(Plugin):
            def play(self):
                return "a1"
        """,
        hint="plugins",
    )
    Audio = plugins.Audio
    modules.edit(
        plugins,
        f"""
        from {framework.__name__} import Plugin
        class Audio(Plugin):
            def play(self):
                return "a2"
        """,
    )
    hotreload.reload(plugins)

    assert plugins.Audio is Audio
    made = framework.REGISTRY["Audio"]()
    assert made.play() == "a2"
    assert isinstance(made, Audio)
    assert framework.REGISTRY["Audio"] is Audio


def test_class_decorator_registry_holds_kept_class(modules):
    framework = modules.make(
        """
        COMMANDS = {}
        def command(name):
            def register(cls):
                COMMANDS[name] = cls
                return cls
            return register
        """,
        hint="framework",
    )
    source = """
        from {fw} import command
        @command("greet")
        class Greet:
            def run(self):
                return "{v}"
        """
    cmds = modules.make(source.format(fw=framework.__name__, v="hello"), hint="cmds")
    Greet = cmds.Greet
    modules.edit(cmds, source.format(fw=framework.__name__, v="bonjour"))
    hotreload.reload(cmds)
    assert framework.COMMANDS["greet"] is Greet
    assert isinstance(framework.COMMANDS["greet"](), Greet)
    assert framework.COMMANDS["greet"]().run() == "bonjour"


def test_class_attribute_referring_to_another_class_refers_to_kept_one(modules):
    m = modules.make(
        """
        class Engine:
            def start(self):
                return "e1"
        class Car:
            engine_class = Engine
        """
    )
    Engine = m.Engine
    modules.edit(
        m,
        """
        class Engine:
            def start(self):
                return "e2"
        class Car:
            engine_class = Engine
            spare_class = Engine
        """,
    )
    hotreload.reload(m)
    assert m.Car.engine_class is Engine
    assert m.Car.spare_class is Engine
    assert m.Car.engine_class().start() == "e2"


def test_decorated_methods_keep_wrapper_and_wrapped_identity(modules):
    source = """
        import functools
        def traced(fn):
            @functools.wraps(fn)
            def wrapper(self, *args):
                return ("traced", fn(self, *args))
            return wrapper
        class Service:
            @traced
            def handle(self, x):
                return {body}
        """
    m = modules.make(source.format(body="x + 1"))
    wrapper = vars(m.Service)["handle"]
    inner = wrapper.__wrapped__
    s = m.Service()
    bound = s.handle
    modules.edit(m, source.format(body="x * 100"))
    hotreload.reload(m)
    assert vars(m.Service)["handle"] is wrapper
    assert wrapper.__wrapped__ is inner
    assert bound(2) == ("traced", 200)
    assert s.handle(3) == ("traced", 300)


def test_pickle_round_trip_after_reload_gives_kept_class(modules):
    import pickle

    source = """
        class Record:
            def __init__(self, v):
                self.v = v
            def show(self):
                return {body}
        """
    m = modules.make(source.format(body="self.v"))
    Record = m.Record
    data = pickle.dumps(Record(1))
    modules.edit(m, source.format(body="self.v * 10"))
    hotreload.reload(m)
    loaded = pickle.loads(data)
    assert type(loaded) is Record and loaded.show() == 10
    again = pickle.loads(pickle.dumps(Record(2)))
    assert type(again) is Record and again.show() == 20


def test_classes_matched_by_definition_not_by_name(modules):
    m = modules.make(
        """
        class V1:
            def run(self):
                return "v1-a"
        class V2:
            def run(self):
                return "v2-a"
        Current = V1
        """
    )
    V1, V2 = m.V1, m.V2
    held = m.Current
    modules.edit(
        m,
        """
        class V1:
            def run(self):
                return "v1-b"
        class V2:
            def run(self):
                return "v2-b"
        Current = V2
        """,
    )
    hotreload.reload(m)
    assert m.V1 is V1 and m.V2 is V2 and V1 is not V2
    assert m.Current is V2
    assert held is V1 and held().run() == "v1-b"
    assert m.Current().run() == "v2-b"


def test_registry_kept_across_reloads_never_holds_orphan_classes(modules):
    """INTERNALS 20: re-running the module re-registers classes; afterwards every
    registry entry must be a class the program can use with isinstance."""
    source = """
        try:
            REGISTRY
        except NameError:
            REGISTRY = {{}}
            ORDER = []

        class Plugin:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                REGISTRY[cls.__name__] = cls
                ORDER.append(cls)

        class Audio(Plugin):
            def play(self):
                return "{v}"

        class Video(Plugin):
            def play(self):
                return "{v}"
        """
    m = modules.make(source.format(v="v1"))
    Audio, Video = m.Audio, m.Video
    modules.edit(m, source.format(v="v2"))
    hotreload.reload(m)
    assert m.Audio is Audio and m.Video is Video
    assert m.REGISTRY["Audio"] is Audio and m.REGISTRY["Video"] is Video
    assert all(cls is Audio or cls is Video for cls in m.ORDER), m.ORDER
    assert isinstance(m.REGISTRY["Audio"](), Audio)
    assert m.REGISTRY["Video"]().play() == "v2"


def test_runtime_checkable_protocol_follows_the_edit(modules):
    m = modules.make(
        """
        from typing import Protocol, runtime_checkable

        @runtime_checkable
        class Closable(Protocol):
            def close(self): ...

        class File:
            def close(self):
                return "closed"
        """
    )
    Closable, File = m.Closable, m.File
    f = File()
    assert isinstance(f, Closable)
    modules.edit(
        m,
        """
        from typing import Protocol, runtime_checkable

        @runtime_checkable
        class Closable(Protocol):
            def close(self): ...
            def flush(self): ...

        class File:
            def close(self):
                return "closed"
        """,
    )
    hotreload.reload(m)
    assert m.Closable is Closable
    assert not isinstance(f, Closable)

    class Full:
        def close(self):
            pass

        def flush(self):
            pass

    assert isinstance(Full(), Closable)


def test_new_intermediate_base_inserted(modules):
    m = modules.make(
        """
        class A:
            def who(self):
                return "A"
        class C(A):
            pass
        """
    )
    A, C = m.A, m.C
    c = C()
    modules.edit(
        m,
        """
        class A:
            def who(self):
                return "A"
        class B(A):
            def who(self):
                return "B/" + super().who()
        class C(B):
            pass
        """,
    )
    hotreload.reload(m)
    assert m.C is C and m.A is A
    assert C.__bases__ == (m.B,) and m.B.__bases__ == (A,)
    assert isinstance(c, m.B)
    assert c.who() == "B/A"


def test_mixin_removed_from_bases(modules):
    m = modules.make(
        """
        class JsonMixin:
            def to_json(self):
                return "{}"
        class Base:
            def name(self):
                return "base"
        class Model(JsonMixin, Base):
            pass
        """
    )
    Model, JsonMixin = m.Model, m.JsonMixin
    obj = Model()
    assert obj.to_json() == "{}"
    modules.edit(
        m,
        """
        class JsonMixin:
            def to_json(self):
                return "{}"
        class Base:
            def name(self):
                return "base2"
        class Model(Base):
            pass
        """,
    )
    hotreload.reload(m)
    assert Model.__bases__ == (m.Base,)
    assert not isinstance(obj, JsonMixin)
    assert not hasattr(obj, "to_json")
    assert obj.name() == "base2"


def test_exception_classes_keep_identity_for_except_clauses(modules):
    errors = modules.make(
        """
        class AppError(Exception):
            def __str__(self):
                return "app error v1"
        class NotFound(AppError):
            pass
        """,
        hint="errors",
    )
    service = modules.make(
        f"""
        from {errors.__name__} import AppError, NotFound
        def lookup():
            raise NotFound()
        def safe_lookup():
            try:
                lookup()
            except AppError as error:
                return str(error)
        """,
        hint="service",
    )
    AppError = errors.AppError
    live = errors.NotFound()
    modules.edit(
        errors,
        """
        class AppError(Exception):
            def __str__(self):
                return "app error v2"
        class NotFound(AppError):
            code = 404
        """,
    )
    hotreload.reload(errors)
    assert str(live) == "app error v2"
    assert service.safe_lookup() == "app error v2"
    with pytest.raises(AppError):
        service.lookup()
    assert live.code == 404
