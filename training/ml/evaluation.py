"""Entity-level evaluation with seqeval in strict IOB2 mode, as a plain JSON-ready dict.

Strict mode (`mode="strict", scheme=IOB2`) counts an entity only when it starts with
`B-X` and continues with `I-X`: an `I-X` that follows `O` or another type is no
entity at all (conlleval's default mode would start one there). The training
pipeline repairs predicted and gold tags to valid IOB2 before calling this, so in
practice the two modes agree on its inputs; `evaluate` itself scores what it is given.

The result:

* `per_label`: label -> precision, recall, f1, support (gold entities). Every label
  passed in `labels` is listed, with zeros when it has neither gold nor predictions.
* `micro`, `macro`, `weighted`: seqeval's averages (support = gold entities).
* `token_accuracy`: share of tokens whose tag is exactly right.
* `confusion`: a token-level confusion matrix over the entity types plus `O`
  (B-/I- collapsed, so it reads "which type did the model give this token"):
  `labels` names the rows (gold) and the columns (predicted), `matrix[g][p]` counts tokens.
* `errors`: every entity predicted but not in gold, or in gold but not predicted (strict),
  in document order, with overlapping gold and predicted entities paired into one row.
  A row has `doc_id`, `kind`, `gold` and `predicted` (lists of entities, each with
  `label`, `token_start`, `token_end` (exclusive), `text` and, when `token_offsets` are
  given, `start`/`end` character offsets), the same keys for the stretch of text the row
  covers, and `context_left` / `context_right` (whole words, with "…" where the document
  goes on). `kind` is "missed" (gold alone), "spurious" (predicted alone), "boundary"
  (same labels, other edges), "label" (same edges, other labels) or "boundary+label".
* `false_positives_count` / `false_negatives_count`: the predicted and gold entities in `errors`.
* `f1_intervals` (only with `intervals=True` and a small dev split, see `small_dev_reasons`):
  95% percentile bootstrap intervals of F1 over documents, `micro` and `per_label`, each
  `[low, high]`, drawn with a fixed seed so that the same input gives the same intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, Entities

CONTEXT_CHARS = 60
CONTEXT_TOKENS = 10
ELLIPSIS = "…"
# Below either size, a single run's F1 says little on its own: the report says so and
# shows how far F1 moves when the dev documents are resampled.
SMALL_DEV_DOCUMENTS = 20
SMALL_DEV_ENTITIES = 50
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


def _score(values: dict) -> dict:
    return {
        "precision": float(values.get("precision", 0.0)),
        "recall": float(values.get("recall", 0.0)),
        "f1": float(values.get("f1-score", 0.0)),
        "support": int(values.get("support", 0)),
    }


def _entity_type(tag: str) -> str:
    return "O" if tag == "O" else tag[2:]


def evaluate(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    *,
    labels: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
    tokens: Sequence[Sequence[str]] | None = None,
    texts: Sequence[str | None] | None = None,
    token_offsets: Sequence[Sequence[tuple[int, int]] | None] | None = None,
    intervals: bool = False,
) -> dict:
    """Score `predicted` against `gold` (one list of IOB2 tags per document); with `intervals`,
    bootstrap F1 intervals when the dev split is small."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold documents but {len(predicted)} predicted")
    for index, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"document {index}: {len(g)} gold tags but {len(p)} predicted")
    gold = [list(g) for g in gold]
    predicted = [list(p) for p in predicted]

    seen = {_entity_type(t) for seq in (*gold, *predicted) for t in seq} - {"O"}
    all_labels = list(labels or [])
    all_labels += sorted(seen - set(all_labels))

    per_label = {label: _score({}) for label in all_labels}
    averages = {"micro": _score({}), "macro": _score({}), "weighted": _score({})}
    if seen:
        report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
        for name, values in report.items():
            key = {"micro avg": "micro", "macro avg": "macro", "weighted avg": "weighted"}.get(name)
            if key:
                averages[key] = _score(values)
            else:
                per_label[name] = _score(values)

    types = ["O", *all_labels]
    position = {t: i for i, t in enumerate(types)}
    matrix = [[0] * len(types) for _ in types]
    correct = total = 0
    for g_seq, p_seq in zip(gold, predicted):
        for g, p in zip(g_seq, p_seq):
            matrix[position[_entity_type(g)]][position[_entity_type(p)]] += 1
            correct += g == p
            total += 1

    gold_entities = _entities(gold)
    pred_entities = _entities(predicted)
    context = _Context(doc_ids, tokens, texts, token_offsets)
    missed, spurious = gold_entities - pred_entities, pred_entities - gold_entities
    errors = [context.describe(gold_group, pred_group) for gold_group, pred_group in _overlapping(missed, spurious)]
    result = {
        "scheme": "IOB2",
        "mode": "strict",
        "documents": len(gold),
        "tokens": total,
        "per_label": per_label,
        **averages,
        "token_accuracy": correct / total if total else 0.0,
        "confusion": {"unit": "token", "rows": "gold", "columns": "predicted", "labels": types, "matrix": matrix},
        "errors": errors,
        "false_positives_count": len(spurious),
        "false_negatives_count": len(missed),
    }
    supports = {label: scores["support"] for label, scores in per_label.items()}
    if intervals and small_dev_reasons(len(gold), supports):
        result["f1_intervals"] = f1_intervals(len(gold), gold_entities, pred_entities, all_labels)
    return result


def small_dev_reasons(documents: int, supports: dict[str, int]) -> list[str]:
    """Why a dev split is too small to trust one F1, in words; empty when it is not."""
    reasons = (
        [f"only {documents} dev document{'' if documents == 1 else 's'}"] if documents < SMALL_DEV_DOCUMENTS else []
    )
    reasons += [
        f"{label} has {count or 'no'} dev entit{'y' if count == 1 else 'ies'}"
        for label, count in supports.items()
        if count < SMALL_DEV_ENTITIES
    ]
    return reasons


def f1_intervals(documents: int, gold_entities: set, pred_entities: set, labels: Sequence[str]) -> dict:
    """Percentile bootstrap over documents: resample the dev documents with replacement and
    score each resample, per label and micro."""
    names = [*labels, "micro"]
    row = {label: index for index, label in enumerate(labels)}
    # Per document, for each label and then micro: true positives, gold and predicted entities.
    counts = np.zeros((documents, len(names), 3))
    for entities, column in ((gold_entities & pred_entities, 0), (gold_entities, 1), (pred_entities, 2)):
        for doc, _start, _end, label in entities:
            counts[doc, [row[label], len(labels)], column] += 1
    counts = counts.reshape(documents, -1)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    totals = np.stack(
        [
            np.bincount(rng.integers(0, documents, documents), minlength=documents) @ counts
            for _ in range(BOOTSTRAP_RESAMPLES)
        ]
    ).reshape(BOOTSTRAP_RESAMPLES, len(names), 3)
    true_positives, found = totals[:, :, 0], totals[:, :, 1] + totals[:, :, 2]
    f1 = np.divide(2 * true_positives, found, out=np.zeros_like(found), where=found > 0)
    ordered = np.sort(f1, axis=0)
    tail = (1 - CONFIDENCE) / 2
    low, high = ordered[round(tail * (BOOTSTRAP_RESAMPLES - 1))], ordered[round((1 - tail) * (BOOTSTRAP_RESAMPLES - 1))]
    bounds = {name: [float(low[i]), float(high[i])] for i, name in enumerate(names)}
    return {
        "confidence": CONFIDENCE,
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "micro": bounds.pop("micro"),
        "per_label": bounds,
    }


def _entities(sequences: list[list[str]]) -> set[tuple[int, int, int, str]]:
    """(document, token_start, token_end_exclusive, label), strict IOB2."""
    if not any(t != "O" for seq in sequences for t in seq):
        return set()
    return {
        (e.sent_id, e.start, e.end, e.tag) for seq_entities in Entities(sequences, IOB2).entities for e in seq_entities
    }


def _overlapping(missed: set, spurious: set):
    """Group the errors of each document into runs of overlapping entities: (gold, predicted).
    Gold entities never overlap each other, nor do predicted ones, so a run is a chain in
    which each entity overlaps the next of the other side."""
    ordered = sorted([(e, "gold") for e in missed] + [(e, "predicted") for e in spurious])
    group: dict[str, list] = {"gold": [], "predicted": []}
    group_doc, group_end = None, -1
    for entity, side in ordered:
        doc, start, end, _label = entity
        if doc != group_doc or start >= group_end:
            if group_doc is not None:
                yield group["gold"], group["predicted"]
            group, group_doc, group_end = {"gold": [], "predicted": []}, doc, end
        group[side].append(entity)
        group_end = max(group_end, end)
    if group_doc is not None:
        yield group["gold"], group["predicted"]


def _kind(gold: list, predicted: list) -> str:
    if not predicted:
        return "missed"
    if not gold:
        return "spurious"
    other_edges = [e[1:3] for e in gold] != [e[1:3] for e in predicted]
    other_labels = any(g[3] != p[3] for g in gold for p in predicted if g[1] < p[2] and p[1] < g[2])
    return "boundary+label" if other_edges and other_labels else "boundary" if other_edges else "label"


class _Context:
    def __init__(self, doc_ids, tokens, texts, token_offsets):
        self.doc_ids, self.tokens, self.texts, self.offsets = doc_ids, tokens, texts, token_offsets

    def describe(self, gold: list, predicted: list) -> dict:
        doc = (gold or predicted)[0][0]
        start = min(e[1] for e in gold + predicted)
        end = max(e[2] for e in gold + predicted)
        row = {"doc_id": self.doc_ids[doc] if self.doc_ids is not None else str(doc), "kind": _kind(gold, predicted)}
        row.update(self._stretch(doc, start, end))
        row["gold"] = [{"label": e[3], **self._stretch(*e[:3])} for e in gold]
        row["predicted"] = [{"label": e[3], **self._stretch(*e[:3])} for e in predicted]
        row.update(self._surroundings(doc, start, end))
        return row

    def _stretch(self, doc: int, start: int, end: int) -> dict:
        item = {"token_start": start, "token_end": end}
        offsets = self.offsets[doc] if self.offsets is not None else None
        text = self.texts[doc] if self.texts is not None else None
        if offsets:
            item["start"], item["end"] = offsets[start][0], offsets[end - 1][1]
        if offsets and text is not None:
            item["text"] = text[item["start"] : item["end"]]
        elif self.tokens is not None:
            item["text"] = " ".join(self.tokens[doc][start:end])
        else:
            item["text"] = ""
        return item

    def _surroundings(self, doc: int, start: int, end: int) -> dict:
        offsets = self.offsets[doc] if self.offsets is not None else None
        text = self.texts[doc] if self.texts is not None else None
        if offsets and text is not None:
            a, b = offsets[start][0], offsets[end - 1][1]
            left, right = whole_words_before(text, a), whole_words_after(text, b)
        elif self.tokens is not None:
            words = self.tokens[doc]
            left = " ".join(words[max(0, start - CONTEXT_TOKENS) : start])
            right = " ".join(words[end : end + CONTEXT_TOKENS])
            left = (ELLIPSIS if start > CONTEXT_TOKENS else "") + left + (" " if left else "")
            right = (" " if right else "") + right + (ELLIPSIS if end + CONTEXT_TOKENS < len(words) else "")
        else:
            left = right = ""
        return {"context_left": left, "context_right": right}


def whole_words_before(text: str, position: int, size: int = CONTEXT_CHARS) -> str:
    """About `size` characters of `text` before `position`, starting at a word's beginning."""
    cut = max(0, position - size)
    if cut == 0:
        return text[:position]
    if not text[cut - 1].isspace():  # the cut falls inside a word: start after it
        space = next((i for i in range(cut, position) if text[i].isspace()), position)
        cut = space
    return ELLIPSIS + text[cut:position].lstrip()


def whole_words_after(text: str, position: int, size: int = CONTEXT_CHARS) -> str:
    """About `size` characters of `text` after `position`, ending at a word's end."""
    cut = min(len(text), position + size)
    if cut == len(text):
        return text[position:]
    if not text[cut].isspace():  # the cut falls inside a word: end before it
        cut = next((i for i in range(cut - 1, position - 1, -1) if text[i].isspace()), position)
    return text[position:cut].rstrip() + ELLIPSIS


def precision_curve(confidences: Sequence[float], correct: Sequence[bool]) -> list[list[float]]:
    """For each distinct confidence, highest first: [confidence, precision of the predictions
    at or above it, how many those are]. Read by `threshold_for`."""
    confidences = np.asarray(confidences, dtype=np.float64)
    order = np.argsort(-confidences, kind="stable")
    ordered, right = confidences[order], np.asarray(correct, dtype=np.float64)[order]
    shown = np.arange(1, len(ordered) + 1)
    precision = np.cumsum(right) / shown
    last_of_value = np.append(ordered[1:] != ordered[:-1], True) if len(ordered) else np.zeros(0, dtype=bool)
    return [[float(ordered[i]), float(precision[i]), int(shown[i])] for i in np.flatnonzero(last_of_value)]


def threshold_for(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """The lowest confidence from which the predictions at or above it reach `target`
    precision, on `precision_curve`'s points; None when no confidence does."""
    reaching = [point[0] for point in curve if point[1] >= target]
    return min(reaching) if reaching else None
