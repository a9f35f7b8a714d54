"""`qcode learn FILE... --out MODEL_DIR [--codebook PATH]`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..embed import build_embedder
from ..finetune import PAIRS_PER_TEXT, finetune
from ..labelled import read_labelled
from ..learn import MIN_HEAD, fit_labelled, learn
from ..model_folder import drop_encoder, with_encoder
from ..study import for_learning
from ..tune_choice import MIN_PASSAGES, MOST_PAIRS, TuneChoice, choose
from ..tune_choice import PAIRS as CHECK_PAIRS
from ..tune_choice import TOP_LAYERS as CHECK_TOP_LAYERS
from .common import announce, backend_option, device_option, embedding_model_option, say, unit_words_option

FILES = typer.Argument(
    ..., metavar="FILE", help="Reviewed excerpts JSONL (or output folders) and/or labelled JSONL {id, text, labels}."
)
OUT = typer.Option(
    None, "--out", "-o", help="Model folder to write (model.json, weights.npz) [default: STUDY/learned for a study]."
)
CODEBOOK = typer.Option(None, "--codebook", "-c", help="Codebook [default: the study's, else King's Fund 2023].")
FINETUNE = typer.Option(
    None,
    "--finetune/--no-finetune",
    help="Fine-tune the embedding model on the codebook and these passages first (SetFit-style; seconds on a GPU,"
    " minutes on a CPU); it is saved as OUT/encoder and used by code/evaluate --model OUT."
    f" [default: from {MIN_PASSAGES} labelled passages, tune the top {CHECK_TOP_LAYERS} layers where a 3-fold"
    " out-of-fold check (whole documents) says it pays; never below]",
)
PAIRS = typer.Option(
    PAIRS_PER_TEXT, "--finetune-pairs", min=1, help="With --finetune: pairs of each kind drawn per coded text."
)
TOP_LAYERS = typer.Option(
    None,
    "--finetune-top-layers",
    min=1,
    help="With --finetune: train only the top N layers, on cached lower-layer states, in bf16 where the hardware"
    " has it (mpnet, 4 layers, 100 reviews on 2 CPU cores: 94 s against 857 s for every layer; 89% of its gain"
    " on AnnoMI practitioner dev talk; 84% on test, the mean of 5 folds)"
    " [default: every layer].",
)
CACHE_DIR = typer.Option(None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder.")


def learn_cli(
    files: list[Path] = FILES,
    out: Path = OUT,
    codebook: Path = CODEBOOK,
    embedding_model: str = embedding_model_option(study=True),
    backend: str = backend_option(study=True),
    device: str = device_option(),
    unit_words: int = unit_words_option(study=True),
    finetune: bool | None = FINETUNE,
    pairs: int = PAIRS,
    top_layers: int = TOP_LAYERS,
    cache_dir: Path = CACHE_DIR,
) -> None:
    """Learn from reviewers' decisions; use with code/evaluate --model.

    Example: qcode learn out/study   (writes out/study/learned; then qcode code ... -o out/study --model out/study/learned)

    Given a study folder (or a file in one, or a folder `qcode import project` wrote), the
    codebook, embedding model, backend and unit size are the study's (said in one line)
    unless given; a study coded with a learned model also brings the labelled passages
    that model learned from (an imported coding, say), and the study's decisions win. accepted -> the machine's codes; corrected -> review.codes; rejected ->
    no code. Every code reviewers have seen both ways is learned from the codebook plus
    the reviewed passages, blended with codebook scoring by how many there are; from 40
    reviewed passages, how far the codebook is trusted and how many codes a passage gets
    are chosen by cross-validation on them. A code whose cross-validated F1 falls clearly
    below codebook scoring keeps it. From 40 labelled passages, passages are decided by
    whichever agrees best with the coders out of fold (whole documents per fold where rows
    name their `source`): the per-code models, or one model of whole decisions, with or
    without the passages just before and after. Use the embedding model and backend that
    `code` will use: a model is refused with any other.
    """
    given = {k: v for k, v in dict(model=embedding_model, backend=backend, unit_words=unit_words).items() if v}
    settings = announce(for_learning(files, given, codebook, out))
    files, codebook, out, config = list(settings.files), settings.codebook, settings.out, settings.config
    config, embedder, encoder, fixed, read = encoder_for(
        files, codebook, config, out, (finetune, pairs, top_layers), device, cache_dir
    )
    tagger = learn(
        files,
        out_dir=out,
        codebook_path=codebook,
        config=config,
        embedder=embedder,
        encoder=encoder,
        fixed=fixed,
        read=read,
    )
    print_report(tagger, out)


def encoder_for(files, codebook, config, out: Path, tuning: tuple, device: str, cache_dir):
    """(the config and embedder to learn with, model.json's `encoder_tuning`, the learner's
    choices made before a tuning, the labelled files as read): the encoder tuned or not,
    by the out-of-fold check unless `tuning` (--finetune/--no-finetune, pairs, layers) forces it."""
    finetune, pairs, top_layers = tuning
    choice, read, most = None, None, None
    lower: dict = {}  # the frozen layers' states: each passage through them once, for the check and the tuning
    if finetune is not False:
        read = book, data, _ = read_labelled(files, codebook)
        frozen = build_embedder(config, cache_dir=cache_dir, device=device)
    if finetune is None:
        choice = choose_tuning(book, data, config, device, frozen, lower)
        finetune, pairs, top_layers, most = choice.tune, CHECK_PAIRS, CHECK_TOP_LAYERS, MOST_PAIRS
    fixed = None
    if finetune:  # the learner's choices are made first, on vectors not tuned on these passages
        fixed = fit_labelled(book, data, config=config, embedder=frozen).choices()
        config = tune(book, data, config, out, device, pairs, top_layers, lower, most)
    else:
        drop_encoder(out)  # an encoder from an earlier --finetune no longer belongs here
    embedder = (
        frozen if read is not None and not finetune else build_embedder(config, cache_dir=cache_dir, device=device)
    )
    encoder = choice.record() if choice else {"tune": finetune, "why": "forced by --finetune/--no-finetune"}
    if finetune:
        encoder["top_layers"] = top_layers  # None: every layer
    return config, embedder, encoder, fixed, read


def tune(codebook, data, config, out: Path, device: str, pairs: int, top_layers, lower=None, most=None):
    """Tune the encoder on the labelled passages into OUT/encoder, say so, and return the
    config that embeds with it (`pairs` per coded passage, at `most` in all;
    `lower`: finetune_top.train_top)."""
    from ..finetune_top import release_memory

    tuned = finetune(
        codebook, data, config=config, out_dir=out, device=device, per_text=pairs, top_layers=top_layers,
        lower=lower, most_pairs=most,
    )  # fmt: skip
    release_memory()  # the model it trained, before the study is embedded with the saved one
    say(
        f"fine-tuned {config.model} on {tuned.pairs} pairs in {tuned.seconds:.0f}s ({tuned.device}, {tuned.precision})"
        f" -> {tuned.folder}"
    )
    return with_encoder(config, out)


def choose_tuning(codebook, data, config, device: str, embedder, lower: dict | None = None) -> TuneChoice:
    """The out-of-fold check of whether tuning the encoder pays (tune_choice.py), said in one line."""
    if len(data.texts) >= MIN_PASSAGES:
        say(f"checking whether tuning the encoder pays ({len(data.texts)} labelled passages; minutes on a CPU)")
    choice = choose(codebook, data, config=config, device=device, embedder=embedder, lower=lower)
    took = f" ({choice.seconds:.0f}s)" if choice.seconds else ""
    say(f"encoder: {'tuned' if choice.tune else 'as it is'}: {choice.why}{took}")
    return choice


def print_report(tagger, out: Path) -> None:
    """What was learned: the codebook's trust, the decision's shape, and per code its mode,
    evidence, weight and cross-validated F1."""
    typer.echo(f"learned from {tagger.n_train_} passages -> {out}")
    least, most = tagger.decision_shape()
    trust = (
        "trusted (its rows weigh 1, N0 5)"
        if tagger.codebook_weight_ == 1.0
        else f"trusted less (its rows weigh {tagger.codebook_weight_:g}, N0 {tagger.n0_:g})"
    )
    before = getattr(tagger, "fixed", None) is not None
    typer.echo(f"codebook {trust}; codes per passage: at least {least}, at most {most}")
    heeded = getattr(tagger, "heeded_", None)
    if heeded:
        typer.echo(
            f"codebook part adapted to the study, then heeding the {heeded['decided_passages']} labelled passages:"
            f" {heeded['dropped']} of its examples dropped (labelled without their code), {heeded['added']} added"
        )
    if before:
        typer.echo("the trust, each code's mode and its check below: chosen with the encoder before it was tuned")
    typer.echo(f"{'code':<30} {'mode':<9} {'pos':>4} {'neg':>5} {'weight':>6}  cross-validated F1 on these passages")
    for code, entry in tagger.report_.items():
        cv = entry.get("cv")
        change = "-"
        if cv:
            change = f"codebook {cv['codebook_f1']:.3f} -> learned {cv['learned_f1']:.3f} (±{cv['gain_se']:.3f})"
            if "lexical_f1" in cv:
                change += f" -> with words {cv['lexical_f1']:.3f} (±{cv['lexical_gain_se']:.3f})"
        row = f"{code:<30} {entry['mode']:<9} {entry['positives']:>4} {entry['negatives']:>5} {entry['weight']:>6.2f}"
        typer.echo(f"{row}  {change}")
    typer.echo(decided_by(tagger))
    if getattr(tagger, "coded_only_", False) and least == 1:
        say(
            "warning: every labelled passage carries a code (as an export of coded segments or highlights does):"
            " every passage coded with this model gets at least one code, and none can be learned as uncoded"
        )


HEAD_NAMES = {
    "codes": "the per-code models above",
    "decisions": "a model of whole decisions (which set of codes a passage gets)",
    "context": "a model of whole decisions that also reads the passages before and after",
    "combined": "the per-code models and a model of whole decisions together (their log-odds averaged)",
}


def decided_by(tagger) -> str:
    """One line: how passages are decided, and the out-of-fold check that chose it."""
    check = tagger.head_check_
    if check is None:
        return f"passages decided by {HEAD_NAMES['codes']} (fewer than {MIN_HEAD} labelled passages to choose)"
    kappas = ", ".join(f"{mode} {k:.3f}" for mode, k in check["mean_kappa_out_of_fold"].items())
    grouped = "whole documents per fold" if check.get("folds") == "documents" else "passages per fold"
    before = " (chosen with the encoder before it was tuned on them)" if check.get("encoder") == "before tuning" else ""
    power = tagger.head_.power if tagger.head_ is not None else 0.0
    rarer = f"; rarer decisions favoured at power {power:g} (each weighed against how common it is)" if power else ""
    return (
        f"passages decided by {HEAD_NAMES[check['chosen']]}: mean kappa out of fold, {grouped}: {kappas}{rarer}{before}"
    )
