"""(being written)"""
from typing import Any


def update_class(old: Any, new: Any) -> Any:
    raise NotImplementedError
