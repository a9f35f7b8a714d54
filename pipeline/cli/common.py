"""Helpers shared by the commands: messages on stderr, one-line errors."""

from __future__ import annotations

import typer

from ..config import Config
from ..errors import InputError

EMBEDDING_MODEL_HELP = (
    "Embedding model: mpnet (all-mpnet-base-v2, the default: best agreement), minilm "
    "(all-MiniLM-L6-v2: about 7x faster, lower agreement), or a local sentence-transformers folder."
)
BACKEND_HELP = (
    "Embedding backend: torch (fp32, the published weights), torch-bf16 (about 2x faster, "
    "same agreement), onnx (fp32) or onnx-int8 (2-3x faster; with minilm about the same "
    "agreement, with mpnet 0.03 kappa lower). See README, Performance."
)


def embedding_model_option():
    return typer.Option(Config().model, "--embedding-model", "-e", help=EMBEDDING_MODEL_HELP)


def backend_option():
    return typer.Option(Config().backend, "--backend", help=BACKEND_HELP)


def unit_words_option():
    return typer.Option(
        Config().unit_words,
        "--unit-words",
        min=1,
        help="Score each passage by runs of whole sentences of at least this many words; a code's best run counts (a large value scores whole passages).",
    )


def say(message: str) -> None:
    typer.echo(message, err=True)


def fail(err: InputError | str, code: int = 1) -> typer.Exit:
    say(f"error: {err}")
    return typer.Exit(code)
