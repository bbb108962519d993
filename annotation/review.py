"""Adjudication: a reviewer compares the annotators' submitted versions of a document and
builds the gold annotation (their own annotation, marked reviewed) that training prefers."""

from django.db import transaction
from django.utils import timezone

from annotation import editing
from annotation.models import Annotation, Document, Label
from annotation.text.bio import char_span_to_token_span
from studio.audit import record

Mention = tuple[int, int, str]


def submitted_versions(document: Document, *, excluding=None) -> list[tuple[str, list[Mention]]]:
    annotations = (
        Annotation.objects.filter(document=document, status=Annotation.Status.SUBMITTED)
        .select_related("annotator")
        .prefetch_related("spans__label")
        .order_by("annotator__username")
    )
    if excluding is not None:
        annotations = annotations.exclude(annotator=excluding)
    return [
        (a.annotator.get_username(), sorted((s.start, s.end, s.label.name) for s in a.spans.all())) for a in annotations
    ]


def agreed(versions: list[tuple[str, list[Mention]]]) -> set[Mention]:
    """Spans every annotator made identically (needs two versions or more)."""
    if len(versions) < 2:
        return set()
    sets = [set(spans) for _, spans in versions]
    return set.intersection(*sets)


def add_to_gold(gold: Annotation, mention: Mention, *, version: int) -> editing.EditResult:
    document = gold.document
    start, end, label_name = mention
    label = Label.objects.filter(project_id=document.project_id, name=label_name).first()
    if label is None:
        raise editing.EditRejected(f"The project has no label {label_name} any more.")
    try:
        first, end_token = char_span_to_token_span(document.token_starts, document.token_ends, start, end)
    except ValueError as error:
        raise editing.EditRejected(str(error)) from None
    return editing.add_span(gold, version=version, first_token=first, last_token=end_token - 1, label=label)


def start_gold(document: Document, reviewer) -> Annotation:
    """The reviewer's gold annotation; a new one starts from the spans everyone agreed on."""
    gold = editing.annotation_for(document, reviewer)
    if gold.version == 1 and not gold.spans.exists():
        for mention in sorted(agreed(submitted_versions(document, excluding=reviewer))):
            gold = add_to_gold(gold, mention, version=gold.version).annotation
    return gold


def mark_reviewed(gold: Annotation, *, version: int) -> editing.EditResult:
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=gold.pk)
        if locked.version != version:
            raise editing.VersionConflict(locked.version)
        before = locked.status
        locked.status = Annotation.Status.REVIEWED
        locked.submitted_at = locked.submitted_at or timezone.now()
        locked.version += 1
        locked.save(update_fields=["status", "submitted_at", "version", "updated_at"])
        record(
            locked.annotator,
            "annotation.status",
            project_id=gold.document.project_id,
            document_id=gold.document_id,
            obj=locked,
            before=before,
            after="reviewed",
        )
    return editing.EditResult(locked, [], "Marked reviewed: this is now the gold annotation.")
