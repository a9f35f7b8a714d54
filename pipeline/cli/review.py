"""`qcode review check|merge|status|queue|serve|import`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import load_codebook
from ..reviewing.reviews import check_file, merge_reviews, most_uncertain_code, status_counts
from ..schemas import STATUSES
from ..store import locked, read_excerpts, write_excerpts
from ..study import excerpt_files, for_files, output_folder_of
from ..tune_choice import MIN_PASSAGES
from .common import UsageError, announce, command, device_option, say, study_codebook

app = typer.Typer(
    help="Check, merge and track reviewers' decisions.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
CODEBOOK = typer.Option(
    None,
    "--codebook",
    "-c",
    help="YAML codebook [default: the study's (its manifest.json), else the King's Fund 2023 codebook].",
)


def _load(paths: list[Path]):
    excerpts = []
    for path in excerpt_files(paths):
        excerpts.extend(read_excerpts(path))
    return excerpts


@command(app, "check")
def check_cli(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Review files (excerpts JSONL) or output folders."),
    codebook: Path = CODEBOOK,
) -> None:
    """Validate review files: every problem as FILE:LINE: message, exit 1; else exit 0.

    Example: qcode review check out/excerpts.jsonl reviews/ana.jsonl
    """
    cb = load_codebook(announce(for_files(files[:1], codebook)).codebook)
    failed = False
    for path in excerpt_files(files):
        problems, lines, reviewed = check_file(path, cb)
        for p in problems:
            say(str(p))
        failed |= bool(problems)
        if not problems:
            typer.echo(f"{path}: ok: {lines} lines, {reviewed} reviewed")
    raise typer.Exit(1 if failed else 0)


@command(app, "merge")
def merge_cli(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Reviewers' files (excerpts JSONL)."),
    out: Path = typer.Option(..., "--out", "-o", help="Merged JSONL to write."),
) -> None:
    """Combine reviewers' files per passage, keeping every decision and flagging disagreements.

    Example: qcode review merge reviews/ana.jsonl reviews/ben.jsonl -o reviews/merged.jsonl
    """
    with locked(out):  # the file may be open in a review page: nothing lands between reading and writing it
        merged = merge_reviews(excerpt_files(files))
        write_excerpts(out, (m.model_dump_json() for m in merged))
    disagreements = sum(m.disagreement for m in merged)
    say(
        f"merged {len(files)} file(s): {len(merged)} passages, {sum(bool(m.reviews) for m in merged)} reviewed,"
        f" {disagreements} disagreement(s) -> {out}"
    )


@command(app, "status")
def status_cli(
    paths: list[Path] = typer.Argument(..., metavar="DIR_OR_FILE", help="Output folders or excerpts JSONL files."),
) -> None:
    """Review progress: counts by status, by code (decided passages) and by reviewer.

    Example: qcode review status out/
    """
    excerpts = _load(paths)
    counts = status_counts(excerpts)
    typer.echo(f"passages {len(excerpts)}")
    for title, key in (
        ("status", "status"),
        ("code (final, decided passages)", "code"),
        ("reviewer (decisions)", "reviewer"),
    ):
        typer.echo(f"\nby {title}")
        items = counts[key].items()
        order = list(STATUSES) if key == "status" else sorted(counts[key])
        for name in order:
            typer.echo(f"  {name:<32} {counts[key].get(name, 0):>6}")
        if not items:
            typer.echo("  (none)")


@command(app, "queue")
def queue_cli(
    paths: list[Path] = typer.Argument(..., metavar="DIR_OR_FILE", help="Output folders or excerpts JSONL files."),
    n: int = typer.Option(20, "--n", "-n", min=1, help="How many passages to list."),
    threshold: float = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help=(
            "The tagger's decision threshold [default: the threshold of the run that made the file (manifest.json)]."
        ),
    ),
) -> None:
    """Pending passages in the review page's queue (`review serve --order queue`; its order
    unless the batch run's model learned from an import): first a queue that meets every
    code (each code's likeliest passage, mixed with uncertain ones, until every code has
    been met or 3 x codes decisions are made), then most uncertain first.

    Example: qcode review queue out/ --n 30
    """
    from ..reviewing.first_queue import queue_of
    from ..study import for_reading

    excerpts = _load(paths)
    settings = announce(for_reading(excerpt_files(paths)[0]))
    cut = threshold if threshold is not None else settings.config.threshold
    queue, mode = queue_of(excerpts, load_codebook(settings.codebook).code_ids, cut)
    say(f"queue: {mode}")
    queue = queue[:n]
    typer.echo("uncertainty\tid\tuncertain code\tbest suggestion\ttext")
    for u, e in queue:
        best = f"{e.suggestions[0].code} {e.suggestions[0].score:.3f}" if e.suggestions else "-"
        doubt = most_uncertain_code(e, cut)
        text = " ".join(e.text.split())
        typer.echo(f"{u:.3f}\t{e.id}\t{f'{doubt[0]} {doubt[1]:.3f}' if doubt else '-'}\t{best}\t{text[:80]}")


SERVE_PATH = typer.Argument(
    ..., metavar="DIR_OR_FILE", help="An output folder (its excerpts.jsonl) or an excerpts JSONL file."
)
SERVE_REVIEWER = typer.Option(
    None, "--reviewer", "-r", help="Your name, recorded with each decision [default: your login name]."
)
SERVE_OWN_COPY = typer.Option(
    False,
    "--own-copy",
    help=(
        "Review your own copy, DIR/reviews/NAME.jsonl (made without decisions the first time), for independent"
        " double coding."
    ),
)
SERVE_ORDER = typer.Option(
    None,
    "--order",
    help="queue: most uncertain first (as `review queue`); file: file order, transcript after transcript"
    " [default: file where the batch run's model learned from coded passages (an import), else queue].",
)
SERVE_CODEBOOK = typer.Option(None, "--codebook", "-c", help="YAML codebook [default: the one manifest.json names].")
SERVE_EXPOSE = typer.Option(
    False,
    "--expose",
    help="Allow a non-loopback --host: anyone who can reach it and has the printed key can read the transcripts.",
)
SERVE_RELEARN_EVERY = typer.Option(
    20,
    "--relearn-every",
    min=1,
    help=(
        "Relearn from every decision so far after this many new ones (in the background), and suggest with the new"
        " model."
    ),
)
SERVE_NO_LEARN = typer.Option(
    False, "--no-learn", help="Keep the batch run's suggestions; learn nothing while reviewing."
)
SERVE_FINETUNE = typer.Option(
    None,
    "--finetune/--no-finetune",
    help=(
        "Fine-tune the embedding model's top layers in the background from 50 decisions, then every 100 more;"
        " used only when it beats the one in use on held-out decisions. Minutes per round on a CPU."
        f" [default: from {MIN_PASSAGES} decisions, where qcode learn starts checking; --no-finetune: never]"
    ),
)
SERVE_CACHE_DIR = typer.Option(
    None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder (live learning)."
)


@command(app, "serve")
def serve_cli(
    path: Path = SERVE_PATH,
    reviewer: str = SERVE_REVIEWER,
    own_copy: bool = SERVE_OWN_COPY,
    order: str | None = SERVE_ORDER,
    codebook: Path = SERVE_CODEBOOK,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --expose)."),
    port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="Port (0: any free port)."),
    expose: bool = SERVE_EXPOSE,
    relearn_every: int = SERVE_RELEARN_EVERY,
    no_learn: bool = SERVE_NO_LEARN,
    finetune: bool | None = SERVE_FINETUNE,
    device: str = device_option(),
    cache_dir: Path = SERVE_CACHE_DIR,
) -> None:
    """Review in the browser: one passage at a time, keys for everything, each decision saved
    at once; the machine relearns from your decisions as you go.

    Example: qcode review serve out/demo --reviewer ana

    Prints an address carrying the server's key (it signs a browser in for as long as the
    server runs: keep it to yourself); open it in a browser on this machine. Keys:
    1-9, 0 toggle codes; a or Enter accept; x no code; space skip; Backspace undo; n note.
    Decisions go to the file as `qcode review check` expects, under a lock that `qcode
    code` reruns, `review merge` and other pages respect. Ctrl+C stops the server.
    Every --relearn-every decisions a background process relearns (as `qcode learn`) and
    re-suggests the pending passages; the page says which model made each suggestion.
    From 450 decisions (50 with --finetune) a second background process tunes the
    embedding model (on --device), kept only where it beats the one in use.
    """
    from ..reviewing.live import Learning
    from ..reviewing.serve import serve

    if order not in (None, "queue", "file"):
        raise UsageError("--order is queue or file")
    from ..reviewing.app import LOOPBACK_HOSTS

    if host not in LOOPBACK_HOSTS and expose:
        say(f"warning: serving on {host}: anyone who can reach this port and has the key can read these transcripts")
    serve(
        path,
        reviewer=reviewer,
        own_copy=own_copy,
        codebook_path=codebook,
        order=order,
        host=host,
        port=port,
        expose=expose,
        announce=typer.echo,
        learning=None if no_learn else Learning(relearn_every, cache_dir, finetune, device),
    )


@command(app, "import")
def import_cli(
    table: Path = typer.Argument(
        ..., metavar="FILE", help="The .xlsx or .csv that `qcode export table` wrote, with its review columns filled."
    ),
    into: Path = typer.Option(
        ..., "--into", help="Output folder (its excerpts.jsonl) or excerpts JSONL file to record the decisions in."
    ),
    reviewer: str = typer.Option(None, "--reviewer", "-r", help="Reviewer for rows whose reviewer cell is empty."),
    codebook: Path = typer.Option(
        None, "--codebook", "-c", help="YAML codebook [default: the one manifest.json names]."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Let the sheet's decisions replace those made after it was exported."
    ),
) -> None:
    """Record reviewers' decisions from a spreadsheet, exactly as the review page would.

    Example: qcode review import coded.xlsx --into out/demo

    Reads the columns id, review status, codes, reviewer and review note. Every row is
    checked first (unknown id or code, bad status: FILE:ROW: message, exit 1) and nothing
    is written if any is wrong. Pending rows never erase a decision, and a row never
    replaces a decision made after the sheet was exported (its `reviewed at` cell says
    when the export saw it): those rows are named and the exit is 1 (--overwrite: the
    sheet wins).
    """
    from ..reviewing.table_import import import_table

    target = excerpt_files([into])[0]
    cb = load_codebook(study_codebook(output_folder_of(target), codebook))
    result = import_table(table, target, cb, reviewer, overwrite)
    for err in result.newer:
        say(f"kept: {err}")
    say(
        f"recorded {len(result.decisions)} decision(s) in {target}; {result.unchanged} already there, {result.pending}"
        " row(s) pending" + (f"; {len(result.newer)} newer decision(s) kept" if result.newer else "")
    )
    if result.newer:
        raise typer.Exit(1)
