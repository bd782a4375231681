"""``hotreload.reload``: functions keep their identity and run the edited code.

Every test writes a module, captures references the way a running program does
(aliases, ``from`` imports in another module, callbacks in registries, closures
of decorators), edits the file in place, reloads, and checks what those captured
references now do.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.machinery
import importlib.util
import sys
import types

import hotreload
import pytest
from hotreload import ReloadReport


def test_function_keeps_identity_and_runs_new_code(modules):
    m = modules.make(
        """
        def greet(name):
            return "hello " + name
        """
    )
    f = m.greet
    registry = {"greet": m.greet}
    callbacks = [m.greet]
    user = modules.make(f"from {m.__name__} import greet\n", hint="user")

    modules.edit(
        m,
        """
        def greet(name):
            return "bonjour " + name
        """,
    )
    report = hotreload.reload(m)

    assert isinstance(report, ReloadReport)
    assert m.greet is f
    assert user.greet is f
    assert f("ann") == registry["greet"]("ann") == callbacks[0]("ann") == user.greet("ann") == "bonjour ann"
    assert f.__name__ == "greet" and f.__module__ == m.__name__


def test_reload_keeps_the_same_module_object(modules):
    m = modules.make("X = 1\ndef f():\n    return X\n")
    namespace = m.__dict__
    modules.edit(m, "X = 2\ndef f():\n    return X * 10\n")
    hotreload.reload(m)
    assert sys.modules[m.__name__] is m
    assert m.__dict__ is namespace
    assert m.f() == 20


def test_reload_accepts_a_dotted_name(modules):
    package = modules.make_package(
        {
            "__init__": "",
            "views": "def index():\n    return 'v1'\n",
        }
    )
    views = sys.modules[package.__name__ + ".views"]
    index = views.index
    modules.edit(views, "def index():\n    return 'v2'\n")

    report = hotreload.reload(package.__name__ + ".views")

    assert isinstance(report, ReloadReport)
    assert report.module == views.__name__
    assert views.index is index
    assert index() == "v2"


def test_functions_see_the_module_globals_afterwards(modules):
    m = modules.make(
        """
        FACTOR = 2
        def scale(x):
            return x * FACTOR
        """
    )
    scale = m.scale
    modules.edit(
        m,
        """
        FACTOR = 2
        def scale(x):
            return x * FACTOR + 1
        def double_scale(x):
            return scale(x) * 2
        """,
    )
    hotreload.reload(m)

    assert scale.__globals__ is m.__dict__
    assert m.double_scale.__globals__ is m.__dict__
    m.FACTOR = 100  # the program changes a global: both old and new functions see it
    assert scale(1) == 101
    assert m.double_scale(1) == 202


def test_new_function_calls_kept_function_and_new_alias_is_the_kept_object(modules):
    m = modules.make(
        """
        def base():
            return 1
        """
    )
    base = m.base
    modules.edit(
        m,
        """
        def base():
            return 10
        def caller():
            return base() + 1
        alias = base
        TABLE = {"base": base}
        """,
    )
    hotreload.reload(m)

    assert m.base is base
    assert m.alias is base
    assert m.TABLE["base"] is base
    assert m.caller() == 11
    assert m.caller.__globals__["base"] is base


def test_added_and_removed_functions(modules):
    m = modules.make(
        """
        def keep():
            return "keep"
        def gone():
            return "gone"
        """
    )
    keep = m.keep
    modules.edit(
        m,
        """
        def keep():
            return "kept"
        def fresh():
            return "fresh"
        """,
    )
    report = hotreload.reload(m)

    assert m.keep is keep and keep() == "kept"
    assert not hasattr(m, "gone")
    assert "gone" not in vars(m)
    assert m.fresh() == "fresh"
    assert any(name == "fresh" or name.endswith(".fresh") for name in report.added)
    assert any(name == "gone" or name.endswith(".gone") for name in report.removed)


def test_objects_matched_by_definition_not_by_name(modules):
    m = modules.make(
        """
        def foo():
            return "foo-1"
        def bar():
            return "bar-1"
        f = foo
        """
    )
    foo, bar = m.foo, m.bar
    held = m.f
    assert held is foo
    modules.edit(
        m,
        """
        def foo():
            return "foo-2"
        def bar():
            return "bar-2"
        f = bar
        """,
    )
    hotreload.reload(m)

    assert m.foo is foo and m.bar is bar
    assert m.f is bar
    assert foo is not bar
    # foo was not turned into bar: it runs its own, edited definition
    assert foo() == "foo-2"
    assert held() == "foo-2"
    assert bar() == "bar-2"
    assert foo.__name__ == "foo" and foo.__code__ is not bar.__code__


def test_defaults_kwdefaults_doc_and_annotations_follow(modules):
    m = modules.make(
        '''
        def f(a, b=1, *, c=2) -> int:
            """old doc"""
            return a + b + c
        '''
    )
    f = m.f
    modules.edit(
        m,
        '''
        def f(a, b=10, *, c=20, d=300) -> str:
            """new doc"""
            return str(a + b + c + d)
        ''',
    )
    hotreload.reload(m)

    assert m.f is f
    assert f(1) == "331"
    assert f.__defaults__ == (10,)
    assert f.__kwdefaults__ == {"c": 20, "d": 300}
    assert f.__doc__ == "new doc"
    assert f.__annotations__ == {"return": str}


def test_closure_variable_count_changes_in_a_decorator(modules):
    m = modules.make(
        """
        import functools

        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return ("log", fn(*args))
            return wrapper

        @logged
        def compute(x):
            return x + 1
        """
    )
    wrapper = m.compute
    inner = m.compute.__wrapped__
    handlers = [m.compute]
    modules.edit(
        m,
        """
        import functools

        PREFIX = "v2"

        def logged(fn):
            tag = PREFIX + "-log"
            count = [0]
            @functools.wraps(fn)
            def wrapper(*args):
                count[0] += 1
                return (tag, fn(*args), count[0])
            return wrapper

        @logged
        def compute(x):
            return x * 100
        """,
    )
    hotreload.reload(m)

    assert m.compute is wrapper
    assert handlers[0](2) == ("v2-log", 200, 1)
    assert wrapper(3) == ("v2-log", 300, 2)
    # the decorated function inside the closure kept its identity and runs the new body
    assert m.compute.__wrapped__ is inner
    assert inner(5) == 500


def test_lambda_generator_and_async_functions(modules):
    m = modules.make(
        """
        square = lambda x: x * x

        def numbers(n):
            for i in range(n):
                yield i

        async def fetch():
            return "old"
        """
    )
    square, numbers, fetch = m.square, m.numbers, m.fetch
    modules.edit(
        m,
        """
        square = lambda x: x * x * x

        def numbers(n):
            for i in range(n):
                yield -i

        async def fetch():
            return "new"
        """,
    )
    hotreload.reload(m)

    assert m.numbers is numbers and list(numbers(3)) == [0, -1, -2]
    assert m.fetch is fetch and asyncio.run(fetch()) == "new"
    assert m.square(3) == 27
    assert square(3) == 27


def test_lru_cache_wrapper_keeps_identity_and_its_cache_is_cleared(modules):
    m = modules.make(
        """
        import functools

        @functools.lru_cache(maxsize=None)
        def slow(x):
            return x * 2

        @functools.cache
        def cached(x):
            return [x]
        """
    )
    slow, cached = m.slow, m.cached
    slow_inner = slow.__wrapped__
    cached_inner = cached.__wrapped__
    assert slow(3) == 6 and slow(3) == 6
    first = cached(1)
    assert slow.cache_info().currsize == 1
    modules.edit(
        m,
        """
        import functools

        @functools.lru_cache(maxsize=None)
        def slow(x):
            return x * 3

        @functools.cache
        def cached(x):
            return [x, x]
        """,
    )
    hotreload.reload(m)

    assert m.slow is slow and m.cached is cached
    assert slow.__wrapped__ is slow_inner
    assert cached.__wrapped__ is cached_inner
    assert slow.cache_info().currsize == 0
    assert cached.cache_info().currsize == 0
    assert slow(3) == 9
    assert cached(1) == [1, 1] and cached(1) is not first
    assert slow_inner(1) == 3


def test_lru_cache_in_another_module_reference_sees_new_code(modules):
    m = modules.make(
        """
        import functools
        @functools.lru_cache(maxsize=16)
        def price(item):
            return 100
        """
    )
    user = modules.make(f"from {m.__name__} import price\n", hint="user")
    assert user.price("x") == 100
    modules.edit(
        m,
        """
        import functools
        @functools.lru_cache(maxsize=16)
        def price(item):
            return 90
        """,
    )
    hotreload.reload(m)
    assert user.price is m.price
    assert user.price("x") == 90


def test_unchanged_reload_keeps_everything(modules):
    source = """
        ITEMS = []
        def add(x):
            ITEMS.append(x)
            return len(ITEMS)
        class C:
            def m(self):
                return "m"
        """
    m = modules.make(source)
    add, C, items = m.add, m.C, m.ITEMS
    add(1)
    hotreload.reload(m)
    assert m.add is add and m.C is C and m.ITEMS is items
    assert items == [1]
    assert add(2) == 2
    assert C().m() == "m"


def test_same_size_same_second_edit_is_seen(modules):
    m = modules.make(
        """
        def answer():
            return 111
        """
    )
    answer = m.answer
    path = modules.edit_same_stat(
        m,
        """
        def answer():
            return 222
        """,
    )
    # The scenario is real: the standard loader would still run the cached, stale code.
    cached = importlib.util.cache_from_source(str(path))
    stale_code = importlib.machinery.SourceFileLoader(m.__name__, str(path)).get_code(m.__name__)
    namespace: dict = {}
    exec(stale_code, namespace)
    assert namespace["answer"]() == 111, f"expected a stale .pyc at {cached}"

    hotreload.reload(m)

    assert m.answer is answer
    assert answer() == 222


def test_flask_style_registry_updated_without_re_registration(modules):
    framework = modules.make(
        """
        class App:
            def __init__(self):
                self.view_functions = {}
                self.registrations = 0

            def route(self, path):
                def decorator(fn):
                    self.registrations += 1
                    self.view_functions.setdefault(path, fn)
                    return fn
                return decorator

            def dispatch(self, path):
                return self.view_functions[path]()

        app = App()
        """,
        hint="framework",
    )
    views = modules.make(
        f"""
        from {framework.__name__} import app

        GREETING = "hello"

        @app.route("/")
        def index():
            return GREETING + " v1"

        @app.route("/about")
        def about():
            return "about v1"
        """,
        hint="views",
    )
    app = framework.app
    index, about = views.index, views.about
    assert app.dispatch("/") == "hello v1"
    modules.edit(
        views,
        f"""
        from {framework.__name__} import app

        GREETING = "hello"

        @app.route("/")
        def index():
            return GREETING + " v2"

        @app.route("/about")
        def about():
            return "about v2"
        """,
    )
    hotreload.reload(views)

    # the registry still holds the functions registered at startup, and they run the new code
    assert app.view_functions["/"] is index
    assert app.view_functions["/about"] is about
    assert len(app.view_functions) == 2
    assert app.dispatch("/") == "hello v2"
    assert app.dispatch("/about") == "about v2"
    views.GREETING = "hi"
    assert app.dispatch("/") == "hi v2"


def test_function_becomes_data(modules):
    m = modules.make(
        """
        def limit():
            return 5
        """
    )
    modules.edit(m, "limit = 7\n")
    hotreload.reload(m)
    assert m.limit == 7


def test_bound_methods_of_module_level_instances_run_new_code(modules):
    m = modules.make(
        """
        class Handler:
            def handle(self, x):
                return ("v1", x)
        handler = Handler()
        """
    )
    callback = m.handler.handle
    modules.edit(
        m,
        """
        class Handler:
            def handle(self, x):
                return ("v2", x)
        handler = Handler()
        """,
    )
    hotreload.reload(m)
    assert callback(1) == ("v2", 1)
    assert isinstance(m.handler, m.Handler)


def test_many_reloads_of_the_same_module(modules):
    m = modules.make("def f():\n    return 0\n")
    f = m.f
    for i in range(1, 6):
        modules.edit(m, f"def f():\n    return {i}\n")
        hotreload.reload(m)
        assert m.f is f
        assert f() == i


def test_functions_in_a_package_init_are_updated(modules):
    package = modules.make_package({"__init__": "def version():\n    return 1\n"})
    version = package.version
    modules.edit(package, "def version():\n    return 2\n")
    hotreload.reload(package)
    assert package.version is version and version() == 2
    assert isinstance(package, types.ModuleType) and hasattr(package, "__path__")


def test_partial_objects_wrapping_a_function_see_new_code(modules):
    m = modules.make("def add(a, b):\n    return a + b\n")
    add_one = functools.partial(m.add, 1)
    modules.edit(m, "def add(a, b):\n    return a * 100 + b\n")
    hotreload.reload(m)
    assert add_one(2) == 102


@pytest.mark.parametrize("installed", [True, False], ids=["imported-after-install", "imported-before-install"])
def test_strict_flask_registry_that_refuses_overwriting_an_endpoint(modules, installed):
    """Like Flask: registering a different function for an existing endpoint raises
    ("View function mapping is overwriting an existing endpoint function")."""
    if installed:
        modules.install()
    framework = modules.make(
        """
        class App:
            def __init__(self):
                self.view_functions = {}

            def route(self, path):
                def decorator(fn):
                    old = self.view_functions.get(path)
                    if old is not None and old is not fn:
                        raise AssertionError(f"View function mapping is overwriting an existing endpoint function: {path}")
                    self.view_functions[path] = fn
                    return fn
                return decorator

        app = App()
        """,
        hint="framework",
    )
    source = """
        from {framework} import app

        @app.route("/")
        def index():
            return "{version}"
        {extra}
        """
    views = modules.make(source.format(framework=framework.__name__, version="v1", extra=""), hint="views")
    index = views.index
    modules.edit(
        views,
        source.format(
            framework=framework.__name__,
            version="v2",
            extra='\n        @app.route("/new")\n        def new_page():\n            return "new"\n',
        ),
    )
    hotreload.reload(views)

    assert framework.app.view_functions["/"] is index
    assert framework.app.view_functions["/"]() == "v2"
    # a route added in the edit is registered
    assert framework.app.view_functions["/new"]() == "new"
    assert framework.app.view_functions["/new"] is views.new_page


def test_functions_created_inside_data_see_the_module_globals(modules):
    modules.install()  # source known: the changed HANDLERS statement takes the new value
    m = modules.make(
        """
        X = 1
        HANDLERS = {"x": lambda: X}
        """
    )
    modules.edit(
        m,
        """
        X = 1
        def make_handler(k):
            def handler():
                return X * k
            return handler
        HANDLERS = {"x": lambda: X + 100, "made": make_handler(10)}
        """,
    )
    hotreload.reload(m)
    m.X = 2
    assert m.HANDLERS["x"].__globals__ is m.__dict__
    assert m.HANDLERS["made"].__globals__ is m.__dict__
    assert m.HANDLERS["x"]() == 102
    assert m.HANDLERS["made"]() == 20


def test_new_defaults_refer_to_kept_classes_and_functions(modules):
    m = modules.make(
        """
        class Model:
            def kind(self):
                return "m1"
        def default_factory():
            return Model()
        def make(cls=Model):
            return cls()
        """
    )
    Model, default_factory = m.Model, m.default_factory
    modules.edit(
        m,
        """
        class Model:
            def kind(self):
                return "m2"
        def default_factory():
            return Model()
        def make(cls=Model, factory=default_factory):
            return (cls(), factory())
        """,
    )
    hotreload.reload(m)

    assert m.make.__defaults__[0] is Model
    assert m.make.__defaults__[1] is default_factory
    a, b = m.make()
    assert type(a) is Model and type(b) is Model
    assert a.kind() == "m2"


def test_function_changes_kind_plain_to_generator_and_coroutine(modules):
    import warnings

    m = modules.make(
        """
        def numbers():
            return [1, 2]
        async def later():
            return 1
        """
    )
    numbers, later = m.numbers, m.later
    modules.edit(
        m,
        """
        def numbers():
            yield 1
            yield 2
            yield 3
        def later():
            return "now"
        """,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        hotreload.reload(m)
    assert m.numbers is numbers and list(numbers()) == [1, 2, 3]
    assert m.later is later and later() == "now"


def test_kind_change_with_warnings_as_errors_is_all_or_nothing(modules):
    import warnings

    m = modules.make("def numbers():\n    return [1]\ndef other():\n    return 'o1'\n")
    numbers, other = m.numbers, m.other
    snap = modules.snapshot(m)
    modules.edit(m, "def numbers():\n    yield 1\ndef other():\n    return 'o2'\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            hotreload.reload(m)
        except hotreload.ReloadError:
            snap.assert_unchanged()
            assert numbers() == [1] and other() == "o1"
            return
    assert list(numbers()) == [1] and other() == "o2"


def test_suspended_generator_continues_with_the_code_it_started_with(modules):
    m = modules.make(
        """
        def numbers():
            yield "a1"
            yield "b1"
        """
    )
    gen = m.numbers()
    assert next(gen) == "a1"
    modules.edit(
        m,
        """
        def numbers():
            yield "a2"
            yield "b2"
            yield "c2"
        """,
    )
    hotreload.reload(m)
    assert list(gen) == ["b1"]
    assert list(m.numbers()) == ["a2", "b2", "c2"]


def test_running_call_in_another_thread_finishes_with_its_own_version(modules):
    import threading

    m = modules.make(
        """
        def slow(started, proceed):
            first = "v1"
            started.set()
            proceed.wait(10)
            return (first, "v1")
        """
    )
    started, proceed = threading.Event(), threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(m.slow(started, proceed)))
    thread.start()
    assert started.wait(10)
    modules.edit(
        m,
        """
        def slow(started, proceed):
            first = "v2"
            started.set()
            proceed.wait(10)
            return (first, "v2", "new")
        """,
    )
    hotreload.reload(m)
    proceed.set()
    thread.join(10)
    assert result == [("v1", "v1")]
    e1, e2 = threading.Event(), threading.Event()
    e2.set()
    assert m.slow(e1, e2) == ("v2", "v2", "new")


def test_singledispatch_function_dispatches_to_the_new_implementations(modules):
    source = """
        import functools

        @functools.singledispatch
        def describe(obj):
            return "object-{v}"

        @describe.register(int)
        def _(obj):
            return "int-{v}"

        @describe.register(str)
        def _(obj):
            return "str-{v}"
        """
    m = modules.make(source.format(v="1"))
    describe = m.describe
    handlers = {"describe": m.describe}
    assert describe(1) == "int-1"
    modules.edit(m, source.format(v="2"))
    hotreload.reload(m)
    assert m.describe is describe
    assert describe(1) == "int-2"
    assert handlers["describe"]("s") == "str-2"
    assert describe(1.5) == "object-2"


def test_contextmanager_functions_run_the_new_generator(modules):
    source = """
        import contextlib

        @contextlib.contextmanager
        def session(log):
            log.append("open-{v}")
            yield "{v}"
            log.append("close-{v}")
        """
    m = modules.make(source.format(v="1"))
    session = m.session
    modules.edit(m, source.format(v="2"))
    hotreload.reload(m)
    log = []
    with session(log) as value:
        assert value == "2"
    assert log == ["open-2", "close-2"]
    assert m.session is session


def test_source_encoding_declaration_is_honoured(modules):
    m = modules.make("def word():\n    return 'plain'\n")
    word = m.word
    path = modules.path_of(m)
    path.write_bytes("# -*- coding: latin-1 -*-\ndef word():\n    return 'café'\n".encode("latin-1"))
    hotreload.reload(m)
    assert m.word is word and word() == "café"
    path.write_bytes(b"\xef\xbb\xbf" + "def word():\n    return 'naïve'\n".encode("utf-8"))  # UTF-8 with BOM
    hotreload.reload(m)
    assert word() == "naïve"


def test_function_with_identical_body_but_moved_reports_new_line_numbers(modules):
    """Tracebacks, ``inspect`` and debuggers must point at the edited file's lines."""
    import traceback

    m = modules.make(
        """
        def fail():
            raise ValueError("boom")
        """
    )
    fail = m.fail
    modules.edit(
        m,
        """
        import os


        def helper():
            return os.sep


        def fail():
            raise ValueError("boom")
        """,
    )
    hotreload.reload(m)
    path = modules.path_of(m)
    lines = path.read_text().splitlines()
    expected = lines.index('    raise ValueError("boom")') + 1
    try:
        fail()
    except ValueError as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
    assert frame.filename == str(path)
    assert frame.lineno == expected
    assert fail.__code__.co_firstlineno == expected - 1


@pytest.mark.parametrize(
    "before, after, call, expected",
    [
        ("LIMIT = 1\ndef f(x=LIMIT):\n    return x\n", "LIMIT = 2\ndef f(x=LIMIT):\n    return x\n", "f()", 2),
        ("def f(*, k=1):\n    return k\n", "def f(*, k=5):\n    return k\n", "f()", 5),
        (
            "def f(x: int) -> int:\n    return 1\n",
            "def f(x: str) -> str:\n    return 1\n",
            "f.__annotations__['x'].__name__",
            "str",
        ),
        (
            "def make(v):\n    def g():\n        return v\n    return g\nf = make(1)\n",
            "def make(v):\n    def g():\n        return v\n    return g\nf = make(2)\n",
            "f()",
            2,
        ),
        (
            "def deco(tag):\n    def d(fn):\n        def w():\n            return (tag, fn())\n        return w\n    return d\n"
            "@deco('a')\ndef f():\n    return 0\n",
            "def deco(tag):\n    def d(fn):\n        def w():\n            return (tag, fn())\n        return w\n    return d\n"
            "@deco('b')\ndef f():\n    return 0\n",
            "f()",
            ("b", 0),
        ),
    ],
    ids=["default-from-global", "kwdefault", "annotations", "factory-closure", "decorator-argument"],
)
def test_same_code_with_different_defaults_annotations_or_closure_is_updated(modules, before, after, call, expected):
    """The code object is identical; what the function runs with is not."""
    m = modules.make(before)
    f = m.f
    modules.edit(m, after)
    hotreload.reload(m)
    assert eval(call, {"f": f}) == expected
    assert eval(call, {"f": m.f}) == expected
