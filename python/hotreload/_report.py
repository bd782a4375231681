"""What a reload or a hotfix did, by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List


@dataclass
class ReloadReport:
    """The outcome of one successful :func:`hotreload.reload`.

    Every list holds qualified names (``"Class.method"`` for class members,
    ``"othermodule.NAME"`` for rebound references in other modules).
    """

    module: str
    filename: str = ""
    updated: List[str] = field(default_factory=list)
    """Functions and classes kept and updated in place."""
    added: List[str] = field(default_factory=list)
    """Names the new source defines that the module did not have."""
    removed: List[str] = field(default_factory=list)
    """Names the module had that the new source no longer defines."""
    kept: List[str] = field(default_factory=list)
    """Data names that kept their live value."""
    refreshed: List[str] = field(default_factory=list)
    """Data names that took the new value."""
    rebound: List[str] = field(default_factory=list)
    """References in other modules rebound to the new value."""
    moved: List[str] = field(default_factory=list)
    """Names whose definitions did not change but moved to other lines (given the new line numbers)."""
    warnings: List[str] = field(default_factory=list)
    ran: str = ""
    """What ran: ``"3 of 120 statements"``, or ``"whole module (...)"`` and why."""
    statements_run: int = 0
    """How many top-level statements of the new source ran."""
    duration: float = 0.0
    """Seconds the reload took, end to end."""

    @property
    def changed(self) -> bool:
        """True if the reload changed anything the program can observe."""
        return bool(self.updated or self.added or self.removed or self.refreshed or self.rebound)

    def __str__(self) -> str:
        ran = f" (ran {self.ran})" if self.ran else ""
        parts = [f"reloaded {self.module} in {self.duration * 1000:.1f} ms{ran}"]
        for label, names in (
            ("updated", self.updated),
            ("added", self.added),
            ("removed", self.removed),
            ("refreshed", self.refreshed),
            ("kept", self.kept),
            ("rebound", self.rebound),
            ("moved", self.moved),
        ):
            if names:
                parts.append(f"{label} {len(names)} ({_preview(names)})")
        text = "; ".join(parts)
        for warning in self.warnings:
            text += f"\n  warning: {warning}"
        return text


@dataclass
class HotfixReport:
    """The outcome of one successful :func:`hotreload.apply_hotfix`."""

    name: str
    """The hotfix's ``__name__`` (derived from its file name, or ``"<hotfix>"``)."""
    filename: str = ""
    replaced: List[str] = field(default_factory=list)
    """Targets (``"module.func"``, ``"module.Class.method"``) updated in place."""
    added: List[str] = field(default_factory=list)
    """Targets that did not exist and were set."""
    duration: float = 0.0

    def __str__(self) -> str:
        parts = [f"applied hotfix {self.name} in {self.duration * 1000:.1f} ms"]
        if self.replaced:
            parts.append(f"replaced {len(self.replaced)} ({_preview(self.replaced)})")
        if self.added:
            parts.append(f"added {len(self.added)} ({_preview(self.added)})")
        return "; ".join(parts)


def _preview(names: List[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... {len(names) - limit} more"
    return shown
