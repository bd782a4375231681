"""``python -m hotreload apply|reload|status|console|ps`` as real subprocesses against real targets.

Each target is a program that keeps running (it counts ticks in
``game.ticks``) and listens on a socket in this test's own
``XDG_RUNTIME_DIR``. Values inside a target are read back through the console.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import Iterator, List

import pytest
from listen_support import FAILING_FIX, FIX, Target, cli, environment, probe, runtime_directory, write


@pytest.fixture
def runtime() -> Iterator[pathlib.Path]:
    with runtime_directory() as directory:
        yield directory


@pytest.fixture
def target(tmp_path: pathlib.Path, runtime: pathlib.Path) -> Iterator[Target]:
    program = tmp_path / "program"
    program.mkdir()
    started = Target(program, runtime)
    yield started
    started.stop()


def test_apply_prints_the_report_and_exits_0(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = cli(runtime, "apply", str(target.pid), str(write(tmp_path / "fix.py", FIX)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("applied hotfix hotfix_fix in ")
    assert "replaced 1 (game.damage)" in done.stdout
    assert probe(runtime, target.pid, "game.damage()") == 20


def test_a_hotfix_raising_half_way_is_rolled_back_and_exits_1(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fix = write(tmp_path / "bad.py", FAILING_FIX)
    done = cli(runtime, "apply", str(target.pid), str(fix))
    assert done.returncode == 1
    assert f"failed at {fix}, line 7: RuntimeError: half-way" in done.stderr
    assert "rolled back" in done.stderr
    assert probe(runtime, target.pid, "game.damage()") == 10
    assert target.alive


def test_apply_json(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = cli(runtime, "apply", str(target.pid), str(write(tmp_path / "bad.py", FAILING_FIX)), "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert (result["pid"], result["ok"], result["exit_status"]) == (target.pid, False, 1)
    assert (result["error"]["file"], result["error"]["line"]) == (str(tmp_path / "bad.py"), 7)


def test_reload_runs_one_transaction_per_module_in_order(target: Target, runtime: pathlib.Path) -> None:
    write(target.directory / "game.py", "ticks = 0\n\ndef damage():\n    return 40\n\ndef armor():\n    return 1\n")
    done = cli(runtime, "reload", str(target.pid), "game")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reloaded game in ") and "updated 1 (damage)" in done.stdout
    assert probe(runtime, target.pid, "[game.damage(), game.ticks > 0]") == [40, True]  # live data kept
    done = cli(runtime, "reload", str(target.pid), "game", "not_loaded_anywhere")
    assert done.returncode == 1
    assert "reloaded game" in done.stdout
    assert "module 'not_loaded_anywhere' is not loaded" in done.stderr


def test_a_refused_reload_names_file_and_line(target: Target, runtime: pathlib.Path) -> None:
    write(target.directory / "game.py", "ticks = 0\n\ndef damage():\n    return 41\n\nraise ValueError('broken')\n")
    done = cli(runtime, "reload", str(target.pid), "game")
    assert done.returncode == 1
    assert str(target.directory / "game.py") in done.stderr and "line 6" in done.stderr
    assert probe(runtime, target.pid, "game.damage()") == 10


def test_status_shows_what_was_loaded_reloaded_and_applied(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    cli(runtime, "apply", str(target.pid), str(write(tmp_path / "fix.py", FIX)))
    cli(runtime, "apply", str(target.pid), str(write(tmp_path / "bad.py", FAILING_FIX)))
    done = cli(runtime, "status", str(target.pid))
    assert done.returncode == 0, done.stderr
    assert f"process {target.pid}:" in done.stdout
    assert f"game  {target.directory / 'game.py'}" in done.stdout
    assert "1 hotfix(es), 1 refused" in done.stdout
    assert "ok      hotfix hotfix_fix" in done.stdout and "REFUSED hotfix hotfix_bad" in done.stdout
    status = json.loads(cli(runtime, "status", str(target.pid), "--json").stdout)
    assert [item["name"] for item in status["result"]["history"]] == ["hotfix_fix", "hotfix_bad"]


def test_console_runs_in_the_process_while_the_program_keeps_running(target: Target, runtime: pathlib.Path) -> None:
    session = textwrap.dedent(
        """
        import game, time
        before = game.ticks
        time.sleep(0.3)
        print("ticked", game.ticks > before)
        import threading; print("thread", threading.current_thread().name)
        exit()
        print("never")
        """
    )
    done = cli(runtime, "console", str(target.pid), stdin=session)
    assert done.returncode == 0, done.stderr
    assert f"hotreload console in process {target.pid}" in done.stdout
    assert "ticked True" in done.stdout and "thread hotreload-request" in done.stdout
    assert "never" not in done.stdout
    assert target.alive  # exit() ended the session, not the program


def test_pdb_works_at_the_console(target: Target, runtime: pathlib.Path) -> None:
    session = "import game, pdb\npdb.run('game.damage()')\nstep\nstep\np 6 * 7\ncontinue\nprint('after', game.damage())\n"
    done = cli(runtime, "console", str(target.pid), stdin=session)
    assert done.returncode == 0, done.stderr
    assert "(Pdb)" in done.stdout
    assert f"{target.directory / 'game.py'}(3)damage()" in done.stdout or "damage()" in done.stdout
    assert "42" in done.stdout and "after 10" in done.stdout
    assert target.alive


def test_an_error_at_the_console_is_shown_there(target: Target, runtime: pathlib.Path) -> None:
    done = cli(runtime, "console", str(target.pid), stdin="1 / 0\nprint('still here')\n")
    assert "ZeroDivisionError" in done.stdout and "still here" in done.stdout
    assert not [line for line in target.errors if "ZeroDivisionError" in line]  # not on the program's stderr


def test_ps_lists_listening_processes_and_not_stale_sockets(target: Target, runtime: pathlib.Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(runtime / "hotreload" / f"{dead.pid}.sock"))  # left by a killed process
    stale.close()
    done = cli(runtime, "ps")
    assert done.returncode == 0, done.stderr
    pids = [int(line.split()[0]) for line in done.stdout.splitlines()[1:]]
    assert pids == [target.pid]
    assert "target.py" in done.stdout
    listed = [json.loads(line) for line in cli(runtime, "ps", "--json").stdout.splitlines()]
    assert [item["pid"] for item in listed] == [target.pid]
    assert cli(runtime, "apply", str(dead.pid), str(write(runtime / "fix.py", FIX))).returncode == 3


def test_all_sends_to_every_listening_process(tmp_path: pathlib.Path, runtime: pathlib.Path) -> None:
    targets: List[Target] = []
    try:
        for index in range(3):
            directory = tmp_path / f"program{index}"
            directory.mkdir()
            targets.append(Target(directory, runtime))
        fix = write(tmp_path / "fix.py", FIX)
        done = cli(runtime, "apply", "--all", str(fix))
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert [int(line.split(":")[0]) for line in lines] == sorted(t.pid for t in targets)
        assert all("applied hotfix hotfix_fix" in line for line in lines)
        # One process whose module differs refuses: exit 1, and the others still applied.
        write(targets[1].directory / "game.py", "ticks = 0\n\ndef damage():\n    return (\n")
        done = cli(runtime, "reload", "--all", "game", "--json")
        assert done.returncode == 1
        results = {item["pid"]: item for item in map(json.loads, done.stdout.splitlines())}
        assert [results[t.pid]["ok"] for t in targets] == [True, False, True]
        done = cli(runtime, "status", "--all")
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    finally:
        for started in targets:
            started.stop()


def test_two_operators_applying_at_once(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    slow = "import time\ntime.sleep(0.3)\n" + textwrap.dedent(FIX)
    fixes = [
        write(tmp_path / "one.py", slow),
        write(tmp_path / "two.py", slow.replace("damage", "armor").replace("20", "2")),
    ]
    operators = [
        subprocess.Popen(
            [sys.executable, "-m", "hotreload", "apply", str(target.pid), str(fix)],
            env=environment(runtime),
            stdout=subprocess.PIPE,
            text=True,
        )
        for fix in fixes
    ]
    outputs = [operator.communicate(timeout=60)[0] for operator in operators]
    assert [operator.returncode for operator in operators] == [0, 0]
    assert "hotfix_one" in outputs[0] and "hotfix_two" in outputs[1]
    assert probe(runtime, target.pid, "[game.damage(), game.armor()]") == [20, 2]


def test_an_operator_killed_mid_request_harms_nothing(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fix = write(tmp_path / "slow.py", "import time\ntime.sleep(1.0)\n" + textwrap.dedent(FIX))
    operator = subprocess.Popen([sys.executable, "-m", "hotreload", "apply", str(target.pid), str(fix)], env=environment(runtime))
    time.sleep(0.8)
    operator.send_signal(signal.SIGKILL)
    operator.wait()
    time.sleep(0.5)
    assert target.alive
    assert cli(runtime, "status", str(target.pid)).returncode == 0


def test_the_target_exiting_mid_request_exits_3(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fix = write(tmp_path / "fatal.py", "import os, time\ntime.sleep(0.2)\nos._exit(0)\n")
    started = time.monotonic()
    done = cli(runtime, "apply", str(target.pid), str(fix))
    assert done.returncode == 3
    assert "without answering" in done.stderr or "connection lost" in done.stderr
    assert time.monotonic() - started < 10


def test_bad_usage_exits_2(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fix = str(write(tmp_path / "fix.py", FIX))
    for args in (
        ["apply", "notapid", fix],
        ["apply", str(target.pid)],
        ["apply", str(target.pid), str(tmp_path / "missing.py")],
        ["reload", str(target.pid)],
        ["reload", str(target.pid), "not a module"],
        ["console", "--all"],
        ["status"],
        ["ps", "extra"],
    ):
        done = cli(runtime, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "usage:" in done.stderr
    assert probe(runtime, target.pid, "game.damage()") == 10


def test_a_process_that_does_not_exist_exits_3(runtime: pathlib.Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    done = cli(runtime, "status", str(dead.pid))
    assert done.returncode == 3 and f"no process {dead.pid}" in done.stderr
    done = cli(runtime, "status", "--all")
    assert done.returncode == 3 and "no listening processes" in done.stderr


def test_run_listen_and_journal(tmp_path: pathlib.Path, runtime: pathlib.Path) -> None:
    program = tmp_path / "program"
    program.mkdir()
    journal = tmp_path / "journal"
    argv = [sys.executable, "-m", "hotreload", "run", "-q", "--journal", str(journal), str(program / "target.py")]
    target = Target(program, runtime, no_listen=True, argv=argv)
    try:
        done = cli(runtime, "apply", str(target.pid), str(write(tmp_path / "fix.py", FIX)))
        assert done.returncode == 0, done.stderr
        assert os.listdir(journal) and "000001-fix.py" in os.listdir(journal)
        assert f"{target.pid}  " in cli(runtime, "ps").stdout
    finally:
        target.stop()
    assert not os.path.exists(runtime / "hotreload" / f"{target.pid}.sock")  # removed at exit


def test_ctrl_c_at_the_console_interrupts_the_code_it_runs(target: Target, runtime: pathlib.Path) -> None:
    console = subprocess.Popen(
        [sys.executable, "-m", "hotreload", "console", str(target.pid)],
        env=environment(runtime),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert console.stdin is not None and console.stdout is not None
    assert "hotreload console in process" in console.stdout.readline()  # connected, relaying
    console.stdin.write("while True: pass\n")
    console.stdin.flush()
    time.sleep(1.0)
    console.send_signal(signal.SIGINT)  # what Ctrl-C in the operator's terminal does
    time.sleep(0.5)
    output, errors = console.communicate("print('after', 'interrupt')\n", timeout=30)
    assert console.returncode == 0, errors
    assert "KeyboardInterrupt" in output and "after interrupt" in output, (output, errors)
    assert target.alive


def test_all_skips_stale_sockets_even_of_live_processes(target: Target, runtime: pathlib.Path, tmp_path: pathlib.Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    quiet = Target(other, runtime, no_listen=True)
    try:
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(runtime / "hotreload" / f"{quiet.pid}.sock"))  # its pid reused a dead listener's
        stale.close()
        done = cli(runtime, "status", "--all")
        assert done.returncode == 0, done.stderr
        assert [int(line.split(":")[0]) for line in done.stdout.splitlines()] == [target.pid]
    finally:
        quiet.stop()
