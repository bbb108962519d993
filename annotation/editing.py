"""Span edits on one annotation: each in one transaction that checks the version, keeps
`bio_tags` equal to the spans, raises the version and records the change for undo/redo."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from annotation.assistance import assistant
from annotation.models import Annotation, AnnotationChange, Document, Label, Span
from annotation.text.bio import spans_to_tags
from studio.audit import record, span_values


class EditRejected(Exception):
    """The edit makes no sense for this text; the message tells the annotator why."""


class VersionConflict(Exception):
    """The annotation changed elsewhere since the editor loaded `version`."""

    def __init__(self, current_version: int):
        self.current_version = current_version
        super().__init__(f"changed elsewhere: now at version {current_version}")


@dataclass
class EditResult:
    annotation: Annotation
    # Character ranges whose rendering changed, so a page can redraw just those parts.
    touched: list[tuple[int, int]] = field(default_factory=list)
    message: str = ""
    after: list = field(default_factory=list)  # the span rows after the edit


SpanRow = list  # [start, end, label_id, source, model_version_id, edited_before_accept]


def own_annotation(document: Document, user) -> Annotation | None:
    """The person's own version of the document (not a gold annotation they adjudicated)."""
    return Annotation.objects.filter(document=document, annotator=user, is_gold=False).first()


def annotation_for(document: Document, user) -> Annotation:
    annotation, _ = Annotation.objects.get_or_create(
        document=document,
        annotator=user,
        is_gold=False,
        defaults={"bio_tags": ["O"] * len(document.token_starts)},
    )
    # Both are at hand; loading them again would cost two queries on every edit.
    annotation.document, annotation.annotator = document, user
    return annotation


def add_span(
    annotation: Annotation,
    *,
    version: int,
    first_token: int,
    last_token: int,
    label: Label,
    source: str = Span.Source.MANUAL,
    model_version=None,
    edited_before_accept: bool = False,
    decisions: dict | None = None,
) -> EditResult:
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        document = annotation.document
        if label.project_id != document.project_id:
            raise EditRejected(f"{label.name} is not a label of this project.")
        token_count = len(document.token_starts)
        if not 0 <= first_token <= last_token < token_count:
            raise EditRejected(f"Tokens {first_token}–{last_token} are outside this document's {token_count} tokens.")
        start, end = document.token_starts[first_token], document.token_ends[last_token]
        clash = annotation.spans.filter(start__lt=end, end__gt=start).select_related("label").first()
        if clash:
            raise EditRejected(
                f'That overlaps {clash.label.name} "{_excerpt(document.text, clash.start, clash.end)}"'
                f" ({clash.start}–{clash.end}); the existing span stays."
            )
        span = Span.objects.create(
            annotation=annotation,
            label=label,
            start=start,
            end=end,
            source=source,
            model_version=model_version,
            edited_before_accept=edited_before_accept,
        )
        _audit(annotation, "span.create", span, after=span_values(span))
        return _commit(
            annotation,
            "accept" if decisions else "add",
            before,
            [(start, end)],
            f'Tagged "{_excerpt(document.text, start, end)}" as {label.name}.',
            decisions=decisions,
        )


def record_decisions(
    annotation: Annotation, *, version: int, decisions: dict, touched: list, message: str, action: str = "reject"
) -> EditResult:
    """A step that changes no span, only decisions on suggestions (a rejection, or showing
    rejected ones again): it takes a version and a place in the history like any edit, so
    Ctrl+Z takes it back."""
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        return _commit(annotation, action, before, touched, message, decisions=decisions)


def change_label(annotation: Annotation, *, version: int, span_id: int, label: Label) -> EditResult:
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        span = _span(annotation, span_id)
        if label.project_id != annotation.document.project_id:
            raise EditRejected(f"{label.name} is not a label of this project.")
        before_values = span_values(span)
        span.label = label
        span.save(update_fields=["label"])
        _audit(annotation, "span.update", span, before=before_values, after=span_values(span))
        return _commit(annotation, "relabel", before, [(span.start, span.end)], f"Changed to {label.name}.")


def delete_span(annotation: Annotation, *, version: int, span_id: int) -> EditResult:
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        span = _span(annotation, span_id)
        _audit(annotation, "span.delete", span, before=span_values(span))
        span.delete()
        return _commit(annotation, "delete", before, [(span.start, span.end)], "Span removed.")


def replace_spans(annotation: Annotation, *, version: int, spans: list[tuple[int, int, Label]]) -> EditResult:
    """Make the annotation's spans exactly `spans`: (start, end exclusive, label) in characters.

    Every span is checked before anything changes; the first problem raises `EditRejected`
    naming the span by its 1-based position in `spans`. A span equal in start, end and label
    to an existing one keeps that one's provenance (source, model version, edited flag);
    the others are manual.

    A list equal to the current spans is a no-op: it still checks the version, but raises
    nothing, keeps the version, records no audit entry and adds no undo step, so a client
    that re-sends what it loaded does not invalidate other open editors.
    """
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        document = annotation.document
        after = _replacement_rows(document, spans, {(row[0], row[1], row[2]): row for row in before})
        if after == before:
            return EditResult(annotation, [], "No changes.", after=before)
        _restore(annotation, after)
        old_keys = {(row[0], row[1], row[2]) for row in before}
        new_keys = {(row[0], row[1], row[2]) for row in after}
        message = f"Replaced spans: {len(new_keys - old_keys)} added, {len(old_keys - new_keys)} removed."
        result = _commit(annotation, "replace", before, _differences(before, after), message)
        _audit(annotation, "annotation.replace", annotation, before=before, after=result.after)
        return result


def _replacement_rows(document: Document, spans, existing: dict[tuple, SpanRow]) -> list[SpanRow]:
    """The span rows `spans` stand for, ordered by start; `EditRejected` for the first bad one."""
    text_length = len(document.text)
    placed = []
    for number, (start, end, label) in enumerate(spans, 1):
        # A JSON body may carry floats, strings or booleans: answer those with a 400, not a 500.
        if not all(isinstance(offset, int) and not isinstance(offset, bool) for offset in (start, end)):
            problem = "start and end must be whole character offsets."
        elif label.project_id != document.project_id:
            problem = f"{label.name} is not a label of this project."
        elif start >= end:
            problem = "is empty." if start == end else "ends before it starts."
        elif start < 0 or end > text_length:
            problem = f"is outside the text (0–{text_length})."
        else:
            problem = _edge_problem(document, start, end)
        if problem:
            raise EditRejected(f"Span {number} {_where(start, end, label)}: {problem}")
        placed.append(_Placed(start, end, number, label))
    placed.sort()
    # Sorted by start, any overlap shows up between neighbours.
    for earlier, later in zip(placed, placed[1:]):
        if later.start < earlier.end:
            # Reported under the one listed later, so the message reads in the client's order.
            first, second = sorted([earlier, later], key=lambda span: span.number)
            raise EditRejected(
                f"Span {second.number} {_where(second.start, second.end, second.label)}: overlaps"
                f" span {first.number} {_where(first.start, first.end, first.label)}; spans may not overlap."
            )
    return [
        existing.get((start, end, label.pk)) or [start, end, label.pk, Span.Source.MANUAL.value, None, False]
        for start, end, _, label in placed
    ]


class _Placed(NamedTuple):
    start: int
    end: int
    number: int  # 1-based position in the caller's list
    label: Label


def _where(start, end, label: Label) -> str:
    return f"({label.name} {start}–{end})"


def _edge_problem(document: Document, start: int, end: int) -> str:
    """Why start or end is off the token grid, naming the nearest tokens; "" when both are on it."""
    starts, ends, text = document.token_starts, document.token_ends, document.text

    def token(index):
        return f'"{_excerpt(text, starts[index], ends[index])}" ({starts[index]}–{ends[index]})'

    edges = "; spans must start and end on token edges."
    at = bisect_right(starts, start) - 1  # the last token starting at or before `start`
    if at < 0 or starts[at] != start:
        if at >= 0 and start < ends[at]:
            return f"starts inside the token {token(at)}{edges}"
        if at + 1 < len(starts):
            return f"starts in the space before the token {token(at + 1)}{edges}"
        return f"starts after the last token {token(at)}{edges}"
    # With `start` on token i, `at` >= i, so a gap found below always has a token before it.
    at = bisect_left(ends, end)  # the first token ending at or after `end`
    if at == len(ends) or ends[at] != end:
        if at < len(ends) and starts[at] < end:
            return f"ends inside the token {token(at)}{edges}"
        return f"ends in the space after the token {token(at - 1)}{edges}"
    return ""


def undo(annotation: Annotation, *, version: int) -> EditResult:
    return _step_history(annotation, version=version, backwards=True)


def redo(annotation: Annotation, *, version: int) -> EditResult:
    return _step_history(annotation, version=version, backwards=False)


def _step_history(annotation: Annotation, *, version: int, backwards: bool) -> EditResult:
    """Undo the latest applied change, or redo the earliest undone one."""
    with transaction.atomic():
        annotation, before = _lock(annotation, version)
        history = annotation.changes.filter(undone=not backwards)
        change = (history.order_by("-id") if backwards else history.order_by("id")).first()
        if change is None:
            raise EditRejected(f"Nothing to {'undo' if backwards else 'redo'}.")
        target = change.before if backwards else change.after
        labels = {row[2] for row in target}
        if len(labels) != Label.objects.filter(pk__in=labels).count():
            raise EditRejected(
                f"Cannot {'undo' if backwards else 'redo'} {change.action}: it used a label deleted since."
            )
        _restore(annotation, target)
        touched = _differences(before, target)
        if change.decisions:
            touched += assistant().replay_decisions(annotation, change.decisions, undo=backwards)
        change.undone = backwards
        change.save(update_fields=["undone"])
        _audit(
            annotation, "annotation.undo" if backwards else "annotation.redo", annotation, before=before, after=target
        )
        verb = "Undid" if backwards else "Redid"
        return _finish(annotation, touched, f"{verb} {change.action}.")


def submit(annotation: Annotation, *, version: int) -> EditResult:
    with transaction.atomic():
        annotation, _ = _lock(annotation, version)
        if annotation.status == Annotation.Status.IN_PROGRESS:
            annotation.status = Annotation.Status.SUBMITTED
            annotation.submitted_at = timezone.now()
            _audit(annotation, "annotation.status", annotation, before="in_progress", after="submitted")
        annotation.version += 1
        annotation.save(update_fields=["status", "submitted_at", "version", "updated_at"])
        return EditResult(annotation, [], "Submitted.")


def _lock(annotation: Annotation, version: int) -> tuple[Annotation, list[SpanRow]]:
    locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if locked.version != version:
        raise VersionConflict(locked.version)
    locked.document = annotation.document  # already loaded by the caller; the text is large
    if Annotation.annotator.is_cached(annotation):
        locked.annotator = annotation.annotator
    return locked, _snapshot(locked)


def _audit(annotation: Annotation, action: str, obj, *, before=None, after=None) -> None:
    record(
        annotation.annotator,
        action,
        project_id=annotation.document.project_id,
        document_id=annotation.document_id,
        obj=obj,
        before=before,
        after=after,
    )


def _span(annotation: Annotation, span_id: int) -> Span:
    span = annotation.spans.select_related("label").filter(pk=span_id).first()
    if span is None:
        raise EditRejected("That span no longer exists.")
    return span


def _snapshot(annotation: Annotation) -> list[SpanRow]:
    return [
        list(row)
        for row in annotation.spans.order_by("start").values_list(
            "start", "end", "label_id", "source", "model_version_id", "edited_before_accept"
        )
    ]


def _restore(annotation: Annotation, rows: list[SpanRow]) -> None:
    annotation.spans.all().delete()
    Span.objects.bulk_create(
        Span(
            annotation=annotation,
            start=start,
            end=end,
            label_id=label_id,
            source=source,
            model_version_id=model_version_id,
            edited_before_accept=edited,
        )
        for start, end, label_id, source, model_version_id, edited in rows
    )


def _commit(annotation, action, before, touched, message, *, decisions=None) -> EditResult:
    """Record a new edit: it ends any redo branch."""
    annotation.changes.filter(undone=True).delete()
    result = _finish(annotation, touched, message)
    AnnotationChange.objects.create(
        annotation=annotation, action=action, before=before, after=result.after, decisions=decisions or {}
    )
    return result


def _finish(annotation: Annotation, touched, message) -> EditResult:
    document = annotation.document
    rows = _span_rows(annotation.pk)
    annotation.bio_tags = spans_to_tags(
        document.token_starts, document.token_ends, [(start, end, name) for start, end, name, *_ in rows]
    )
    annotation.version += 1
    annotation.save(update_fields=["bio_tags", "version", "updated_at"])
    after = [[start, end, *provenance] for start, end, _, *provenance in rows]
    return EditResult(annotation, touched, message, after=after)


def _span_rows(annotation_id: int) -> list[tuple]:
    """(start, end, label name, label id, source, model version id, edited) for each span.

    Plain rows, not model instances: a long document has hundreds of spans, and every edit
    reads them all. The key-share lock on their labels makes a rename (which locks its label
    for update) wait until this edit commits, or makes this read wait for the rename and then
    see the new name, so tags are never written with a name renamed meanwhile.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.start, s."end", l.name, s.label_id, s.source, s.model_version_id, s.edited_before_accept
              FROM {Span._meta.db_table} s JOIN {Label._meta.db_table} l ON l.id = s.label_id
             WHERE s.annotation_id = %s
             ORDER BY s.start
               FOR KEY SHARE OF l
            """,
            [annotation_id],
        )
        return cursor.fetchall()


def _differences(before: list[SpanRow], after: list[SpanRow]) -> list[tuple[int, int]]:
    old, new = {tuple(row) for row in before}, {tuple(row) for row in after}
    return sorted((row[0], row[1]) for row in old ^ new)


def _excerpt(text: str, start: int, end: int, limit: int = 40) -> str:
    excerpt = " ".join(text[start:end].split())
    return excerpt if len(excerpt) <= limit else excerpt[: limit - 1] + "…"
