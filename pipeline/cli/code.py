"""`qcode code INPUT... [--codebook PATH] [--out DIR]`."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..run import Redacting, code_corpus
from ..study import for_run, redaction_lists, run_folder
from .common import (
    announce,
    backend_option,
    config_option,
    device_option,
    embedding_model_option,
    every_passage_coded_option,
    say,
    unit_words_option,
)


def pace(passages: int, seconds: float) -> str:
    """Elapsed time, with a rate only where it means something (a few seconds' work)."""
    if passages < 50 or seconds < 2:
        return f"{seconds:.1f}s"
    return f"{seconds:.1f}s ({passages / seconds:.0f} passages/s)"


INPUTS = typer.Argument(
    ..., metavar="INPUT", help="Transcript files or folders (.txt .md .docx .vtt .srt, survey .csv .xlsx)."
)
CODEBOOK = typer.Option(
    None,
    "--codebook",
    "-c",
    help="Codebook (YAML, a table or a REFI-QDA .qdc) [default: the study's, else King's Fund 2023].",
)
OUT = typer.Option(Path("out"), "--out", "-o", help="Output folder (a study folder: see below).")
ATTRIBUTES = typer.Option(None, "--attributes", help="participants.csv to use [default: one beside the inputs].")
CLUSTER = typer.Option(
    None,
    "--cluster",
    help="Segment and embed on a Dask cluster: its scheduler address (tcp://host:8786), or local:N to start N worker"
    " processes here. Same outputs, byte for byte.",
)
MODEL = typer.Option(
    None, "--model", "-m", help="A model from `qcode learn` [default: the study's, else codebook-only tagging]."
)
FRESH = typer.Option(
    False, "--fresh", help="Ignore the settings in OUT/manifest.json: the defaults and these options only."
)
NAMES = typer.Option(
    None, "--names", help="With --pseudonymise: a file of names to replace wherever they appear (one a line)."
)
KEEP = typer.Option(None, "--keep", help="With --pseudonymise: a file of terms never to replace (one a line).")
KEY = typer.Option(None, "--key", help="With --pseudonymise: where to write the pseudonym key (never inside OUT).")
CACHE_DIR = typer.Option(
    None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder [default: ~/.cache/qcode]."
)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def code_cli(
    inputs: list[Path] = INPUTS,
    codebook: Path = CODEBOOK,
    out: Path = OUT,
    attributes: Path = ATTRIBUTES,
    interviewer_labels: list[str] = config_option("interviewer_labels", "--interviewer", study=True),
    text_column: str = config_option("text_column", "--text-column", study=True),
    id_column: str = config_option("id_column", "--id-column", study=True),
    split_answers: bool = config_option("split_answers", "--split-answers/--whole-answers", study=True),
    target_words: int = config_option("target_words", "--target-words", study=True, min=1),
    max_words: int = config_option("max_words", "--max-words", study=True, min=1),
    unit_words: int = unit_words_option(study=True),
    threshold: float = config_option("threshold", "--threshold", study=True, min=0.0, max=1.0),
    max_codes: int = config_option("max_codes", "--max-codes", study=True, min=1),
    every_passage_coded: bool = every_passage_coded_option(),
    batch_size: int = config_option("batch_size", "--batch-size", study=True, min=1),
    embedding_model: str = embedding_model_option(study=True),
    backend: str = backend_option(study=True),
    device: str = device_option(),
    cluster: str = CLUSTER,
    model: Path = MODEL,
    fresh: bool = FRESH,
    pseudonymise: bool = config_option("pseudonymise", "--pseudonymise/--no-pseudonymise", study=True),
    names: Path = NAMES,
    keep: Path = KEEP,
    key: Path = KEY,
    cache_dir: Path = CACHE_DIR,
    quiet: bool = QUIET,
) -> None:
    """Code transcripts: segment, embed, tag; write excerpts.jsonl, counts.csv, manifest.json.

    Speaker labels are read in the usual styles (Interviewer:, I:, P01:, Dr Ahmed:,
    [00:01:23] Name:, Name  00:01:23, bold labels in Word, <v Name> in WebVTT).
    Participant attributes come from participants.csv/.yaml beside the inputs.
    Example: qcode code transcripts_sample/ --out out/

    Rerun into a study folder, it takes the codebook, the learned model and every setting
    from OUT/manifest.json (and says so) unless given here or --fresh. Reviewer decisions
    in OUT/excerpts.jsonl are kept; those whose passage is gone move to
    OUT/orphaned_reviews.jsonl. Exit 1 if any input was bad (the others are still coded).
    """
    given = {
        "text_column": text_column, "id_column": id_column, "split_answers": split_answers,
        "target_words": target_words, "max_words": max_words, "unit_words": unit_words, "threshold": threshold,
        "max_codes": max_codes, "every_passage_coded": every_passage_coded, "batch_size": batch_size, "backend": backend, "model": embedding_model,
        "pseudonymise": pseudonymise, "interviewer_labels": interviewer_labels,
    }  # fmt: skip
    study, warning = run_folder(out, fresh)
    if warning:
        say(warning)
    settings = announce(for_run(study, {k: v for k, v in given.items() if v not in (None, [])}, codebook, model))
    codebook, model, config = settings.codebook, settings.model, settings.config
    names, keep = redaction_lists(study, config, names, keep, key)
    with _progress(quiet) as advance:
        result = code_corpus(
            list(inputs), out_dir=out, codebook_path=codebook, config=config, attributes_path=attributes,
            cache_dir=cache_dir, model_dir=model, on_transcript=advance,
            redacting=Redacting(names=names, keep=keep, key=key), device=device, cluster=cluster,
        )  # fmt: skip
    summarise(result, out)


@contextmanager
def _progress(quiet: bool):
    """A progress bar over the input files; yields the function that advances it."""
    progress = Progress(
        TextColumn("coding"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), transient=True, disable=quiet,
    )  # fmt: skip
    task = None

    def advance(transcript: str, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("", total=total)
        progress.update(task, advance=1, description=transcript)

    with progress:
        yield advance


def summarise(result, out: Path) -> None:
    """The run's warnings, errors and totals on stderr; exit 1 if any input was bad."""
    for warning in result.warnings:
        say(f"warning: {warning}")
    for err in result.errors:
        say(f"error: {err}")
    say(
        f"coded {result.transcripts} {result.noun}(s): {result.passages} passages, {result.coded} with codes; "
        f"embedded {result.embedded}, {result.from_cache} from cache; {pace(result.passages, result.seconds)}"
    )
    if result.key is not None:
        say(f"pseudonym key: {result.key} (it re-identifies participants: keep it apart from the outputs you share)")
    if result.kept_reviews or result.orphaned_reviews:
        say(f"reviews kept: {result.kept_reviews}; orphaned (see orphaned_reviews.jsonl): {result.orphaned_reviews}")
    say(f"outputs: {out / 'excerpts.jsonl'}, {out / 'counts.csv'}, {out / 'manifest.json'}, {out / 'sources'}/")
    if result.errors:
        say(f"{len(result.errors)} input(s) failed: " + ", ".join(e.path for e in result.errors))
        raise typer.Exit(1)
