"""SQLAlchemy 2 declarative models: methods edit in place, the mapping itself never changes.

A mapped class's table, columns, relationships and mapper are fixed for the
life of the process (sessions, identity maps and compiled statements hold
them). When a reload re-runs the body of a class that is already mapped, the
new class is mapped into a throwaway registry and ``MetaData`` instead of the
live ones (so no "Table already defined" error and no second mapper), its
mapping is compared with the live one, and the throwaway mapping is disposed
of. If the mapping is the same, the kept class gets the new methods,
properties, hybrid properties and validator bodies, and keeps its own mapper,
table and instrumented attributes. If it differs, the reload is refused,
naming the class and the attribute: restart to apply a mapping change.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import types
import weakref
from typing import Any, Dict, FrozenSet, Iterator, Optional, Set, Tuple

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import RelationshipProperty, decl_base
from sqlalchemy.orm import registry as Registry

from hotreload._errors import ReloadError
from hotreload._frameworks import live_class

logger = logging.getLogger("hotreload")

# The class method every declarative path (DeclarativeBase, declarative_base(),
# registry.mapped, MappedAsDataclass) goes through: 2.1 first, then 2.0.
if "_as_declarative" in vars(getattr(decl_base, "_ORMClassConfigurator", object)):
    _ENTRY: Tuple[type, str] = (decl_base._ORMClassConfigurator, "_as_declarative")
else:
    _ENTRY = (decl_base._MapperConfig, "setup_mapping")

# The new class -> why its mapping differs from the live class's ("" if it does not).
_verdicts: "weakref.WeakKeyDictionary[type, str]" = weakref.WeakKeyDictionary()

_GENERATED = frozenset({"__table__", "__mapper__", "__mapper_args__", "__table_args__", "__tablename__", "metadata", "registry"})


def _is_mapped(cls: Any) -> bool:
    return isinstance(cls, type) and "_sa_class_manager" in vars(cls) and "__mapper__" in dir(cls)


@contextlib.contextmanager
def executing(module: types.ModuleType) -> Iterator[None]:
    """Maps re-run classes of ``module`` into throwaway registries while its new source runs."""
    owner, name = _ENTRY
    original = vars(owner)[name]
    thread = threading.get_ident()
    scratch: Dict[int, Registry] = {}  # live registry -> its throwaway twin, one per reload

    def configure(config_class: type, registry: Any, cls: type, dict_: Any, *rest: Any) -> Any:
        live: Any = live_class(module, cls.__qualname__) if cls.__module__ == module.__name__ else None
        if threading.get_ident() != thread or live is None or live is cls or not _is_mapped(live):
            return original.__func__(config_class, registry, cls, dict_, *rest)
        throwaway = scratch.get(id(registry))
        if throwaway is None:
            throwaway = scratch[id(registry)] = Registry(
                metadata=MetaData(schema=live.metadata.schema), type_annotation_map=_annotation_map(registry)
            )
        own_metadata = vars(cls).get("metadata")
        type.__setattr__(cls, "metadata", throwaway.metadata)  # where declarative puts the table
        try:
            result = original.__func__(config_class, throwaway, cls, dict_, *rest)
        finally:
            if own_metadata is None:
                type.__delattr__(cls, "metadata")
            else:
                type.__setattr__(cls, "metadata", own_metadata)
        _verdicts[cls] = mapping_difference(live, cls) if _is_mapped(cls) else ""
        return result

    setattr(owner, name, classmethod(configure))
    try:
        yield
    finally:
        setattr(owner, name, original)
        for throwaway in scratch.values():
            try:
                throwaway.dispose()
            except Exception:  # pragma: no cover - a throwaway mapping that will not go
                logger.debug("hotreload: disposing of a throwaway SQLAlchemy registry failed", exc_info=True)


def _annotation_map(registry: Any) -> Optional[Dict[Any, Any]]:
    annotation_map = getattr(registry, "type_annotation_map", None)
    return dict(annotation_map) if annotation_map else None


def preflight(old: type, new: type, label: str, module_name: str) -> None:
    difference = _verdicts.get(new, "") if isinstance(new, type) else ""
    if difference:
        error = ReloadError(
            f"class {label} in module {module_name} cannot be updated in place: its SQLAlchemy mapping "
            f"changed ({difference}); the table, columns and relationships of a mapped class stay fixed "
            "while the program runs: restart the program to apply this change",
            name=module_name,
            label=label,
        )
        raise error


def managed_names(old: Any, new: Any) -> FrozenSet[str]:
    """The mapped attributes and mapping internals of a mapped class: always the live ones."""
    if not _is_mapped(old):
        return frozenset()
    names = set(_GENERATED)
    names.update(key for key in old.__mapper__.attrs.keys())
    if "__init__" in vars(old):
        names.add("__init__")  # instrumented: it sets up each instance's state (see after_class_update)
    for cls in (old, new):
        for name, value in vars(cls).items():
            if name.startswith(("_sa_", "__sa_")) or _is_mapping_object(value):
                names.add(name)
    return frozenset(names)


def _is_mapping_object(value: Any) -> bool:
    """Declarations and instrumentation: columns, relationships, mapped_column, InstrumentedAttribute."""
    module = getattr(type(value), "__module__", "") or ""
    if not module.startswith("sqlalchemy."):
        return False
    return not module.startswith("sqlalchemy.ext.hybrid")


def after_class_update(old: type, new: type, tx: Any) -> None:
    """A constructor written in the class body is wrapped by SQLAlchemy's instrumented one,
    which the kept class keeps: the user's constructor inside it is updated in place."""
    if not _is_mapped(old):
        return
    manager = vars(old)["_sa_class_manager"]
    inner, edited = getattr(manager, "original_init", None), vars(new).get("__init__")
    if type(inner) is types.FunctionType and type(edited) is types.FunctionType:
        if inner.__module__ == edited.__module__ == old.__module__ and inner is not edited:
            reconciler = getattr(tx, "reconciler", None)
            if reconciler is not None:
                reconciler.update_function(inner, edited, f"{old.__qualname__}.__init__")


# -- comparing two mappings --------------------------------------------------------


def mapping_difference(live: Any, new: Any) -> str:
    """A description of the first difference between two mapped classes' mappings, or ""."""
    old_table, new_table = live.__mapper__.local_table, new.__mapper__.local_table
    difference = _table_difference(live, old_table, new_table)
    if difference:
        return difference
    old_props, new_props = _properties(live.__mapper__), _properties(new.__mapper__)
    for key in old_props.keys() - new_props.keys():
        return f"{live.__name__}.{key}: mapped attribute removed"
    for key in new_props.keys() - old_props.keys():
        return f"{live.__name__}.{key}: mapped attribute added"
    for key, signature in old_props.items():
        if not _same_signature(signature, new_props[key]):
            return f"{live.__name__}.{key}: {signature[0]} changed"
    old_validated, new_validated = _validated(live.__mapper__), _validated(new.__mapper__)
    if old_validated != new_validated:
        changed = sorted({key for key, _ in new_validated ^ old_validated})
        return f"{live.__name__}: @validates for {', '.join(changed)} added or removed"
    old_args, new_args = _mapper_arguments(live.__mapper__), _mapper_arguments(new.__mapper__)
    if old_args != new_args:
        return f"{live.__name__}.__mapper_args__ changed"
    return ""


def _table_difference(live: Any, old: Any, new: Any) -> str:
    if not (isinstance(old, Table) and isinstance(new, Table)):
        return "" if type(old) is type(new) else f"{live.__name__}.__table__ changed"
    if (old.name, old.schema) != (new.name, new.schema):
        return f"{live.__name__}.__tablename__: table {old.fullname} became {new.fullname}"
    old_columns = {column.key: _column(column) for column in old.columns}
    new_columns = {column.key: _column(column) for column in new.columns}
    for key in new_columns.keys() - old_columns.keys():
        return f"{live.__name__}.{key}: column {old.name}.{key} added"
    for key in old_columns.keys() - new_columns.keys():
        return f"{live.__name__}.{key}: column {old.name}.{key} removed"
    for key, signature in old_columns.items():
        if not _same_column(signature, new_columns[key]):
            return f"{live.__name__}.{key}: column {old.name}.{key} changed"
    if _constraints(old) != _constraints(new):
        return f"{live.__name__}.__table_args__: constraints or indexes of table {old.name} changed"
    return ""


def _column(column: Any) -> Tuple[Any, ...]:
    return (
        column.name,
        repr(column.type),
        column.primary_key,
        column.nullable,
        column.unique,
        column.index,
        column.autoincrement,
        _default(column.default),
        _default(column.server_default),
        _default(column.onupdate),
        tuple(sorted(fk.target_fullname for fk in column.foreign_keys)),
        column.comment,
    )


def _same_column(old: Tuple[Any, ...], new: Tuple[Any, ...]) -> bool:
    """Equal signatures; a foreign key column left untyped takes its type from the target
    table, which the throwaway metadata may not hold (NullType there)."""
    if new[1] == "NullType()" and new[10]:
        return old[:1] + old[2:] == new[:1] + new[2:]
    return old == new


def _default(default: Any) -> Any:
    if default is None:
        return None
    value = getattr(default, "arg", default)
    if callable(value):
        code = getattr(value, "__code__", None)
        return ("callable", code.co_code if code is not None else getattr(value, "__qualname__", repr(type(value))))
    return repr(value)


def _constraints(table: Any) -> FrozenSet[Tuple[Any, ...]]:
    found: Set[Tuple[Any, ...]] = set()
    for constraint in table.constraints:
        columns = tuple(sorted(column.name for column in getattr(constraint, "columns", ())))
        found.add((type(constraint).__name__, columns))
    for index in table.indexes:
        found.add(("Index", index.name, index.unique, tuple(column.name for column in index.columns)))
    return frozenset(found)


def _properties(mapper: Any) -> Dict[str, Tuple[Any, ...]]:
    """The mapper's own properties (before configuration), each as a comparable signature."""
    return {key: _property(prop) for key, prop in mapper._props.items()}


def _property(prop: Any) -> Tuple[Any, ...]:
    kind = type(prop).__name__
    columns = tuple(getattr(column, "name", repr(column)) for column in getattr(prop, "columns", ()))
    if isinstance(prop, RelationshipProperty):
        declared = getattr(prop, "_init_args", None)
        arguments = tuple(
            (name, _target(getattr(getattr(declared, name, None), "argument", None)))
            for name in ("secondary", "primaryjoin", "secondaryjoin", "order_by", "foreign_keys", "remote_side")
        )
        return (
            "relationship",
            _target(getattr(prop, "argument", None)),
            arguments,
            *(repr(getattr(prop, name, None)) for name in ("back_populates", "backref", "lazy", "viewonly")),
            # Configuring the mapper resolves an unspecified uselist: compare only a declared one.
            ("uselist", getattr(prop, "uselist", None)),
            repr(getattr(prop, "_cascade", "")),
        )
    return (kind.replace("Property", "").lower() or kind, columns, getattr(prop, "deferred", None))


def _same_signature(old: Tuple[Any, ...], new: Tuple[Any, ...]) -> bool:
    if len(old) != len(new):
        return False
    for a, b in zip(old, new):
        if a != b and not (isinstance(b, tuple) and b[:1] == ("uselist",) and b[1] is None):
            return False
    return True


def _target(argument: Any) -> Any:
    if argument is None or isinstance(argument, str):
        return argument
    if isinstance(argument, type):
        return argument.__qualname__
    name = getattr(argument, "name", None)
    if isinstance(name, str):
        return name  # a Table
    code = getattr(argument, "__code__", None)
    return ("callable", code.co_code) if code is not None else repr(argument)


def _validated(mapper: Any) -> FrozenSet[Tuple[str, str]]:
    found = set()
    for key, entry in dict(mapper.validators).items():
        method = entry[0] if isinstance(entry, tuple) else entry
        found.add((key, getattr(method, "__name__", "")))
    return frozenset(found)


def _mapper_arguments(mapper: Any) -> Tuple[Any, ...]:
    inherits = mapper.inherits.class_.__qualname__ if mapper.inherits is not None else None
    on = mapper.polymorphic_on
    return (inherits, mapper.polymorphic_identity, getattr(on, "name", repr(on) if on is not None else None))
