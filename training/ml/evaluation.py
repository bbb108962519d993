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
* `false_positives` / `false_negatives`: the entities (strict) predicted but not in
  gold, and in gold but not predicted. Each has `doc_id`, `label`, `token_start`,
  `token_end` (exclusive), `start`/`end` character offsets (only when `token_offsets`
  are given), `text`, `context` (= `context_left + text + context_right`) and `kind`:
  for a false positive "spurious" (overlaps no gold entity), "boundary" (overlaps a
  gold entity of the same label) or "label" (overlaps only other labels'); for a
  false negative "missed" (no prediction overlaps it), "boundary" or "label".
"""

from __future__ import annotations

from collections.abc import Sequence

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, Entities

CONTEXT_CHARS = 60
CONTEXT_TOKENS = 10


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
) -> dict:
    """Score `predicted` against `gold` (one list of IOB2 tags per document)."""
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
    false_positives = [
        context.describe(e, _kind(e, gold_entities, "spurious")) for e in sorted(pred_entities - gold_entities)
    ]
    false_negatives = [
        context.describe(e, _kind(e, pred_entities, "missed")) for e in sorted(gold_entities - pred_entities)
    ]
    return {
        "scheme": "IOB2",
        "mode": "strict",
        "documents": len(gold),
        "tokens": total,
        "per_label": per_label,
        **averages,
        "token_accuracy": correct / total if total else 0.0,
        "confusion": {"unit": "token", "rows": "gold", "columns": "predicted", "labels": types, "matrix": matrix},
        "false_positives": false_positives,
        "false_negatives": false_negatives,
    }


def _entities(sequences: list[list[str]]) -> set[tuple[int, int, int, str]]:
    """(document, token_start, token_end_exclusive, label), strict IOB2."""
    if not any(t != "O" for seq in sequences for t in seq):
        return set()
    return {
        (e.sent_id, e.start, e.end, e.tag) for seq_entities in Entities(sequences, IOB2).entities for e in seq_entities
    }


def _kind(entity, others: set, alone: str) -> str:
    doc, start, end, label = entity
    overlapping = [o for o in others if o[0] == doc and o[1] < end and start < o[2]]
    if not overlapping:
        return alone
    return "boundary" if any(o[3] == label for o in overlapping) else "label"


class _Context:
    def __init__(self, doc_ids, tokens, texts, token_offsets):
        self.doc_ids, self.tokens, self.texts, self.offsets = doc_ids, tokens, texts, token_offsets

    def describe(self, entity, kind: str) -> dict:
        doc, start, end, label = entity
        item = {
            "doc_id": self.doc_ids[doc] if self.doc_ids is not None else str(doc),
            "label": label,
            "kind": kind,
            "token_start": start,
            "token_end": end,
        }
        offsets = self.offsets[doc] if self.offsets is not None else None
        text = self.texts[doc] if self.texts is not None else None
        if offsets:
            item["start"], item["end"] = offsets[start][0], offsets[end - 1][1]
        if offsets and text is not None:
            a, b = item["start"], item["end"]
            left, mention, right = text[max(0, a - CONTEXT_CHARS) : a], text[a:b], text[b : b + CONTEXT_CHARS]
        elif self.tokens is not None:
            words = self.tokens[doc]
            left = " ".join(words[max(0, start - CONTEXT_TOKENS) : start])
            mention = " ".join(words[start:end])
            right = " ".join(words[end : end + CONTEXT_TOKENS])
            left, right = (left + " " if left else ""), (" " + right if right else "")
        else:
            left = mention = right = ""
        item.update(text=mention, context_left=left, context_right=right, context=left + mention + right)
        return item
