"""Does combining the two packaged models beat all-mpnet-base-v2 alone? (It did not.)

    .venv/bin/python benchmarks/ensemble.py

Codebook-only taggers on mpnet and on MiniLM; their scores averaged (equally, and 0.7/0.3),
and one tagger on the two embeddings concatenated; scored on the interview dev set and the
patient-feedback set with the usual decision rule (threshold 0.5, at most 3 codes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import Config, load_codebook
from pipeline.embed import build_embedder
from pipeline.evaluate import read_gold, score
from pipeline.tag import CodebookTagger

REPO = Path(__file__).resolve().parents[1]
SETS = [
    (REPO / "eval/dev_gold.jsonl", REPO / "codebook/kings_fund_2023.yaml"),
    (REPO / "eval/patient_feedback_gold.jsonl", REPO / "codebook/patient_feedback.yaml"),
]


class Concatenated:
    """Two embedders side by side, renormalised."""

    def __init__(self, first, second):
        self.first, self.second = first, second
        self.model_id = "concatenated"
        self.fingerprint = f"{first.fingerprint}|{second.fingerprint}"

    def embed(self, texts):
        x = np.hstack([self.first.embed(texts), self.second.embed(texts)])
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def decide(proba: np.ndarray, code_ids: list[str], config: Config) -> list[list[str]]:
    out = []
    for row in proba:
        order = np.argsort(-row, kind="stable")[: config.max_codes]
        out.append([code_ids[k] for k in order if row[k] >= config.threshold])
    return out


def main() -> None:
    config = Config()
    mpnet = build_embedder(config.model_copy(update={"model": "mpnet"}))
    minilm = build_embedder(config.model_copy(update={"model": "minilm"}))
    both = Concatenated(mpnet, minilm)
    for gold, codebook_path in SETS:
        codebook = load_codebook(codebook_path)
        items = read_gold(gold, codebook)
        texts = [i.text for i in items]
        p_mpnet = CodebookTagger(codebook, config=config).fit(mpnet).predict_proba(mpnet.embed(texts))
        p_minilm = CodebookTagger(codebook, config=config).fit(minilm).predict_proba(minilm.embed(texts))
        p_both = CodebookTagger(codebook, config=config).fit(both).predict_proba(both.embed(texts))
        print(f"\n{gold.name}: {'combination':<28} {'macro-F1':>8} {'mean κ':>7}")
        for name, proba in [
            ("mpnet alone", p_mpnet),
            ("MiniLM alone", p_minilm),
            ("scores averaged", (p_mpnet + p_minilm) / 2),
            ("scores 0.7 mpnet, 0.3 MiniLM", 0.7 * p_mpnet + 0.3 * p_minilm),
            ("embeddings concatenated", p_both),
        ]:
            report = score([i.labels for i in items], decide(proba, codebook.code_ids, config), codebook.code_ids)
            print(f"{'':<{len(gold.name) + 2}}{name:<28} {report.macro_f1:>8.3f} {report.mean_kappa:>7.3f}")


if __name__ == "__main__":
    main()
