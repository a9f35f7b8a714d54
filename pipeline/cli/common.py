"""Helpers shared by the commands: messages on stderr, one-line errors."""

from __future__ import annotations

import typer

from ..errors import InputError


def say(message: str) -> None:
    typer.echo(message, err=True)


def fail(err: InputError | str, code: int = 1) -> typer.Exit:
    say(f"error: {err}")
    return typer.Exit(code)
