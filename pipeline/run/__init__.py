"""`qcode code`: transcripts in, coded excerpts out, as a few named stages.

    prepare  -> codebook, inputs, attribute tables, caches, embedder, tagger  (Setup; setup.py)
    read     -> transcripts, their normalised text staged for sources/       (Reading; coding.py)
    code     -> segment and embed batches of transcripts (here or on a Dask cluster,
                engine.py), tag, write machine excerpts                        (Tally; coding.py)
    finish   -> sources/ swapped in, reviews carried over, counts.csv, manifest.json (finish.py)

Streaming keeps memory flat whatever the corpus. Every output is written atomically;
reviewer decisions already in the output folder are carried over under its lock, at the
end, so decisions made while the run was embedding are kept too.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..embed import Embedder
from ..ingest import SURVEY_SUFFIXES
from ..outputs import EXCERPTS, SOURCES
from ..redact.corpus import check_key_path, default_key_path
from ..reviewing.reviews import ReviewLedger
from .coding import Reading, code_passages
from .finish import finish
from .setup import Redacting, RunResult, Setup, build_tagger, prepare

__all__ = ["Redacting", "RunResult", "Setup", "build_tagger", "code_corpus", "prepare"]


def code_corpus(
    inputs: list[str | Path],
    *,
    out_dir: Path,
    codebook_path: Path | None = None,
    config: Config | None = None,
    attributes_path: Path | None = None,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
    model_dir: Path | None = None,
    on_transcript: Callable[[str, int], None] | None = None,
    redacting: Redacting | None = None,
    device: str = "auto",
    cluster: str | None = None,
) -> RunResult:
    """Code every transcript under `inputs` and write excerpts.jsonl, counts.csv,
    manifest.json and sources/ into `out_dir`. Bad transcripts are reported in
    `RunResult.errors` and skipped; a bad codebook, attributes file or previous output
    raises `InputError` before anything is written. `device` (auto, cpu, cuda) is where the
    model runs; `cluster` a Dask scheduler address (or local:N) to segment and embed on.

    >>> code_corpus(["transcripts_sample"], out_dir=Path("out"))  # doctest: +SKIP
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    result = RunResult(out_dir=out_dir)
    ReviewLedger(out_dir / EXCERPTS)  # a bad excerpts file or journal stops the run here
    key = (redacting or Redacting()).key or default_key_path(out_dir)
    if (config or Config()).pseudonymise:  # a key inside the folder to share stops it too
        check_key_path(key, out_dir)
    setup = prepare(
        inputs,
        config=config or Config(),
        codebook_path=codebook_path,
        attributes_path=attributes_path,
        embedder=embedder,
        cache_dir=cache_dir,
        model_dir=model_dir,
        errors=result.errors,
        timings=result.timings,
        redacting=redacting,
        device=device,
        cluster=cluster,
        exclude=[out_dir, key],
    )
    if setup.files and all(f.suffix.lower() in SURVEY_SUFFIXES for f in setup.files):
        result.noun = "respondent"
    try:
        _code_and_finish(setup, result, on_transcript)
    finally:
        setup.engine.close()
    result.seconds = time.perf_counter() - started
    return result


def _code_and_finish(setup: Setup, result: RunResult, on_transcript: Callable[[str, int], None] | None) -> None:
    out_dir = result.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SOURCES}.", dir=out_dir))  # swapped in at the end
    machine = out_dir / f".{EXCERPTS}.machine"  # reviews are carried over at the end
    reading = Reading(setup, staging, result.errors, result.warnings, on_transcript)
    try:
        tally = code_passages(setup, reading, machine, result.timings)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous sources/ stay as they were
        machine.unlink(missing_ok=True)
        raise
    finish(setup, reading, tally, result, staging, machine)
