"""The ONNX Runtime backends: fp32, or int8 weights quantised per channel, exported here
from the packaged weights (nothing is downloaded)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import file_sha256
from .models import verified

ONNX_BACKENDS = ("onnx", "onnx-int8")


@contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    quiet = logging.NullHandler()
    root.addHandler(quiet)  # so logging.warning() does not install a stderr handler
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        root.removeHandler(quiet)


class OnnxEmbedder:
    """ONNX Runtime on the CPU, from a model exported here from the packaged weights.

    The first use exports the transformer with `torch.onnx.export` (and, for "onnx-int8",
    quantises its weights to int8 per channel with onnxruntime's dynamic quantiser) into
    CACHE/onnx/. Nothing is downloaded. The exported file's sha256 is part of the
    fingerprint, so its vectors never mix with another model's in the embedding cache.
    Tokenising uses the model's own tokenizer.json with sentence-transformers' settings
    (no fixed padding, truncation at the model's max_seq_length); pooling is the model's
    mean over tokens, then L2 normalisation."""

    EXPORT_RECIPE = "qcode-onnx-1"  # bump when the export or quantisation steps change

    def __init__(
        self, model_id: str, *, cache_dir: Path, batch_size: int = 32, seed: int = 42, backend: str = "onnx-int8"
    ):
        if backend not in ONNX_BACKENDS:
            raise InputError(backend, f"not an ONNX backend (known: {', '.join(ONNX_BACKENDS)})")
        self.model_id, self.path, self.weights_sha256 = verified(model_id)
        self.backend = backend
        # Dynamic int8 quantisation scales activations over the whole input tensor, so a
        # passage's vector would depend on the passages batched with it (cosine ~0.99). One
        # passage per call keeps every vector a function of its own text, as the cache assumes.
        self.batch_size = 1 if backend == "onnx-int8" else batch_size
        self.seed = seed
        self.onnx_path = self._export(cache_dir / "onnx")
        self.onnx_sha256 = file_sha256(self.onnx_path)
        self.fingerprint = f"{self.model_id}@{self.weights_sha256}+{backend}:{self.onnx_sha256}"
        self._session = None
        self._tokenizer = None
        self._workers = 1

    def _export(self, folder: Path) -> Path:
        import onnxruntime
        import torch

        tag = f"{self.weights_sha256[:16]}-{self.EXPORT_RECIPE}-torch{torch.__version__}-ort{onnxruntime.__version__}"
        target = folder / f"{tag}-{self.backend}.onnx"
        if target.is_file():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        # One exporter at a time per cache folder: cluster workers and parallel runs share it,
        # and the quantiser writes a fixed-name intermediate file beside the fp32 model.
        from filelock import FileLock

        with FileLock(folder / f".{tag}.lock"):  # kept: a lock file, not a temporary one
            return target if target.is_file() else self._export_locked(tag, target, folder)

    def _export_locked(self, tag: str, target: Path, folder: Path) -> Path:
        fp32 = folder / f"{tag}-onnx.onnx"
        if not fp32.is_file():
            self._export_fp32(fp32)
        if self.backend == "onnx":
            return fp32
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".tmp{os.getpid()}")
        with _quiet_root_logger():  # the quantiser logs advice to the root logger
            quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(tmp, target)
        return target

    def _export_fp32(self, target: Path) -> None:
        import warnings

        import torch
        from transformers import AutoModel

        torch.manual_seed(self.seed)
        bert = AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()

        import inspect

        names = ["input_ids", "attention_mask"]
        if "token_type_ids" in inspect.signature(bert.forward).parameters:
            names.append("token_type_ids")  # BERT has it; MPNet does not

        class LastHidden(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, *inputs):
                return self.model(**dict(zip(names, inputs))).last_hidden_state

        ids = torch.ones(2, 16, dtype=torch.long)
        example = tuple(ids if n != "token_type_ids" else torch.zeros_like(ids) for n in names)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHidden(bert),
                example,
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)

    def _load(self) -> None:
        import json

        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if self.backend == "onnx-int8":
            # one passage per call (see __init__): run one call per core, each on one thread
            self._workers = int(os.environ.get("QCODE_THREADS") or 0) or max(1, len(os.sched_getaffinity(0)))
            options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        max_len = json.loads((self.path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
        tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_len)
        self._tokenizer = tokenizer

    def _encode(self, encodings: list) -> np.ndarray:
        """One padded batch through the model, mean-pooled over real tokens, L2-normalised."""
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for r, e in enumerate(encodings):
            ids[r, : len(e.ids)] = e.ids
            mask[r, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: feed[k] for k in self._inputs})[0]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    SLICE = 2048  # texts tokenised at a time, so memory stays flat for any input size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        width = self._session.get_outputs()[0].shape[-1]
        out = np.zeros((len(texts), width), dtype=np.float32)
        for start in range(0, len(texts), self.SLICE):
            out[start : start + self.SLICE] = self._embed_slice(texts[start : start + self.SLICE])
        return out

    def _embed_slice(self, texts: Sequence[str]) -> np.ndarray:
        width = self._session.get_outputs()[0].shape[-1]
        out = np.zeros((len(texts), width), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        if self.batch_size == 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self._workers) as pool:
                for i, row in enumerate(pool.map(lambda e: self._encode([e]), encodings)):
                    out[i] = row[0]
            return out
        # Longest first, as sentence-transformers does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._encode([encodings[i] for i in rows])
        return out
