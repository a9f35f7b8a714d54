"""How well pseudonymisation finds identifiers, and whether any survive in what qcode writes.

    .venv/bin/python benchmarks/redact.py [--gold eval/redact] [--show] [--json OUT] [--outputs]
                                          [--overhead mpnet:torch minilm:onnx-int8]

The gold transcripts mark every identifying span inline, `⟦KIND|text⟧` (PERSON, ORG, PLACE,
EMAIL, URL, PHONE, NHS_NUMBER, POSTCODE, NI_NUMBER, DATE_OF_BIRTH); everything else
(roles, "the trust", national bodies, months, amounts) must stay.

- recall per kind: gold spans whose identifying characters (a leading title and a trailing
  's aside) are all replaced, whatever kind they were replaced as;
- precision per kind: replaced spans of that kind that touch a gold span;
- with --outputs: `qcode code --pseudonymise` (MiniLM), `export refi`, `export table` and
  `report` on the same transcripts, then every output file (inside .qdpx and .xlsx too)
  scanned for every gold string: the share that survives anywhere;
- with --overhead: what --pseudonymise adds to a cold `qcode code` of transcripts_sample.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GROUPS = {"people": ("PERSON",), "direct identifiers": ("EMAIL", "PHONE", "NHS_NUMBER", "POSTCODE")}
MARK = re.compile(r"⟦([A-Z_]+)\|([^⟧]*)⟧")
TITLES = re.compile(
    r"^(?:(?:Dr|Mr|Mrs|Ms|Miss|Cllr|Councillor|Prof|Professor|Sister|Inspector|Paramedic|Nurse)\.?\s+)+", re.IGNORECASE
)


def load(path: Path) -> tuple[str, list[tuple[int, int, str]]]:
    """The transcript's text with the marks removed, and its (start, end, kind) spans."""
    raw, text, spans, pos = path.read_text(encoding="utf-8"), [], [], 0
    for m in MARK.finditer(raw):
        text.append(raw[pos : m.start()])
        start = sum(len(t) for t in text)
        text.append(m.group(2))
        spans.append((start, start + len(m.group(2)), m.group(1)))
        pos = m.end()
    text.append(raw[pos:])
    return "".join(text), spans


def identifying(text: str, start: int, end: int) -> tuple[int, int]:
    """The part of a gold span that identifies: without a leading title or trailing 's."""
    surface = text[start:end]
    lead = TITLES.match(surface)
    start += lead.end() if lead else 0
    tail = re.search(r"['\u2019]s$", text[start:end])
    return start, end - (len(tail.group(0)) if tail else 0)


def detect(folder: Path) -> tuple[list[tuple[str, str, list]], float]:
    """Each transcript's gold spans and the spans qcode would replace."""
    from pipeline import Config
    from pipeline.ingest import read_transcripts
    from pipeline.redact import Pseudonymiser

    work = Path(tempfile.mkdtemp(prefix="qcode-redact-"))
    loaded = []
    for path in sorted(folder.glob("*.txt")):
        text, gold = load(path)
        (work / path.name).write_text(text, encoding="utf-8")
        (transcript,) = read_transcripts(work / path.name, config=Config())
        assert transcript.text == text, path
        loaded.append((path.name, transcript, gold))
    started = time.perf_counter()
    p = Pseudonymiser()
    for _, t, _ in loaded:
        p.detect(t)
    p.finish()
    found = [(name, t.text, gold, p.spans(t)) for name, t, gold in loaded]
    return found, time.perf_counter() - started


def score(found) -> dict:
    caught, total, hits, predicted = Counter(), Counter(), Counter(), Counter()
    misses, false = [], []
    for name, text, gold, spans in found:
        covered = set()
        for f in spans:
            covered.update(range(f.start, f.end))
        for start, end, kind in gold:
            a, b = identifying(text, start, end)
            need = {i for i in range(a, b) if text[i].isalnum()}
            total[kind] += 1
            if need <= covered:
                caught[kind] += 1
            else:
                misses.append((name, kind, text[start:end]))
        for f in spans:
            predicted[f.kind] += 1
            if any(f.start < end and start < f.end for start, end, _ in gold):
                hits[f.kind] += 1
            else:
                false.append((name, f.kind, text[f.start : f.end]))
    kinds = sorted(set(total) | set(predicted))
    table = {
        k: {
            "gold": total[k],
            "recall": round(caught[k] / total[k], 3) if total[k] else None,
            "replaced": predicted[k],
            "precision": round(hits[k] / predicted[k], 3) if predicted[k] else None,
        }
        for k in kinds
    }
    all_gold, all_pred = sum(total.values()), sum(predicted.values())
    table["all"] = {
        "gold": all_gold,
        "recall": round(sum(caught.values()) / all_gold, 3),
        "replaced": all_pred,
        "precision": round(sum(hits.values()) / all_pred, 3),
    }
    groups = {}
    for group, members in GROUPS.items():  # recall pooled over the kinds the targets name
        gold = sum(total[k] for k in members)
        groups[group] = {"gold": gold, "recall": round(sum(caught[k] for k in members) / gold, 3) if gold else None}
    return {"per_kind": table, "groups": groups, "misses": misses, "false_alarms": false}


def copy_inputs(folder: Path, work: Path) -> set[str]:
    """Copy the transcripts into work/in; the identifying strings their gold spans cover."""
    (work / "in").mkdir()
    strings = set()
    for path in sorted(folder.glob("*.txt")):
        text, gold = load(path)
        (work / "in" / path.name).write_text(text, encoding="utf-8")
        for start, end, _ in gold:
            a, b = identifying(text, start, end)
            strings.add(text[a:b])
    return strings


def share_outputs(work: Path, cache: Path) -> None:
    """Code work/in with --pseudonymise into work/share (the key outside it), then export
    and report there: everything under share/ is what would be shared."""
    import subprocess

    out = work / "share" / "study"
    code = ["code", str(work / "in"), "--out", str(out), "--pseudonymise", "--key", str(work / "pseudonym_key.csv")]
    steps = [
        [*code, "-e", "minilm", "-q", "--cache-dir", str(cache)],
        ["export", "refi", str(out), "-o", str(work / "share" / "study.qdpx")],
        ["export", "table", str(out), "-o", str(work / "share" / "coded.xlsx")],
        ["report", str(out)],
    ]
    for step in steps:
        subprocess.run([sys.executable, "-m", "pipeline", *step], check=True, capture_output=True)


def shared_texts(share: Path) -> dict[str, str]:
    """Every file under share/ as text, a zip (.qdpx, .xlsx) as its members joined."""
    blobs = {}
    for f in share.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            if zipfile.is_zipfile(f):
                with zipfile.ZipFile(f) as z:
                    data = b"\n".join(z.read(n) for n in z.namelist())
            blobs[str(f.relative_to(share.parent))] = data.decode("utf-8", "replace")
    return blobs


def scan_outputs(folder: Path, cache: Path) -> dict:
    """Code the transcripts with --pseudonymise, export and report, then look for every
    gold string in every file written."""
    work = Path(tempfile.mkdtemp(prefix="qcode-redact-out-"))
    strings = copy_inputs(folder, work)
    share_outputs(work, cache)
    blobs = shared_texts(work / "share")
    shipped = (REPO / "codebook" / "kings_fund_2023.yaml").read_text()
    shipped += (REPO / "pipeline" / "data" / "background.yaml").read_text()
    in_codebook = sorted(s for s in strings if s in shipped)  # qcode's own text (rationales, the REFI codebook)

    def found_in(s: str) -> list[str]:  # as a whole word: "Mo" in "More" is not a survivor
        pattern = re.compile(rf"(?<!\w){re.escape(s)}(?!\w)")
        return sorted(name for name, b in blobs.items() if pattern.search(b))

    where = {s: found_in(s) for s in sorted(strings) if s not in shipped}
    survivors = sorted(s for s, files in where.items() if files)
    key = work / "pseudonym_key.csv"
    return {
        "strings": len(strings),
        "surviving": survivors,
        "surviving_in": {s: where[s] for s in survivors},
        "share": round(len(survivors) / len(strings), 4),
        "also_in_the_codebook": in_codebook,
        "files_scanned": len(blobs),
        "key_outside_share": key.exists() and not list((work / "share").rglob("pseudonym_key.csv")),
    }


def overhead(inputs: Path, model: str, backend: str, rounds: int = 2) -> dict:
    """`qcode code` on `inputs`, cold (a fresh embedding cache each time), with and without
    --pseudonymise, alternating; the best of `rounds` each. Run in this process."""
    from pipeline import Config, code_corpus

    best = {False: float("inf"), True: float("inf")}
    for _ in range(rounds):
        for on in (False, True):
            with tempfile.TemporaryDirectory(prefix="qcode-redact-overhead-") as tmp:
                config = Config(model=model, backend=backend, pseudonymise=on)
                run = code_corpus(
                    [inputs], out_dir=Path(tmp) / "share" / "out", config=config, cache_dir=Path(tmp) / "cache"
                )
                best[on] = min(best[on], run.seconds)
    return {
        "inputs": str(inputs),
        "model": model,
        "backend": backend,
        "plain_s": round(best[False], 2),
        "pseudonymised_s": round(best[True], 2),
        "added": round(best[True] / best[False] - 1, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=REPO / "eval" / "redact")
    ap.add_argument("--show", action="store_true", help="list every miss and false alarm")
    ap.add_argument("--outputs", action="store_true", help="also run qcode code --pseudonymise and scan every output")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "qcode-redact-cache")
    ap.add_argument(
        "--overhead",
        nargs="*",
        metavar="MODEL:BACKEND",
        help=(
            "also time `qcode code` on transcripts_sample with and without --pseudonymise (e.g. mpnet:torch"
            " minilm:onnx-int8)"
        ),
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    found, seconds = detect(args.gold)
    result = score(found)
    words = sum(len(text.split()) for _, text, _, _ in found)
    result["seconds"], result["words"] = round(seconds, 2), words
    print(
        f"{len(found)} transcripts, {words} words, {result['per_kind']['all']['gold']} identifying spans; detection"
        f" {seconds:.1f}s"
    )
    print(f"{'kind':<14} {'gold':>5} {'recall':>7} {'replaced':>9} {'precision':>9}")
    for kind, row in result["per_kind"].items():
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        print(f"{kind:<14} {row['gold']:>5} {fmt(row['recall']):>7} {row['replaced']:>9} {fmt(row['precision']):>9}")
    for group, row in result["groups"].items():
        print(f"{group:<20} {row['gold']:>5} recall {row['recall']}")
    if args.show:
        for name, kind, text in result["misses"]:
            print(f"missed      {name}: {kind} {text!r}")
        for name, kind, text in result["false_alarms"]:
            print(f"false alarm {name}: {kind} {text!r}")
    if args.outputs:
        result["outputs"] = scan_outputs(args.gold, args.cache_dir)
        o = result["outputs"]
        print(
            f"outputs: {o['files_scanned']} files scanned; {len(o['surviving'])} of {o['strings']} identifying strings"
            f" survive ({o['share']:.1%}): {o['surviving']}"
        )
        print(
            f"         not counted, since the codebook's own examples contain them: {o['also_in_the_codebook']}; key"
            f" outside the shared folder: {o['key_outside_share']}"
        )
    if args.overhead is not None:
        result["overhead"] = [
            overhead(REPO / "transcripts_sample", *spec.split(":")) for spec in args.overhead or ["mpnet:torch"]
        ]
        for o in result["overhead"]:
            print(
                f"qcode code {o['inputs']} ({o['model']}, {o['backend']}, cold): {o['plain_s']}s, with --pseudonymise"
                f" {o['pseudonymised_s']}s (+{o['added']:.0%})"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
