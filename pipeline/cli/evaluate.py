"""`qcode evaluate --gold FILE [--codebook PATH] [--json]`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import load_codebook
from ..embed import build_embedder
from ..evaluate import EvalReport, evaluate_file
from ..model_folder import with_encoder
from ..run import build_tagger
from ..study import Study, for_run
from . import common as opt
from .common import UsageError, announce


def format_table(report: EvalReport) -> str:
    width = max(len(s.code) for s in report.per_code)
    lines = [f"{'code':<{width}}  precision  recall     f1  kappa  support  predicted"]
    for s in report.per_code:
        lines.append(
            f"{s.code:<{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {'    -' if s.kappa is None else f'{s.kappa:5.3f}'}  {s.support:7d} "
            f" {s.predicted:9d}"
        )
    lines.append(
        f"passages {report.n}  macro-F1 {report.macro_f1:.3f}  micro-F1 {report.micro_f1:.3f}  mean kappa"
        f" {report.mean_kappa:.3f}"
    )
    return "\n".join(lines)


def evaluate_cli(
    gold: Path = typer.Option(..., "--gold", "-g", help='JSONL of {"id", "text", "labels": [code ids]}.'),
    codebook: Path = typer.Option(
        None, "--codebook", "-c", help="YAML codebook [default: the King's Fund 2023 codebook]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    model: Path = typer.Option(
        None, "--model", "-m", help="A model from `qcode learn` [default: the study's, else codebook-only tagging]."
    ),
    study_dir: Path = typer.Option(
        None, "--study", help="A study folder whose codebook, learned model and settings to use (said in one line)."
    ),
    threshold: float = opt.config_option("threshold", "--threshold", study=True, min=0.0, max=1.0),
    unit_words: int = opt.unit_words_option(study=True),
    every_passage_coded: bool = opt.every_passage_coded_option(),
    embedding_model: str = opt.embedding_model_option(study=True),
    backend: str = opt.backend_option(study=True),
    device: str = opt.device_option(),
    cache_dir: Path = typer.Option(None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder."),
) -> None:
    """Score the tagger against gold labels: per-code precision, recall, F1, Cohen's kappa.

    Example: qcode evaluate --gold eval/dev_gold.jsonl --json

    Macro-F1 and mean kappa average over the codes that occur in the gold file.
    """
    given = {
        "threshold": threshold, "unit_words": unit_words, "every_passage_coded": every_passage_coded,
        "backend": backend, "model": embedding_model,
    }  # fmt: skip
    given = {k: v for k, v in given.items() if v is not None}
    study = Study.of(study_dir) if study_dir is not None else None
    if study_dir is not None and study is None:
        raise UsageError(f"--study {study_dir}: no manifest.json there")
    settings = announce(for_run(study, given, codebook, model))  # a model's own codebook unless told
    codebook, model, config = settings.codebook, settings.model, with_encoder(settings.config, model)
    cb = load_codebook(codebook)
    embedder = build_embedder(config, cache_dir=cache_dir, device=device)
    tagger = build_tagger(cb, codebook_path=codebook, config=config, embedder=embedder, model_dir=model)
    report = evaluate_file(gold, codebook=cb, tagger=tagger, embedder=embedder)
    if report.n and not report.uncoded and not config.every_passage_coded:
        opt.say(
            f"note: every passage in {gold} carries a code; where the passages to code are known to"
            " (highlights, selected quotes), --every-passage-coded gives each at least its best code"
        )
    if as_json:
        typer.echo(report.model_dump_json(include={"n", "macro_f1", "micro_f1", "mean_kappa", "per_code"}))
    else:
        typer.echo(format_table(report))
