"""Hotfix scripts: ``replace_func`` and transactional ``apply_hotfix``. (being written)"""
from __future__ import annotations
from typing import Any


def replace_func(target: Any, name: Any = None) -> Any:
    raise NotImplementedError


def apply_hotfix(path_or_source: Any) -> Any:
    raise NotImplementedError
