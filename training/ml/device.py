"""Device, thread and precision choices for training and inference.

On CUDA we train under bf16 autocast when the GPU supports it. On CPU we use one
thread per core this process may run on (`os.sched_getaffinity`, which honours
taskset/cgroup pinning, unlike `os.cpu_count`) and bf16 autocast when oneDNN
reports native bf16 support (AVX512-BF16 / AMX): measured here at ~1.4x over
fp32 on top of length grouping (see shared/notes/performance.md). Without that
support bf16 on CPU is emulated and slower, so we keep fp32.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from training.ml.data import PRECISIONS


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def cpu_supports_bf16() -> bool:
    """True when oneDNN runs bf16 matmuls natively on this CPU."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cuda_supports_bf16() -> bool:
    try:
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    bf16: bool
    threads: int | None  # CPU threads set, None on CUDA

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def autocast(self):
        """Context manager: bf16 autocast when enabled, else a no-op."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def describe(self) -> dict:
        return {"device": str(self.device), "precision": self.precision, "threads": self.threads}


def select_runtime(precision: str = "auto", device: str | None = None) -> Runtime:
    """Pick the device and precision; on CPU also set torch's thread count.

    `precision`: "auto" (bf16 where supported natively), "bf16" (forced; still
    falls back to fp32 where bf16 is not supported at all) or "fp32".
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        supported = cuda_supports_bf16()
        return Runtime(dev, bf16=precision != "fp32" and supported, threads=None)
    threads = available_cores()
    torch.set_num_threads(threads)
    supported = cpu_supports_bf16()
    return Runtime(dev, bf16=precision != "fp32" and supported, threads=threads)
