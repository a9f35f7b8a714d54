"""`qcode redact INPUT... -o DIR [--key FILE] [--names FILE] [--keep FILE]`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..redact.corpus import redact_corpus
from ..study import make_config
from .common import say

OUT = typer.Option(..., "--out", "-o", help="Folder for the pseudonymised transcripts (.txt) to share or code.")
KEY = typer.Option(
    None,
    "--key",
    help="Where to write the pseudonym key [default: OUT/../OUT.pseudonym_key.csv; never inside OUT].",
)
NAMES = typer.Option(None, "--names", help="Names to replace wherever they appear, one a line (a CSV's first column).")
KEEP = typer.Option(None, "--keep", help="Terms never to replace, one a line (national bodies, programmes...).")
ATTRIBUTES = typer.Option(None, "--attributes", help="participants.csv to use [default: one beside the inputs].")
INTERVIEWER = typer.Option(
    None,
    "--interviewer",
    help="Speaker label of an interviewer (repeatable); one that is a name is replaced by `Interviewer`.",
)
REPORT = typer.Option(
    False,
    "--report",
    help=(
        "Also list what might still identify someone (rare capitalised words left, names the recogniser sees,"
        " places, long numbers), with context, in OUT/../OUT.redaction_report.csv, for a human check."
    ),
)


def redact_cli(
    inputs: list[Path] = typer.Argument(..., metavar="INPUT", help="Transcript files or folders, as for `qcode code`."),
    out: Path = OUT,
    key: Path = KEY,
    names: Path = NAMES,
    keep: Path = KEEP,
    attributes: Path = ATTRIBUTES,
    interviewer: list[str] = INTERVIEWER,
    report: bool = REPORT,
) -> None:
    """Pseudonymise transcripts: people, organisations, places, emails, phone numbers, NHS numbers, postcodes...

    Example: qcode redact interviews/ -o shareable/ --names team_names.txt

    Each transcript is read as `qcode code` reads it and written to OUT as .txt in
    speaker-turn layout, with every identifier replaced by a placeholder ([PERSON 3],
    [ORG 2], [PLACE 1], [PHONE 1]...), the same one for the same person everywhere; a
    redacted participants.csv goes beside them, so `qcode code OUT` codes them. The key
    (placeholder -> original strings) is written outside OUT: it re-identifies participants.
    """
    settings = {"interviewer_labels": tuple(interviewer)} if interviewer else {}
    config = make_config(**settings)
    result = redact_corpus(
        list(inputs),
        out_dir=out,
        key_path=key,
        names_path=names,
        keep_path=keep,
        attributes_path=attributes,
        config=config,
        report=report,
    )
    for err in result.errors:
        say(f"error: {err}")
    replaced = ", ".join(f"{n} {kind.lower().replace('_', ' ')}" for kind, n in sorted(result.entities.items()))
    say(f"pseudonymised {len(result.transcripts)} transcript(s) -> {out}/ ({replaced or 'nothing found'})")
    say(f"pseudonym key: {result.key} (it re-identifies participants: keep it apart from what you share)")
    if result.report is not None:
        say(
            f"to check by hand: {result.risks} thing(s) that might still identify someone, with context, in"
            f" {result.report}"
        )
    if result.errors:
        raise typer.Exit(1)
