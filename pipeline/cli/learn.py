"""`qcode learn FILE... --out MODEL_DIR [--codebook PATH]`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..embed import build_embedder
from ..finetune import PAIRS_PER_TEXT, finetune_files
from ..importing import import_folder_inputs
from ..learn import learn
from ..model_folder import drop_encoder, with_encoder
from ..outputs import LEARNED
from ..review import excerpt_files
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


def learn_cli(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE",
        help="Reviewed excerpts JSONL (or output folders) and/or labelled JSONL {id, text, labels}.",
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Model folder to write (model.json, weights.npz) [default: STUDY/learned when FILE is a study folder].",
    ),
    codebook: Path = typer.Option(
        None,
        "--codebook",
        "-c",
        help="YAML codebook [default: the study's (its manifest.json), else the King's Fund 2023 codebook].",
    ),
    embedding_model: str = embedding_model_option(None),
    backend: str = backend_option(None),
    device: str = device_option(),
    unit_words: int = unit_words_option(None),
    finetune: bool = typer.Option(
        False,
        "--finetune",
        help=(
            "First fine-tune the embedding model on the codebook and these passages (SetFit-style; seconds on a GPU,"
            " minutes to an hour on a CPU); it is saved as OUT/encoder and used by code/evaluate --model OUT."
        ),
    ),
    pairs: int = typer.Option(
        PAIRS_PER_TEXT,
        "--finetune-pairs",
        min=1,
        help="With --finetune: pairs of each kind (same code, no shared code) drawn per coded text.",
    ),
    cache_dir: Path = typer.Option(None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder."),
) -> None:
    """Learn from reviewers' decisions; use with code/evaluate --model.

    Example: qcode learn out/study   (writes out/study/learned; then qcode code ... -o out/study --model out/study/learned)

    Given a study folder (or a file in one), the codebook, embedding model, backend and
    unit size are the study's (said in one line) unless given.

    accepted -> the machine's codes; corrected -> review.codes; rejected -> no code.
    Every code reviewers have seen both ways is learned from the codebook plus the
    reviewed passages, blended with codebook scoring by how many there are (weight
    m/(m+N0), m = the smaller of its reviewed positives and negatives); from 40 reviewed
    passages, how far the codebook is trusted (N0 5 or 2, its rows weighing 1 or 0.3) is
    chosen by cross-validation on them, and how many codes a passage gets (at
    least one where reviewers coded nearly every passage). A code whose cross-validated
    F1 falls clearly below codebook scoring keeps codebook scoring. The codebook part
    adapts to every passage of FILE, reviewed or not. Use the embedding model and backend
    that `code` will use: a model is refused with any other.
    """
    given = {
        k: v for k, v in dict(model=embedding_model, backend=backend, unit_words=unit_words).items() if v is not None
    }
    imported = import_folder_inputs(files[0]) if len(files) == 1 else None
    if imported is not None:  # a folder `qcode import project` wrote: its study or labelled passages
        files, found = imported
        codebook = codebook or found
        out = out or files[0].parent / LEARNED if files[0].name == "labelled.jsonl" else out
        say(f"imported project: learning from {files[0]} with the codebook {codebook}")
    study = Study.of(files[0])
    if study is not None:
        taken = {k: getattr(study.config, k) for k in ("model", "backend", "unit_words")}
        config = make_config(**{**taken, **given})
        codebook = study.codebook(codebook)
        say(study.describe(config, codebook, None))
    else:
        config = make_config(**given)
    if out is None:
        if study is None:
            raise UsageError("--out is needed when FILE is not a study folder")
        out = study.folder / LEARNED
    files = excerpt_files(files)
    if finetune:
        tuned = finetune_files(files, codebook_path=codebook, config=config, out_dir=out, device=device, per_text=pairs)
        say(
            f"fine-tuned {config.model} on {tuned.pairs} pairs in {tuned.seconds:.0f}s ({tuned.device}) ->"
            f" {tuned.folder}"
        )
        config = with_encoder(config, out)
    else:
        drop_encoder(out)  # an encoder from an earlier --finetune no longer belongs here
    embedder = build_embedder(config, cache_dir=cache_dir, device=device)
    tagger = learn(files, out_dir=out, codebook_path=codebook, config=config, embedder=embedder)
    typer.echo(f"learned from {tagger.n_train_} passages -> {out}")
    least, most = tagger.decision_shape()
    trust = (
        "trusted (its rows weigh 1, N0 5)"
        if tagger.codebook_weight_ == 1.0
        else f"trusted less (its rows weigh {tagger.codebook_weight_:g}, N0 {tagger.n0_:g})"
    )
    typer.echo(f"codebook {trust}; codes per passage: at least {least}, at most {most}")
    typer.echo(f"{'code':<30} {'mode':<9} {'pos':>4} {'neg':>5} {'weight':>6}  cross-validated F1 on these passages")
    for code, entry in tagger.report_.items():
        cv = entry.get("cv")
        change = "-"
        if cv:
            change = f"codebook {cv['codebook_f1']:.3f} -> learned {cv['learned_f1']:.3f} (±{cv['gain_se']:.3f})"
            if "lexical_f1" in cv:
                change += f" -> with words {cv['lexical_f1']:.3f} (±{cv['lexical_gain_se']:.3f})"
        typer.echo(
            f"{code:<30} {entry['mode']:<9} {entry['positives']:>4} {entry['negatives']:>5} {entry['weight']:>6.2f} "
            f" {change}"
        )
