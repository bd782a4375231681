"""pydantic v2: an edited ``BaseModel`` keeps its class, and validation builds the kept class.

pydantic builds, when a model class is created, a core schema and a validator
that construct instances of *that* class object. The re-run class body makes a
new class with its own validator; the reload keeps the old class. So the
adapter takes the new class's fields, decorators and config (their annotations
pointed at the kept classes), rebinds the decorators to the kept class and
rebuilds its schema, validator and serializer there. Then the models that
depend on a changed one (subclasses, models with a field of its type) and the
``TypeAdapter`` objects of the program's own modules are rebuilt too, in
dependency order, so nested models and adapters produce the kept classes and
validate with the new fields.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import sys
import types
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Set, Tuple

from pydantic import BaseModel, TypeAdapter

from hotreload._frameworks import _pending
from hotreload._frameworks._defaults import FieldDefault
from hotreload._frameworks._modules import user_modules
from hotreload._frameworks._types import classes_in, mentions, remap_type

# Class attributes pydantic generates; the core leaves them to this adapter.
_GENERATED = frozenset(
    {"model_config", "model_fields", "model_computed_fields", "__class_vars__", "__private_attributes__", "__signature__"}
)
# Rebuilt here from the fields and decorators, never taken from the new class.
_BUILT = frozenset(
    {
        "__pydantic_core_schema__",
        "__pydantic_validator__",
        "__pydantic_serializer__",
        "__pydantic_complete__",
        "__signature__",
        "__pydantic_computed_fields__",
        "__pydantic_fields__",
        "__pydantic_extra_info__",
        "model_fields",
    }
)
_MISSING = object()


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel


def managed_names(old: type, new: type) -> FrozenSet[str]:
    if not (_is_model(old) and _is_model(new)):
        return frozenset()
    defaults = {name for name, value in vars(old).items() if isinstance(value, FieldDefault)}
    return _GENERATED | defaults | {name for name in (*vars(old), *vars(new)) if name.startswith("__pydantic_")}


def after_class_update(old: type, new: type, tx: Any) -> None:
    """Takes the new class's model definition onto the kept class and rebuilds its validator."""
    if not (_is_model(old) and _is_model(new)):
        return
    kept = _kept_function(tx)
    old_config = dict(getattr(old, "model_config", {}))
    _snapshot(old, tx)
    _place_defaults(old, _fields_of(old), _fields_of(new), tx)
    for name, value in vars(new).items():
        if name in _BUILT and name not in ("__pydantic_fields__", "model_fields"):
            continue
        if name.startswith("__pydantic_") or name in _GENERATED:
            type.__setattr__(old, name, _adopted(name, value, old, kept))
    _rebuild(old)
    _pending.note("pydantic", tx, (old, old_config))


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    """Rebuilds, in dependency order, every model and type adapter that depends on a changed model."""
    updated = _pending.notes("pydantic", tx)
    if not updated:
        return
    kept = _kept_function(tx)
    changed = {id(cls): cls for cls, _ in updated}
    configs = {id(cls): config for cls, config in updated}
    rebuilt = set(changed)
    for cls in _dependency_order(changed):
        _snapshot(cls, tx)
        if id(cls) not in changed:
            _inherit(cls, configs)
        _remap_fields(cls, kept)
        _rebuild(cls)
        rebuilt.add(id(cls))
    for adapter in _type_adapters(module):
        if mentions(getattr(adapter, "_type", None), rebuilt):
            _rebuild_adapter(adapter, tx)


def _place_defaults(cls: type, old_fields: Dict[str, Any], new_fields: Dict[str, Any], tx: Any) -> None:
    """Instances made before the reload lack the fields it added: they read the default."""
    for name, value in list(vars(cls).items()):
        if isinstance(value, FieldDefault) and not _has_default(new_fields.get(name)):
            tx.delattr(cls, name)
    for name, field in new_fields.items():
        current = vars(cls).get(name)
        if _has_default(field) and (isinstance(current, FieldDefault) or (name not in old_fields and current is None)):
            tx.setattr(cls, name, FieldDefault(name, _default_of(field)))


def _default_of(field: Any) -> Callable[[Any], Any]:
    factory = getattr(field, "default_factory", None)
    if factory is not None:
        return lambda instance: factory()
    return lambda instance: field.default


def _has_default(field: Any) -> bool:
    if field is None:
        return False
    is_required = getattr(field, "is_required", None)
    return callable(is_required) and not is_required()


def _kept_function(tx: Any) -> Callable[[Any], Any]:
    reconciler = getattr(tx, "reconciler", None)
    return reconciler.kept if reconciler is not None else (lambda value: value)


def _adopted(name: str, value: Any, cls: type, kept: Callable[[Any], Any]) -> Any:
    """A pydantic attribute of the new class, made to refer to the kept classes."""
    if name in ("__pydantic_fields__", "model_fields") and isinstance(value, dict):
        return {key: _remapped_field(field, kept) for key, field in value.items()}
    if name == "__pydantic_decorators__":
        return _rebound_decorators(value, cls)
    if name == "__pydantic_setattr_handlers__":
        return {}  # memoized per field; the fields may have changed
    return value


def _remapped_field(field: Any, kept: Callable[[Any], Any]) -> Any:
    annotation = getattr(field, "annotation", None)
    remapped = remap_type(annotation, kept)
    if remapped is annotation:
        return field
    field = copy.copy(field)
    field.annotation = remapped
    return field


def _rebound_decorators(infos: Any, cls: type) -> Any:
    """The decorators (validators, serializers...) bound to ``cls``: the new class's are
    bound methods of the new class, which would build and check the wrong class."""
    rebound = copy.copy(infos)
    for category, decorators in _categories(infos):
        setattr(rebound, category, {key: _rebind(decorator, cls) for key, decorator in decorators.items()})
    return rebound


def _categories(infos: Any) -> List[Tuple[str, Dict[str, Any]]]:
    """``(category, {name: decorator})`` of a ``DecoratorInfos`` (a slotted dataclass)."""
    return [(field.name, getattr(infos, field.name)) for field in dataclasses.fields(infos)]


def _rebind(decorator: Any, cls: type) -> Any:
    return type(decorator).build(cls, cls_var_name=decorator.cls_var_name, shim=decorator.shim, info=copy.copy(decorator.info))


def _snapshot(cls: type, tx: Any) -> None:
    """Records how to put back every pydantic attribute of ``cls`` (the rollback of a rebuild)."""
    names = managed_names(cls, cls) | _BUILT
    saved = {name: vars(cls).get(name, _MISSING) for name in names}

    def restore() -> None:
        for name, value in saved.items():
            if value is _MISSING:
                if name in vars(cls):
                    type.__delattr__(cls, name)
            else:
                type.__setattr__(cls, name, value)

    tx.record(restore)


def _rebuild(cls: Any) -> None:
    cls.model_rebuild(force=True, _parent_namespace_depth=0)


def _remap_fields(cls: Any, kept: Callable[[Any], Any]) -> None:
    fields = vars(cls).get("__pydantic_fields__", vars(cls).get("model_fields"))
    if isinstance(fields, dict):
        remapped = {key: _remapped_field(field, kept) for key, field in fields.items()}
        type.__setattr__(cls, "__pydantic_fields__" if "__pydantic_fields__" in vars(cls) else "model_fields", remapped)


def _own_annotation_names(cls: Any) -> Set[str]:
    """The names ``cls`` itself annotates (3.14+: lazily, through annotationlib; never evaluated)."""
    if sys.version_info >= (3, 14):
        annotationlib = importlib.import_module("annotationlib")
        return set(annotationlib.get_annotations(cls, format=annotationlib.Format.FORWARDREF))
    return set(vars(cls).get("__annotations__", {}))


def _inherit(cls: Any, old_configs: Dict[int, Dict[str, Any]]) -> None:
    """A subclass of a changed model: its fields, decorators and config follow the parent's new ones."""
    parent = next((base for base in cls.__mro__[1:] if _is_model(base)), None)
    if parent is None:
        return
    own = _own_annotation_names(cls)
    fields_name = "__pydantic_fields__" if "__pydantic_fields__" in vars(cls) else "model_fields"
    fields = dict(vars(parent).get(fields_name, {}))
    fields.update({key: field for key, field in vars(cls).get(fields_name, {}).items() if key in own})
    type.__setattr__(cls, fields_name, fields)
    decorators = vars(cls).get("__pydantic_decorators__")
    parent_decorators = vars(parent).get("__pydantic_decorators__")
    if decorators is not None and parent_decorators is not None:
        merged = copy.copy(decorators)
        for category, inherited in _categories(parent_decorators):
            mine = {key: value for key, value in getattr(decorators, category).items() if key in vars(cls)}
            setattr(merged, category, {**{k: _rebind(d, cls) for k, d in inherited.items()}, **mine})
        type.__setattr__(cls, "__pydantic_decorators__", merged)
    old_parent_config = old_configs.get(id(parent))
    if old_parent_config is not None and "model_config" in vars(cls):
        own_config = {k: v for k, v in cls.model_config.items() if old_parent_config.get(k, _MISSING) != v}
        type.__setattr__(cls, "model_config", {**parent.model_config, **own_config})


def _all_models() -> Iterator[type]:
    seen: Set[int] = set()
    stack = list(type.__subclasses__(BaseModel))
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        yield cls
        stack.extend(type.__subclasses__(cls))


def _fields_of(cls: type) -> Dict[str, Any]:
    fields = vars(cls).get("__pydantic_fields__", vars(cls).get("model_fields", {}))
    return fields if isinstance(fields, dict) else {}


def _dependencies(cls: type, models: Dict[int, type]) -> Set[int]:
    """The models ``cls`` is built from: its model bases, and the models its fields mention."""
    found = {id(base) for base in cls.__mro__[1:] if id(base) in models}
    for field in _fields_of(cls).values():
        found |= classes_in(getattr(field, "annotation", None)) & models.keys()
    found.discard(id(cls))
    return found


def _dependency_order(changed: Dict[int, type]) -> List[type]:
    """The changed models and every model that depends on one, dependencies first.

    A changed model that comes before one of its own changed dependencies in
    the update order is rebuilt again (it was built against the unrebuilt one);
    the others were rebuilt by after_class_update already.
    """
    models = {id(cls): cls for cls in _all_models() if "<locals>" not in cls.__qualname__ or id(cls) in changed}
    models.update(changed)
    depends = {key: _dependencies(cls, models) for key, cls in models.items()}
    dependants: Dict[int, Set[int]] = {}
    for key, found in depends.items():
        for dependency in found:
            dependants.setdefault(dependency, set()).add(key)
    affected: Set[int] = set()
    stack = list(changed)
    while stack:
        for dependant in dependants.get(stack.pop(), ()):
            if dependant not in affected:
                affected.add(dependant)
                stack.append(dependant)
    position = {key: index for index, key in enumerate(changed)}
    ordered: List[type] = []
    placed: Set[int] = set()

    def place(key: int, path: FrozenSet[int]) -> None:
        if key in placed or key in path:
            return  # placed already, or a cycle (forward references): pydantic resolves those itself
        for dependency in depends[key]:
            if dependency in affected or dependency in changed:
                place(dependency, path | {key})
        placed.add(key)
        stale = key in affected or any(position.get(d, -1) > position[key] for d in depends[key] if d in changed)
        if stale:
            ordered.append(models[key])

    for key in [*changed, *affected]:
        place(key, frozenset())
    return ordered


def _type_adapters(module: types.ModuleType) -> Iterator[Any]:
    for candidate in user_modules(module):
        for value in list(vars(candidate).values()):
            if issubclass(type(value), TypeAdapter):  # type(), never __class__: a lazy module would load
                yield value


def _rebuild_adapter(adapter: Any, tx: Any) -> None:
    saved = dict(vars(adapter))

    def restore() -> None:
        vars(adapter).clear()
        vars(adapter).update(saved)

    tx.record(restore)
    adapter.rebuild(force=True, _parent_namespace_depth=0)
