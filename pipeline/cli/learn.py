"""`qcode learn FILE... --out MODEL_DIR [--codebook PATH]`."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from ..config import Config
from ..embed import build_embedder
from ..errors import InputError, validation_messages
from ..learn import learn
from ..review import excerpt_files
from .common import backend_option, embedding_model_option, say, unit_words_option


def learn_cli(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Reviewed excerpts JSONL (or output folders) and/or labelled JSONL {id, text, labels}."),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (model.json, weights.npz)."),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="YAML codebook [default: the King's Fund 2023 codebook]."),
    embedding_model: str = embedding_model_option(),
    backend: str = backend_option(),
    unit_words: int = unit_words_option(),
    cache_dir: Path = typer.Option(None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder."),
) -> None:
    """Learn per-code classifiers from reviewers' decisions; use with code/evaluate --model.

    Example: qcode learn out/excerpts.jsonl --out models/v1

    accepted -> the machine's codes; corrected -> review.codes; rejected -> no code.
    Codes with fewer than 10 positive or negative passages, or whose cross-validated F1
    does not beat codebook scoring on the same passages by more than its bootstrap
    standard error, keep codebook scoring. Use the embedding model and backend that
    `code` will use: a model is refused with any other.
    """
    try:
        config = Config(model=embedding_model, backend=backend, unit_words=unit_words)
    except ValidationError as err:
        say(f"error: {'; '.join(validation_messages(err))}")
        raise typer.Exit(2) from None
    try:
        embedder = build_embedder(config.model, batch_size=config.batch_size, seed=config.seed, cache_dir=cache_dir, backend=config.backend)
        tagger = learn(excerpt_files(files), out_dir=out, codebook_path=codebook, config=config, embedder=embedder)
    except InputError as err:
        say(f"error: {err}")
        raise typer.Exit(1) from None
    typer.echo(f"learned from {tagger.n_train_} passages -> {out}")
    typer.echo(f"{'code':<30} {'mode':<9} {'pos':>4} {'neg':>5} {'thr':>5} {'cv F1':>6} {'cv kappa':>8}")
    for code, entry in tagger.report_.items():
        cv = entry.get("cv") or {}
        thr = f"{entry['threshold']:.2f}" if "threshold" in entry else "-"
        f1 = f"{cv['f1']:.3f}" if cv else "-"
        kappa = f"{cv['kappa']:.3f}" if cv else "-"
        typer.echo(f"{code:<30} {entry['mode']:<9} {entry['positives']:>4} {entry['negatives']:>5} {thr:>5} {f1:>6} {kappa:>8}")
