"""attrs classes: methods edit in place; a field change applies or is refused clearly.

A slotted attrs class (``attrs.define``'s default) has one slot per field, so a
field added or removed needs a new instance layout: refused before anything
changes, naming the class and the field and saying what to do. A class with
a ``__dict__`` takes the new fields (the generated ``__init__``, ``__repr__``,
``__eq__``... follow), and instances made before the reload read the new
fields' defaults.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, Optional

from hotreload._errors import ReloadError
from hotreload._frameworks._defaults import FieldDefault


def _fields(cls: Any) -> Dict[str, Any]:
    fields = vars(cls).get("__attrs_attrs__") if isinstance(cls, type) else None
    return {field.name: field for field in fields} if fields is not None else {}


def _is_attrs(cls: Any) -> bool:
    return isinstance(cls, type) and "__attrs_attrs__" in vars(cls)


def preflight(old: type, new: type, label: str, module_name: str) -> None:
    if not (_is_attrs(old) and _is_attrs(new)) or "__slots__" not in vars(old):
        return
    old_fields, new_fields = _fields(old), _fields(new)
    added = [name for name in new_fields if name not in old_fields]
    removed = [name for name in old_fields if name not in new_fields]
    if not (added or removed):
        return
    change = f"field {label}.{(added or removed)[0]} {'added' if added else 'removed'}"
    error = ReloadError(
        f"class {label} in module {module_name} cannot be updated in place: attrs {change}, but the class "
        "is slotted (attrs.define's default), so the layout of its instances is fixed: restart the program "
        "to apply it, or declare the class with slots=False to change fields while it runs",
        name=module_name,
        label=label,
    )
    raise error


def managed_names(old: Any, new: Any) -> FrozenSet[str]:
    if not (_is_attrs(old) and _is_attrs(new)):
        return frozenset()
    return frozenset(name for name, value in vars(old).items() if isinstance(value, FieldDefault))


def after_class_update(old: type, new: type, tx: Any) -> None:
    """Instances made before the reload lack the fields it added: they read the default."""
    if not (_is_attrs(old) and _is_attrs(new)) or "__slots__" in vars(old):
        return
    fields = _fields(new)
    for name, value in list(vars(old).items()):
        if isinstance(value, FieldDefault) and _default_of(fields.get(name)) is None:
            tx.delattr(old, name)
    for name, field in fields.items():
        default = _default_of(field)
        current = vars(old).get(name)
        if default is not None and (current is None or isinstance(current, FieldDefault)):
            tx.setattr(old, name, FieldDefault(name, default))


def _default_of(field: Any) -> Any:
    """instance -> the field's default, or None if the field has none."""
    if field is None:
        return None
    default = field.default
    if type(default).__name__ == "_Nothing" or repr(default) == "NOTHING":
        return None
    factory: Optional[Callable[..., Any]] = getattr(default, "factory", None)  # attrs.Factory
    if factory is not None:
        if getattr(default, "takes_self", False):
            return factory
        return lambda instance: factory()
    return lambda instance: default
