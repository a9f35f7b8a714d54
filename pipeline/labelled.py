"""Labelled passages: what `qcode learn`, the review page and fine-tuning learn from.

`load_labelled` reads reviewed excerpts (accepted, corrected, rejected; disagreements
skipped) and gold JSONL lines (`{id, text, labels}`, with `source` or `transcript` for a
row's document) into one `Labelled` set in document order, a later file's label for an id
winning, every passage read kept as the study the codebook adapts to. `write_training`
writes the set beside a model (training.jsonl) so that it can be learned from again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .codebook import load_codebook
from .decision import neighbour_means, passage_means
from .errors import InputError
from .evaluate import read_gold
from .io import atomic_write
from .model_folder import TRAINING
from .schemas import Codebook, final_codes
from .store import read_excerpts
from .units import UnitVectors


@dataclass
class Labelled:
    """Labelled passages (id, text, codes), in document order, with the study they come
    from where it is known."""

    ids: list[str]
    texts: list[str]
    labels: list[list[str]]
    study: list[str] | None = None  # every passage of the files, reviewed or not (the study the codebook adapts to)
    groups: list[str | None] | None = None  # each labelled passage's document (its neighbours are in it)
    study_groups: list[str | None] | None = None  # each study passage's document, in document order
    where: list[int] | None = None  # each labelled passage's index in the study
    origins: list[str] | None = None  # the file each labelled passage's label came from

    def subset(self, index) -> Labelled:
        return Labelled(
            [self.ids[i] for i in index],
            [self.texts[i] for i in index],
            [self.labels[i] for i in index],
            groups=None if self.groups is None else [self.groups[i] for i in index],
        )

    def neighbours(self, study: UnitVectors | None, units: UnitVectors) -> np.ndarray | None:
        """Each labelled passage's neighbour features (decision.neighbour_means): from the
        `study` in document order where it comes with its documents, else from the labelled
        passages' own `units` in their order; None where no document is known."""
        if study is not None and self.where is not None and self.study_groups is not None:
            if len(study) == len(self.study_groups) and any(g is not None for g in self.study_groups):
                return neighbour_means(passage_means(study), self.study_groups)[self.where]
        if self.groups is None or all(g is None for g in self.groups):
            return None
        return neighbour_means(passage_means(units), self.groups)


def is_gold_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    return '"labels"' in line and '"review"' not in line
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    return False


def load_labelled(files: list[Path], codebook: Codebook) -> Labelled:
    """Reviewed excerpts and gold lines from `files`, in document order (a gold row's
    document is its `source` or `transcript`, an excerpt's its transcript); a later file's
    label for an id wins. Every passage read is part of the study, labelled or not."""
    known = set(codebook.code_ids)
    found: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    study: dict[str, tuple[str, str | None]] = {}  # id -> (text, document), first-read order
    for path in files:
        if is_gold_file(path):
            for item in read_gold(path, codebook):
                found[item.id], origin[item.id] = sorted(item.labels), str(path)
                study[item.id] = (item.text, item.document)
            continue
        for excerpt in read_excerpts(path):  # with decisions still in its journal
            study[excerpt.id] = (excerpt.text, excerpt.transcript)
            codes = final_codes(excerpt)
            if codes is None or excerpt.disagreement:
                continue
            unknown = sorted(set(codes) - known)
            if unknown:
                raise InputError(
                    path, f"passage {excerpt.id}: unknown code(s) {unknown} not in codebook {codebook.name!r}"
                )
            found[excerpt.id], origin[excerpt.id] = sorted(codes), str(path)
    order = list(study)
    where = [i for i, pid in enumerate(order) if pid in found]
    return Labelled(
        [order[i] for i in where],
        [study[order[i]][0] for i in where],
        [found[order[i]] for i in where],
        [study[pid][0] for pid in order],
        groups=[study[order[i]][1] for i in where],
        study_groups=[study[pid][1] for pid in order],
        where=where,
        origins=[origin[order[i]] for i in where],
    )


def read_labelled(files: list[Path], codebook_path: Path | None) -> tuple[Codebook, Labelled, Path]:
    """(the codebook, the reviewed/labelled passages of `files`, the codebook's path); an
    error naming the first file when there is nothing to learn from."""
    from .codebook import resolve_codebook

    codebook_path = resolve_codebook(codebook_path)
    codebook = load_codebook(codebook_path)
    data = load_labelled(files, codebook)
    if not data.texts:
        raise InputError(files[0], "no reviewed or labelled passages to learn from")
    return codebook, data, codebook_path


def write_training(out_dir: Path, data: Labelled) -> None:
    """MODEL_DIR/training.jsonl: the labelled passages the model learned from, one gold
    line each (id, text, labels, source, origin) in document order, so that the review
    page's live learner learns from them too (an imported coding, say) and the model can
    be learned again from its own folder."""
    groups = data.groups or [None] * len(data.ids)
    origins = data.origins or [None] * len(data.ids)
    with atomic_write(Path(out_dir) / TRAINING) as f:
        for pid, text, labels, source, origin in zip(data.ids, data.texts, data.labels, groups, origins):
            row = {"id": pid, "text": text, "labels": labels, "source": source, "origin": origin}
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
