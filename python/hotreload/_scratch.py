"""Running a module's new source in a scratch namespace.

The new source runs in a copy of the module's dict, so new definitions see the
module's own names (the ``try: X except NameError:`` idiom keeps working) while
the live module, and every thread using it, sees nothing until the reload
commits. The functions the run creates capture the scratch dict as their
``__globals__``; they are found in the youngest garbage-collector generation
(the collector is paused while a reload runs, so nothing leaves it), in one
Rust call that no other thread can observe, and pointed at the module's real
dict, in Rust too (``__globals__`` has no setter).
"""

from __future__ import annotations

import gc
import types
import weakref
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from hotreload import _hotreload
from hotreload._kinds import filled_cells, functions_in, is_class


class ScratchRunError(Exception):
    """The new source raised: ``error``, at ``lineno`` of the module's file (if known)."""

    def __init__(self, error: BaseException, lineno: Optional[int]) -> None:
        super().__init__(error)
        self.error = error
        self.lineno = lineno


def run_in_scratch(code: types.CodeType, module: types.ModuleType, extra: Dict[str, Any]) -> Tuple[Dict[str, Any], "Created"]:
    """Runs ``code`` in a copy of ``module``'s dict (plus ``extra`` names, removed after).

    Returns the namespace, its functions already pointed at the module's dict,
    and the ids of the objects the run made. Raises ScratchRunError.
    """
    namespace = dict(module.__dict__)
    namespace.update(extra)
    young_before = _hotreload.young_ids()
    collections: List[object] = []

    def on_collection(phase: str, info: Dict[str, Any]) -> None:
        collections.append(phase)

    # A module body that runs the collector itself is noticed: the young
    # generation is then incomplete, and the definitions are walked instead.
    gc.callbacks.append(on_collection)
    try:
        exec(code, namespace)
    except (Exception, SystemExit, GeneratorExit) as error:  # a module body may call sys.exit()
        raise ScratchRunError(error, _line_in_file(error.__traceback__, code.co_filename)) from error
    finally:
        functions, suspendable, created = _hotreload.made_by_run(namespace, young_before)
        gc.callbacks.remove(on_collection)
        for name in extra:
            namespace.pop(name, None)
    if collections:
        functions.extend(_reachable_functions(namespace.values(), namespace))
    _hotreload.rebind_globals(functions, namespace, module.__dict__)
    for obj in suspendable:
        frame = getattr(obj, "gi_frame", None) or getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None and frame.f_globals is namespace:
            # A suspended generator's frame borrows the scratch dict (3.11+).
            weakref.finalize(obj, _keep_alive, namespace)
    return namespace, Created(created)


class Created:
    """Ids of the objects a run of the new source allocated."""

    def __init__(self, ids: Set[int]) -> None:
        self._ids = ids

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._ids


def _line_in_file(traceback: Optional[types.TracebackType], path: str) -> Optional[int]:
    """The line of the deepest traceback entry in ``path`` (the module's own file)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == path:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _reachable_functions(values: Iterable[Any], namespace: Dict[str, Any]) -> List[types.FunctionType]:
    """Functions reachable from the new definitions (methods, closures) that use ``namespace``.

    Used instead of the young-generation scan when the module body ran the
    collector itself (which moves objects out of the young generation).
    """
    found: List[types.FunctionType] = []
    seen: Set[int] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if is_class(value) and getattr(value, "__module__", None) == namespace.get("__name__"):
            stack.extend(vars(value).values())
        for func in functions_in(value):
            if func.__globals__ is namespace:
                found.append(func)
                stack.extend(value for _, value in filled_cells(func))
    return found


def _keep_alive(namespace: Dict[str, Any]) -> None:
    """Holds nothing; the finalizer's reference to ``namespace`` is the point."""
    del namespace
