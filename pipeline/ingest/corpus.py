"""Reading a corpus: the inputs' transcripts in order, each id once, with the participants'
attributes from their tables; shared by `qcode code` and `qcode redact`. Bad files and
repeated ids are recorded as errors, never raised, so the other files are still read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript
from . import ATTRIBUTE_NAMES, iter_transcripts
from .attributes import AttributeTable, load_attributes


def find_attributes(inputs: list[str | Path], explicit: Path | None) -> tuple[list[AttributeTable], list[InputError]]:
    """Attribute tables from `explicit`, else `participants.csv`/`.yaml` beside the inputs."""
    if explicit is not None:
        paths = [Path(explicit)]
    else:
        folders = sorted({Path(i) if Path(i).is_dir() else Path(i).parent for i in inputs})
        paths = [f / name for f in folders for name in ATTRIBUTE_NAMES if (f / name).is_file()]
    tables, errors = [], []
    for p in paths:
        try:
            tables.append(load_attributes(p))
        except InputError as err:
            errors.append(err)
    return tables, errors


def with_attributes(transcript: Transcript, tables: list[AttributeTable]) -> Transcript:
    """The transcript with its rows of the attribute tables merged into its attributes."""
    merged = dict(transcript.attributes)
    for table in tables:
        merged.update(table.get(transcript.id))
    return transcript.model_copy(update={"attributes": merged})


def unknown_rows(tables: list[AttributeTable], files: list[Path], ids: set[str]) -> list[InputError]:
    """Table rows that name no transcript read and no file beside the table (a typo, most
    likely; a row for a file beside the table that was not selected this time is fine)."""
    known = {f.stem for f in files} | ids
    errors = []
    for table in tables:
        beside = {f.stem for f in table.path.parent.iterdir() if f.is_file()}
        for tid in sorted(set(table.rows) - known - beside):
            errors.append(
                InputError(table.path, f"names transcript {tid!r}, which is not among the inputs", table.lines[tid])
            )
    return errors


def read_corpus(
    files: list[Path], config: Config, errors: list[InputError]
) -> Iterator[tuple[Path, Transcript | None]]:
    """(file, transcript) for each transcript of each file, in order, each id once; after a
    file's last transcript, (file, None). A bad file or a repeated id goes to `errors`."""
    seen: dict[str, Path] = {}
    for path in files:
        try:
            found = iter_transcripts(path, config=config)
            for transcript in found:
                if transcript.id in seen:
                    errors.append(
                        InputError(path, f"duplicate transcript id {transcript.id!r} (also {seen[transcript.id]})")
                    )
                    continue
                seen[transcript.id] = path
                yield path, transcript
        except InputError as err:
            errors.append(err)
            continue
        yield path, None
