"""Type stubs for ``hotreload._hotreload``, the Rust extension."""

import os
from types import FunctionType
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, TypeVar, Union

_F = TypeVar("_F", bound=FunctionType)

def update_function(old: _F, new: FunctionType) -> _F:
    """Make ``old`` behave exactly as ``new``, in place and atomically; returns ``old``."""

def update_function_in(transaction: Any, old: _F, new: FunctionType, substitutions: Optional[Dict[int, Any]] = None) -> _F:
    """``update_function`` that records a :class:`FunctionState` for every function it
    changes, appended to ``transaction`` (a list) or passed to ``transaction.record``.
    ``substitutions`` (``{id(obj): replacement}``) replaces default values by identity."""

def namespace_changes(new: Dict[str, Any], live: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """Keys of ``new`` whose value is not the very object ``live`` holds (``new``'s order),
    and keys of ``live`` that ``new`` lacks (``live``'s order)."""

def release_retired_namespaces() -> None:
    """Free the globals and builtins that updated functions gave up and no frame still
    borrows; called when a change has committed or rolled back (3.9 and 3.10: nothing)."""

class FunctionState:
    """Snapshot of everything ``update_function`` may change in one function."""

    def __init__(self, func: FunctionType) -> None: ...
    @property
    def function(self) -> FunctionType: ...
    def restore(self) -> None:
        """Put the function back exactly as captured."""
    def __call__(self) -> None: ...

_StatementTuple = Tuple[int, int, str, str, int, int]

class StatementTable:
    """A source cut into statements per scope ("" for the module, "A.B" for class
    bodies), kept in Rust. A statement is a tuple: first line, last line, dedented
    text (decorators only, for a def or class), the name a def/class defines (""
    otherwise), the line of its header, and a digest of its whole text."""

    def __init__(self, source: str) -> None: ...
    def has_scope(self, scope: str) -> bool: ...
    def count(self, scope: str) -> int: ...
    def get(self, scope: str, index: int) -> _StatementTuple: ...
    def all(self, scope: str) -> List[_StatementTuple]: ...
    def plain(self, scope: str) -> List[int]:
        """Indices of the statements that are not def or class."""
    def decorated(self, scope: str) -> List[int]:
        """Indices of the definitions that have decorators."""
    def defines(self, scope: str, name: str) -> bool: ...
    def candidates(self, scope: str, name: str) -> List[int]:
        """Indices of the definitions of ``name`` and of the plain statements whose text contains it."""
    def redefined(self, scope: str) -> List[str]:
        """Names more than one def/class statement defines."""
    def mentioning(self, scope: str, names: List[str]) -> List[int]:
        """Indices of the statements whose whole text names one of ``names`` (not as an attribute)."""
    def line(self, line: int) -> str:
        """The text of a line (1-based), without its newline."""
    def unit(self, ranges: List[Tuple[int, int]]) -> str:
        """The source with only the ``(first, last)`` line ranges kept, every other line empty."""
    def changes(self, old: StatementTable, scope: str) -> Tuple[List[int], List[Tuple[int, int]], List[int]]:
        """Statements paired by digest, in order: new indices with no partner, (old, new)
        pairs whose first line differs, old indices with no partner."""

def young_ids() -> Set[int]:
    """The ids of the objects in the youngest garbage-collector generation."""

def made_by_run(scratch: Dict[str, Any], before: Set[int]) -> Tuple[List[FunctionType], List[Any], Set[int]]:
    """From the youngest generation, in one step no other thread can observe: the
    functions whose ``__globals__`` is ``scratch``, the generators and coroutines,
    and the ids of the objects not in ``before``."""

def rebind_globals(functions: List[FunctionType], scratch: Dict[str, Any], globals: Dict[str, Any]) -> int:
    """Point functions whose ``__globals__`` is ``scratch`` at ``globals``; returns how many."""

def stored_names(
    code: bytes, names: Tuple[str, ...], store_ops: Sequence[int], extended_arg: int, import_star: Tuple[int, Optional[int]]
) -> Optional[List[str]]:
    """Names that store instructions in ``code`` refer to; None if ``import *`` is present."""

def read_file(path: str) -> Optional[bytes]:
    """The bytes of the file at ``path``, or None if it cannot be read."""

class FileWatcher:
    """Watches paths (notify/inotify) and delivers debounced batches of changed files."""

    def __init__(self, debounce: float = 0.03, max_delay: float = 1.0, suffixes: Optional[List[str]] = None) -> None: ...
    def watch(self, path: Union[str, "os.PathLike[str]"], recursive: bool = True) -> None: ...
    def unwatch(self, path: Union[str, "os.PathLike[str]"]) -> None: ...
    def next_batch(self, timeout: Optional[float] = None) -> Optional[Tuple[List[str], List[str], bool]]:
        """(paths, watcher errors, events lost); empty on timeout; None once stopped. Waits without the GIL."""
    def stop(self) -> None: ...
    @property
    def stopped(self) -> bool: ...
    @property
    def debounce(self) -> float: ...

def same_function(old: Any, new: Any) -> bool:
    """True if ``old`` and ``new`` are plain functions equal in everything ``update_function``
    would change (code with its line numbers, globals, defaults, ...), with no closure and
    no attributes: updating ``old`` would change nothing."""
