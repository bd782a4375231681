"""A module's lazy annotations (3.14+, PEP 649/749) when only part of it ran.

From 3.14 the compiler gives a module one ``__annotate__`` function that computes
the annotations of every annotated top-level statement, when first asked. A
reload that runs only the changed statements compiles a unit whose
``__annotate__`` knows just those. So the module's annotate function becomes the
composition of the parts: the live one, less the names whose statements ran
again or disappeared, and the new one. Parts that no longer contribute a name
are dropped, so the chain does not grow with the number of reloads. The cached
``__annotations__`` of the module is dropped so it is computed afresh.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Dict, FrozenSet, List, Set, Tuple, cast

LAZY_ANNOTATIONS = sys.version_info >= (3, 14)

Part = Tuple[Callable[[int], Dict[str, Any]], FrozenSet[str], Any]
"""An annotate function, the names to leave out of what it returns, and the
``__conditional_annotations__`` set of the unit it came from (3.14 records there
which annotated statements ran; each unit numbers its own)."""

_CONDITIONS = "__conditional_annotations__"

_PARTS = "__hotreload_parts__"


def merge_module_annotations(live: Dict[str, Any], new: Dict[str, Any], rerun: Set[str]) -> None:
    """Makes ``new["__annotate__"]`` cover the whole module (see above); ``rerun`` are the
    names bound by the statements that ran or disappeared. Changes ``new`` only."""
    if not LAZY_ANNOTATIONS:
        return
    old_annotate, new_annotate = live.get("__annotate__"), new.get("__annotate__")
    ran_annotated = new_annotate is not None and new_annotate is not old_annotate
    if not ran_annotated and not (old_annotate is not None and rerun):
        return
    parts = _parts(old_annotate, frozenset(rerun), live.get(_CONDITIONS))
    if ran_annotated:
        parts.append((cast(Callable[[int], Dict[str, Any]], new_annotate), frozenset(), new.get(_CONDITIONS)))
    new.pop("__annotations__", None)  # the cache of the old composition
    if not parts:
        new.pop("__annotate__", None)
    elif len(parts) == 1 and not parts[0][1] and parts[0][2] is new.get(_CONDITIONS):
        new["__annotate__"] = parts[0][0]
    else:
        new["__annotate__"] = _composed(parts)


def _parts(annotate: Any, drop: FrozenSet[str], conditions: Any) -> List[Part]:
    """The parts of the live annotate function, each less ``drop``; parts left with no
    name of their own are gone."""
    if annotate is None:
        return []
    earlier: List[Part] = getattr(annotate, _PARTS, None) or [(annotate, frozenset(), conditions)]
    kept: List[Part] = []
    for function, dropped, own_conditions in earlier:
        dropped = dropped | drop
        if set(_names(function)) - dropped:
            kept.append((function, dropped, own_conditions))
    return kept


def _names(function: Callable[[int], Dict[str, Any]]) -> List[str]:
    """The names an annotate function annotates, without evaluating any annotation."""
    annotationlib = importlib.import_module("annotationlib")  # 3.14+

    try:
        return list(annotationlib.call_annotate_function(function, annotationlib.Format.STRING))
    except Exception:  # an annotate function that cannot even stringify: keep it whole
        return ["\0"]


def _composed(parts: List[Part]) -> Callable[[int], Dict[str, Any]]:
    annotationlib = importlib.import_module("annotationlib")  # 3.14+

    def __annotate__(format: int, /) -> Dict[str, Any]:  # noqa: N807 - the protocol's name
        annotations: Dict[str, Any] = {}
        for function, dropped, conditions in parts:
            globals_ = getattr(function, "__globals__", {})
            current = globals_.get(_CONDITIONS)
            if conditions is not None:
                globals_[_CONDITIONS] = conditions  # this part's own record of what ran
            try:
                values = annotationlib.call_annotate_function(function, annotationlib.Format(format))
            finally:
                if conditions is not None:
                    globals_[_CONDITIONS] = current
            annotations.update((name, value) for name, value in values.items() if name not in dropped)
        return annotations

    setattr(__annotate__, _PARTS, parts)
    return __annotate__
