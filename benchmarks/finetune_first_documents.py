"""Does tuning the encoder on the first coded documents pay on the rest?

    .venv/bin/python benchmarks/finetune_first_documents.py --gold G.jsonl --codebook C.yaml \
        [--fraction 0.1] [--top-layers 2] [--pairs 4] [--most-pairs N] [--objective pairs|codes]

The first `fraction` of the documents are coded (as in first_documents.py). The embedding
model's top layers are tuned on them (`pipeline.finetune.finetune`, on the CPU), the whole
study is embedded again with the tuned encoder, and qcode's learner and a plain top-1
logistic regression score the rest, on the frozen vectors and on the tuned ones.

`--objective codes` tunes with another objective instead of `qcode learn`'s pairs (tried
and not kept, docs/tagging.md): a linear head over the codes on top of the sentence
embedding, each code's row starting at its coded passages' mean vector, trained with the
top layers by multi-label binary cross-entropy, on at least as many texts as the pairs embed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from first_documents import logreg_top1, qcode, split  # noqa: E402
from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import SentenceTransformerEmbedder, build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.finetune import finetune, labelled_texts  # noqa: E402
from pipeline.finetune_top import LEARNING_RATE, embed_grouped, first_trained, lower_states, trainable_top, trained  # noqa: E402
from pipeline.io import replace_folder  # noqa: E402
from pipeline.learn import Labelled  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def scores(items, train, test, codebook, config) -> dict[str, float]:
    """Mean kappa on the rest of qcode's learner and the plain logistic regression."""
    embedder = build_embedder(config)
    units = embed_units(embedder, [it.text for it in items], config)
    gold = [items[i].labels for i in test]
    learned = qcode(items, units, train, test, codebook, config, embedder)
    plain = logreg_top1(items, units, train, test, neighbours=False, seed=config.seed)
    return {
        "qcode": score(gold, learned, codebook.code_ids).mean_kappa,
        "logreg-top1": score(gold, plain, codebook.code_ids).mean_kappa,
    }


def code_head(model, cache, texts, labels, bottom: int):
    """(the head's rows, its biases, the label matrix, the positives' weights): each code's
    row starts at the mean vector of the texts that carry it."""
    import torch

    codes = sorted({c for codes in labels for c in codes})
    Y = torch.tensor([[c in codes_ for c in codes] for codes_ in labels], dtype=torch.float32)
    with torch.no_grad():
        E = torch.cat([embed_grouped(model, cache, texts[i : i + 64], bottom) for i in range(0, len(texts), 64)])
    rows = torch.stack([E[Y[:, k] > 0].mean(0) for k in range(len(codes))])
    W = torch.nn.Parameter(torch.nn.functional.normalize(rows, dim=-1).clone())
    positives = Y.sum(0)
    weights = ((len(Y) - positives) / positives.clamp(min=1)).clamp(max=50)
    return W, torch.nn.Parameter(torch.zeros(len(codes))), Y, weights


def tune_on_codes(model, texts, labels, *, top_layers: int, passes: int, seed: int, scale: float = 20.0) -> None:
    """The top `top_layers` layers and a code head (`code_head`) trained together on
    `passes` texts (shuffled epochs) by multi-label binary cross-entropy on the scaled
    cosine of each text to each code's row; the head is then dropped."""
    import torch

    bottom = first_trained(model, top_layers)
    model.eval()  # the head starts from the vectors as they are (no dropout)
    cache = lower_states(model, list(set(texts)), bottom, "cpu")
    W, b, Y, weights = code_head(model, cache, texts, labels, bottom)
    _, trainable = trainable_top(model, top_layers)
    optimiser = torch.optim.AdamW([{"params": trainable, "lr": LEARNING_RATE}, {"params": [W, b], "lr": 1e-2}])
    rng, order = random.Random(seed), []
    while len(order) < passes:
        order += rng.sample(range(len(texts)), len(texts))
    for i in range(0, passes, 32):
        batch = order[i : min(i + 32, passes)]
        vectors = embed_grouped(model, cache, [texts[j] for j in batch], bottom)
        logits = scale * vectors @ torch.nn.functional.normalize(W, dim=-1).T + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, Y[batch], pos_weight=weights)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    trained(model)


def tuned_on_codes(codebook, data, config, folder: Path, top_layers: int, passes: int) -> Path:
    """`tune_on_codes` on the codebook's texts and the coded documents, saved to `folder`."""
    import torch

    torch.manual_seed(config.seed)
    texts, labels = labelled_texts(codebook, data)
    model = SentenceTransformerEmbedder(config.model, seed=config.seed, device="cpu").model
    tune_on_codes(model, texts, labels, top_layers=top_layers, passes=passes, seed=config.seed)
    with replace_folder(folder) as staging:
        model.save(str(staging))
    return folder


def tuned_encoder(args, codebook, data, config, tmp: Path) -> tuple[Path, str]:
    """(the tuned encoder's folder, what it was tuned on) by `args.objective`."""
    if args.objective == "codes":
        # at least as many texts as the pairs embed: their cap, else the most they can be
        passes = 2 * (args.most_pairs or args.pairs * 2 * len(data.texts))
        folder = tuned_on_codes(codebook, data, config, tmp / "encoder", args.top_layers, passes)
        return folder, f"{passes} texts"
    tuned = finetune(
        codebook,
        data,
        config=config,
        out_dir=tmp,
        device="cpu",
        top_layers=args.top_layers,
        per_text=args.pairs,
        most_pairs=args.most_pairs,
    )
    return tuned.folder, f"{tuned.pairs} pairs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path, required=True)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--top-layers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=4, help="pairs of each kind per coded passage")
    ap.add_argument("--most-pairs", type=int, help="at most this many pairs (qcode learn: tune_choice.MOST_PAIRS)")
    ap.add_argument("--objective", choices=("pairs", "codes"), default="pairs", help="see the module's docstring")
    args = ap.parse_args()
    config = Config()
    codebook, items = load_gold(args.gold, args.codebook, seed=config.seed)
    train, test = split(items, args.fraction)
    started = time.perf_counter()
    frozen = scores(items, train, test, codebook, config)
    print(f"frozen: {frozen} ({len(train)} coded, {len(test)} scored, {time.perf_counter() - started:.0f}s)")
    data = Labelled([items[i].id for i in train], [items[i].text for i in train], [items[i].labels for i in train])
    with tempfile.TemporaryDirectory(prefix="qcode-tune-") as tmp:
        started = time.perf_counter()
        folder, what = tuned_encoder(args, codebook, data, config, Path(tmp))
        tuning = time.perf_counter() - started
        after = scores(items, train, test, codebook, config.model_copy(update={"model": str(folder)}))
        print(
            f"tuned ({args.objective}):  {after} ({what}, tuning {tuning:.0f}s,"
            f" with embedding {time.perf_counter() - started:.0f}s)"
        )


if __name__ == "__main__":
    main()
