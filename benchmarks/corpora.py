"""Public coded corpora of real talk, converted to qcode gold files (JSONL of
{id, text, labels} plus the corpus's own fields, which qcode ignores).

    .venv/bin/python benchmarks/corpora.py annomi PATH/AnnoMI-full.csv --out out/real/annomi
    .venv/bin/python benchmarks/corpora.py px PATH/v6framework_230831.csv --out out/real/px

The data are not in this repository (their licences are theirs; see docs/evaluation.md):
- AnnoMI (Wu et al., ICASSP 2022; Future Internet 2023), github.com/uccollab/AnnoMI:
  133 transcribed motivational-interviewing demonstrations, every utterance coded by MI
  experts. Its README said "License: Public Domain" (March 2023) before a rewrite dropped
  the line. Client utterances become `client` gold for codebook/mi_client_talk.yaml
  (change / sustain; neutral = no code); practitioner utterances become `therapist` gold for
  codebook/mi_therapist.yaml (reflection, question, input, from the full version's
  `*_exists` flags, so an utterance can take several). Sessions are split in two by a hash
  of their id: `dev` for every choice, `test` reported at the end and never used to choose.
  428 utterances were coded by more than one annotator: `agreement` gives the experts'
  own agreement there.
- NHS England Friends and Family Test comments coded with the Patient Experience
  Qualitative Data Categorisation framework v6 (github.com/The-Strategy-Unit/pxtextmining,
  datasets/v6framework_230831.csv, repository licence MIT, NHS England): 7,908 short
  comments, about 50 categories. Categories with fewer than 10 comments are left out,
  "Labelling not possible" and "Not assigned" mean no code; 20% of comments (by a hash of
  their id) are the test part.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

CLIENT_CODES = {"change": "change_talk", "sustain": "sustain_talk"}
THERAPIST_FLAGS = {"reflection_exists": "reflection", "question_exists": "question", "therapist_input_exists": "therapist_input"}
PX_NO_CODE = {"Labelling not possible", "Not assigned"}
PX_MIN = 10


def part(corpus: str, key: str, test_share: float) -> str:
    """A seeded, stable split: `test` for about `test_share` of keys, else `dev`."""
    h = int.from_bytes(hashlib.sha256(f"{corpus}:{key}".encode()).digest()[:4], "big") / 2**32
    return "test" if h < test_share else "dev"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# --- AnnoMI -----------------------------------------------------------------------------


def annomi_labels(row: dict[str, str]) -> tuple[str, list[str]]:
    """(role, codes) of one annotated utterance."""
    if row["interlocutor"] == "client":
        code = CLIENT_CODES.get(row["client_talk_type"])
        return "client", [code] if code else []
    return "therapist", [code for flag, code in THERAPIST_FLAGS.items() if row[flag] == "True"]


def annomi_gold(path: Path) -> dict[str, list[dict]]:
    """{"client": [...], "therapist": [...]}: one gold item per utterance, labelled by the
    lowest-numbered annotator who coded it, in session and utterance order."""
    first: dict[tuple[str, int], dict[str, str]] = {}
    for row in _read_csv(path):
        key = (row["transcript_id"], int(row["utterance_id"]))
        if key not in first or int(row["annotator_id"]) < int(first[key]["annotator_id"]):
            first[key] = row
    out: dict[str, list[dict]] = {"client": [], "therapist": []}
    for (tid, uid), row in sorted(first.items(), key=lambda kv: (int(kv[0][0]), kv[0][1])):
        text = " ".join(row["utterance_text"].split())
        if not text:
            continue
        role, labels = annomi_labels(row)
        out[role].append({
            "id": f"annomi-{tid}-{uid}", "text": text, "labels": labels, "split": part("annomi", tid, 0.5),
            "transcript": tid, "topic": row["topic"].strip(), "mi_quality": row["mi_quality"],
        })
    return out


def annomi_agreement(path: Path) -> dict:
    """The annotators' own agreement on utterances coded more than once: per code, Cohen's
    kappa pooled over every pair of annotations of the same utterance, and Krippendorff's
    alpha (nominal) over all annotations."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    by_key: dict[tuple[str, str], dict[str, tuple[str, list[str]]]] = defaultdict(dict)
    for row in _read_csv(path):
        by_key[(row["transcript_id"], row["utterance_id"])][row["annotator_id"]] = annomi_labels(row)
    multi = {k: v for k, v in by_key.items() if len(v) > 1}
    report = {"utterances": len(multi), "sessions": len({k[0] for k in multi}), "codes": {}}
    for role, codes in (("client", list(CLIENT_CODES.values())), ("therapist", list(THERAPIST_FLAGS.values()))):
        items = {k: v for k, v in multi.items() if next(iter(v.values()))[0] == role}
        if not items:
            continue
        annotators = sorted({a for v in items.values() for a in v})
        for code in codes:
            a_side, b_side = [], []
            for v in items.values():
                for x, y in itertools.combinations(sorted(v), 2):
                    a_side.append(int(code in v[x][1]))
                    b_side.append(int(code in v[y][1]))
            matrix = np.full((len(annotators), len(items)), np.nan)
            for j, v in enumerate(items.values()):
                for a, (_, labels) in v.items():
                    matrix[annotators.index(a), j] = int(code in labels)
            report["codes"][code] = {
                "role": role, "utterances": len(items), "pairs": len(a_side),
                "kappa": round(float(cohen_kappa_score(a_side, b_side)), 3),
                "alpha": round(float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")), 3),
            }
    return report


# --- NHS patient feedback -------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def px_gold(path: Path) -> tuple[list[dict], list[str]]:
    """(gold items, category names kept) for the framework-coded feedback comments."""
    rows = _read_csv(path)
    header = list(rows[0])
    categories = header[header.index("Comment sentiment") + 1 :]
    counts = Counter(c for r in rows for c in categories if r[c].strip() in ("1", "1.0"))
    kept = [c for c in categories if counts[c] >= PX_MIN and c not in PX_NO_CODE]
    items = []
    for r in rows:
        text = " ".join((r["FFT answer"] or "").split())
        if not text:
            continue
        labels = [slug(c) for c in kept if r[c].strip() in ("1", "1.0")]
        items.append({"id": f"px-{r['Comment ID']}", "text": text, "labels": labels, "split": part("px", r["Comment ID"], 0.2), "question": r["FFT question"].strip()})
    return items, kept


def px_codebook(kept: list[str]) -> dict:
    """A codebook of the framework's category names alone (for learning, not for
    codebook-only tagging: the framework's own definitions are not reproduced here)."""
    return {
        "name": "Patient experience framework v6 (category names only)",
        "version": "6",
        "codes": [{"id": slug(c), "name": c, "definition": f"Feedback about {c.lower()}."} for c in kept],
    }


def write_jsonl(path: Path, items: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", choices=["annomi", "px"])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.corpus == "annomi":
        for role, items in annomi_gold(args.csv).items():
            for split in ("dev", "test"):
                chosen = [i for i in items if i["split"] == split]
                write_jsonl(args.out / f"{role}_{split}.jsonl", chosen)
                print(f"{args.out / f'{role}_{split}.jsonl'}: {len(chosen)} utterances, {Counter(c for i in chosen for c in i['labels'])}")
        agreement = annomi_agreement(args.csv)
        (args.out / "annotator_agreement.json").write_text(json.dumps(agreement, indent=2) + "\n")
        print(json.dumps(agreement, indent=2))
    else:
        items, kept = px_gold(args.csv)
        for split in ("dev", "test"):
            write_jsonl(args.out / f"{split}.jsonl", [i for i in items if i["split"] == split])
        import yaml

        (args.out / "codebook.yaml").write_text(yaml.safe_dump(px_codebook(kept), sort_keys=False, allow_unicode=True))
        print(f"{len(items)} comments ({sum(i['split'] == 'test' for i in items)} test), {len(kept)} categories -> {args.out}")


if __name__ == "__main__":
    main()
