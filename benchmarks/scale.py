"""Past one process: embedding throughput with 1, 2 and 4 local Dask workers, and the
client's memory as the corpus grows.

    .venv/bin/python benchmarks/scale.py [--workers 1 2 4] [--texts 4000] [--memory 2000 10000]
                                         [--model minilm] [--backend onnx-int8] [--json OUT]

1. Throughput: N synthetic survey comments (one or two sentences, every one unique so
   nothing is cached by accident), cut into the batches `qcode code` uses, segmented and
   embedded on a local cluster of W worker processes (the engine `--cluster local:W`
   starts). Each worker loads its model first (timed apart), so passages/s is the steady
   rate; the in-process engine (all cores) gives the baseline. Each worker gets
   `--threads-per-worker` (1) model threads, so rate(W) / rate(1) is the scaling per core.
2. Memory: `qcode code --cluster local:2` on survey CSVs of growing size, each in a child
   process; the client's own peak RSS (workers are separate processes) per size.

With 2 cores, more than 2 workers share cores: the numbers say what this machine allows.
Nothing here is a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import sentence  # noqa: E402


def comments(n: int, seed: int = 42) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(sentence(rng, i * 3 + k) for k in range(1 + i % 2)) for i in range(n)]


def write_survey(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["respondent_id", "response"])
        for i, text in enumerate(comments(n)):
            w.writerow([f"R{i:07d}", text])
    return path


def transcripts(n: int, folder: Path):
    from pipeline import Config
    from pipeline.ingest import read_transcripts

    return read_transcripts(write_survey(folder / "survey.csv", n), config=Config())


def rate(engine, work, config) -> tuple[float, int]:
    started, passages = time.perf_counter(), 0
    for worked in engine.map(iter(work), config):
        passages += len(worked.segments)
    return passages / (time.perf_counter() - started), passages


def throughput(workers: list[int], n: int, model: str, backend: str, batch_chars: int, threads: int) -> list[dict]:
    from pipeline import Config
    from pipeline.embed import build_embedder
    from pipeline.engine import DaskEngine, LocalEngine, WorkerSpec, batches

    config = Config(model=model, backend=backend)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qcode-scale-") as tmp:
        ts = transcripts(n, Path(tmp))
        warm, work = list(batches(ts[:200], limit=2000)), list(batches(ts[200:], limit=batch_chars))
        for w in [0, *workers]:
            cache = Path(tmp) / f"cache{w}"
            t = time.perf_counter()
            if w == 0:
                engine = LocalEngine(
                    build_embedder(config.model_copy(update={"backend": backend}), cache_dir=cache),
                    None,
                )
            else:
                engine = DaskEngine(
                    f"local:{w}",
                    WorkerSpec(config.model, backend, config.batch_size, config.seed, "cpu", str(cache)),
                    threads=threads,
                )
            rate(engine, warm, config)  # every worker loads its model on these
            start = time.perf_counter() - t
            per_s, passages = rate(engine, work, config)
            engine.close()
            rows.append(
                {
                    "workers": w or "in-process",
                    "threads_per_worker": threads if w else os.cpu_count(),
                    "passages": passages,
                    "passages_per_s": round(per_s, 1),
                    "start_s": round(start, 1),
                }
            )
            print(
                f"{rows[-1]['workers']!s:>10} workers  {per_s:7.1f} passages/s  ({passages} passages; start and model"
                f" load {start:.1f}s)",
                flush=True,
            )
    one = next(r["passages_per_s"] for r in rows if r["workers"] == 1)
    for r in rows:
        r["scaling_vs_1"] = round(r["passages_per_s"] / one, 2)
    return rows


def memory_child(n: int, model: str, backend: str) -> dict:
    from pipeline import Config, code_corpus

    with tempfile.TemporaryDirectory(prefix="qcode-scale-mem-") as tmp:
        survey = write_survey(Path(tmp) / "survey.csv", n)
        result = code_corpus(
            [survey],
            out_dir=Path(tmp) / "out",
            config=Config(model=model, backend=backend),
            cache_dir=Path(tmp) / "cache",
            device="cpu",
            cluster="local:2",
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "texts": n,
        "passages": result.passages,
        "seconds": round(result.seconds, 1),
        "client_peak_rss_mb": round(peak),
    }


def memory(sizes: list[int], model: str, backend: str) -> list[dict]:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--model", model, "--backend", backend],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(
            f"{n:>8} texts  client peak RSS {rows[-1]['client_peak_rss_mb']} MB  ({rows[-1]['seconds']}s)", flush=True
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--workers",
        nargs="*",
        type=int,
        default=[1, 2, 4],
        help="worker counts for the throughput part (none: skip it)",
    )
    ap.add_argument("--texts", type=int, default=4000, help="comments for the throughput part")
    ap.add_argument("--memory", nargs="*", type=int, default=[2000, 10000], help="survey sizes for the memory part")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--batch-chars", type=int, default=20_000, help="characters per batch of transcripts")
    ap.add_argument("--threads-per-worker", type=int, default=1, help="model threads per worker (1: scaling per core)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(memory_child(args.child, args.model, args.backend)))
        return
    print(f"{os.cpu_count()} cores; model {args.model}, backend {args.backend}", flush=True)
    result = {
        "cores": os.cpu_count(),
        "model": args.model,
        "backend": args.backend,
        "throughput": (
            throughput(args.workers, args.texts, args.model, args.backend, args.batch_chars, args.threads_per_worker)
            if args.workers
            else []
        ),
        "memory": memory(args.memory, args.model, args.backend) if args.memory else [],
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
