"""On a GPU (or, to check the script, a CPU): passages/s for both packaged models in
fp32, fp16 and bf16, agreement on the dev sets against fp32, and fine-tuning time.

    .venv/bin/python benchmarks/gpu.py [--device cuda] [--models minilm mpnet]
        [--precisions fp32 fp16 bf16] [--texts 20000] [--finetune-steps 100] [--json OUT]

1. Speed: `--texts` synthetic interview passages (~75 words, every one unique) embedded
   by the backend's own encoder, model loaded beforehand: passages/s.
2. Agreement: codebook-only tagging of each gold file (default: eval/dev_gold.jsonl with
   the King's Fund codebook, eval/patient_feedback_gold.jsonl with its codebook), mean
   kappa per precision and its difference from fp32 (target: within 0.005).
3. Fine-tuning: `--finetune-steps` steps of SetFit-style contrastive training (batches of
   16 pairs of codebook sentences: same code -> 1, different -> 0, cosine loss) in fp32;
   seconds per step and per 1,000 pairs.

fp16 runs on a GPU only; on a CPU it is reported as skipped. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import interview  # noqa: E402

BACKEND = {"fp32": "torch", "fp16": "torch-fp16", "bf16": "torch-bf16"}
GOLD = [
    ("eval/dev_gold.jsonl", "codebook/kings_fund_2023.yaml"),
    ("eval/patient_feedback_gold.jsonl", "codebook/patient_feedback.yaml"),
]


def passages(n: int) -> list[str]:
    """Halves of synthetic answers: four sentences, about 60 words, as `qcode code` cuts."""
    rng = random.Random(42)
    out: list[str] = []
    i = 0
    while len(out) < n:
        for line in interview(rng, i).splitlines():
            if line.startswith("Participant: "):
                sentences = line.split(": ", 1)[1].split(". ")
                out += [". ".join(sentences[:4]) + ".", ". ".join(sentences[4:])]
        i += 1
    return out[:n]


def speed(model: str, backend: str, device: str, texts: list[str]) -> float:
    from pipeline.embed import make_embedder

    enc = make_embedder(model, backend=backend, batch_size=64, device=device)
    enc.embed(texts[:64])  # load the model and warm the kernels
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    started = time.perf_counter()
    enc.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def agreement(model: str, backend: str, device: str, gold: list[tuple[str, str]]) -> dict[str, float]:
    from pipeline import Config, load_codebook
    from pipeline.embed import build_embedder
    from pipeline.evaluate import evaluate_file
    from pipeline.run import build_tagger

    config = Config(model=model, backend=backend)
    out = {}
    with tempfile.TemporaryDirectory(prefix="qcode-gpu-") as tmp:
        embedder = build_embedder(
            config.model_copy(update={"model": model, "backend": backend}), cache_dir=Path(tmp), device=device
        )
        for gold_path, codebook_path in gold:
            cb = load_codebook(Path(codebook_path))
            tagger = build_tagger(cb, codebook_path=Path(codebook_path), config=config, embedder=embedder)
            out[gold_path] = round(
                evaluate_file(Path(gold_path), codebook=cb, tagger=tagger, embedder=embedder).mean_kappa, 4
            )
    return out


def finetune_time(model: str, device: str, steps: int) -> dict[str, float]:
    """Seconds per step of contrastive fine-tuning on pairs of codebook sentences."""
    import torch

    from pipeline import load_codebook
    from pipeline.codebook import default_codebook_path
    from pipeline.embed import SentenceTransformerEmbedder

    torch.manual_seed(42)
    rng = random.Random(42)
    cb = load_codebook(default_codebook_path())
    by_code = [[*c.examples, c.definition] for c in cb.codes]
    pairs = []
    for _ in range(steps * 16):
        a, b = rng.sample(range(len(by_code)), 2)
        same = rng.random() < 0.5
        pairs.append((rng.choice(by_code[a]), rng.choice(by_code[a] if same else by_code[b]), float(same)))
    model_ = SentenceTransformerEmbedder(model, device=device).model
    opt = torch.optim.AdamW(model_.parameters(), lr=2e-5)
    model_.train()

    def emb(batch):
        features = {k: v.to(device) if hasattr(v, "to") else v for k, v in model_.preprocess(batch).items()}
        return torch.nn.functional.normalize(model_(features)["sentence_embedding"], dim=-1)

    started = time.perf_counter()
    for i in range(0, len(pairs), 16):
        batch = pairs[i : i + 16]
        sim = (emb([a for a, _, _ in batch]) * emb([b for _, b, _ in batch])).sum(-1)
        loss = torch.nn.functional.mse_loss(sim, torch.tensor([y for *_, y in batch], device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "steps": steps,
        "seconds_per_step": round(seconds / steps, 3),
        "seconds_per_1000_pairs": round(seconds / len(pairs) * 1000, 1),
    }


def run(args) -> dict:
    from pipeline.embed import resolve_device

    device = resolve_device(args.device, "torch")
    texts = passages(args.texts)
    gold = [g for g in GOLD if g[0] in args.gold] if args.gold else GOLD
    rows = []
    for model in args.models:
        for precision in args.precisions:
            backend = BACKEND[precision]
            if precision == "fp16" and device == "cpu":
                rows.append({"model": model, "precision": precision, "skipped": "fp16 runs on a GPU only"})
                print(f"{model:<7} {precision}: skipped (GPU only)", flush=True)
                continue
            row = {
                "model": model,
                "precision": precision,
                "passages_per_s": round(speed(model, backend, device, texts), 1),
            }
            row["mean_kappa"] = agreement(model, backend, device, gold)
            rows.append(row)
            print(
                f"{model:<7} {precision}: {row['passages_per_s']:8.1f} passages/s  mean kappa {row['mean_kappa']}",
                flush=True,
            )
        fp32 = next((r["mean_kappa"] for r in rows if r["model"] == model and r["precision"] == "fp32"), None)
        for r in rows:
            if r["model"] == model and "mean_kappa" in r and fp32:
                r["kappa_minus_fp32"] = {g: round(r["mean_kappa"][g] - fp32[g], 4) for g in fp32}
    result = {"device": device, "texts": len(texts), "rows": rows}
    if device == "cuda":
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
    if args.finetune_steps:
        result["finetune"] = {m: finetune_time(m, device, args.finetune_steps) for m in args.models}
        print(f"fine-tuning: {result['finetune']}", flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--models", nargs="+", default=["minilm", "mpnet"])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "bf16"], choices=list(BACKEND))
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--gold", nargs="*", help="only these of the default gold files")
    ap.add_argument("--finetune-steps", type=int, default=100)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
