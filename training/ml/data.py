"""The plain records a training run takes and reports: its documents, its hyperparameters and
its progress, and the errors it ends with; and how documents split into train and dev. No
torch here: the web side builds and reads these, and says the split before a run, without
loading the machine-learning libraries."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

PRECISIONS = ("auto", "bf16", "fp32")


class TrainingDataError(ValueError):
    """The documents cannot be trained on (no data, a label without examples, bad tags)."""


class TrainingCancelled(Exception):
    """`should_stop()` returned True; nothing was written."""


class TrainingProcessFailed(RuntimeError):
    """One of several training processes died or failed, so the others cannot go on."""


@dataclass
class TrainingDocument:
    doc_id: str
    tokens: list[str]
    tags: list[str]
    is_dev: bool | None = None  # None: decided by the stable hash of doc_id
    text: str | None = None
    token_offsets: list[tuple[int, int]] | None = None  # character [start, end) per token


# Options that pay on a large corpus and cost on a small one (README › Accuracy): packed
# sentences, batch 8, learning rate 2e-4 with layer decay 0.8 and one epoch of pretraining on
# the project's text gained 1.5 points on NCBI-disease (130,000 training words) and cost
# nothing on BC5CDR (118,000), but cost 6 points on the demo (32,000), where the fewer,
# longer examples leave too few steps. The threshold lies between; sizes in between are
# unmeasured.
LARGE_CORPUS_WORDS = 60_000
LARGE_CORPUS_OPTIONS = {
    "pack_sentences": True,
    "batch_size": 8,
    "learning_rate": 2e-4,
    "layer_decay": 0.8,
    "mlm_epochs": 1,
}


def defaults_for(annotated_words: int) -> dict:
    """The options a run on this many annotated words takes where none are given, beyond the
    `Hyperparameters` defaults."""
    return dict(LARGE_CORPUS_OPTIONS) if annotated_words >= LARGE_CORPUS_WORDS else {}


@dataclass
class Hyperparameters:
    epochs: int = 6
    learning_rate: float = 1e-4  # the head's; with layer_decay < 1 lower layers learn less
    batch_size: int = 16
    max_length: int = 128  # word pieces per example, special tokens included
    seed: int = 13
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 2  # epochs without dev improvement before stopping; 0 disables early stopping
    dev_fraction: float = 0.2  # share of documents (without is_dev) that go to dev
    max_grad_norm: float = 1.0
    precision: str = "auto"  # "auto" (bf16 where supported natively), "bf16" or "fp32"
    pack_sentences: bool = False  # consecutive sentences share an example up to max_length
    context: int = 0  # word pieces of the neighbouring text a side that each example sees, unlabelled
    layer_decay: float = 1.0  # each layer below the top learns at this times the rate of the one above
    ema_decay: float = 0.0  # evaluate and keep an exponential moving average of the weights; 0: off
    mlm_epochs: int = 0  # masked-language-model epochs on the project's own text before fine-tuning

    @classmethod
    def from_dict(cls, values: dict) -> Hyperparameters:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s): {', '.join(unknown)}")
        hp = cls(**values)
        hp.validate()
        return hp

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        def integer(name, low, high=None):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise ValueError(f"{name} must be {bound}, got {value}")

        def number(name, check, description):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not check(value):
                raise ValueError(f"{name} must be {description}, got {value}")

        integer("epochs", 1, 1000)
        number("learning_rate", lambda v: 0 < v <= 1, "greater than 0 and at most 1")
        integer("batch_size", 1, 4096)
        integer("max_length", 8, 8192)
        integer("seed", 0)
        number("warmup_ratio", lambda v: 0 <= v < 1, "at least 0 and less than 1")
        number("weight_decay", lambda v: 0 <= v < 1, "at least 0 and less than 1")
        integer("patience", 0)
        number("dev_fraction", lambda v: 0 <= v < 1, "at least 0 and less than 1")
        number("max_grad_norm", lambda v: v > 0, "greater than 0")
        if not isinstance(self.pack_sentences, bool):
            raise ValueError(f"pack_sentences must be true or false, got {self.pack_sentences!r}")
        integer("context", 0, 4096)
        number("layer_decay", lambda v: 0 < v <= 1, "greater than 0 and at most 1")
        number("ema_decay", lambda v: 0 <= v < 1, "at least 0 and less than 1")
        integer("mlm_epochs", 0, 100)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclass
class Progress:
    epoch: int  # 1-based, the epoch being trained (or just evaluated)
    epochs: int
    step: int  # optimiser steps done so far, over all epochs
    total_steps: int  # planned (early stopping may end sooner)
    loss: float | None  # loss of the last step
    dev_f1_per_epoch: list[float]
    elapsed_seconds: float
    eta_seconds: float | None
    phase: str = "train"  # "train" after a step, "evaluated" after an epoch's dev evaluation

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- the train/dev split


def _hash_position(doc_id: str) -> float:
    """Stable across runs and machines: sha1 of the id, never Python's salted hash()."""
    digest = hashlib.sha1(doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_dev_document(doc_id: str, dev_fraction: float) -> bool:
    return _hash_position(doc_id) < dev_fraction


def split_documents(
    documents: Sequence[TrainingDocument], dev_fraction: float
) -> tuple[list[TrainingDocument], list[TrainingDocument]]:
    train, dev = [], []
    for doc in documents:
        dev_doc = doc.is_dev if doc.is_dev is not None else is_dev_document(doc.doc_id, dev_fraction)
        (dev if dev_doc else train).append(doc)
    undecided = [doc for doc in train if doc.is_dev is None]
    if not dev and dev_fraction > 0 and len(undecided) >= 2:
        # Small projects can hash no document into dev; without one there is no report, so
        # the document whose hash comes closest to the dev range goes there.
        closest = min(undecided, key=lambda doc: _hash_position(doc.doc_id))
        train.remove(closest)
        dev.append(closest)
    return train, dev
