"""Helpers shared by the commands: messages on stderr, and the one error boundary that
turns bad input into `error: FILE[:LINE]: message` lines and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import typer

from ..config import Config
from ..errors import InputError, InputErrors, UsageError
from ..study import Settings, for_reading


def boundary(fn: Callable) -> Callable:
    """Run a command: bad input data prints each problem as one line on stderr and exits
    1; bad usage exits 2. Every command is registered through this (see `command`)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputErrors as errs:
            for err in errs.errors:
                say(f"error: {err}")
            say(f"nothing written: {len(errs.errors)} problem(s)")
            raise typer.Exit(1) from None
        except InputError as err:
            say(f"error: {err}")
            raise typer.Exit(1) from None
        except UsageError as err:
            say(f"error: {err}")
            raise typer.Exit(2) from None

    return run


def command(app: typer.Typer, name: str) -> Callable:
    """`@command(app, "name")`: register a command behind the error boundary."""
    return lambda fn: app.command(name)(boundary(fn))


SOURCE_HELP = (
    "Which codes: machine, reviewed (reviewers' decisions only) or final (decision where there is one, else machine)."
)


def check_source(source: str) -> None:
    """`--source` of counts, report and the exports: a known one, else bad usage."""
    from ..reviewing.reviews import SOURCES

    if source not in SOURCES:
        raise UsageError(f"--source must be one of {', '.join(SOURCES)}")


DEVICE_HELP = "Where the embedding model runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda."


def config_option(field: str, *flags: str, study: bool = False, **extra):
    """A command-line option for a `Config` field, its help the field's description (the
    one place it is written). `study`: unset unless given, so that a study's recorded
    setting can fill it (the help says so); else the Config default."""
    info = Config.model_fields[field]
    default = info.default
    shown = ", ".join(default) if isinstance(default, tuple) else default
    shown = "off" if default is False else shown
    note = f" [default: the study's, else {shown}]" if study and default is not None else ""
    note = " [default: the study's, else unset]" if study and not note else note
    return typer.Option(None if study else default, *flags, help=f"{info.description}{note}.", **extra)


def embedding_model_option(study: bool = False):
    return config_option("model", "--embedding-model", "-e", study=study)


def backend_option(study: bool = False):
    return config_option("backend", "--backend", study=study)


def unit_words_option(study: bool = False):
    return config_option("unit_words", "--unit-words", study=study, min=1)


def every_passage_coded_option():
    return config_option("every_passage_coded", "--every-passage-coded/--passages-may-be-uncoded", study=True)


def device_option():
    return typer.Option("auto", "--device", help=DEVICE_HELP)


def say(message: str) -> None:
    typer.echo(message, err=True)


def announce(settings: Settings) -> Settings:
    """Say in one line what a command took from a study (when it took anything)."""
    if settings.said:
        say(settings.said)
    return settings


def study_codebook(folder, explicit=None) -> Path:
    """The codebook to read a study folder (or a file in one) with, said in one line."""
    return announce(for_reading(folder, explicit)).codebook
