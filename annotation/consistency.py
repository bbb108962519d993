"""Checks that every annotation's stored `bio_tags` are what its spans say.

Edits, imports and label renames keep the tags in step in their own transactions; this
recomputes them from the spans to prove it (`manage.py check_annotations`, the test suite,
and a nightly task), and repairs any that drifted.
"""

from dataclasses import dataclass

from django.db import transaction

from annotation.models import Annotation, Span
from annotation.text.bio import SpanError, spans_to_tags

CHUNK = 500


@dataclass
class Mismatch:
    annotation_id: int
    document_id: int
    project_id: int
    problem: str

    def __str__(self):
        return (
            f"annotation {self.annotation_id} (document {self.document_id}, project {self.project_id}): {self.problem}"
        )


def stale_annotations(annotations=None) -> list[Mismatch]:
    """Every annotation (of `annotations`, a queryset, or all) whose tags disagree with its spans."""
    rows = (
        (annotations if annotations is not None else Annotation.objects.all())
        .order_by("pk")
        .values_list(
            "pk", "document_id", "document__project_id", "bio_tags", "document__token_starts", "document__token_ends"
        )
    )
    found = []
    chunk = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            found += _check(chunk)
            chunk = []
    return found + _check(chunk)


def repair(mismatches: list[Mismatch]) -> int:
    """Rewrite the tags of these annotations from their spans; returns how many changed."""
    repaired = 0
    for mismatch in mismatches:
        with transaction.atomic():
            annotation = (
                Annotation.objects.select_for_update().select_related("document").get(pk=mismatch.annotation_id)
            )
            document = annotation.document
            tags = spans_to_tags(document.token_starts, document.token_ends, _spans([annotation.pk])[annotation.pk])
            if tags != annotation.bio_tags:
                Annotation.objects.filter(pk=annotation.pk).update(bio_tags=tags)
                repaired += 1
    return repaired


def _check(rows) -> list[Mismatch]:
    if not rows:
        return []
    spans = _spans([row[0] for row in rows])
    found = []
    for pk, document_id, project_id, stored, starts, ends in rows:
        try:
            expected = spans_to_tags(starts, ends, spans[pk])
        except SpanError as error:
            found.append(Mismatch(pk, document_id, project_id, f"a span cannot be tagged: {error}"))
            continue
        if stored != expected:
            found.append(Mismatch(pk, document_id, project_id, _difference(stored, expected)))
    return found


def _spans(annotation_ids) -> dict[int, list[tuple[int, int, str]]]:
    spans: dict[int, list[tuple[int, int, str]]] = {pk: [] for pk in annotation_ids}
    rows = Span.objects.filter(annotation_id__in=annotation_ids).values_list(
        "annotation_id", "start", "end", "label__name"
    )
    for annotation_id, start, end, label in rows:
        spans[annotation_id].append((start, end, label))
    return spans


def _difference(stored: list[str], expected: list[str]) -> str:
    if len(stored) != len(expected):
        return f"{len(stored)} tags stored for {len(expected)} tokens"
    first = next(index for index, (a, b) in enumerate(zip(stored, expected)) if a != b)
    wrong = sum(a != b for a, b in zip(stored, expected))
    return f"{wrong} tag{'s' if wrong != 1 else ''} differ from the spans, first at token {first}: stored {stored[first]}, spans say {expected[first]}"
