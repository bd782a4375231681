"""Which data a reload keeps and which it takes from the new source.

The rules, in order (SPEC, "Data"):

1. names in ``__hotreload_keep__`` keep their live value;
2. names in ``__hotreload_refresh__`` take the new value;
3. where the source the module was last loaded from is known, a name whose
   defining statement is textually unchanged keeps its live value, and a name
   whose statement changed, or that is new, takes the new value;
4. otherwise immutable values (None, bool, numbers, str, bytes, and tuples and
   frozensets of these) take the new value, everything else keeps its live value.

The same rules apply inside class bodies; statements come from _source_map.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional

from hotreload._kinds import is_immutable
from hotreload._source_map import SourceMap

KEEP_LIST = "__hotreload_keep__"
REFRESH_LIST = "__hotreload_refresh__"


@dataclass
class DataPolicy:
    """Decides, name by name, whether live data is kept or refreshed in one scope."""

    keep: FrozenSet[str]
    refresh: FrozenSet[str]
    scope: str
    old_source: Optional[SourceMap]
    new_source: Optional[SourceMap]

    def keeps_live_value(self, name: str, live: object, new: object) -> bool:
        """True to keep ``live`` for ``name``; False to take ``new``."""
        if name in self.keep:
            return True
        if name in self.refresh:
            return False
        if self.old_source is not None and self.new_source is not None:
            text = self.new_source.defining_text(self.scope, name)
            if text is not None:
                return text == self.old_source.defining_text(self.scope, name)
        return not is_immutable(live) or not is_immutable(new)


def name_list(namespace: Dict[str, object], attribute: str) -> FrozenSet[str]:
    """The names in ``namespace[attribute]`` (a list, tuple or set of str), or an empty set."""
    value = namespace.get(attribute)
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(name for name in value if isinstance(name, str))
    return frozenset()
