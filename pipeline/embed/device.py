"""Where the embedding model runs: `--device auto|cpu|cuda`.

auto takes CUDA when torch sees a GPU, else the CPU. The ONNX backends run on the CPU only
(qcode installs onnxruntime's CPU build); torch-fp16 runs on a GPU only (half precision is
slow and inexact on CPUs: torch-bf16 is the CPU's fast path)."""

from __future__ import annotations

from ..errors import InputError

DEVICES = ("auto", "cpu", "cuda")
GPU_ONLY_BACKENDS = ("torch-fp16",)
CPU_ONLY_BACKENDS = ("onnx", "onnx-int8")


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str, backend: str, *, has_cuda=cuda_available) -> str:
    """The device a run uses: "cpu" or "cuda". Raises InputError naming what does not fit."""
    if requested not in DEVICES:
        raise InputError(requested, f"not a device (known: {', '.join(DEVICES)})")
    if requested == "auto":
        if backend in CPU_ONLY_BACKENDS:
            return "cpu"
        requested = "cuda" if has_cuda() else "cpu"
    if requested == "cuda":
        if backend in CPU_ONLY_BACKENDS:
            raise InputError(backend, "the ONNX backends run on the CPU; on a GPU use --backend torch or torch-fp16")
        if not has_cuda():
            raise InputError("cuda", "torch sees no CUDA device here (use --device cpu or auto)")
    if requested == "cpu" and backend in GPU_ONLY_BACKENDS:
        raise InputError(backend, "half precision runs on a GPU (--device cuda); on a CPU use --backend torch-bf16")
    return requested


def vector_space(fingerprint: str) -> str:
    """A model's fingerprint less the device, and for a local model folder less its path:
    what a learned model must match. (The cache keys keep both, since a GPU's vectors
    differ from the CPU's in the last bits.)"""
    from ..config import MODEL_ALIASES

    fingerprint = fingerprint.removesuffix("+cuda")
    ident, at, rest = fingerprint.partition("@")
    if at and ident not in MODEL_ALIASES.values():
        return f"local-model@{rest}"
    return fingerprint
