"""A learned model on disk: weights.npz (numpy arrays, never pickles) and model.json (what
was learned, from what, and how it was chosen), each written atomically and checked on
load against its codebook, embedding model and sha256."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Self

import numpy as np

from ..config import Config
from ..decision import DecisionModel
from ..embed import Embedder, vector_space
from ..errors import InputError
from ..io import atomic_write
from ..lexical import LexicalFeatures, from_sparse_rows, sparse_rows
from ..model_folder import MODEL_JSON, WEIGHTS, model_sha256
from ..schemas import Codebook
from .settings import READS, STRATEGY, learner_settings


class SavedModel:
    """Saving and loading a `LearnedTagger` (tagger.py)."""

    def save(
        self,
        out_dir: Path,
        *,
        codebook_sha256: str,
        embedder: Embedder,
        training: list[dict],
        ids: list[str] = (),
        encoder: dict | None = None,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(out_dir / WEIGHTS, "wb") as f:
            lexical = {f"lex_{k}": v for k, v in sparse_rows(self.lex_coef_).items()}
            idf = self.lexical_.idf_ if self.lexical_ is not None else np.zeros(0, dtype=np.float32)
            np.savez(
                f,
                base_coef=self.base_coef_,
                base_intercept=self.base_intercept_,
                coef=self.coef_,
                intercept=self.intercept_,
                weight=self.weight_,
                lex_mask=self.lex_mask_,
                lex_intercept=self.lex_intercept_,
                idf=idf,
                **lexical,
                **{f"head_{k}": v for k, v in (self.head_.arrays() if self.head_ is not None else {}).items()},
            )
        meta = {
            "strategy": self.strategy,
            "codebook": {"name": self.codebook.name, "version": self.codebook.version, "sha256": codebook_sha256},
            "codes": self.codebook.code_ids,
            "modes": dict(zip(self.codebook.code_ids, self.modes_)),
            "embedding_model": vector_space(embedder.fingerprint),
            "config": self.config.model_dump(mode="json"),
            "settings": learner_settings(),
            "learned": {
                "codebook_weight": self.codebook_weight_,
                "n0": self.n0_,
                "codes_per_passage": {"least": self.min_codes_, "most": self.max_codes_},
                **({"chosen": "with the encoder before it was tuned"} if self.fixed is not None else {}),
            },
            "decisions": self._decisions_meta(),
            "training": {"passages": self.n_train_, "files": training, "ids": sorted(ids)},
            "encoder_tuning": encoder,
            "cross_validated": self.report_,
            "weights_sha256": hashlib.sha256((out_dir / WEIGHTS).read_bytes()).hexdigest(),
        }
        with atomic_write(out_dir / MODEL_JSON) as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    def _decisions_meta(self) -> dict:
        """How passages are decided, as model.json gives it."""
        return {
            "mode": self.head_mode_,
            "classes": [list(c) for c in self.head_.classes_] if self.head_ is not None else [],
            "codebook_logit_scale": self.head_scale_,
            "power": self.head_.power if self.head_ is not None else 0.0,
            **(
                {"source": self.head_source_, "code_prior": [float(p) for p in self.head_prior_]}
                if self.head_mode_ == "combined"
                else {}
            ),
            "powers_tried": list(self.powers),
            "check": self.head_check_,
        }

    @classmethod
    def load(
        cls, model_dir: Path, *, codebook: Codebook, codebook_sha256: str, config: Config, embedder: Embedder
    ) -> Self:
        path = Path(model_dir) / MODEL_JSON
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a qcode model: {err}") from None
        if meta.get("strategy") not in (STRATEGY, *READS):
            raise InputError(path, f"made by {meta.get('strategy')!r}, an older learner: run `qcode learn` again")
        if meta.get("codebook", {}).get("sha256") != codebook_sha256:
            raise InputError(
                path,
                f"trained with another codebook ({meta.get('codebook', {}).get('name')!r}); pass the same --codebook",
            )
        if vector_space(meta.get("embedding_model", "")) != vector_space(embedder.fingerprint):
            raise InputError(
                path,
                f"trained on embeddings of {meta.get('embedding_model')}, not {vector_space(embedder.fingerprint)}",
            )
        weights_path = Path(model_dir) / WEIGHTS
        if hashlib.sha256(weights_path.read_bytes()).hexdigest() != meta.get("weights_sha256"):
            raise InputError(weights_path, "does not match the sha256 in model.json")
        try:
            tagger, head = cls._read_weights(weights_path, codebook, config)
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as err:  # pickled object arrays are refused
            raise InputError(weights_path, f"not a qcode weights file: {str(err)[:300]}") from None
        try:
            tagger._read_meta(meta, head)
        except (KeyError, TypeError, ValueError) as err:  # hand-edited or cut short: one line, not a traceback
            raise InputError(path, f"an incomplete or altered model.json ({type(err).__name__}: {err})") from None
        tagger.model_sha256_ = model_sha256(Path(model_dir))
        tagger.embed_codebook(embedder)
        return tagger

    def _read_meta(self, meta: dict, head: dict) -> None:
        """What model.json says of how this model decides (`load`)."""
        self._load_head(meta.get("decisions") or {}, head)
        self.modes_ = [meta["modes"][c] for c in self.codebook.code_ids]
        self.codebook_weight_, self.n0_ = meta["learned"]["codebook_weight"], meta["learned"]["n0"]
        self.min_codes_, self.max_codes_ = (
            meta["learned"]["codes_per_passage"]["least"],
            meta["learned"]["codes_per_passage"]["most"],
        )
        self.report_ = meta["cross_validated"]
        self.n_train_ = meta["training"]["passages"]

    @classmethod
    def _read_weights(cls, weights_path: Path, codebook: Codebook, config: Config) -> tuple[Self, dict]:
        """A tagger with the saved arrays (never pickles: numpy refuses object arrays)."""
        with np.load(weights_path, allow_pickle=False) as w:
            tagger = cls(codebook, config=config)
            tagger.base_coef_, tagger.base_intercept_ = w["base_coef"], w["base_intercept"]
            tagger.coef_, tagger.intercept_, tagger.weight_ = w["coef"], w["intercept"], w["weight"]
            tagger.lex_mask_, tagger.lex_intercept_ = w["lex_mask"].astype(bool), w["lex_intercept"]
            tagger.lex_coef_ = from_sparse_rows(w["lex_data"], w["lex_indices"], w["lex_indptr"], w["lex_shape"])
            tagger.lexical_ = LexicalFeatures(w["idf"]) if len(w["idf"]) else None
            head = {k[len("head_") :]: w[k] for k in w.files if k.startswith("head_")}
        return tagger, head

    def _load_head(self, meta: dict, arrays: dict) -> None:
        """The model of whole decisions as saved (none in a v4 model)."""
        self.head_mode_ = meta.get("mode", "codes")
        self.head_scale_ = float(meta.get("codebook_logit_scale", 1.0))
        self.head_check_ = meta.get("check")
        self.head_ = None
        self.head_source_, self.head_prior_ = meta.get("source"), None
        if self.head_mode_ == "combined":
            self.head_prior_ = np.asarray(meta["code_prior"], dtype=np.float64)
            if self.head_prior_.shape != (len(self.codebook.code_ids),):
                raise ValueError(
                    f"decisions.code_prior has {self.head_prior_.size} shares for {len(self.codebook.code_ids)} codes"
                )
        if self.head_mode_ != "codes":
            power = float(meta.get("power", 0.0))
            self.head_ = DecisionModel.from_arrays(self.config.seed, meta["classes"], arrays, power=power)
