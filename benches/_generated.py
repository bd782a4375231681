"""The generated module the benchmarks reload: many functions and classes, one edit.

Between two versions only ``func_0`` changes (it returns ``x * version``), so
``func_0()`` tells which version is running; every other line is unchanged, as
in a real one-line edit of a large module. ``header`` adds lines at the top, so
that everything below moves.
"""

N_FUNCTIONS = 2000
N_CLASSES = 200


def generate_module(version: int, functions: int = N_FUNCTIONS, classes: int = N_CLASSES, header: int = 0) -> str:
    lines = ["# header"] * header + ["import functools", "", "VERSION = 1", "TABLE = {}", ""]
    for i in range(functions):
        body = f"return x + {i} + VERSION" if i else f"return x * {version}"
        lines += [f"def func_{i}(x=1, y=1):", f"    {body}", ""]
    for i in range(classes):
        lines += [
            f"class Class_{i}:",
            f"    LIMIT = {i}",
            "    def __init__(self, value):",
            "        self.value = value",
            "    def get(self):",
            "        return self.value + self.LIMIT",
            "    @property",
            "    def double(self):",
            "        return self.value * 2",
            "    @classmethod",
            "    def make(cls):",
            "        return cls(1)",
            "",
        ]
    return "\n".join(lines)
