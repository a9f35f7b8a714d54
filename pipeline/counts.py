"""Thematic counts from coded (and reviewed) excerpts: the study's tables.

Tables are CSV with a stable row and column order (transcripts sorted, codes in codebook
order, attribute values sorted), integers as integers and percentages with one decimal,
and no timestamps or absolute paths, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from .cells import csv_text
from .errors import InputError
from .io import atomic_write
from .reviewing.reviews import codes_for
from .schemas import Codebook, Excerpt
from .store import read_excerpts
from .study import excerpt_files
from .version import __version__

COUNTS_MANIFEST = "counts_manifest.json"


@dataclass
class Coded:
    """Per transcript: attributes, and the code set of each counted passage."""

    attributes: dict[str, dict[str, str]]
    passages: dict[str, list[set[str]]]


def collect(excerpts: list[Excerpt], source: str) -> Coded:
    attributes: dict[str, dict[str, str]] = {}
    passages: dict[str, list[set[str]]] = {}
    for e in excerpts:
        attributes.setdefault(e.transcript, e.attributes)
        passages.setdefault(e.transcript, [])
        codes = codes_for(e, source)
        if codes is not None:
            passages[e.transcript].append(set(codes))
    return Coded(attributes, passages)


def _csv(rows: list[list]) -> str:
    return csv_text(rows)


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}" if d else ""


def tables(coded: Coded, codebook: Codebook, by: list[str]) -> dict[str, str]:
    codes = codebook.code_ids
    theme = {c.id: c.theme or "" for c in codebook.codes}
    transcripts = sorted(coded.passages)
    mentions = {t: set().union(*coded.passages[t]) if coded.passages[t] else set() for t in transcripts}
    out: dict[str, str] = {}

    rows = [["transcript", "passages", *codes]]
    for t in transcripts:
        rows.append([t, len(coded.passages[t]), *(sum(c in p for p in coded.passages[t]) for c in codes)])
    out["passages_by_transcript.csv"] = _csv(rows)

    n = len(transcripts)
    rows = [["code", "theme", "participants", "participants_pct", "passages"]]
    for c in codes:
        k = sum(c in mentions[t] for t in transcripts)
        rows.append([c, theme[c], k, pct(k, n), sum(c in p for t in transcripts for p in coded.passages[t])])
    out["participants_by_code.csv"] = _csv(rows)

    for attr in by:
        values = sorted({coded.attributes[t].get(attr, "") for t in transcripts})
        group = {v: [t for t in transcripts if coded.attributes[t].get(attr, "") == v] for v in values}
        label = lambda v: v or "(missing)"  # noqa: E731
        header = ["code", "theme"] + [f"{label(v)} {kind}" for v in values for kind in ("n", "pct")]
        rows = [
            header,
            ["(participants)", ""] + [x for v in values for x in (len(group[v]), "100.0" if group[v] else "")],
        ]
        for c in codes:
            row = [c, theme[c]]
            for v in values:
                k = sum(c in mentions[t] for t in group[v])
                row += [k, pct(k, len(group[v]))]
            rows.append(row)
        out[f"by_{safe(attr)}.csv"] = _csv(rows)

    for unit, sets in (
        ("passages", [p for t in transcripts for p in coded.passages[t]]),
        ("transcripts", [mentions[t] for t in transcripts]),
    ):
        matrix = {(a, b): 0 for a in codes for b in codes}
        for s in sets:
            present = [c for c in codes if c in s]
            for c in present:
                matrix[(c, c)] += 1
            for a, b in combinations(present, 2):
                matrix[(a, b)] += 1
                matrix[(b, a)] += 1
        rows = [["code", *codes]] + [[a, *(matrix[(a, b)] for b in codes)] for a in codes]
        out[f"cooccurrence_{unit}.csv"] = _csv(rows)
    return out


def safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name.lower())


def load_outputs(dirs: list[Path]) -> tuple[list[Excerpt], list[Path]]:
    """Excerpts from one or more output folders (or JSONL files); ids must not repeat."""
    files = excerpt_files(dirs)
    excerpts, seen = [], {}
    for f in files:
        for e in read_excerpts(f):
            if e.id in seen:
                raise InputError(f, f"passage {e.id!r} is also in {seen[e.id]}")
            seen[e.id] = f
            excerpts.append(e)
    return excerpts, files


def write_counts(
    dirs: list[Path],
    *,
    out_dir: Path,
    codebook: Codebook,
    codebook_path: str,
    codebook_sha256: str,
    by: list[str],
    source: str,
) -> dict[str, str]:
    """Write the tables and a counts manifest; return {file name: sha256}."""
    excerpts, files = load_outputs(dirs)
    missing = [a for a in by if not any(a in e.attributes for e in excerpts)]
    if missing:
        known = sorted({k for e in excerpts for k in e.attributes})
        raise InputError(files[0], f"no attribute {missing[0]!r} (attributes: {', '.join(known) or 'none'})")
    written = {}
    for name, text in tables(collect(excerpts, source), codebook, by).items():
        with atomic_write(out_dir / name) as f:
            f.write(text)
        written[name] = hashlib.sha256(text.encode()).hexdigest()
    manifest = {
        "qcode_version": __version__,
        "command": "counts",
        "source": source,
        "by": by,
        "codebook": {
            "name": codebook.name,
            "version": codebook.version,
            "path": codebook_path,
            "sha256": codebook_sha256,
        },
        "inputs": [{"path": str(f), "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in files],
        "tables": written,
    }
    with atomic_write(out_dir / COUNTS_MANIFEST) as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return written
