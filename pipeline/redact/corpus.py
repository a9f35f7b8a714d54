"""Pseudonymising a whole project: `qcode redact` and `qcode code --pseudonymise`.

Transcripts are read exactly as `qcode code` reads them (every format, same speakers, the
participants table's attributes), passed twice through a `Pseudonymiser`, and written as
`.txt` in speaker-turn layout that `qcode code` reads back the same way. The key, which
re-identifies, is written outside the folder to share.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..cells import csv_text
from ..config import Config
from ..errors import InputError
from ..ingest import AttributeTable
from ..ingest.corpus import find_attributes, read_corpus, with_attributes
from ..io import atomic_write
from ..outputs import text_file_name
from ..schemas import Transcript
from . import Pseudonymiser

KEY_NAME = "pseudonym_key.csv"


def read_list(path: Path | None) -> list[str]:
    """A names or keep file: one term per line (a CSV's first column); # starts a comment."""
    if path is None:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    terms = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            terms.append(next(csv.reader([line]))[0].strip())
    return [t for t in terms if t]


def table_names(tables: list[AttributeTable]) -> list[str]:
    """Values of the participants table's name columns (`name`, `participant name`, ...)."""
    found = []
    for table in tables:
        for row in table.rows.values():
            found += [v for k, v in row.items() if "name" in k.lower() and v and v.strip()]
    return found


def default_key_path(folder: Path) -> Path:
    """Beside the output folder, named after it: each output folder has its own key, so a
    sibling project's run never replaces another's (`OUT/../NAME.pseudonym_key.csv`)."""
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}.{KEY_NAME}"


def check_key_path(key: Path, folder: Path) -> Path:
    """The key must not be inside the folder that will be shared."""
    key, folder = Path(key).resolve(), Path(folder).resolve()
    if key.is_relative_to(folder):
        raise InputError(key, f"the pseudonym key re-identifies participants: keep it outside {folder}")
    return key


@dataclass
class Redaction:
    """A pseudonymiser that has seen every transcript of the project (pass 1)."""

    pseudonymiser: Pseudonymiser
    errors: list[InputError] = field(default_factory=list)

    def write_key(self, path: Path) -> None:
        """Write the key readable by its owner alone (0600): it re-identifies people."""
        with atomic_write(path) as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(self.pseudonymiser.key_csv())


def first_pass(
    files: list[Path], config: Config, tables: list[AttributeTable], names: list[str], keep: list[str]
) -> Redaction:
    """Read every transcript once and find its identifiers; bad files are left to the
    second pass to report, as `qcode code` reports them."""
    p = Pseudonymiser(names=[*names, *table_names(tables)], keep=keep, interviewer_labels=config.interviewer_labels)
    for _, transcript in read_corpus(files, config, errors=[]):  # its errors: the second pass reports them
        if transcript is not None:
            p.detect(with_attributes(transcript, tables))
    p.finish()
    return Redaction(p)


def layout(transcript: Transcript) -> str:
    """Speaker-turn text that `qcode code` reads back into the same turns."""
    return "".join(f"{t.speaker}: {transcript.text[t.start : t.end]}\n\n" for t in transcript.turns)


def participants_csv(transcripts: list[Transcript]) -> str:
    columns = sorted({k for t in transcripts for k in t.attributes})
    rows = [[text_file_name(t.id), *(t.attributes.get(c, "") for c in columns)] for t in transcripts]
    return csv_text([["file", *columns], *rows])


@dataclass
class RedactResult:
    out_dir: Path
    key: Path
    transcripts: list[Transcript] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    entities: dict[str, int] = field(default_factory=dict)  # kind -> how many were replaced
    report: Path | None = None  # --report: what might still identify someone, for a human check
    risks: int = 0


def redact_corpus(
    inputs: list[str | Path],
    *,
    out_dir: Path,
    key_path: Path | None = None,
    names_path: Path | None = None,
    keep_path: Path | None = None,
    attributes_path: Path | None = None,
    config: Config | None = None,
    report: bool = False,
) -> RedactResult:
    """Write each transcript's pseudonymised text to `out_dir` as `.txt` (and a redacted
    participants.csv), and the key outside it. Bad inputs are reported, the rest written.

    >>> redact_corpus(["interviews"], out_dir=Path("shareable"))  # doctest: +SKIP
    """
    from ..ingest import discover_inputs

    config = config or Config()
    out_dir = Path(out_dir)
    key = check_key_path(key_path or default_key_path(out_dir), out_dir)
    files, errors = discover_inputs(inputs, [out_dir, key])
    tables, table_errors = find_attributes(inputs, attributes_path)
    redaction = first_pass(files, config, tables, read_list(names_path), read_list(keep_path))
    result = RedactResult(out_dir, key, errors=[*errors, *table_errors])
    for _, transcript in read_corpus(files, config, result.errors):
        if transcript is None:
            continue
        redacted = redaction.pseudonymiser.apply(with_attributes(transcript, tables))
        with atomic_write(out_dir / text_file_name(transcript.id)) as f:
            f.write(layout(redacted))
        result.transcripts.append(redacted)
    if any(t.attributes for t in result.transcripts):
        with atomic_write(out_dir / "participants.csv") as f:
            f.write(participants_csv(result.transcripts))
    redaction.write_key(key)
    for (kind, _), _n in redaction.pseudonymiser.registry.numbers.items():
        result.entities[kind] = result.entities.get(kind, 0) + 1
    if report:
        write_report(result, read_list(keep_path))
    return result


def report_path(folder: Path) -> Path:
    """Beside the output folder, as the key is (`OUT/../NAME.redaction_report.csv`)."""
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}.redaction_report.csv"


def write_report(result: RedactResult, keep: list[str]) -> None:
    from .report import report_csv, risks

    found = risks(result.transcripts, keep)
    result.report, result.risks = report_path(result.out_dir), len(found)
    with atomic_write(result.report) as f:
        f.write(report_csv(found))
