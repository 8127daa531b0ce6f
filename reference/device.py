"""Where ground truth is computed, and how to make it reproducible.

The device is chosen in this one place: CUDA when available, else CPU. Everything else in
reference/ works on whatever device its input tensors are on.

subtle: on CPU, logits of the same model differ by up to 5e-5 between thread counts (a different
reduction order in the matmuls), so ground truth is computed with one thread. On CUDA, TF32 matmuls
and convolutions would silently round float32 inputs to 10 mantissa bits; they are switched off.
"""

import os
import platform
from importlib import metadata

import torch


def device() -> torch.device:
    """The device ground truth is computed on: ``cuda`` if available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_determinism() -> None:
    """Make reference computations reproducible on this process (idempotent).

    TF32 off for matmuls and cuDNN, deterministic algorithms where torch has them (warn, not
    raise, where it has none), and one CPU thread.
    """
    # cuBLAS reads this when it initialises; needed for deterministic CUDA matmuls.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_float32_matmul_precision("highest")
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
    else:  # pragma: no cover - older torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    # subtle: torch.use_deterministic_algorithms also imports torch._inductor (about 1 s of every grader command)
    # only to set the compiler's own flag; the reference never compiles, so only eager mode's flag is set.
    set_eager_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_eager_flag is None:  # pragma: no cover - a torch without the private setter
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_eager_flag(True, warn_only=True)
    if device().type == "cpu":
        torch.set_num_threads(1)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance() -> dict:
    """What produced a result: device, library versions, dtype and threads (JSON-serialisable)."""
    dev = device()
    return {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "tokenizers": _version("tokenizers"),
        "python": platform.python_version(),
        "default_dtype": str(torch.get_default_dtype()),
        "num_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
