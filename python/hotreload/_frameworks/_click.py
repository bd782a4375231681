"""click: a command whose definition left the source leaves its group too.

Edited bodies, new options and new subcommands need nothing here: a body edit
updates the callback inside the live command, and an edited or new decorated
definition registers its command on the live group. But a command removed from
the source would stay registered (and runnable) in the group it was added to:
after the reload, commands of the module's groups whose callback comes from
a top-level definition of this module that the module no longer has are removed,
and so are the commands an edited decorator line replaced (renamed with
``name=``, moved to another group).
"""

from __future__ import annotations

import sys
import types
from typing import Any, List, Set


def after_reload(module: types.ModuleType, tx: Any, gone: List[Any]) -> None:
    core = sys.modules.get("click.core")
    if core is None:
        return
    values = list(vars(module).values())
    defined: Set[int] = set()
    for value in values:
        if issubclass(type(value), core.Command):  # type(), never __class__: a lazy module would load
            defined.update({id(value), id(getattr(value, "callback", None))})
    for group in values:
        if not issubclass(type(group), core.Group):
            continue
        for name, command in list(group.commands.items()):
            callback = getattr(command, "callback", None)
            if getattr(callback, "__module__", None) != module.__name__:
                continue
            if "<locals>" in getattr(callback, "__qualname__", "<locals>"):
                continue  # made by a factory, not by a top-level definition of the source
            if id(command) in defined or id(callback) in defined:
                continue
            if _left_the_source(callback, module) or _made_again(callback, module, core):
                tx.del_item(group.commands, name)


def _left_the_source(callback: Any, module: types.ModuleType) -> bool:
    return getattr(callback, "__name__", None) not in vars(module)


def _made_again(callback: Any, module: types.ModuleType, core: Any) -> bool:
    """The definition's decorator line was edited (``@cli.command(name="greet")``, moved to another
    group): it ran again and made a new command, which the module now holds; this one is its past."""
    current = vars(module).get(getattr(callback, "__name__", ""))
    made = getattr(current, "callback", None) if issubclass(type(current), core.Command) else None
    return made is not None and made is not callback and getattr(made, "__qualname__", None) == callback.__qualname__
