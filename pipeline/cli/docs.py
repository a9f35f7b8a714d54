"""Write the CLI reference (docs/cli.md) from the commands' own --help.

    python -m pipeline.cli.docs > docs/cli.md

A test regenerates it and compares, so the reference cannot drift from the code.
"""

from __future__ import annotations

from typer.testing import CliRunner

COMMANDS = [
    [],
    ["code"],
    ["evaluate"],
    ["agreement"],
    ["learn"],
    ["counts"],
    ["report"],
    ["reproduce"],
    ["codebook"],
    ["codebook", "check"],
    ["review"],
    ["review", "check"],
    ["review", "merge"],
    ["review", "status"],
    ["review", "queue"],
    ["export"],
    ["export", "codebook"],
    ["export", "refi"],
    ["export", "table"],
    ["import"],
    ["import", "codebook"],
]


def render() -> str:
    from . import app

    runner = CliRunner()
    parts = ["# qcode command reference", "", "Generated from `--help` by `python -m pipeline.cli.docs`; do not edit.", ""]
    for args in COMMANDS:
        result = runner.invoke(app, [*args, "--help"], prog_name="qcode", terminal_width=100, env={"COLUMNS": "100"})
        parts += [f"## qcode {' '.join(args)}".rstrip(), "", "```text", result.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
