"""Device, thread, precision and batch choices for training and inference.

On CUDA we train under bf16 autocast when the GPU supports it, else under fp16 autocast with
a gradient scaler (`cuda_precision`), and size batches from the GPU's free memory and the
model's shape (`cuda_batches`): the optimiser batch stays the requested one, split into
micro-batches whose gradients add up when it would not fit, and dev evaluation runs in the
largest batches that fit. On CPU we use one
thread per core this process may run on (`os.sched_getaffinity`, which honours
taskset/cgroup pinning, unlike `os.cpu_count`) and bf16 autocast when oneDNN
reports native bf16 support (AVX512-BF16 / AMX): measured here at ~1.4x over
fp32 on top of length grouping (see shared/notes/performance.md). Without that
support bf16 on CPU is emulated and slower, so we keep fp32.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace

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


# Bytes per parameter while training: fp32 weights and gradients, and AdamW's two moments.
TRAINING_BYTES_PER_PARAMETER = 16
# Share of the free GPU memory batches may plan on; the rest absorbs allocator fragmentation,
# the CUDA context's growth and the estimate's error.
CUDA_MEMORY_SHARE = 0.7
LARGEST_PREDICT_BATCH = 1024


@dataclass(frozen=True)
class ModelShape:
    parameters: int
    layers: int
    hidden: int
    heads: int

    @classmethod
    def of(cls, model) -> ModelShape:
        config = model.config
        return cls(
            parameters=sum(parameter.numel() for parameter in model.parameters()),
            layers=config.num_hidden_layers,
            hidden=config.hidden_size,
            heads=config.num_attention_heads,
        )


@dataclass(frozen=True)
class CudaBatches:
    micro_batch_size: int  # examples per forward pass while training
    predict_batch_size: int  # examples per forward pass while evaluating


def cuda_precision(precision: str, bf16_supported: bool) -> str:
    """ "bf16", "fp16" or "fp32" on a GPU: "auto" takes bf16 where the GPU has it, else fp16;
    a forced "bf16" falls back to fp32 on a GPU without it."""
    if precision == "fp32":
        return "fp32"
    if bf16_supported:
        return "bf16"
    return "fp16" if precision == "auto" else "fp32"


def activation_bytes(shape: ModelShape, max_length: int, precision: str) -> int:
    """Activations one example of `max_length` pieces keeps for the backward pass, per layer
    s*h*34 + 5*a*s^2 bytes in 16 bits (Korthikanti et al., 2022), twice that in fp32."""
    per_layer = max_length * shape.hidden * 34 + 5 * shape.heads * max_length**2
    return per_layer * shape.layers * (1 if precision in ("bf16", "fp16") else 2)


def _power_of_two_at_most(value: float) -> int:
    return 1 << max(0, int(value).bit_length() - 1) if value >= 1 else 1


def cuda_batches(
    free_memory: int, shape: ModelShape, *, max_length: int, batch_size: int, precision: str
) -> CudaBatches:
    """Batch sizes for a GPU with `free_memory` bytes free: training micro-batches of at most
    `batch_size` examples, halved until they fit; evaluation batches (which keep no
    activations for a backward pass) as large as fit, up to LARGEST_PREDICT_BATCH."""
    budget = free_memory * CUDA_MEMORY_SHARE - shape.parameters * TRAINING_BYTES_PER_PARAMETER
    per_example = activation_bytes(shape, max_length, precision)
    fitting = budget / per_example if budget > 0 else 0
    micro = min(batch_size, _power_of_two_at_most(fitting))
    # Without a backward pass only one layer's activations are alive at a time.
    predict = _power_of_two_at_most(fitting * shape.layers / 2)
    return CudaBatches(micro, max(micro, min(LARGEST_PREDICT_BATCH, predict)))


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    bf16: bool
    threads: int | None  # CPU threads set, None on CUDA
    fp16: bool = False  # fp16 autocast with a gradient scaler, on a GPU without bf16
    micro_batch_size: int | None = None  # None: the whole batch in one pass
    predict_batch_size: int | None = None  # None: the pipeline's default

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"

    def autocast(self):
        """Context manager: bf16 or fp16 autocast when enabled, else a no-op."""
        if not (self.bf16 or self.fp16):
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16 if self.bf16 else torch.float16)

    def grad_scaler(self):
        """A loss scaler under fp16, whose small gradients underflow without one; else None."""
        return torch.amp.GradScaler(self.device.type) if self.fp16 else None

    def sized_for(self, model, *, max_length: int, batch_size: int) -> Runtime:
        """On CUDA, this runtime with batch sizes that fit the GPU's free memory; elsewhere itself."""
        if self.device.type != "cuda":
            return self
        free, _ = torch.cuda.mem_get_info(self.device)
        sizes = cuda_batches(
            free, ModelShape.of(model), max_length=max_length, batch_size=batch_size, precision=self.precision
        )
        return replace(self, micro_batch_size=sizes.micro_batch_size, predict_batch_size=sizes.predict_batch_size)

    def describe(self) -> dict:
        described = {"device": str(self.device), "precision": self.precision, "threads": self.threads}
        if self.micro_batch_size is not None:
            described.update(micro_batch_size=self.micro_batch_size, predict_batch_size=self.predict_batch_size)
        return described


def select_runtime(precision: str = "auto", device: str | None = None, threads: int | None = None) -> Runtime:
    """Pick the device and precision; on CPU also set torch's thread count (`threads`, by
    default one per available core).

    `precision`: "auto" (bf16 where supported natively; fp16 on a GPU without it), "bf16"
    (forced; still falls back to fp32 where bf16 is not supported at all) or "fp32".
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        chosen = cuda_precision(precision, cuda_supports_bf16())
        return Runtime(dev, bf16=chosen == "bf16", fp16=chosen == "fp16", threads=None)
    threads = threads or available_cores()
    torch.set_num_threads(threads)
    supported = cpu_supports_bf16()
    return Runtime(dev, bf16=precision != "fp32" and supported, threads=threads)
