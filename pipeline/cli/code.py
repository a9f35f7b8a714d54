"""`qcode code INPUT... [--codebook PATH] [--out DIR]`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import Config
from ..errors import InputError
from ..outputs import MANIFEST
from ..run import Redacting, code_corpus
from ..studyfolder import Study
from .common import (
    UsageError,
    backend_option,
    device_option,
    embedding_model_option,
    make_config,
    say,
    unit_words_option,
)


def _study_at(out: Path) -> Study | None:
    if not (out / MANIFEST).is_file():
        return None
    try:
        return Study.of(out)
    except InputError as err:
        say(f"warning: {err}: its settings are not used (the defaults and the options given are)")
        return None


def _still_there(record) -> Path | None:
    return Path(record.path) if record is not None and Path(record.path).is_file() else None


def study_settings(
    study: Study | None, given: dict, codebook: Path | None, model: Path | None
) -> tuple[Path | None, Path | None, Config]:
    """The codebook, learned model and config for a run into `study`'s folder: what is
    given, else what the study recorded (said in one line), else the defaults."""
    if study is None:
        return codebook, model, make_config(**given)
    config = make_config(**{**study.config.model_dump(), **given})
    codebook = study.codebook(codebook)
    if model is None:
        model = study.learned_model()
    say(study.describe(config, codebook, model))
    return codebook, model, config


def pace(passages: int, seconds: float) -> str:
    """Elapsed time, with a rate only where it means something (a few seconds' work)."""
    if passages < 50 or seconds < 2:
        return f"{seconds:.1f}s"
    return f"{seconds:.1f}s ({passages / seconds:.0f} passages/s)"


def code_cli(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT", help="Transcript files or folders (.txt .md .docx .vtt .srt, survey .csv .xlsx)."
    ),
    codebook: Path = typer.Option(
        None, "--codebook", "-c", help="YAML codebook [default: the King's Fund 2023 codebook]."
    ),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    attributes: Path = typer.Option(
        None, "--attributes", help="participants.csv to use [default: one beside the inputs]."
    ),
    interviewer: list[str] = typer.Option(
        None, "--interviewer", help="Speaker label of an interviewer (repeatable) [default: Interviewer, I, Q, ...]."
    ),
    text_column: str = typer.Option(
        None,
        "--text-column",
        help="Survey CSV/XLSX: column holding the answers [default: text, response, answer or comment].",
    ),
    id_column: str = typer.Option(
        None,
        "--id-column",
        help=(
            "Survey CSV/XLSX: column of respondent ids [default: id, respondent id or response id in any spelling"
            " (Qualtrics ResponseId), else row number]."
        ),
    ),
    split_answers: bool = typer.Option(
        None,
        "--split-answers/--whole-answers",
        help=(
            "Survey CSV/XLSX: split long answers into passages as interview turns are [default: one passage per"
            " answer]."
        ),
    ),
    target_words: int = typer.Option(
        None,
        help=(
            "Close a passage at the first sentence end past this many words [default: the study's, else"
            f" {Config().target_words}]."
        ),
    ),
    max_words: int = typer.Option(
        None,
        help=(
            "Never grow a passage past this (unless one sentence is longer) [default: the study's, else"
            f" {Config().max_words}]."
        ),
    ),
    unit_words: int = unit_words_option(None),
    threshold: float = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help=f"Apply a code when its score reaches this [default: the study's, else {Config().threshold}].",
    ),
    max_codes: int = typer.Option(
        None, min=1, help=f"At most this many codes per passage [default: the study's, else {Config().max_codes}]."
    ),
    batch_size: int = typer.Option(
        None, min=1, help=f"Passages per embedding batch [default: the study's, else {Config().batch_size}]."
    ),
    embedding_model: str = embedding_model_option(None),
    backend: str = backend_option(None),
    device: str = device_option(),
    cluster: str = typer.Option(
        None,
        "--cluster",
        help=(
            "Segment and embed on a Dask cluster: its scheduler address (tcp://host:8786), or local:N to start N worker"
            " processes here. Same outputs, byte for byte."
        ),
    ),
    model: Path = typer.Option(
        None,
        "--model",
        "-m",
        help="A model from `qcode learn` [default: the study's (OUT/manifest.json), else codebook-only tagging].",
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Ignore the settings recorded in OUT/manifest.json: the defaults and the options given only.",
    ),
    pseudonymise: bool = typer.Option(
        None,
        "--pseudonymise/--no-pseudonymise",
        help=(
            "Replace names, organisations, places and direct identifiers before anything is written (as `qcode"
            " redact`); the key goes to OUT/../OUT.pseudonym_key.csv."
        ),
    ),
    names: Path = typer.Option(
        None, "--names", help="With --pseudonymise: a file of names to replace wherever they appear (one a line)."
    ),
    keep: Path = typer.Option(
        None, "--keep", help="With --pseudonymise: a file of terms never to replace (one a line)."
    ),
    key: Path = typer.Option(
        None, "--key", help="With --pseudonymise: where to write the pseudonym key (never inside OUT)."
    ),
    cache_dir: Path = typer.Option(
        None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder [default: ~/.cache/qcode]."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Code transcripts: segment, embed, tag; write excerpts.jsonl, counts.csv, manifest.json.

    Speaker labels are read in the usual styles (Interviewer:, I:, P01:, Dr Ahmed:,
    [00:01:23] Name:, Name  00:01:23, bold labels in Word, <v Name> in WebVTT).
    Participant attributes come from participants.csv/.yaml beside the inputs.

    Example: qcode code transcripts_sample/ --out out/

    Rerun into a study folder, it takes the codebook, the learned model and every setting
    from OUT/manifest.json (and says so) unless given here or --fresh.

    Reviewer decisions already in OUT/excerpts.jsonl are kept; decisions whose passage no
    longer exists move to OUT/orphaned_reviews.jsonl. Exit 1 if any input was bad (the
    others are still coded).
    """
    given = dict(
        text_column=text_column,
        id_column=id_column,
        split_answers=split_answers,
        target_words=target_words,
        max_words=max_words,
        unit_words=unit_words,
        threshold=threshold,
        max_codes=max_codes,
        batch_size=batch_size,
        backend=backend,
        model=embedding_model,
        pseudonymise=pseudonymise,
    )
    if interviewer:
        given["interviewer_labels"] = tuple(interviewer)
    given = {k: v for k, v in given.items() if v is not None}
    study = None if fresh else _study_at(out)
    codebook, model, config = study_settings(study, given, codebook, model)
    if study is not None and study.manifest.redaction is not None and config.pseudonymise and not (names or keep):
        names, keep = (_still_there(getattr(study.manifest.redaction, what)) for what in ("names", "keep"))
    if (names or keep or key) and not config.pseudonymise:
        raise UsageError("--names, --keep and --key go with --pseudonymise")
    progress = Progress(
        TextColumn("coding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        disable=quiet,
    )
    task = None

    def advance(transcript: str, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("", total=total)
        progress.update(task, advance=1, description=transcript)

    with progress:
        result = code_corpus(
            list(inputs),
            out_dir=out,
            codebook_path=codebook,
            config=config,
            attributes_path=attributes,
            cache_dir=cache_dir,
            model_dir=model,
            on_transcript=advance,
            redacting=Redacting(names=names, keep=keep, key=key),
            device=device,
            cluster=cluster,
        )
    summarise(result, out)


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
