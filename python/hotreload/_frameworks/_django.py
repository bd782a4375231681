"""Django: model methods, views, URL patterns, forms, template tags and admin edit in place.

A re-run model class body makes a new model class, which Django's metaclass
registers in the app registry in place of the live one (with a "reloading
models is not advised" warning) and whose relation fields install accessors
on the live related models. While a reload runs, a re-run model that has a live
counterpart is kept out of the app registry and the live models' attributes
are put back as they were; the kept class gets the new methods and keeps its
own ``_meta``, fields, managers and exceptions. A change to the fields or to
the database options is refused: restart to apply it (and write a migration).
After every reload the URL resolver caches are cleared, so new and edited URL
patterns are served by the next request. If a reload fails after its run, the
admin registrations and template tags and filters the run made come out again.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Set, Tuple

from hotreload._errors import ReloadError
from hotreload._frameworks import _snapshot, live_class

_MANAGED = frozenset({"_meta", "DoesNotExist", "MultipleObjectsReturned", "objects", "_default_manager", "_base_manager"})
_MISSING = object()
_OPTIONS = ("db_table", "ordering", "unique_together", "index_together", "abstract", "proxy", "managed", "app_label")


def _apps() -> Any:
    return sys.modules["django.apps"].apps  # this adapter is loaded only once django.apps is imported


def _is_model(cls: Any) -> bool:
    meta = vars(cls).get("_meta") if isinstance(cls, type) else None
    return meta is not None and hasattr(meta, "concrete_fields") and hasattr(meta, "model_name")


@contextlib.contextmanager
def executing(module: types.ModuleType) -> Iterator[Optional[Callable[[], None]]]:
    apps = _apps()
    if not getattr(apps, "ready", False) and not getattr(apps, "models_ready", False):
        yield None
        return
    registries = _registries(module)

    def undo() -> None:
        for held in registries:
            _snapshot.restore(held)

    thread = threading.get_ident()
    original = apps.register_model
    saved = _live_model_attributes(apps)

    def register_model(app_label: str, model: Any) -> None:
        live = live_class(module, model.__qualname__) if model.__module__ == module.__name__ else None
        if threading.get_ident() == thread and live is not None and live is not model and _is_model(live):
            return  # the live model stays registered; this one is folded into it
        original(app_label, model)

    apps.register_model = register_model
    try:
        with _admin_registrations_repeatable(module, thread):
            yield undo
    finally:
        del apps.register_model  # back to the class's own method
        _restore(saved)


def _registries(module: types.ModuleType) -> List[_snapshot.Captured]:
    """What a run may register into beyond the module: every admin site's registry, and the
    tags and filters of the template libraries the module holds."""
    sites = sys.modules.get("django.contrib.admin.sites")
    held = [getattr(site, "_registry", None) for site in list(getattr(sites, "all_sites", ()))]
    library = getattr(sys.modules.get("django.template.library"), "Library", None)
    if library is not None:
        for value in list(vars(module).values()):
            if issubclass(type(value), library):  # type(), never __class__: a lazy module would load
                held.extend((value.tags, value.filters))
    return [c for c in (_snapshot.capture(registry) for registry in held) if c is not None]


@contextlib.contextmanager
def _admin_registrations_repeatable(module: types.ModuleType, thread: int) -> Iterator[None]:
    """A re-run ``@admin.register(Model)`` of the same ModelAdmin class is not a second registration:
    the registered instance's class is the live one, which the new class is folded into."""
    sites = sys.modules.get("django.contrib.admin.sites")
    site_class = getattr(sites, "AdminSite", None)
    if site_class is None:
        yield
        return
    original = site_class.register

    def register(site: Any, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        if threading.get_ident() == thread and admin_class is not None and admin_class.__module__ == module.__name__:
            models = [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
            registered = [site._registry.get(model) for model in models]
            if all(type(entry).__qualname__ == admin_class.__qualname__ for entry in registered if entry is not None):
                models = [model for model, entry in zip(models, registered) if entry is None]
                if not models:
                    return
                model_or_iterable = models
        original(site, model_or_iterable, admin_class, **options)

    site_class.register = register
    try:
        yield
    finally:
        site_class.register = original


def _live_model_attributes(apps: Any) -> List[Tuple[type, Dict[str, Any]]]:
    return [(model, dict(vars(model))) for model in apps.get_models(include_auto_created=True)]


def _restore(saved: List[Tuple[type, Dict[str, Any]]]) -> None:
    """Live models get back the attributes the run changed (reverse accessors of re-run relations)."""
    for model, before in saved:
        now = vars(model)
        for name in [name for name in now if name not in before]:
            type.__delattr__(model, name)
        for name, value in before.items():
            if now.get(name, _MISSING) is not value and name not in ("__dict__", "__weakref__"):
                type.__setattr__(model, name, value)


def preflight(old: type, new: type, label: str, module_name: str) -> None:
    if not (_is_model(old) and _is_model(new)):
        return
    difference = _model_difference(old, new)
    if difference:
        error = ReloadError(
            f"class {label} in module {module_name} cannot be updated in place: its Django model "
            f"definition changed ({difference}); fields and database options of a model stay fixed while "
            "the program runs: restart the program (and make a migration) to apply this change",
            name=module_name,
            label=label,
        )
        raise error


def _model_difference(old: Any, new: Any) -> str:
    old_fields, new_fields = _fields(old), _fields(new)
    for name in new_fields.keys() - old_fields.keys():
        return f"{old.__name__}.{name}: field added"
    for name in old_fields.keys() - new_fields.keys():
        return f"{old.__name__}.{name}: field removed"
    for name, signature in old_fields.items():
        if new_fields[name] != signature:
            return f"{old.__name__}.{name}: field changed"
    for option in _OPTIONS:
        if repr(getattr(old._meta, option, None)) != repr(getattr(new._meta, option, None)):
            return f"{old.__name__}.Meta.{option} changed"
    return ""


def _fields(model: Any) -> Dict[str, str]:
    meta = model._meta
    return {field.name: repr(field.deconstruct()[1:]) for field in [*meta.local_fields, *meta.local_many_to_many]}


# What a form's metaclass derives from the class body: always the new class's.
_FORM_GENERATED = ("base_fields", "declared_fields", "_meta", "media")


def _is_form(cls: Any) -> bool:
    return isinstance(cls, type) and "base_fields" in vars(cls) and "declared_fields" in vars(cls)


def after_class_update(old: type, new: type, tx: Any) -> None:
    """A form's fields follow the edit (the class data rule would keep the live dicts)."""
    if not (_is_form(old) and _is_form(new)):
        return
    for name in _FORM_GENERATED:
        value = vars(new).get(name, _MISSING)
        if value is not _MISSING and vars(old).get(name, _MISSING) is not value:
            tx.setattr(old, name, value)


def managed_names(old: Any, new: Any) -> FrozenSet[str]:
    """A model's options, fields, managers and per-model exceptions: always the live ones;
    a form's fields: set by after_class_update."""
    if _is_form(old) and _is_form(new):
        return frozenset(_FORM_GENERATED)
    if not (_is_model(old) and _is_model(new)):
        return frozenset()
    names = set(_MANAGED)
    for model in (old, new):
        meta = model._meta
        for field in [*meta.local_fields, *meta.local_many_to_many]:
            names.update({field.name, field.attname})
            names.update({f"get_next_by_{field.name}", f"get_previous_by_{field.name}", f"get_{field.name}_display"})
        names.update(manager.name for manager in meta.local_managers)
        for name, value in vars(model).items():
            if (getattr(type(value), "__module__", "") or "").startswith("django."):
                names.add(name)
    return frozenset(names)


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    """New and edited URL patterns are resolved afresh by the next request."""
    urls = sys.modules.get("django.urls")
    if urls is not None:
        tx.on_commit(lambda: _forget_urls(urls))


def _forget_urls(urls: Any) -> None:
    """Clears Django's resolver caches: the cached resolvers, and what the resolvers of
    ``include()`` entries (made once, when the root URLconf was imported) remember."""
    try:
        root = urls.get_resolver()
    except Exception:  # pragma: no cover - no URLconf configured
        root = None
    seen: Set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        resolver = stack.pop()
        if id(resolver) in seen:
            continue
        seen.add(id(resolver))
        patterns = vars(resolver).get("url_patterns", ())
        stack.extend(p for p in patterns if hasattr(p, "url_patterns"))
        for cached in ("url_patterns", "urlconf_module"):
            if isinstance(resolver.urlconf_name, str) or cached == "url_patterns":
                vars(resolver).pop(cached, None)
        for name in ("_reverse_dict", "_namespace_dict", "_app_dict", "_callback_strs"):
            value: Any = getattr(resolver, name, None)
            if value is not None and hasattr(value, "clear"):
                value.clear()
        resolver._populated = False
    urls.clear_url_caches()
