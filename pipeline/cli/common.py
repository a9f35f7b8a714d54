"""Helpers shared by the commands: messages on stderr, and the one error boundary that
turns bad input into `error: FILE[:LINE]: message` lines and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer
from pydantic import ValidationError

from ..config import Config
from ..errors import InputError, InputErrors, validation_messages


class UsageError(Exception):
    """Bad usage (options that do not make sense together): exit 2."""


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
    from ..review import SOURCES

    if source not in SOURCES:
        raise UsageError(f"--source must be one of {', '.join(SOURCES)}")


def make_config(**settings) -> Config:
    """A Config from command-line settings; an invalid one is bad usage."""
    try:
        return Config(**settings)
    except ValidationError as err:
        raise UsageError("; ".join(validation_messages(err))) from None


EMBEDDING_MODEL_HELP = (
    "Embedding model: mpnet (all-mpnet-base-v2, the default: best agreement), minilm "
    "(all-MiniLM-L6-v2: about 7x faster, lower agreement), or a local sentence-transformers folder."
)
BACKEND_HELP = (
    "Embedding backend: torch (fp32, the published weights), torch-bf16 (about 2x faster, "
    "same agreement), onnx (fp32) or onnx-int8 (2-3x faster; with minilm about the same "
    "agreement, with mpnet 0.03 kappa lower); torch-fp16 on a GPU. See docs/performance.md."
)
DEVICE_HELP = "Where the embedding model runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda."


_UNSET = object()


def embedding_model_option(default=_UNSET):
    return typer.Option(
        Config().model if default is _UNSET else default, "--embedding-model", "-e", help=EMBEDDING_MODEL_HELP
    )


def backend_option(default=_UNSET):
    return typer.Option(Config().backend if default is _UNSET else default, "--backend", help=BACKEND_HELP)


def device_option():
    return typer.Option("auto", "--device", help=DEVICE_HELP)


def unit_words_option(default=_UNSET):
    return typer.Option(
        Config().unit_words if default is _UNSET else default,
        "--unit-words",
        min=1,
        help=(
            "Score each passage by runs of whole sentences of at least this many words; a code's best run counts (a"
            " large value scores whole passages)."
        ),
    )


def say(message: str) -> None:
    typer.echo(message, err=True)


def study_codebook(folder, explicit=None):
    """The codebook for a study folder: `explicit`, else the study's, said in one line."""
    from ..codebook import recorded_path
    from ..manifest import codebook_for
    from ..outputs import MANIFEST

    path = codebook_for(folder, explicit)
    if explicit is None:
        say(f"settings from {folder / MANIFEST}: codebook {recorded_path(path)}")
    return path
