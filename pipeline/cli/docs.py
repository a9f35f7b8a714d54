"""Write the CLI reference (docs/cli.md) from the commands' own --help.

    python -m pipeline.cli.docs > docs/cli.md

Every command and subcommand is found by walking the app, so none can be left out; a test
regenerates the file and compares, so the reference cannot drift from the code.
"""

from __future__ import annotations

import typer
from typer.testing import CliRunner


def command_paths(group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """[], [code], [review], [review, check], ...: the app's commands, in their order."""
    paths = [list(prefix)]
    for name, command in getattr(group, "commands", {}).items():
        paths += command_paths(command, (*prefix, name))
    return paths


def render() -> str:
    from . import app

    runner = CliRunner()
    parts = [
        "# qcode command reference",
        "",
        "Generated from `--help` by `python -m pipeline.cli.docs`; do not edit.",
        "",
    ]
    for args in command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*args, "--help"], prog_name="qcode", terminal_width=100, env={"COLUMNS": "100"})
        parts += [f"## qcode {' '.join(args)}".rstrip(), "", "```text", result.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
