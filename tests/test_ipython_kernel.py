"""``%load_ext hotreload`` in a real Jupyter kernel (ipykernel, driven through jupyter_client).

One kernel serves the module; it runs on 127.0.0.1 with this interpreter, and every
wait is bounded. The test process edits module files between executions, as an
editor beside the notebook would.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import Any, Dict, Iterator, List

import pytest

pytest.importorskip("ipykernel", reason="ipykernel comes with the test extra")
pytest.importorskip("jupyter_client", reason="jupyter_client comes with the test extra")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

STARTUP_TIMEOUT = 90.0
EXECUTE_TIMEOUT = 60.0


class Kernel:
    def __init__(self, client: Any, directory: str) -> None:
        self.client = client
        self.directory = directory

    def execute(self, code: str) -> Dict[str, Any]:
        """Runs one cell; returns its stdout, stderr, result text and error, if any."""
        out: Dict[str, Any] = {"stdout": "", "stderr": "", "result": None, "error": None}

        def hook(message: Dict[str, Any]) -> None:
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "execute_result":
                out["result"] = content["data"].get("text/plain")
            elif kind == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"

        reply = self.client.execute_interactive(textwrap.dedent(code), timeout=EXECUTE_TIMEOUT, output_hook=hook)
        assert reply["content"]["status"] in ("ok", "error")
        return out

    def value(self, expression: str) -> str:
        out = self.execute(expression)
        assert out["error"] is None, out
        return str(out["result"])

    def write(self, name: str, source: str) -> str:
        path = os.path.join(self.directory, name + ".py")
        with open(path, "w", encoding="utf-8") as file:
            file.write(textwrap.dedent(source))
        return path


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: Any) -> Iterator[Kernel]:
    root = tmp_path_factory.mktemp("kernel")
    spec_dir = root / "kernels" / "hotreload-test"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "hotreload test", "language": "python"}))
    modules = root / "modules"
    modules.mkdir()
    env = dict(os.environ, IPYTHONDIR=str(root / "ipython"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    manager = KernelManager(
        kernel_name="hotreload-test",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root / "kernels")]),
        ip="127.0.0.1",
        transport="tcp",
    )
    manager.start_kernel(cwd=str(modules), env=env)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=STARTUP_TIMEOUT)
        handle = Kernel(client, str(modules))
        out = handle.execute(f"import sys; sys.path.insert(0, {str(modules)!r})\n%load_ext hotreload")
        assert out["error"] is None, out
        yield handle
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        # Ends the zmq I/O threads now, not at some later collection during another test.
        manager.context.destroy(linger=0)


def test_kernel_cells_see_edited_functions_methods_and_from_imports(kernel: Kernel) -> None:
    kernel.write(
        "kmod",
        """
        LIMIT = 1
        def greet(name):
            return "hello " + name
        class Counter:
            def __init__(self):
                self.n = 0
            def step(self):
                self.n += 1
                return self.n
        """,
    )
    kernel.execute("import kmod\nfrom kmod import greet, LIMIT\nc = kmod.Counter()\nc.step()")
    assert kernel.value("greet('ada'), LIMIT") == "('hello ada', 1)"
    kernel.write(
        "kmod",
        """
        LIMIT = 5
        def greet(name):
            return "bonjour " + name
        class Counter:
            def __init__(self):
                self.n = 0
            def step(self):
                self.n += 10
                return self.n
        """,
    )
    assert kernel.value("greet('ada'), LIMIT, c.step(), isinstance(c, kmod.Counter)") == "('bonjour ada', 5, 11, True)"


def test_kernel_refused_reload_prints_one_line_and_the_cell_runs(kernel: Kernel) -> None:
    path = kernel.write("kbad", "def f():\n    return 'good'\n")
    kernel.execute("from kbad import f")
    kernel.write("kbad", "def f():\n    return 'better'\n  oops\n")
    out = kernel.execute("print(f())")
    assert out["stdout"] == "good\n"
    lines: List[str] = out["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:3: "), out
    assert kernel.execute("print(f())") == {"stdout": "good\n", "stderr": "", "result": None, "error": None}
    kernel.write("kbad", "def f():\n    return 'better'\n")
    assert kernel.execute("print(f())")["stdout"] == "better\n"


def test_kernel_off_now_status_and_a_deleted_module(kernel: Kernel) -> None:
    path = kernel.write("kswitch", "def f():\n    return 1\n")
    kernel.execute("from kswitch import f")
    kernel.execute("%hotreload off")
    kernel.write("kswitch", "def f():\n    return 2\n")
    assert kernel.value("f()") == "1"
    assert "reloaded kswitch" in kernel.execute("%hotreload now")["stdout"]
    assert kernel.value("f()") == "2"
    kernel.execute("%hotreload on")
    os.unlink(path)
    out = kernel.execute("print(f())")
    assert (out["stdout"], out["stderr"], out["error"]) == ("2\n", "", None)
    status = kernel.execute("%hotreload status")["stdout"]
    assert status.startswith("hotreload is on") and "reloaded kswitch" in status
