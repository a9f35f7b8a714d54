"""A live model kept in the study's live/ folder: saved to live/vN complete or not at all
(written to a temporary folder, then renamed onto the first free number, so two pages on
one folder never take one), with the fine-tuned encoder it learned on linked beside it,
the page's choice, and a line in live/index.jsonl (relearn.py keeps each model it learns)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..outputs import LIVE
from . import retune


def keep_live_model(
    root: Path,
    version: int,
    tagger,
    *,
    codebook_sha256: str,
    embedder,
    decisions: int,
    seconds: float,
    encoder: str | None = None,
    choice: tuple[dict, object] | None = None,
    prior: int = 0,
) -> int:
    """Save the model to live/vN (with the fine-tuned encoder it learned on, linked, so
    `qcode code --model live/vN` embeds as it did) and name it in live/index.jsonl. Where
    another page on the same folder took vN first, the next free number: the version
    kept, which this returns, is the one the page names."""
    import tempfile

    from ..model_folder import ENCODER, model_sha256

    folder = root / LIVE
    folder.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".v{version}.", suffix=".tmp", dir=folder))
    tagger.save(
        tmp,
        codebook_sha256=codebook_sha256,
        embedder=embedder,
        training=[{"path": "(review page decisions)", "passages": decisions}]
        + ([{"path": "(the batch model's training passages)", "passages": prior}] if prior else []),
    )
    if encoder is not None:
        link_tree(Path(encoder), tmp / ENCODER)
    if choice is not None:
        save_choice(tmp, *choice)
    version, final = _claim(tmp, folder, version)
    line = {
        "model": f"live-{version}",
        "path": f"{LIVE}/v{version}",
        "decisions": decisions,
        "seconds": round(seconds, 2),
        "sha256": model_sha256(final),
        **({"chosen": choice[0]["chosen"]} if choice else {}),
        **({"encoder": os.path.relpath(encoder, root)} if encoder else {}),
    }
    retune.append_index(folder, line)
    return version


def _claim(tmp: Path, folder: Path, version: int) -> tuple[int, Path]:
    """Rename `tmp` to the first free vN from `version` on (a rename onto a folder that
    exists fails, so two pages never take one number)."""
    while True:
        final = folder / f"v{version}"
        try:
            os.rename(tmp, final)
            return version, final
        except OSError:
            if not final.exists():
                raise
            version += 1


def link_tree(source: Path, target: Path) -> None:
    """`target` as a copy of the folder `source` made of hard links (no space taken; a
    copy where links cannot be made)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def save_choice(folder: Path, check: dict, model) -> None:
    """`choice.json` (which suggestions the page used and why) and, when fitted, the
    decision model's weights (`decisions.npz`; its classes are in choice.json)."""
    meta = {"check": check, "decisions": [list(d) for d in model.classes_ or []]}
    if model.model_ is not None:
        np.savez(folder / "decisions.npz", coef=model.model_.coef_, intercept=model.model_.intercept_)
        meta["classes_fitted"] = [int(c) for c in model.model_.classes_]
    (folder / "choice.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
