"""``python -m hotreload``: run a program with a watcher on its code, or the demo.

    python -m hotreload run [--watch DIR]... script.py [args...]
    python -m hotreload run [--watch DIR]... -m module [args...]
    python -m hotreload demo

``run`` executes the program as ``python script.py`` / ``python -m module``
would (same ``sys.argv``, ``sys.path[0]`` and ``__name__ == "__main__"``),
with :func:`hotreload.install` active and a watcher on the program's
directory (or on each ``--watch DIR``). Each reload prints one line, each
failed reload one ``file:line: message`` line, on stderr. The exit code is the
program's. ``run --listen`` (or ``--journal DIR``) also opens the control socket.

``apply``, ``reload``, ``status``, ``console`` and ``ps`` operate a running
process from the shell; see :mod:`hotreload._client`.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import runpy
import sys
from typing import List, Optional, Sequence, Tuple

import hotreload
from hotreload import _client, _sources
from hotreload._errors import ReloadError
from hotreload._frameworks import _servers
from hotreload._report import ReloadReport
from hotreload._watch import describe_error

PREFIX = "[hotreload]"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python -m hotreload`` and of the ``hotreload`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _client.COMMANDS:
        return _client.main(args)
    parser, run_parser = _parser()
    if not args or args[0] not in ("run", "demo"):
        # Let argparse print the usage, the help or the error.
        parser.parse_args(args)
        return 2
    if args[0] == "demo":
        parser.parse_args(args)
        demo = importlib.import_module("hotreload._demo")  # imported only when asked for
        return int(demo.main() or 0)
    return _run(run_parser, args[1:])


def _parser() -> Tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    prog = "hotreload" if os.path.basename(sys.argv[0]) == "hotreload" else "python -m hotreload"  # console script or -m
    parser = argparse.ArgumentParser(prog=prog, description="Update the code of a running Python program in place.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run = commands.add_parser(
        "run",
        help="run a script or module, reloading its code as files are saved",
        usage="%(prog)s [--watch DIR]... (script.py | -m module) [args...]",
    )
    _add_run_options(run)
    run.add_argument("program", nargs="?", metavar="script.py | -m module", help="the program and its arguments")
    commands.add_parser("demo", help="show hotreload at work on a small live program")
    _client.add_commands(commands)
    return parser, run


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        action="append",
        metavar="DIR",
        default=[],
        help="directory (or file) to watch, repeatable; default: the program's directory",
    )
    parser.add_argument("--debounce", type=float, default=None, metavar="SECONDS", help="quiet time before reloading (default 0.03)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.add_argument("--listen", action="store_true", help="open the control socket (hotreload.listen())")
    parser.add_argument("--journal", metavar="DIR", help="listen, and save every hotfix that applies into DIR")


def _split_program(args: List[str]) -> Tuple[List[str], List[str]]:
    """Splits ``run``'s arguments into hotreload's options and the program's command line.

    The program starts at ``-m`` or at the first argument that is neither an
    option nor an option's value: everything after it belongs to the program,
    even arguments that look like hotreload's own options.
    """
    takes_value = {"--watch", "--debounce", "--journal"}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return args[:index], args[index + 1 :]
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            return args[:index], args[index:]
        if arg in takes_value:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        return args[:index], args[index:]
    return args, []


def _run(parser: argparse.ArgumentParser, args: List[str]) -> int:
    own, program = _split_program(args)
    options = parser.parse_args(own)
    if not program:
        parser.error("the program to run is missing: give script.py or -m module")
    module: Optional[str] = None
    if program[0].startswith("-m"):
        module = program[0][2:] or (program[1] if len(program) > 1 else None)
        program = program[2:] if program[0] == "-m" else program[1:]
        if not module:
            parser.error("-m needs a module name")
        target, program_args = module, program
    else:
        target, program_args = program[0], program[1:]
    # Development servers: their own restarting reloaders off (hotreload keeps the process).
    program_args = _servers.program_arguments(module, target, program_args)
    _servers.turn_off_reloaders()

    _show_warnings()
    try:
        served = module is not None and _servers.is_installed_module(module)  # flask, uvicorn: the app is in cwd
        watch_paths = options.watch or [os.getcwd() if served else _program_directory(target, as_module=module is not None)]
    except (ImportError, OSError, ValueError) as error:
        print(f"{PREFIX} cannot run {target}: {error}", file=sys.stderr)
        return 1
    hotreload.install()
    watcher_options = {} if options.debounce is None else {"debounce": options.debounce}
    try:
        watcher = hotreload.watch(
            watch_paths,
            on_reload=None if options.quiet else _print_reload,
            on_error=_print_error,
            **watcher_options,
        )
    except OSError as error:
        print(f"{PREFIX} {error}", file=sys.stderr)
        return 1
    try:
        listener = hotreload.listen(journal=options.journal) if options.listen or options.journal else None
    except (OSError, ValueError) as error:
        watcher.stop()
        hotreload.uninstall()
        print(f"{PREFIX} cannot listen: {error}", file=sys.stderr)
        return 1
    try:
        if module is not None:
            _run_module(module, program_args)
        else:
            _run_script(target, program_args)
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    finally:
        if listener is not None:
            listener.close()
        watcher.stop()
        hotreload.uninstall()
    return 0


def _program_directory(target: str, *, as_module: bool) -> str:
    """The directory to watch for a program: the script's, or the top-level package's."""
    if not as_module:
        if not os.path.exists(target):
            raise FileNotFoundError(f"no such file: {target!r}")
        return os.path.dirname(os.path.abspath(target))
    sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec(target.partition(".")[0])
    finally:
        sys.path.pop(0)
    if spec is None:
        raise ImportError(f"no module named {target!r}")
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    if spec.origin and os.path.exists(spec.origin):
        return os.path.dirname(spec.origin)
    raise ValueError(f"module {target!r} has no directory to watch")


def _run_script(path: str, args: List[str]) -> None:
    """Runs ``path`` as ``python path args...`` would."""
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    # runpy bypasses the finder: record the script's source, so its first reload runs only
    # the statements that changed (the app it made stays the live one).
    _sources.record_file("__main__", os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")


def _run_module(name: str, args: List[str]) -> None:
    """Runs module ``name`` as ``python -m name args...`` would."""
    sys.argv = [name, *args]  # runpy replaces argv[0] with the module's file
    sys.path.insert(0, os.getcwd())
    runpy.run_module(name, run_name="__main__", alter_sys=True)


def _exit_code(code: object) -> int:
    """What the interpreter would exit with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _print_reload(report: ReloadReport) -> None:
    lines = str(report).splitlines()
    print(f"{PREFIX} {lines[0]}", file=sys.stderr, flush=True)
    for line in lines[1:]:
        print(f"{PREFIX} {line.strip()}", file=sys.stderr, flush=True)


def _print_error(error: ReloadError) -> None:
    print(f"{PREFIX} error: {describe_error(error)}", file=sys.stderr, flush=True)


def _show_warnings() -> None:
    """hotreload's own warnings (lost events, watcher errors) go to stderr too."""
    logger = logging.getLogger("hotreload")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PREFIX} %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
