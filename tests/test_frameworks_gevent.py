"""gevent: a program that calls ``monkey.patch_all()`` under ``python -m hotreload run``.

The watcher thread, started before the program patched ``threading``, keeps
reloading the program's code and ends without a traceback at exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("gevent", reason="gevent is in the test extra; missing only if not installed")

PROGRAM = """
    from gevent import monkey
    monkey.patch_all()

    import threading
    import time

    def value():
        return 1

    print("ready", flush=True)
    deadline = time.time() + 30
    while value() == 1 and time.time() < deadline:
        time.sleep(0.05)
    worker = threading.Thread(target=lambda: print("greenlet thread", value(), flush=True))
    worker.start()
    worker.join()
    print("value", value(), flush=True)
"""


def test_monkey_patched_program_reloads_and_exits_cleanly(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(PROGRAM))
    process = subprocess.Popen(
        [sys.executable, "-m", "hotreload", "run", str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        script.write_text(textwrap.dedent(PROGRAM).replace("return 1", "return 2"))
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "greenlet thread 2" in output and "value 2" in output
    assert "updated 1 (value)" in output
    assert "Traceback" not in output and "KeyError" not in output, output
