"""The exceptions hotreload raises."""

from __future__ import annotations

from typing import Optional


class ReloadError(ImportError):
    """A reload or hotfix could not be applied; nothing was changed.

    The message names the module, file and line where one exists; the original
    error is chained as ``__cause__``. ``name`` and ``path`` are the module's
    (as for :class:`ImportError`), ``lineno`` the line, when known. ``label``
    is the top-level name the error is about (a class, an app), from which a
    reload finds the line when the error is raised without one.
    """

    def __init__(
        self,
        message: str,
        *,
        name: Optional[str] = None,
        path: Optional[str] = None,
        lineno: Optional[int] = None,
        label: Optional[str] = None,
    ) -> None:
        super().__init__(message, name=name, path=path)
        self.lineno = lineno
        self.label = label

    @property
    def filename(self) -> Optional[str]:
        """The file where the error is, same as ``path``."""
        return self.path
