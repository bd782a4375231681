"""FastAPI dependencies declared with a function the reload folded into the one the module keeps.

``def me(db = Depends(get_db))`` and ``db: Annotated[str, Depends(get_db)]`` are
evaluated when the ``def`` runs: an edit that re-runs both ``me`` and ``get_db``
leaves ``me`` declaring the new ``get_db``, which the reload then discarded in
favour of the live one. Requests still work, but ``app.dependency_overrides``
keyed by the module's ``get_db`` no longer applies, and a later edit of
``get_db`` never reaches the route. The declarations are pointed at the kept
function.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import typing
from typing import Any, Dict, Optional

from hotreload._frameworks._endpoints import kept_function


def point_dependencies_at_kept(func: Any, module: Any, tx: Any) -> None:
    """``func``'s defaults and annotations declare the module's kept dependency functions."""
    params = sys.modules.get("fastapi.params")
    marker = getattr(params, "Depends", None)
    if marker is None:
        return
    defaults = getattr(func, "__defaults__", None)
    if defaults:
        kept = tuple(_kept(value, marker, module) for value in defaults)
        if any(a is not b for a, b in zip(kept, defaults)):
            tx.setattr(func, "__defaults__", kept)
    for name in ("__kwdefaults__", "__annotations__"):
        mapping = getattr(func, name, None)
        if isinstance(mapping, dict):
            replaced = _kept_mapping(mapping, marker, module)
            if replaced is not None:
                tx.setattr(func, name, replaced)


def _kept_mapping(mapping: Dict[str, Any], marker: type, module: Any) -> Optional[Dict[str, Any]]:
    kept = {key: _kept(value, marker, module) for key, value in mapping.items()}
    return kept if any(kept[key] is not value for key, value in mapping.items()) else None


def _kept(value: Any, marker: type, module: Any) -> Any:
    if isinstance(value, marker):
        dependency = getattr(value, "dependency", None)
        kept = kept_function(dependency, module) if dependency is not None else dependency
        return value if kept is dependency else _declaring(value, kept)
    if typing.get_origin(value) is typing.Annotated:
        metadata = tuple(_kept(item, marker, module) for item in value.__metadata__)
        if any(a is not b for a, b in zip(metadata, value.__metadata__)):
            return typing.Annotated[(value.__origin__, *metadata)]
    return value


def _declaring(param: Any, dependency: Any) -> Any:
    """The same declaration (``Depends``, ``Security``), naming ``dependency``."""
    if dataclasses.is_dataclass(param) and not isinstance(param, type):
        return dataclasses.replace(param, dependency=dependency)
    clone = copy.copy(param)
    vars(clone)["dependency"] = dependency
    return clone
