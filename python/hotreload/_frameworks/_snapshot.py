"""Registries put back as they were when a reload fails after its new statements ran.

A reload runs its new statements against the live objects: ``@app.route`` on
the live Flask app, ``@app.get`` on the live FastAPI app. If the reload is
refused afterwards (a later statement raises, a class edit is refused), the
module is rolled back, but those registrations were made on objects the
transaction never saw. Adapters capture the registries such statements write
to before the run and put them back, in place, if the reload fails: a fixed
edit then registers its routes as if the failed one had never run.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

# (container, its items as they were, the same for the containers it holds)
Captured = Tuple[Any, Any, List["Captured"]]


def capture(container: Any, depth: int = 1) -> Optional[Captured]:
    """The contents of a dict or list, and of the dicts and lists it holds down to ``depth``."""
    if isinstance(container, dict):
        items: Any = dict(container)
        values = list(container.values())
    elif isinstance(container, list):
        items = list(container)
        values = items
    else:
        return None
    inner = [c for c in (capture(value, depth - 1) for value in values) if c is not None] if depth > 1 else []
    return container, items, inner


def restore(captured: Captured) -> None:
    """Puts the captured contents back into the same containers."""
    container, items, inner = captured
    if isinstance(container, dict):
        if not same_items(container, items):
            for key in [key for key in container if key not in items]:
                del container[key]  # key by key: a request served meanwhile never sees it empty
            container.update(items)
    elif not same_items(container, items):
        container[:] = items
    for held in inner:
        restore(held)


def same_items(current: Any, items: Any) -> bool:
    """Whether a dict or list holds the same objects as ``items`` (a dict: under the same keys;
    a list: in the same order). Compared by identity, never ``==``: that may run user code."""
    if len(current) != len(items):
        return False
    if isinstance(current, dict):
        return all(key in items and items[key] is value for key, value in current.items())
    return all(a is b for a, b in zip(current, items))


def changed_since(captured: Captured) -> bool:
    """Whether the captured container itself (not the ones it holds) holds other objects now."""
    container, items, _ = captured
    return not same_items(container, items)


def capture_attributes(owner: Any, names: Tuple[str, ...], depth: int = 1) -> List[Captured]:
    """``capture`` of each attribute of ``owner`` that is a dict or a list."""
    found = (capture(getattr(owner, name, None), depth) for name in names)
    return [c for c in found if c is not None]


def record_restore(tx: Any, registry: Any, depth: int = 2) -> None:
    """Records in ``tx`` how to put ``registry`` back as it is now (before changing it)."""
    captured = capture(registry, depth=depth)
    if captured is not None:
        tx.record(lambda: restore(captured))
