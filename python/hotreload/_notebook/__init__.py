"""Notebooks: ``%load_ext hotreload`` in IPython and Jupyter.

- ``_changes.py``: which modules changed, from file events (no ``stat`` per module);
- ``_imports.py``: the notebook's ``from m import ...`` names, kept in step;
- ``_session.py``: what happens before and after each cell;
- ``_ipython.py``: the extension and the ``%hotreload`` magic (the only part
  that imports IPython).
"""
