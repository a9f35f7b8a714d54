"""Embedding backends side by side: encode speed, closeness to fp32, and agreement.

    .venv/bin/python benchmarks/backends.py [--models mpnet minilm] [--backends torch torch-bf16 onnx onnx-int8] [--json OUT]

For each model and backend, in one process: passages/s of the backend's own encoder on
1,500 passages cut from transcripts_sample/ by qcode itself (model loaded and warmed up
first), the lowest cosine to the fp32 torch vectors of the same passages, and macro-F1 and
mean kappa on the interview dev set, the held-out interview test split and the
patient-feedback set (codebook-only tagging). A backend is worth keeping when it is much
faster and its kappa stays within 0.01 of fp32.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline import Config, code_corpus, load_codebook
from pipeline.embed import CachedEmbedder, EmbeddingCache, make_embedder
from pipeline.evaluate import evaluate_file
from pipeline.tag import CodebookTagger

REPO = Path(__file__).resolve().parents[1]
SETS = [
    ("dev", REPO / "eval/dev_gold.jsonl", REPO / "codebook/kings_fund_2023.yaml"),
    ("test", REPO / "eval/test_gold.jsonl", REPO / "codebook/kings_fund_2023.yaml"),
    ("patient_feedback", REPO / "eval/patient_feedback_gold.jsonl", REPO / "codebook/patient_feedback.yaml"),
]


def sample_passages(work: Path, n: int = 1500) -> list[str]:
    out = work / "sample"
    code_corpus([REPO / "transcripts_sample"], out_dir=out, config=Config(model="minilm"), cache_dir=work / "cache")
    texts = [json.loads(line)["text"] for line in (out / "excerpts.jsonl").open()]
    return (texts * (n // len(texts) + 1))[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["mpnet", "minilm"])
    ap.add_argument("--backends", nargs="+", default=["torch", "torch-bf16", "onnx", "onnx-int8"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qcode-backends-") as tmp:
        work = Path(tmp)
        texts = sample_passages(work)
        for model in args.models:
            reference = None
            for backend in args.backends:
                enc = make_embedder(model, backend=backend, cache_dir=work / "cache")
                enc.embed(texts[:64])  # load, export if needed, warm up
                t = time.perf_counter()
                vectors = enc.embed(texts)
                speed = len(texts) / (time.perf_counter() - t)
                if reference is None and backend == "torch":
                    reference = vectors
                row = {"model": Config(model=model).model, "backend": backend, "passages_per_s": round(speed, 1)}
                if reference is not None:
                    row["min_cosine_to_fp32"] = round(float((vectors * reference).sum(axis=1).min()), 4)
                cached = CachedEmbedder(enc, EmbeddingCache(work / f"eval-{model}-{backend}.sqlite"))
                config = Config(model=model, backend=backend)
                for name, gold, codebook_path in SETS:
                    codebook = load_codebook(codebook_path)
                    tagger = CodebookTagger(codebook, config=config).fit(cached)
                    report = evaluate_file(gold, codebook=codebook, tagger=tagger, embedder=cached)
                    row[f"{name}_macro_f1"] = round(report.macro_f1, 3)
                    row[f"{name}_kappa"] = round(report.mean_kappa, 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'model':<42} {'backend':<11} {'p/s':>6} {'min cos':>7} {'dev κ':>6} {'test κ':>6} {'PF κ':>6}")
    for r in rows:
        print(
            f"{r['model']:<42} {r['backend']:<11} {r['passages_per_s']:>6} {r.get('min_cosine_to_fp32', '-'):>7} "
            f"{r['dev_kappa']:>6} {r['test_kappa']:>6} {r['patient_feedback_kappa']:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
