"""A watcher thread that outlives gevent's ``monkey.patch_all()``.

``python -m hotreload run`` starts its watcher thread before the program runs;
a program that then calls ``gevent.monkey.patch_all()`` replaces
``threading.get_ident`` by the current greenlet's id. When the watcher thread
ends, ``threading`` looks itself up in its table of running threads by that
id, which it was never filed under: a ``KeyError`` traceback at exit. The
thread here is removed by the id it was filed under instead.
"""

from __future__ import annotations

import threading


class NativeThread(threading.Thread):
    """A ``threading.Thread`` whose exit bookkeeping does not depend on ``threading.get_ident``."""

    def _delete(self) -> None:
        try:
            super()._delete()  # type: ignore[misc]
        except KeyError:
            # get_ident was replaced after this thread started (gevent): it was filed under its OS id.
            active = threading._active  # type: ignore[attr-defined]
            with threading._active_limbo_lock:  # type: ignore[attr-defined]
                if active.get(self.ident) is self:
                    del active[self.ident]
