"""An `ImportedProject` written as a folder qcode reads:

    DIR/codebook.yaml        the project's codebook (nested codes -> themes and codes)
    DIR/transcripts/         each document as .txt (surveys as survey.csv) + participants.csv
    DIR/study/               `qcode code` of the transcripts, with the imported coding
                             recorded as reviewers' decisions (the review page, learn,
                             agreement and counts read it as any study)
    DIR/labelled.jsonl       the coded passages as gold {id, text, labels} for evaluate/learn
    DIR/selections.jsonl     every coded selection exactly as the tool had it
    DIR/import.json          what was imported, from which file, and every problem

How a selection becomes a decision: a qcode passage takes a coder's code when their
selection covers at least half of the passage, or the passage at least half of the
selection (overlap >= 0.5 x the shorter of the two). A passage no coder's selection
touches stays pending, unless `whole_documents` says the coders coded every document
they touched throughout (then its decision is "no code"). qcode's own exports carry
their decisions exactly. A table of coded segments has no documents: they are made from
its segments (`segments.with_documents`), one turn each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..cells import csv_text
from ..codebook import load_codebook
from ..config import Config
from ..io import atomic_write, file_sha256
from ..outputs import EXCERPTS, text_file_name
from ..reviewing.decision import make_review
from ..reviewing.reviews import consensus
from ..schemas import Codebook, Excerpt, Review, final_codes
from ..store import locked, read_excerpts, write_excerpts
from .project import ImportedProject, Selection

OVERLAP = 0.5
SURVEY_FILE = "survey.csv"


@dataclass
class ImportResult:
    out_dir: Path
    project: ImportedProject
    decided: int = 0  # passages with an imported decision
    labelled: int = 0
    study: Path | None = None
    errors: list[str] = field(default_factory=list)  # the study's own run errors


def write_codebook(project: ImportedProject, out_dir: Path) -> Path:
    path = out_dir / "codebook.yaml"
    with atomic_write(path) as f:
        f.write(yaml.safe_dump(project.codebook, sort_keys=False, allow_unicode=True, width=100))
    return path


def transcript_ids(project: ImportedProject) -> dict[str, str]:
    """Document name -> the transcript id qcode reads it back as."""
    return {d.name: (d.name if d.survey else Path(text_file_name(d.name)).stem) for d in project.documents}


def write_transcripts(project: ImportedProject, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    interviews = [d for d in project.documents if not d.survey]
    for doc in interviews:
        with atomic_write(folder / text_file_name(doc.name)) as f:
            f.write(doc.text)
    columns = sorted({k for d in interviews for k in d.attributes})
    if columns:
        with atomic_write(folder / "participants.csv") as f:
            f.write(
                _csv(
                    [["file", *columns]]
                    + [[text_file_name(d.name), *(d.attributes.get(c, "") for c in columns)] for d in interviews]
                )
            )
    surveys = [d for d in project.documents if d.survey]
    if surveys:
        columns = sorted({k for d in surveys for k in d.attributes})
        with atomic_write(folder / SURVEY_FILE) as f:
            f.write(
                _csv(
                    [["id", *columns, "response"]]
                    + [[d.name, *(d.attributes.get(c, "") for c in columns), d.text] for d in surveys]
                )
            )


def _csv(rows: list[list[str]]) -> str:
    return csv_text(rows)


def write_selections(project: ImportedProject, out_dir: Path) -> None:
    with atomic_write(out_dir / "selections.jsonl") as f:
        for s in project.selections:
            f.write(s.model_dump_json(exclude={"decisions"}) + "\n")


def overlaps(excerpt: Excerpt, selection: Selection) -> bool:
    """The overlap rule: at least half of the shorter of passage and selection."""
    shared = min(excerpt.end, selection.end) - max(excerpt.start, selection.start)
    return shared > 0 and shared >= OVERLAP * min(excerpt.end - excerpt.start, selection.end - selection.start)


def decisions(
    excerpts: list[Excerpt], project: ImportedProject, codebook: Codebook, whole_documents: bool
) -> dict[str, list[Review]]:
    """Passage id -> the decisions the imported coding makes on it."""
    ids = transcript_ids(project)
    by_transcript: dict[str, list[Excerpt]] = {}
    for e in excerpts:
        by_transcript.setdefault(e.transcript, []).append(e)
    exact: dict[str, list[Review]] = {}
    coded: dict[tuple[str, str], set[str]] = {}  # (passage, coder) -> codes
    for s in project.selections:
        if s.machine or s.start is None:
            continue
        for e in by_transcript.get(ids.get(s.document, ""), []):
            if s.decisions and (e.start, e.end) == (s.start, s.end):
                exact[e.id] = s.decisions
            elif not s.decisions and overlaps(e, s):
                coded.setdefault((e.id, s.coder), set()).update(s.codes)
    if whole_documents:
        for s in project.selections:
            if not s.machine and not s.decisions:
                for e in by_transcript.get(ids.get(s.document, ""), []):
                    coded.setdefault((e.id, s.coder), set())
    by_id = {e.id: e for e in excerpts}
    out: dict[str, list[Review]] = dict(exact)
    for (pid, coder), codes in sorted(coded.items()):
        if pid not in exact:
            review = make_review(
                by_id[pid], action="accept", codes=sorted(codes), reviewer=coder, codebook=codebook, note="imported"
            )
            out.setdefault(pid, []).append(review.model_copy(update={"reviewed_at": None}))
    return out


def record_decisions(path: Path, found: dict[str, list[Review]]) -> int:
    """Write the decisions into an excerpts file (one coder: `review`; several: every
    decision in `reviews`, their consensus in `review`, as `review merge` writes)."""
    with locked(path):
        excerpts = read_excerpts(path)
        lines = []
        for e in excerpts:
            ds = found.get(e.id)
            if ds and len(ds) == 1:
                e = e.model_copy(update={"review": ds[0]})
            elif ds:
                disagreement = len({tuple(sorted(d.codes or [])) for d in ds if d.status != "pending"}) > 1
                e = e.model_copy(update={"review": consensus(e, ds), "reviews": ds, "disagreement": disagreement})
            lines.append(e.model_dump_json())
        write_excerpts(path, lines)
    return sum(1 for e in excerpts if e.id in found)


def labelled_from_study(path: Path) -> list[dict]:
    return [
        {"id": e.id, "text": e.text, "labels": final_codes(e), "source": e.transcript}
        for e in read_excerpts(path)
        if final_codes(e) is not None
    ]


def write_labelled(rows: list[dict], out_dir: Path) -> int:
    with atomic_write(out_dir / "labelled.jsonl") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def write_import(
    project: ImportedProject,
    source: Path,
    out_dir: Path,
    *,
    config: Config | None = None,
    embedder=None,
    cache_dir: Path | None = None,
    whole_documents: bool = False,
) -> ImportResult:
    """Write the folder (see the module note); documents are coded with qcode first."""
    from ..run import code_corpus

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ImportResult(out_dir, project)
    codebook_path = write_codebook(project, out_dir)
    codebook = load_codebook(codebook_path)
    write_selections(project, out_dir)
    rows: list[dict] = []
    if project.documents:  # a segments table's are made from its segments
        write_transcripts(project, out_dir / "transcripts")
        result.study = out_dir / "study"
        run = code_corpus(
            [out_dir / "transcripts"],
            out_dir=result.study,
            codebook_path=codebook_path,
            config=config or Config(),
            embedder=embedder,
            cache_dir=cache_dir,
        )
        result.errors = [str(e) for e in run.errors]
        found = decisions(read_excerpts(result.study / EXCERPTS), project, codebook, whole_documents)
        result.decided = record_decisions(result.study / EXCERPTS, found)
        rows = labelled_from_study(result.study / EXCERPTS)
    result.labelled = write_labelled(rows, out_dir)
    _write_record(result, source, whole_documents)
    return result


def _write_record(result: ImportResult, source: Path, whole_documents: bool) -> None:
    p = result.project
    record = {
        "imported": {"path": str(source), "sha256": file_sha256(source), "origin": p.origin},
        "documents": len(p.documents),
        "selections": len(p.selections),
        "machine_selections": sum(s.machine for s in p.selections),
        "decided_passages": result.decided,
        "labelled_passages": result.labelled,
        "rule": {"overlap": OVERLAP, "whole_documents": whole_documents},
        "problems": p.problems,
    }
    with atomic_write(result.out_dir / "import.json") as f:
        f.write(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
