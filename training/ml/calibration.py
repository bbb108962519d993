"""Confidence that means probability: temperature scaling fitted on dev, and how well
calibrated a model is before and after. No Django here.

* `fit_temperature` finds the one temperature T that minimises the negative log-likelihood
  of the gold tags under softmax(logits / T) (LBFGS on log T, so T stays positive, with a
  weak prior towards T = 1 for dev splits the model gets entirely right). An
  over-confident model gets T > 1, which softens its probabilities; T never changes which
  tag is the most probable, nor the Viterbi path (`decoding.py`).
* `reliability` gives the expected calibration error (ECE) over `ECE_BINS` equal-width
  confidence bins: the mean, weighted by the bin's share of predictions, of the gap between
  the bin's mean confidence and its accuracy; and the bins, for a reliability diagram.
* `calibrate` fits T on a dev split's logits and measures ECE before (T = 1) and after, for
  two kinds of prediction: **tokens** (each token's decoded tag and its probability; right
  when it equals the gold tag) and **entities** (each predicted entity and its confidence,
  the mean of its tokens' probabilities, as suggestions show it; right when gold holds the
  same span with the same label). It also gives, per label, the precision of the entities
  at or above each confidence (`evaluation.precision_curve`), from which a suggestion
  threshold for any target precision is read (`evaluation.threshold_for`).

The trained model directory keeps T in `calibration.json`; `stored_temperature` reads it
(1.0 for a model trained before there was one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from training.ml.decoding import decode, entity_spans, span_confidence
from training.ml.evaluation import precision_curve

CALIBRATION_FILE = "calibration.json"
ECE_BINS = 15
# Far outside what a trained model needs; only a dev split of a few tokens gets near them.
TEMPERATURE_RANGE = (0.05, 20.0)


def stored_temperature(model_dir: str | Path) -> float:
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.exists():
        return 1.0
    return float(json.loads(path.read_text())["temperature"])


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising the NLL of `gold` (tag indices, one per row of `logits`).

    A prior on log T worth one token pulls it towards 1: on a dev split the model gets
    entirely right the likelihood keeps rising as T falls towards 0, which would turn every
    confidence into 1 (and every document into an equally sure one for active learning)."""
    if len(logits) == 0:
        return 1.0
    values = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    targets = torch.as_tensor(np.asarray(gold), dtype=torch.long)
    log_temperature = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], max_iter=100, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = torch.nn.functional.cross_entropy(values / log_temperature.exp(), targets)
        value = value + log_temperature**2 / len(values)
        value.backward()
        return value

    optimizer.step(loss)
    low, high = TEMPERATURE_RANGE
    return float(min(high, max(low, log_temperature.exp().item())))


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> dict:
    """ECE over `bins` equal-width bins of [0, 1], and the non-empty bins (their edges, count,
    mean confidence and accuracy)."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    count = len(confidences)
    # A confidence of exactly 1.0 belongs to the last bin, as 0.0 belongs to the first.
    index = np.minimum((confidences * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        members = index == b
        size = int(members.sum())
        if not size:
            continue
        confidence, accuracy = float(confidences[members].mean()), float(correct[members].mean())
        ece += size / count * abs(accuracy - confidence)
        rows.append(
            {"low": b / bins, "high": (b + 1) / bins, "count": size, "confidence": confidence, "accuracy": accuracy}
        )
    return {"ece": ece, "count": count, "bins": rows}


def calibrate(dev_logits: Sequence[np.ndarray], dev_gold: Sequence[Sequence[str]], tags: Sequence[str]) -> dict:
    """Fit the temperature on dev and measure calibration before and after.

    `dev_logits`: per document, (words, tags) logits with NaN rows for words without word
    pieces (`examples.word_logits`); `dev_gold`: the documents' valid IOB2 gold tags."""
    tags = list(tags)
    position = {tag: i for i, tag in enumerate(tags)}
    decoded = [decode(logits, tags) for logits in dev_logits]
    scored = [~np.isnan(np.asarray(logits)).any(axis=1) for logits in dev_logits]
    rows = [np.asarray(logits)[mask] for logits, mask in zip(dev_logits, scored)]
    all_rows = np.concatenate(rows) if rows else np.zeros((0, len(tags)))
    gold_index = np.array([position[tag] for gold, mask in zip(dev_gold, scored) for tag, s in zip(gold, mask) if s])
    temperature = fit_temperature(all_rows, gold_index)

    chosen = np.array([position[tag] for path, mask in zip(decoded, scored) for tag, s in zip(path, mask) if s])
    token_right = chosen == gold_index if len(chosen) else np.zeros(0, dtype=bool)
    measured = {"temperature": temperature, "bins": ECE_BINS, "tokens": {}, "entities": {}}
    for moment, t in (("before", 1.0), ("after", temperature)):
        probabilities = softmax(all_rows, t) if len(all_rows) else np.zeros((0, len(tags)))
        token_confidence = probabilities[np.arange(len(chosen)), chosen] if len(chosen) else np.zeros(0)
        measured["tokens"][moment] = reliability(token_confidence, token_right)
        entities = _entities(decoded, dev_gold, scored, token_confidence)
        measured["entities"][moment] = reliability([e[1] for e in entities], [e[2] for e in entities])
    labels = list(dict.fromkeys(tag[2:] for tag in tags if tag != "O"))
    measured["precision_curves"] = {
        label: precision_curve([e[1] for e in entities if e[0] == label], [e[2] for e in entities if e[0] == label])
        for label in labels
    }
    return measured


def _entities(decoded, dev_gold, scored, token_confidence) -> list[tuple[str, float, bool]]:
    """(label, confidence, right) of every predicted entity; `token_confidence` holds the
    scored tokens of all documents in order."""
    entities = []
    offset = 0
    for path, gold, mask in zip(decoded, dev_gold, scored):
        confidences: list[float | None] = [None] * len(path)
        for word in np.flatnonzero(mask):
            confidences[word] = float(token_confidence[offset])
            offset += 1
        truth = set(entity_spans(gold))
        entities += [
            (label, span_confidence(confidences, first, last), (first, last, label) in truth)
            for first, last, label in entity_spans(path)
        ]
    return entities
