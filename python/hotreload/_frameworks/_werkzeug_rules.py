"""Rules taken out of a werkzeug ``Map``, and a map put back as it was.

werkzeug keeps a map's rules by endpoint and, from 2.2 on, in a state machine
of path parts that has no removal of its own (before 2.2, in a plain list
too). A rule taken out leaves every one of them, and the map is marked for
re-sorting before it next matches.
"""

from __future__ import annotations

from typing import Any, Callable, List, Set, Tuple

from hotreload._frameworks import _snapshot


def _states(url_map: Any) -> List[Any]:
    matcher = getattr(url_map, "_matcher", None)
    if matcher is None:
        return []
    found, pending = [], [matcher._root]
    while pending:
        state = pending.pop()
        found.append(state)
        pending.extend(state.static.values())
        pending.extend(next_state for _, next_state in state.dynamic)
    return found


def _prune(url_map: Any, rules: Set[int]) -> None:
    """Takes the rules whose ids are in ``rules`` out of every structure of the map."""
    by_endpoint = url_map._rules_by_endpoint
    for endpoint in list(by_endpoint):
        kept = [rule for rule in by_endpoint[endpoint] if id(rule) not in rules]
        if kept:
            by_endpoint[endpoint][:] = kept
        else:
            del by_endpoint[endpoint]
    listed = vars(url_map).get("_rules")  # werkzeug before 2.2
    if isinstance(listed, list):
        listed[:] = [rule for rule in listed if id(rule) not in rules]
    for state in _states(url_map):
        if any(id(rule) in rules for rule in state.rules):
            state.rules[:] = [rule for rule in state.rules if id(rule) not in rules]
    url_map._remap = True


def remove_endpoint(url_map: Any, endpoint: str) -> None:
    """Takes every rule of ``endpoint`` out of the map."""
    rules = {id(rule) for rule in url_map._rules_by_endpoint.get(endpoint, ())}
    if rules:
        _prune(url_map, rules)


def capture(url_map: Any) -> Callable[[], None]:
    """An undo that puts the map's rules back as they are now: rules added since taken out,
    rules taken out since put back where they stood."""
    known = {id(rule): rule for rule in url_map.iter_rules()}  # held, so no id is reused
    by_endpoint = _snapshot.capture(url_map._rules_by_endpoint, depth=2)
    listed = vars(url_map).get("_rules")
    listed_before = list(listed) if isinstance(listed, list) else None
    states: List[Tuple[Any, List[Any]]] = [(state, list(state.rules)) for state in _states(url_map)]

    def undo() -> None:
        if by_endpoint is not None:
            _snapshot.restore(by_endpoint)
        if listed_before is not None and isinstance(listed, list):
            listed[:] = listed_before
        for state, rules in states:
            if not _snapshot.same_items(state.rules, rules):
                state.rules[:] = rules
        added = {id(rule) for state in _states(url_map) for rule in state.rules if id(rule) not in known}
        added |= {id(rule) for rule in url_map.iter_rules() if id(rule) not in known}
        if added:
            _prune(url_map, added)
        url_map._remap = True

    return undo
