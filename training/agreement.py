"""Inter-annotator agreement, on the same entity code and seqeval scheme as model evaluation,
so annotator-to-annotator and model-to-gold scores compare. Plain data in, plain results out."""

from collections import Counter
from itertools import combinations

from training.ml.evaluation import evaluate


def cohen_kappa(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa of two equally long label sequences; None when there is nothing to compare."""
    total = len(first)
    if not total:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / total
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / total**2
    if expected == 1:
        return 1.0
    return (observed - expected) / (1 - expected)


def _span_f1(first: list[list[str]], second: list[list[str]], labels: list[str]) -> float:
    """Exact-match span F1; two annotators who both tagged nothing agree completely."""
    if all(tag == "O" for seq in (*first, *second) for tag in seq):
        return 1.0
    return evaluate(first, second, labels=labels)["micro"]["f1"]


def _entity_type(tag: str) -> str:
    return tag[2:] if tag[:2] in ("B-", "I-") else "O"


def pairwise(tags: dict[str, dict[str, list[str]]], labels: list[str]) -> list[dict]:
    """`tags` maps annotator -> document id -> IOB2 tags. For each pair of annotators, on the
    documents both have: span-level F1 (exact match, overall and per label; symmetric, so either
    side may be "gold") and token-level Cohen's kappa (overall over entity types, and per label
    as label-versus-rest)."""
    reports = []
    for first, second in combinations(sorted(tags), 2):
        shared = sorted(set(tags[first]) & set(tags[second]))
        if not shared:
            continue
        a = [tags[first][doc] for doc in shared]
        b = [tags[second][doc] for doc in shared]
        scores = evaluate(a, b, labels=labels, doc_ids=shared)
        flat_a = [_entity_type(t) for seq in a for t in seq]
        flat_b = [_entity_type(t) for seq in b for t in seq]
        per_label = {
            label: {
                "f1": scores["per_label"][label]["f1"],
                "support": scores["per_label"][label]["support"],
                "kappa": cohen_kappa([t == label for t in flat_a], [t == label for t in flat_b]),
            }
            for label in labels
        }
        reports.append(
            {
                "annotators": (first, second),
                "documents": len(shared),
                "f1": _span_f1(a, b, labels),
                "kappa": cohen_kappa(flat_a, flat_b),
                "per_label": per_label,
            }
        )
    return reports


def disagreements(tags: dict[str, dict[str, list[str]]], labels: list[str]) -> list[dict]:
    """Documents at least two annotators have, most disagreed first (lowest mean pairwise F1)."""
    documents: dict[str, list[str]] = {}
    for annotator, by_document in tags.items():
        for doc in by_document:
            documents.setdefault(doc, []).append(annotator)
    rows = []
    for doc, annotators in documents.items():
        if len(annotators) < 2:
            continue
        f1s = [_span_f1([tags[x][doc]], [tags[y][doc]], labels) for x, y in combinations(sorted(annotators), 2)]
        rows.append({"doc_id": doc, "annotators": sorted(annotators), "agreement": sum(f1s) / len(f1s)})
    return sorted(rows, key=lambda row: (row["agreement"], row["doc_id"]))
