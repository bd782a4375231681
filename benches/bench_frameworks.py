"""Framework benchmarks: editing one model in a module of 50, side by side in one run.

    python benches/bench_frameworks.py [--rounds N]

For a module of 50 pydantic v2 models (each one also nested in the next) and
a module of 50 SQLAlchemy 2 declarative models (each with a foreign key to
the previous one), one model is edited (a pydantic field's default and a
validator; an SQLAlchemy method) and the module reloaded:
``hotreload.reload`` (the kept classes rebuilt in place, dependants included)
against ``importlib.reload``, the time floor: it re-creates all 50 classes and
leaves the running program with the discarded ones (instances, sessions and
nested validators that no longer match), so it is not a real alternative.

Times are medians over the rounds; the edits alternate between two versions
so every round really changes the file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, List

import hotreload

COUNT = 50


def pydantic_source(version: int) -> str:
    lines = ["from typing import Optional", "from pydantic import BaseModel, field_validator", ""]
    for i in range(COUNT):
        default = version if i == COUNT // 2 else 0
        nested = f"    previous: Optional[Model{i - 1}] = None\n" if i else ""
        lines.append(
            f"class Model{i}(BaseModel):\n"
            f"    name: str\n"
            f"    size: int = {default}\n"
            f"{nested}"
            f"\n"
            f"    @field_validator('name')\n"
            f"    @classmethod\n"
            f"    def tidy(cls, value):\n"
            f"        return value.strip(){'.lower()' if i == COUNT // 2 and version == 2 else ''}\n"
            f"\n"
            f"    def describe(self):\n"
            f"        return 'model {i} ' + self.name\n"
        )
    return "\n".join(lines)


def sqlalchemy_source(version: int) -> str:
    lines = [
        "from typing import Optional",
        "from sqlalchemy import ForeignKey, String",
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column",
        "",
        "class Base(DeclarativeBase):",
        "    pass",
        "",
    ]
    for i in range(COUNT):
        parent = f"    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey('table{i - 1}.id'))\n" if i else ""
        word = f"v{version}" if i == COUNT // 2 else "v0"
        lines.append(
            f"class Model{i}(Base):\n"
            f"    __tablename__ = 'table{i}'\n"
            f"    id: Mapped[int] = mapped_column(primary_key=True)\n"
            f"    name: Mapped[str] = mapped_column(String(40))\n"
            f"{parent}"
            f"\n"
            f"    def describe(self):\n"
            f"        return '{word} ' + self.name\n"
        )
    return "\n".join(lines)


def write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    importlib.invalidate_caches()


def median_time(action: Callable[[], object], rounds: int, edit: Callable[[int], None]) -> float:
    times: List[float] = []
    for round_number in range(rounds):
        edit(round_number)
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(directory: str, label: str, make_source: Callable[[int], str], rounds: int) -> None:
    versions = [make_source(1), make_source(2)]

    def load(name: str) -> object:
        path = os.path.join(directory, f"{name}.py")
        write(path, versions[0])
        hotreload.install()  # records the source the module is loaded from
        try:
            module = importlib.import_module(name)
        finally:
            hotreload.uninstall()
        return module, path

    plain_module, plain_path = load(f"bench_{label}_plain")
    ours_module, ours_path = load(f"bench_{label}_ours")
    plain = median_time(
        lambda: importlib.reload(plain_module),
        rounds,
        lambda n: write(plain_path, versions[(n + 1) % 2]),  # type: ignore[arg-type]
    )
    ours = median_time(
        lambda: hotreload.reload(ours_module),
        rounds,
        lambda n: write(ours_path, versions[(n + 1) % 2]),  # type: ignore[arg-type]
    )
    print(
        f"{label:<11} 50 models, one edited: hotreload.reload {ours * 1e3:7.2f} ms   "
        f"importlib.reload (floor, breaks the program) {plain * 1e3:7.2f} ms   ratio {ours / plain:5.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]}, {args.rounds} rounds, medians")
    with tempfile.TemporaryDirectory() as directory:
        sys.path.insert(0, directory)
        measure(directory, "pydantic", pydantic_source, args.rounds)
        measure(directory, "sqlalchemy", sqlalchemy_source, args.rounds)


if __name__ == "__main__":
    main()
