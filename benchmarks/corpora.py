"""Public coded corpora of real talk, converted to qcode gold files (JSONL of
{id, text, labels} plus the corpus's own fields, which qcode ignores).

    .venv/bin/python benchmarks/corpora.py annomi PATH/AnnoMI-full.csv --out out/real/annomi
    .venv/bin/python benchmarks/corpora.py px PATH/v6framework_230831.csv --out out/real/px [--framework PATH/framework3.qmd]
    .venv/bin/python benchmarks/corpora.py talkmoves PATH/TalkMoves --out out/real/talkmoves
    .venv/bin/python benchmarks/corpora.py thinkaloud PATH/user-data-all-fields --out out/real/thinkaloud

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
  their id) are the test part. With `--framework`, the framework's own category
  descriptions (github.com/The-Strategy-Unit/PatientExperience-QDC,
  docs/framework/framework3.qmd, MIT) become two codebooks, `codebook_definitions.yaml`
  (name + description: the authors' codebook as most researchers keep one) and
  `codebook_full.yaml` (with the framework's examples), for the 26 categories named alike
  in the data and the framework; `dev_framework.jsonl`/`test_framework.jsonl` hold those
  labels alone; `survey0..5.jsonl`/`.yaml` are six small survey-shaped draws from the dev
  part (125 comments, 11 categories with 1-3 examples each; `survey_draws`).
- TalkMoves (Suresh et al., AAAI 2019; Jacobs et al. 2022), github.com/SumnerLab/TalkMoves,
  CC BY-NC-SA 4.0: 567 K-12 mathematics lesson transcripts, every sentence coded by the
  authors with their own talk-move codebook ("Coding Manual.pdf"): six teacher moves and
  four student moves ("None" = no code). Lessons are split by a hash of their file name
  (30% test); at most `--per-part` sentences of at least three words are sampled per role
  and part (seeded). The codebooks: `codebook/talkmoves_teacher.yaml` and
  `codebook/talkmoves_student.yaml` (the manual's definitions, one or two lines each, in
  our words); `--manual` (the manual as text, from `pdftotext -layout`) also writes
  `*_full.yaml` with the manual's example utterances.
- Think-aloud usability sessions (Fan, Lin, Chung and Truong, "Concurrent Think-Aloud
  Verbalizations and Usability Problems", ACM TOCHI 26(5), 2019),
  github.com/mingming-fan/ThinkAloudUsabilityProblemDetection, `user-data/user-data-all-fields`
  (no licence file: measured here, never redistributed): 8 participants each thinking
  aloud through six website tasks and two devices (64 sessions, one JSON file each),
  every segment coded by the authors with one of four verbalization categories (reading,
  procedure, observation, explanation) and whether it shows a usability problem. Segments
  become passages in session order (`source`: the file's name); participants 1-4 are the
  `dev` part, 5-8 `test`; `codebook/thinkaloud_usability.yaml` holds the five codes with
  definitions in our words. Empty segments are left out.
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
THERAPIST_FLAGS = {
    "reflection_exists": "reflection",
    "question_exists": "question",
    "therapist_input_exists": "therapist_input",
}
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
        out[role].append(
            {
                "id": f"annomi-{tid}-{uid}",
                "text": text,
                "labels": labels,
                "split": part("annomi", tid, 0.5),
                "transcript": tid,
                "topic": row["topic"].strip(),
                "mi_quality": row["mi_quality"],
            }
        )
    return out


def annomi_agreement(path: Path) -> dict:
    """The annotators' own agreement on utterances coded more than once: per code, Cohen's
    kappa pooled over every pair of annotations of the same utterance, and Krippendorff's
    alpha (nominal) over all annotations; per role, the share of those pairs whose sets of
    codes differ (`sets_differ`: what a wrong pre-selection is on the review page)."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    by_key: dict[tuple[str, str], dict[str, tuple[str, list[str]]]] = defaultdict(dict)
    for row in _read_csv(path):
        by_key[(row["transcript_id"], row["utterance_id"])][row["annotator_id"]] = annomi_labels(row)
    multi = {k: v for k, v in by_key.items() if len(v) > 1}
    report = {"utterances": len(multi), "sessions": len({k[0] for k in multi}), "codes": {}, "sets_differ": {}}
    for role, codes in (("client", list(CLIENT_CODES.values())), ("therapist", list(THERAPIST_FLAGS.values()))):
        items = {k: v for k, v in multi.items() if next(iter(v.values()))[0] == role}
        if not items:
            continue
        pairs = [(set(v[x][1]), set(v[y][1])) for v in items.values() for x, y in itertools.combinations(sorted(v), 2)]
        report["sets_differ"][role] = round(sum(a != b for a, b in pairs) / len(pairs), 3)
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
                "role": role,
                "utterances": len(items),
                "pairs": len(a_side),
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
        items.append(
            {
                "id": f"px-{r['Comment ID']}",
                "text": text,
                "labels": labels,
                "split": part("px", r["Comment ID"], 0.2),
                "question": r["FFT question"].strip(),
            }
        )
    return items, kept


def px_codebook(kept: list[str]) -> dict:
    """A codebook of the framework's category names alone (for learning, not for
    codebook-only tagging: the framework's own definitions are not reproduced here)."""
    return {
        "name": "Patient experience framework v6 (category names only)",
        "version": "6",
        "codes": [{"id": slug(c), "name": c, "definition": f"Feedback about {c.lower()}."} for c in kept],
    }


def qdc_framework(path: Path) -> dict[str, dict]:
    """{category name: {"definition", "examples"}} from the framework's Quarto page."""
    out: dict[str, dict] = {}
    for block in re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        body = body.split(":::")[0]
        text, _, examples = body.partition("Examples:")
        definition = " ".join(text.split())
        quoted = re.findall(r"[\u2018'](.{3,200}?)[\u2019'](?=\s*[,.]?\s*(?:[\u2018']|$|\n|[A-Z][a-z/ ]+:))", examples)
        if definition:
            out[name.strip()] = {
                "definition": definition,
                "examples": [" ".join(q.split()) for q in quoted if q.strip()],
            }
    return out


def px_framework_codebooks(
    framework: dict[str, dict], kept: list[str], gold_texts: set[str]
) -> tuple[dict, dict, list[str]]:
    """(definitions-only codebook, full codebook, categories in both) for the categories
    the data and the framework name alike; examples that are also comments in the data
    are left out, so no gold text is in its own codebook."""
    shared = [c for c in kept if c in framework]
    thin, full = [], []
    for c in shared:
        entry = {"id": slug(c), "name": c, "definition": framework[c]["definition"]}
        thin.append(entry)
        examples = [e for e in framework[c]["examples"] if " ".join(e.split()) not in gold_texts]
        full.append({**entry, "examples": examples} if examples else entry)
    head = {"version": "framework3", "description": "The Strategy Unit / NHS England QDC framework (MIT)"}
    return (
        {"name": "Patient experience QDC framework (definitions)", **head, "codes": thin},
        {"name": "Patient experience QDC framework (definitions and examples)", **head, "codes": full},
        shared,
    )


# --- TalkMoves ----------------------------------------------------------------------------

TEACHER_MOVES = {
    "2": "keeping_everyone_together",
    "3": "getting_students_to_relate",
    "4": "restating",
    "5": "revoicing",
    "8": "pressing_for_accuracy",
    "9": "pressing_for_reasoning",
}  # "7 - Context" is no talk move of the manual: no code
STUDENT_MOVES = {
    "2": "relating_to_another_student",
    "3": "asking_for_more_information",
    "4": "making_a_claim",
    "5": "providing_evidence",
}
MANUAL_HEADINGS = {
    "keeping_everyone_together": "Keeping Everyone Together",
    "getting_students_to_relate": "Getting Students to Relate to Another",
    "restating": "Restating",
    "revoicing": "Revoicing",
    "pressing_for_accuracy": "Pressing for Accuracy",
    "pressing_for_reasoning": "Pressing for Reasoning",
    "relating_to_another_student": "Relating to Another Student",
    "asking_for_more_information": "Asking for More Information",
    "making_a_claim": "Making a Claim",
    "providing_evidence": "Providing Evidence or Reasoning",
}


def talkmoves_rows(folder: Path):
    """(lesson, role, sentence, code or None) for every coded sentence of the lessons."""
    import openpyxl

    for path in sorted(folder.glob("data/Subset */*.xlsx")):
        sheet = openpyxl.load_workbook(path, read_only=True).active
        header = None
        for row in sheet.iter_rows(values_only=True):
            if header is None:
                header = [str(h).strip() if h is not None else "" for h in row]
                continue
            rec = dict(zip(header, row))
            text = " ".join(str(rec.get("Sentence") or "").split())
            for role, column, moves in (
                ("teacher", "Teacher Tag", TEACHER_MOVES),
                ("student", "Student Tag", STUDENT_MOVES),
            ):
                tag = str(rec.get(column) or "").strip()
                if tag and text and tag not in ("Teacher Tag", "Student Tag"):
                    yield path.stem, role, text, moves.get(tag.split("-")[0].strip())


def talkmoves_gold(folder: Path, per_part: int, seed: int = 42) -> dict[str, list[dict]]:
    """{"teacher_dev": [...], ...}: sentences of >= 3 words, lessons split by hash."""
    pools: dict[str, list[dict]] = defaultdict(list)
    for n, (lesson, role, text, code) in enumerate(talkmoves_rows(folder)):
        if len(text.split()) < 3:
            continue
        split = part("talkmoves", lesson, 0.3)
        pools[f"{role}_{split}"].append(
            {"id": f"tm-{n}", "text": text, "labels": [code] if code else [], "split": split, "transcript": lesson}
        )
    rng = np.random.default_rng(seed)
    return {
        k: sorted((v[i] for i in rng.permutation(len(v))[:per_part]), key=lambda i: int(i["id"][3:]))
        for k, v in sorted(pools.items())
    }


def talkmoves_lessons(folder: Path, lessons: int, seed: int = 42) -> dict[str, list[dict]]:
    """{"student_dev_lessons": [...], ...}: every sentence of >= 3 words of `lessons` whole
    lessons per role and part (seeded), in lesson and sentence order, so that a lesson's
    sentences are each other's neighbours (benchmarks/first_documents.py)."""
    pools: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for n, (lesson, role, text, code) in enumerate(talkmoves_rows(folder)):
        if len(text.split()) >= 3:
            split = part("talkmoves", lesson, 0.3)
            item = {"id": f"tm-{n}", "text": text, "labels": [code] if code else [], "split": split, "source": lesson}
            pools[f"{role}_{split}_lessons"][lesson].append(item)
    rng = np.random.default_rng(seed)
    out = {}
    for key, by_lesson in sorted(pools.items()):
        names = sorted(by_lesson)
        chosen = sorted(names[i] for i in rng.permutation(len(names))[:lessons])
        out[key] = [item for name in chosen for item in by_lesson[name]]
    return out


THINKALOUD_CODES = {
    "Reading": "reading",
    "Procedure": "procedure",
    "Observation": "observation",
    "Explanation": "explanation",
}
THINKALOUD_PROBLEM = "usability_problem"


def thinkaloud_gold(folder: Path) -> dict[str, list[dict]]:
    """{"dev": [...], "test": [...]}: every non-empty segment of every session, sessions
    in participant order (the website's, then the devices'), segments in file order."""

    def participant(path: Path) -> int:
        return int(path.stem.split("-")[0][1:])  # "p5-history-t1" -> 5

    parts: dict[str, list[dict]] = {"dev": [], "test": []}
    for path in sorted(folder.glob("*/p*.json"), key=lambda p: (participant(p), p.parent.name, p.stem)):
        split = "dev" if participant(path) <= 4 else "test"
        for n, seg in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            text = " ".join(str(seg.get("transcription") or "").split())
            if not text:
                continue
            labels = [THINKALOUD_CODES[seg["category"]]] + ([THINKALOUD_PROBLEM] if seg.get("problem") else [])
            parts[split].append({"id": f"ta-{path.stem}-{n}", "text": text, "labels": labels, "source": path.stem})
    return parts


def manual_examples(manual_text: str) -> dict[str, list[str]]:
    """Each talk move's example utterances from the manual (lines starting with a bullet
    under its heading; dialogue examples keep the coded turn only)."""
    lines = manual_text.splitlines()
    starts = {}
    for code, heading in MANUAL_HEADINGS.items():
        hits = [i for i, line in enumerate(lines) if line.strip().startswith(heading) and "   " not in line.strip()]
        if hits:
            starts[code] = hits[-1]
    order = sorted(starts.items(), key=lambda kv: kv[1])
    out = {}
    for (code, start), nxt in zip(order, [s for _, s in order[1:]] + [len(lines)]):
        examples = []
        for line in lines[start:nxt]:
            line = line.strip()
            if line.startswith("\u25a0"):
                examples.append(line[1:].strip())
            elif re.match(r"^(T|S\d?):", line) and examples:
                examples[-1] = line.split(":", 1)[1].strip()
        out[code] = [re.sub(r"\s*\((Restating|Revoicing|Relating)\)$", "", e) for e in examples if len(e) > 2]
    return out


def write_jsonl(path: Path, items: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", choices=["annomi", "px", "talkmoves", "thinkaloud"])
    ap.add_argument(
        "csv",
        type=Path,
        help="AnnoMI-full.csv, v6framework_230831.csv, the TalkMoves folder or the think-aloud user-data-all-fields folder",
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--framework", type=Path, help="px: framework3.qmd of PatientExperience-QDC")
    ap.add_argument("--manual", type=Path, help="talkmoves: the coding manual as text (pdftotext -layout)")
    ap.add_argument("--per-part", type=int, default=2500, help="talkmoves: sentences sampled per role and part")
    ap.add_argument(
        "--whole-lessons", type=int, help="talkmoves: also write this many whole lessons per role and part (*_lessons)"
    )
    args = ap.parse_args()
    if args.corpus == "talkmoves":
        convert_talkmoves(args)
    elif args.corpus == "thinkaloud":
        for split, items in thinkaloud_gold(args.csv).items():
            write_jsonl(args.out / f"{split}.jsonl", items)
            sessions = len({i["source"] for i in items})
            print(
                f"{args.out / f'{split}.jsonl'}: {len(items)} segments, {sessions} sessions, {Counter(c for i in items for c in i['labels'])}"
            )
    elif args.corpus == "annomi":
        for role, items in annomi_gold(args.csv).items():
            for split in ("dev", "test"):
                chosen = [i for i in items if i["split"] == split]
                write_jsonl(args.out / f"{role}_{split}.jsonl", chosen)
                print(
                    f"{args.out / f'{role}_{split}.jsonl'}: {len(chosen)} utterances,"
                    f" {Counter(c for i in chosen for c in i['labels'])}"
                )
        agreement = annomi_agreement(args.csv)
        (args.out / "annotator_agreement.json").write_text(json.dumps(agreement, indent=2) + "\n")
        print(json.dumps(agreement, indent=2))
    else:
        items, kept = px_gold(args.csv)
        for split in ("dev", "test"):
            write_jsonl(args.out / f"{split}.jsonl", [i for i in items if i["split"] == split])
        import yaml

        (args.out / "codebook.yaml").write_text(yaml.safe_dump(px_codebook(kept), sort_keys=False, allow_unicode=True))
        print(
            f"{len(items)} comments ({sum(i['split'] == 'test' for i in items)} test), {len(kept)} categories ->"
            f" {args.out}"
        )
        if args.framework:
            convert_px_framework(args.framework, items, kept, args.out)


def convert_px_framework(framework_path: Path, items: list[dict], kept: list[str], out: Path) -> None:
    import yaml

    thin, full, shared = px_framework_codebooks(qdc_framework(framework_path), kept, {i["text"] for i in items})
    (out / "codebook_definitions.yaml").write_text(yaml.safe_dump(thin, sort_keys=False, allow_unicode=True))
    (out / "codebook_full.yaml").write_text(yaml.safe_dump(full, sort_keys=False, allow_unicode=True))
    ids = {slug(c) for c in shared}
    for split in ("dev", "test"):
        write_jsonl(
            out / f"{split}_framework.jsonl",
            [{**i, "labels": [c for c in i["labels"] if c in ids]} for i in items if i["split"] == split],
        )
    print(
        f"framework: {len(shared)} categories with the authors' descriptions -> {out}/codebook_definitions.yaml,"
        " codebook_full.yaml"
    )
    survey_draws(full, [i for i in items if i["split"] == "dev"], out)


SURVEY_DRAWS, SURVEY_CODES, SURVEY_ANSWERS = 6, 11, 125


def survey_draws(full: dict, dev: list[dict], out: Path) -> None:
    """Small studies shaped like a user's survey (issue 36): in each of SURVEY_DRAWS draws,
    SURVEY_CODES categories at random, each with the first 1-3 of the framework's examples,
    and SURVEY_ANSWERS dev comments of at least 4 words, labelled with those categories
    alone (`survey{N}.jsonl`, `survey{N}.yaml`)."""
    import random

    import yaml

    codes = [{**c, "examples": (c.get("examples") or [])[: 1 + k % 3]} for k, c in enumerate(full["codes"])]
    answers = [i for i in dev if len(i["text"].split()) >= 4]
    for n in range(SURVEY_DRAWS):
        rng = random.Random(100 + n)
        chosen = rng.sample(codes, SURVEY_CODES)
        ids = {c["id"] for c in chosen}
        sample = [{**i, "labels": [c for c in i["labels"] if c in ids]} for i in rng.sample(answers, SURVEY_ANSWERS)]
        write_jsonl(out / f"survey{n}.jsonl", sample)
        book = {**full, "name": f"{full['name']} ({SURVEY_CODES} categories, draw {n})", "codes": chosen}
        (out / f"survey{n}.yaml").write_text(yaml.safe_dump(book, sort_keys=False, allow_unicode=True))


def convert_talkmoves(args) -> None:
    import yaml

    parts = talkmoves_gold(args.csv, args.per_part)
    if args.whole_lessons:
        parts.update(talkmoves_lessons(args.csv, args.whole_lessons))
    for name, items in parts.items():
        write_jsonl(args.out / f"{name}.jsonl", items)
        print(f"{args.out / f'{name}.jsonl'}: {len(items)} sentences, {Counter(c for i in items for c in i['labels'])}")
    if args.manual:
        examples = manual_examples(args.manual.read_text(encoding="utf-8"))
        for role in ("teacher", "student"):
            data = yaml.safe_load(Path(f"codebook/talkmoves_{role}.yaml").read_text(encoding="utf-8"))
            for code in data["codes"]:
                code["examples"] = examples.get(code["id"], [])
            data["name"] = data["name"].replace("(definitions only)", "(definitions and the manual's examples)")
            (args.out / f"talkmoves_{role}_full.yaml").write_text(
                yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            )


if __name__ == "__main__":
    main()
