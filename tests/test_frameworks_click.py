"""click groups and commands reloaded in a running process (a shell, a notebook, a long-lived tool).

The live group keeps its identity; edited command bodies, options added to a
command and subcommands added to the group are what the next invocation runs.
"""

from __future__ import annotations

import hotreload
import pytest

click = pytest.importorskip("click", reason="click is in the test extra; missing only if not installed")
from click.testing import CliRunner  # noqa: E402

CLI = """
    import click

    CALLS = []

    @click.group()
    def cli():
        pass

    @cli.command()
    @click.option("--name", default="world")
    def hello(name):
        CALLS.append(name)
        click.echo(f"hello {name}")
"""


def _run(m, *args: str) -> str:
    result = CliRunner().invoke(m.cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_edited_command_body_runs_in_the_live_group(modules):
    modules.install()
    m = modules.make(CLI)
    cli, calls = m.cli, m.CALLS
    assert _run(m, "hello") == "hello world"
    modules.edit(m, CLI.replace('f"hello {name}"', 'f"hi there, {name}"'))
    hotreload.reload(m)

    assert m.cli is cli and m.CALLS is calls
    assert _run(m, "hello", "--name", "ada") == "hi there, ada"
    assert calls == ["world", "ada"]


def test_options_and_subcommands_added(modules):
    modules.install()
    m = modules.make(CLI)
    cli = m.cli
    edited = CLI.replace(
        '    @click.option("--name", default="world")\n    def hello(name):',
        '    @click.option("--name", default="world")\n    @click.option("--shout", is_flag=True)\n    def hello(name, shout):',
    ).replace('click.echo(f"hello {name}")', 'click.echo(f"hello {name}".upper() if shout else f"hello {name}")')
    edited += """
    @cli.command()
    @click.argument("who")
    def bye(who):
        click.echo(f"bye {who}")
"""
    modules.edit(m, edited)
    hotreload.reload(m)

    assert m.cli is cli
    assert _run(m, "hello", "--shout") == "HELLO WORLD"
    assert _run(m, "hello", "--name", "x") == "hello x"
    assert _run(m, "bye", "grace") == "bye grace"
    assert sorted(cli.commands) == ["bye", "hello"]
    assert "--shout" in _run(m, "hello", "--help")


def test_a_command_removed_from_the_source_leaves_the_group(modules):
    modules.install()
    source = (
        CLI
        + """
    @cli.command()
    def extra():
        click.echo("extra")
"""
    )
    m = modules.make(source)
    assert _run(m, "extra") == "extra"
    modules.edit(m, CLI)
    hotreload.reload(m)
    assert "extra" not in m.__dict__ and sorted(m.cli.commands) == ["hello"]
    assert _run(m, "hello") == "hello world"


def test_a_command_renamed_or_moved_by_its_decorator_leaves_its_old_place(modules):
    source = """
    import click

    @click.group()
    def cli():
        pass

    @cli.group()
    def admin():
        pass

    @cli.command()
    def hello():
        click.echo("hello v1")
"""
    modules.install()
    m = modules.make(source)
    assert _run(m, "hello") == "hello v1"
    modules.edit(m, source.replace("@cli.command()", '@cli.command(name="greet")').replace("v1", "v2"))
    hotreload.reload(m)
    assert _run(m, "greet") == "hello v2"
    assert sorted(m.cli.commands) == ["admin", "greet"]
    modules.edit(m, source.replace("@cli.command()", "@admin.command()").replace("v1", "v3"))
    hotreload.reload(m)
    assert _run(m, "admin", "hello") == "hello v3"
    assert sorted(m.cli.commands) == ["admin"]
