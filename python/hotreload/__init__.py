"""hotreload: update the code of a running CPython process in place.

Every reference the program already holds (module globals, ``from x import f``
copies, callbacks in registries, bound methods, decorator closures, live
instances) runs the new code, while the program's live state survives.

The public API:

- :func:`update_function` -- make one function behave as another, in place.
- :func:`update_class` -- reconcile one class into another, in place.
- :func:`reload` -- re-execute a module's source into the same module object.
- :class:`ReloadFinder`, :func:`install`, :func:`uninstall` -- make
  ``importlib.reload`` do the same.
- :func:`replace_func`, :func:`apply_hotfix` -- hotfix scripts.
- :func:`watch` -- reload modules as their files change.
"""

from hotreload._hotreload import update_function

__all__ = ["update_function"]
