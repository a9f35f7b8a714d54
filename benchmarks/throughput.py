"""Speed and memory of `qcode code` against the model's own throughput.

    .venv/bin/python benchmarks/throughput.py [--sizes 10 100 1000] [--model minilm] [--backend torch] [--json OUT]

For each N it writes a synthetic corpus of N hour-long interviews (about 150 passages
each, every passage unique so nothing is cached by accident), then in one child process:

1. runs `code_corpus` cold (empty embedding cache) and records passages/s, where the time
   went, and peak RSS right after;
2. encodes exactly the passages qcode produced with the backend's own encoder (same
   model, same batch size, model already loaded): the ratio of (1) to this is the
   headline; then encodes the units qcode actually embeds (runs of whole sentences, see
   pipeline/units.py: more, shorter texts): the ratio to that is qcode's own overhead;
3. reruns warm (embeddings and passage boundaries cached) and re-tags after a codebook
   edit (no passage is embedded or segmented again), each as a speed-up over the cold run.

For the ONNX backends the model is exported once beforehand, in a separate process, as a
user's very first run would; every N still starts with an empty embedding cache.

A child per N keeps peak RSS per N honest. Nothing here is a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

OPENERS = ["Well,", "I mean,", "Honestly,", "So", "To be fair,", "Um,", "You know,", "Look,", "Right, so", "I think"]
SUBJECTS = [
    "the council",
    "the acute trust",
    "our team",
    "the ICB",
    "the hospice",
    "the GP federation",
    "the housing association",
    "the charity alliance",
    "the community trust",
    "the police",
    "the care homes",
    "the public health team",
]
VERBS = [
    "agreed to pool",
    "refused to share",
    "kept arguing about",
    "quietly took over",
    "set up a panel for",
    "lost control of",
    "asked residents about",
    "brought in a facilitator over",
    "rebuilt trust around",
    "protected",
]
OBJECTS = [
    "the discharge budget",
    "the frailty service",
    "the data-sharing agreement",
    "the winter money",
    "the step-down beds",
    "the neighbourhood teams",
    "the mental health contract",
    "the carers' strategy",
    "the grants panel",
    "the joint posts",
]
TAILS = [
    "which nobody expected",
    "after months of going round in circles",
    "and that changed the tone",
    "because of the targets",
    "and people noticed",
    "which still annoys some of them",
    "in the end",
    "and it took a year",
    "for the residents' sake",
    "without telling the rest of us",
]
QUESTIONS = [
    "How did that come about?",
    "Can you say more?",
    "What happened next?",
    "Why do you think that was?",
    "And the others?",
]


def sentence(rng: random.Random, serial: int) -> str:
    return (
        f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(TAILS)}, around week {serial}."
    )


def interview(rng: random.Random, index: int, passages: int = 150) -> str:
    lines = ["# Synthetic interview for benchmarks/throughput.py. Not real."]
    serial = index * 10_000
    for _ in range(passages // 2):  # ~2 passages of ~60 words per answer
        lines.append(f"Interviewer: {rng.choice(QUESTIONS)}")
        words = []
        for _ in range(8):
            serial += 1
            words.append(sentence(rng, serial))
        lines.append("Participant: " + " ".join(words))
    return "\n".join(lines) + "\n"


def make_corpus(folder: Path, n: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"interview_{i:04d}.txt").write_text(interview(rng, i), encoding="utf-8")


def raw_seconds(config, backend: str, cache: Path, corpus: Path, texts: list[str]) -> tuple[float, float, int]:
    """(seconds the backend's own encoder takes for the passages, for their units, how
    many units): the floor qcode's embedding stage is compared with (for ONNX, on the
    model exported before)."""
    from pipeline.embed import make_embedder
    from pipeline.ingest import discover_inputs, read_transcripts
    from pipeline.segment import SegmentCache, segment

    raw = make_embedder(config.model, backend=backend, batch_size=config.batch_size, cache_dir=cache)
    raw.embed(texts[:64])  # load and warm up outside the timing
    t = time.perf_counter()
    raw.embed(texts)
    raw_s = time.perf_counter() - t
    segments = SegmentCache(cache / "segments.sqlite")  # filled by the cold run: no spaCy here
    files, _ = discover_inputs([corpus])
    transcripts = (t for f in files for t in read_transcripts(f, config=config))
    units = [s.passage.text[a:b] for s in segment(transcripts, config, segments) for a, b in s.units]
    segments.close()
    t = time.perf_counter()
    raw.embed(units)
    return raw_s, time.perf_counter() - t, len(units)


def retag_edited(corpus: Path, work: Path, config, cache: Path):
    """A run after one example is added to the default codebook (only it is embedded)."""
    from pipeline import code_corpus, load_codebook
    from pipeline.codebook import default_codebook_path

    edited = yaml.safe_load(default_codebook_path().read_text())
    edited["codes"][0]["examples"].append("People felt they could admit a mistake without being blamed for it.")
    edited_path = work / "edited_codebook.yaml"
    edited_path.write_text(yaml.safe_dump(edited, sort_keys=False))
    load_codebook(edited_path)
    return code_corpus([corpus], out_dir=work / "out_retag", config=config, cache_dir=cache, codebook_path=edited_path)


def child(n: int, model: str, backend: str, work: Path) -> dict:
    """One measurement in this process (run as a subprocess by `main`)."""
    from pipeline import Config, code_corpus

    corpus, cache = work / "corpus", work / "cache"
    t = time.perf_counter()
    make_corpus(corpus, n)
    generate_s = time.perf_counter() - t
    config = Config(model=model, backend=backend)
    cold = code_corpus([corpus], out_dir=work / "out", config=config, cache_dir=cache)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    texts = [json.loads(line)["text"] for line in (work / "out" / "excerpts.jsonl").open()]
    raw_s, raw_units_s, units = raw_seconds(config, backend, cache, corpus, texts)
    warm = code_corpus([corpus], out_dir=work / "out_warm", config=config, cache_dir=cache)
    retag = retag_edited(corpus, work, config, cache)
    return {
        "interviews": n,
        "passages": cold.passages,
        "generate_s": round(generate_s, 2),
        "cold_s": round(cold.seconds, 2),
        "qcode_passages_per_s": round(cold.passages / cold.seconds, 1),
        "raw_encode_s": round(raw_s, 2),
        "raw_passages_per_s": round(len(texts) / raw_s, 1),
        "ratio": round((cold.passages / cold.seconds) / (len(texts) / raw_s), 3),
        "units": units,
        "raw_units_encode_s": round(raw_units_s, 2),
        "ratio_to_units": round((cold.passages / cold.seconds) / (len(texts) / raw_units_s), 3),
        "warm_s": round(warm.seconds, 2),
        "warm_speedup": round(cold.seconds / warm.seconds, 1),
        "warm_embedded": warm.embedded,
        "retag_s": round(retag.seconds, 2),
        "retag_speedup": round(cold.seconds / retag.seconds, 1),
        "retag_embedded": retag.embedded,  # only the edited codebook entry, no passage
        "peak_rss_mb": round(rss_mb, 1),
        "where_cold_s": {k: round(v, 2) for k, v in sorted(cold.timings.items())},
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--backend", default="torch", choices=["torch", "torch-bf16", "onnx", "onnx-int8"])
    ap.add_argument("--model", default="minilm", help="embedding model id or short name [default: minilm]")
    ap.add_argument("--json", type=Path, help="write the results here as JSON (after each N)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args()


def export_onnx(model: str, backend: str, shared: Path) -> None:
    """Export (and quantise) once, in its own process, like a user's first run ever; each
    N then starts with the exported model on disk and an empty embedding cache."""
    code = (
        "from pathlib import Path; from pipeline.embed import OnnxEmbedder; "
        f"OnnxEmbedder({model!r}, cache_dir=Path({str(shared)!r}), backend={backend!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def measure(n: int, args: argparse.Namespace, shared: Path) -> dict:
    """One size, measured by a child process in a fresh work folder."""
    with tempfile.TemporaryDirectory(prefix="qcode-bench-") as work:
        if (shared / "onnx").is_dir():
            (Path(work) / "cache").mkdir()
            (Path(work) / "cache" / "onnx").symlink_to(shared / "onnx")
        command = [sys.executable, __file__, "--child", str(n), "--model", args.model, "--backend", args.backend]
        out = subprocess.run([*command, "--work", work], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict], model: str, backend: str) -> None:
    print(f"model {model}, backend {backend}")
    print(
        f"{'N':>5} {'passages':>8} {'units':>7} {'qcode p/s':>9} {'raw p/s':>8} {'ratio':>6} {'vs units':>8}"
        f" {'warm x':>7} {'retag x':>7} {'RSS MB':>7}"
    )
    for r in rows:
        print(
            f"{r['interviews']:>5} {r['passages']:>8} {r['units']:>7} {r['qcode_passages_per_s']:>9}"
            f" {r['raw_passages_per_s']:>8} {r['ratio']:>6} {r['ratio_to_units']:>8} {r['warm_speedup']:>7}"
            f" {r['retag_speedup']:>7} {r['peak_rss_mb']:>7}"
        )
    for r in rows:
        print(f"N={r['interviews']} cold run, seconds by stage: {r['where_cold_s']}")
    if len(rows) > 1:
        growth = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
        print(f"peak RSS growth N={rows[0]['interviews']} -> N={rows[-1]['interviews']}: {growth:.2f}x")


def main() -> None:
    args = parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.model, args.backend, args.work)))
        return
    rows = []
    shared = Path(tempfile.mkdtemp(prefix="qcode-bench-models-"))
    if args.backend.startswith("onnx"):
        export_onnx(args.model, args.backend, shared)
    for n in args.sizes:
        rows.append(measure(n, args, shared))
        print(f"N={n}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(
                json.dumps({"model": args.model, "backend": args.backend, "rows": rows}, indent=2) + "\n"
            )
    shutil.rmtree(shared, ignore_errors=True)
    print_table(rows, args.model, args.backend)


if __name__ == "__main__":
    main()
