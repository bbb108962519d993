"""Span edits on one annotation: each in one transaction that checks and raises the version,
keeps `bio_tags` equal to the spans and records the change for undo/redo.

An edit touches only what it changes: one UPDATE locks the annotation and raises its version,
the changed span rows are written, `bio_tags` is rewritten over the changed tokens only, and
the history keeps the rows a step removed and added, which undo and redo apply backwards or
forwards. A span edit on a long document costs the same as on a short one."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from annotation.assistance import assistant
from annotation.models import Annotation, AnnotationChange, Document, Label, Span
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


SpanRow = list  # [start, end, label_id, source, model_version_id, edited_before_accept]
SPAN_COLUMNS = ("start", "end", "label_id", "source", "model_version_id", "edited_before_accept")


def own_annotation(document: Document, user) -> Annotation | None:
    """The person's own version of the document (not a gold annotation they adjudicated)."""
    return Annotation.objects.filter(document=document, annotator=user, is_gold=False).defer("bio_tags").first()


def annotation_for(document: Document, user) -> Annotation:
    # Edits never read the tags: they rewrite only the tokens they change.
    annotation, _ = Annotation.objects.defer("bio_tags").get_or_create(
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
        annotation = _lock(annotation, version)
        document = annotation.document
        if label.project_id != document.project_id:
            raise EditRejected(f"{label.name} is not a label of this project.")
        token_count = len(document.token_starts)
        if not 0 <= first_token <= last_token < token_count:
            raise EditRejected(f"Tokens {first_token}–{last_token} are outside this document's {token_count} tokens.")
        start, end = document.token_starts[first_token], document.token_ends[last_token]
        row = [start, end, label.pk, source, getattr(model_version, "pk", None), edited_before_accept]
        span = _insert_unless_overlapping(annotation, row)
        span.label = label
        _audit(annotation, "span.create", span, after=span_values(span))
        return _commit(
            annotation,
            "accept" if decisions else "add",
            [],
            [row],
            f'Tagged "{_excerpt(document.text, start, end)}" as {label.name}.',
            decisions=decisions,
        )


def _insert_unless_overlapping(annotation: Annotation, row: SpanRow) -> Span:
    """Insert the span in the same statement that looks for one it would overlap: the
    exclusion constraint stays the guard, this only spares the annotator a database error."""
    start, end = row[0], row[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Span._meta.db_table} (annotation_id, {", ".join(f'"{c}"' for c in SPAN_COLUMNS)}, created_at)
            SELECT %s, %s, %s, %s, %s, %s, %s, %s
             WHERE NOT EXISTS (SELECT 1 FROM {Span._meta.db_table}
                                WHERE annotation_id = %s AND start < %s AND "end" > %s)
            RETURNING id
            """,
            [annotation.pk, *row, timezone.now(), annotation.pk, end, start],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        clash = annotation.spans.filter(start__lt=end, end__gt=start).select_related("label").first()
        raise EditRejected(
            f'That overlaps {clash.label.name} "{_excerpt(annotation.document.text, clash.start, clash.end)}"'
            f" ({clash.start}–{clash.end}); the existing span stays."
        )
    return Span(pk=inserted[0], annotation=annotation, **dict(zip(SPAN_COLUMNS, row)))


def record_decisions(
    annotation: Annotation, *, version: int, decisions: dict, touched: list, message: str, action: str = "reject"
) -> EditResult:
    """A step that changes no span, only decisions on suggestions (a rejection, or showing
    rejected ones again): it takes a version and a place in the history like any edit, so
    Ctrl+Z takes it back."""
    with transaction.atomic():
        annotation = _lock(annotation, version)
        result = _commit(annotation, action, [], [], message, decisions=decisions)
        result.touched = list(touched)
        return result


def change_label(annotation: Annotation, *, version: int, span_id: int, label: Label) -> EditResult:
    with transaction.atomic():
        annotation = _lock(annotation, version)
        span = _span(annotation, span_id)
        if label.project_id != annotation.document.project_id:
            raise EditRejected(f"{label.name} is not a label of this project.")
        before_values, before_row = span_values(span), _row(span)
        span.label = label
        span.save(update_fields=["label"])
        _audit(annotation, "span.update", span, before=before_values, after=span_values(span))
        return _commit(annotation, "relabel", [before_row], [_row(span)], f"Changed to {label.name}.")


def delete_span(annotation: Annotation, *, version: int, span_id: int) -> EditResult:
    with transaction.atomic():
        annotation = _lock(annotation, version)
        span = _span(annotation, span_id)
        _audit(annotation, "span.delete", span, before=span_values(span))
        span.delete()
        return _commit(annotation, "delete", [_row(span)], [], "Span removed.")


class _Unchanged(Exception):
    """Raised inside an edit's transaction to roll back the version it raised."""


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
    try:
        with transaction.atomic():
            annotation = _lock(annotation, version)
            before = _snapshot(annotation)
            after = _replacement_rows(annotation.document, spans, {(row[0], row[1], row[2]): row for row in before})
            if after == before:
                raise _Unchanged
            removed, added = _difference(before, after), _difference(after, before)
            _apply(annotation, removed, added)
            old_keys = {(row[0], row[1], row[2]) for row in before}
            new_keys = {(row[0], row[1], row[2]) for row in after}
            message = f"Replaced spans: {len(new_keys - old_keys)} added, {len(old_keys - new_keys)} removed."
            _audit(annotation, "annotation.replace", annotation, before=before, after=after)
            return _commit(annotation, "replace", removed, added, message)
    except _Unchanged:
        annotation.version = version
        return EditResult(annotation, [], "No changes.")


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
        annotation = _lock(annotation, version)
        history = annotation.changes.filter(undone=not backwards)
        change = (history.order_by("-id") if backwards else history.order_by("id")).first()
        if change is None:
            raise EditRejected(f"Nothing to {'undo' if backwards else 'redo'}.")
        removed, added = (change.added, change.removed) if backwards else (change.removed, change.added)
        labels = {row[2] for row in added}
        if len(labels) != Label.objects.filter(pk__in=labels).count():
            raise EditRejected(
                f"Cannot {'undo' if backwards else 'redo'} {change.action}: it used a label deleted since."
            )
        _apply(annotation, removed, added)
        _retag(annotation, removed, added)
        touched = _ranges(removed + added)
        if change.decisions:
            touched += assistant().replay_decisions(annotation, change.decisions, undo=backwards)
        change.undone = backwards
        change.save(update_fields=["undone"])
        _audit(
            annotation, "annotation.undo" if backwards else "annotation.redo", annotation, before=removed, after=added
        )
        verb = "Undid" if backwards else "Redid"
        return EditResult(annotation, touched, f"{verb} {change.action}.")


def submit(annotation: Annotation, *, version: int) -> EditResult:
    with transaction.atomic():
        annotation = _lock(annotation, version)
        if annotation.status == Annotation.Status.IN_PROGRESS:
            annotation.status = Annotation.Status.SUBMITTED
            annotation.submitted_at = timezone.now()
            annotation.save(update_fields=["status", "submitted_at"])
            _audit(annotation, "annotation.status", annotation, before="in_progress", after="submitted")
        return EditResult(annotation, [], "Submitted.")


LOCKED_FIELDS = ("id", "document_id", "annotator_id", "status", "version", "updated_at", "submitted_at", "is_gold")


def _lock(annotation: Annotation, version: int) -> Annotation:
    """Lock the annotation's row and raise its version in one statement; `VersionConflict`
    when it is not at `version`. The row comes back without its tags, which no edit reads."""
    table = Annotation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET version = version + 1, updated_at = %s WHERE id = %s AND version = %s"
            f" RETURNING {', '.join(LOCKED_FIELDS)}",
            [timezone.now(), annotation.pk, version],
        )
        row = cursor.fetchone()
    if row is None:
        raise VersionConflict(Annotation.objects.values_list("version", flat=True).get(pk=annotation.pk))
    locked = Annotation.from_db(connection.alias, LOCKED_FIELDS, row)
    locked.document = annotation.document  # already loaded by the caller; the text is large
    if Annotation.annotator.is_cached(annotation):
        locked.annotator = annotation.annotator
    return locked


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
    span.annotation = annotation
    return span


def _row(span: Span) -> SpanRow:
    return [getattr(span, column) for column in SPAN_COLUMNS]


def _snapshot(annotation: Annotation) -> list[SpanRow]:
    return [list(row) for row in annotation.spans.order_by("start").values_list(*SPAN_COLUMNS)]


def _apply(annotation: Annotation, removed: list[SpanRow], added: list[SpanRow]) -> None:
    """Delete the `removed` rows and insert the `added` ones: a change, or a step of the
    history taken back (`removed` and `added` swapped)."""
    if removed:
        keys = [(start, end, label_id) for start, end, label_id, *_ in removed]
        with connection.cursor() as cursor:
            cursor.execute(
                f'DELETE FROM {Span._meta.db_table} WHERE annotation_id = %s AND (start, "end", label_id)'
                " IN (SELECT * FROM unnest(%s::integer[], %s::integer[], %s::bigint[]))",
                [annotation.pk, *map(list, zip(*keys))],
            )
            deleted = cursor.rowcount
        if deleted != len(removed):
            raise EditRejected("The spans changed since that step; it cannot be taken back or made again.")
    Span.objects.bulk_create(Span(annotation=annotation, **dict(zip(SPAN_COLUMNS, row))) for row in added)


def _commit(annotation, action, removed, added, message, *, decisions=None) -> EditResult:
    """Record a new edit: it ends any redo branch. `bio_tags` follows the changed rows."""
    _retag(annotation, removed, added)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH redo_branch AS (DELETE FROM {AnnotationChange._meta.db_table} WHERE annotation_id = %s AND undone)
            INSERT INTO {AnnotationChange._meta.db_table}
                   (annotation_id, action, removed, added, decisions, undone, created_at)
            VALUES (%s, %s, %s, %s, %s, false, %s)
            """,
            [
                annotation.pk,
                annotation.pk,
                action,
                Jsonb(removed),
                Jsonb(added),
                Jsonb(decisions or {}),
                timezone.now(),
            ],
        )
    return EditResult(annotation, _ranges(removed + added), message)


def _retag(annotation: Annotation, removed: list[SpanRow], added: list[SpanRow]) -> None:
    """Rewrite `bio_tags` over the tokens of the changed rows only, in one UPDATE of array
    slices: O where a removed span was, then B-/I- tags where an added one is.

    The same statement reads the label names with a key-share lock on their rows: a rename
    (which locks its label for update) either committed before, and its new name is read here,
    or waits until this edit commits and then rewrites the tags written here. (The foreign
    keys' own checks are deferred to the commit, too late to hold a rename back.)"""
    starts, ends = annotation.document.token_starts, annotation.document.token_ends
    tags: dict[int, tuple[str, int | None]] = {}  # token -> (prefix, label id)
    for start, end, *_ in removed:
        for token in range(bisect_left(starts, start), bisect_left(ends, end) + 1):
            tags[token] = ("O", None)
    for start, end, label_id, *_ in added:
        first = bisect_left(starts, start)
        for token in range(first, bisect_left(ends, end) + 1):
            tags[token] = ("B-" if token == first else "I-", label_id)
    if not tags:
        return
    assignments, params = [], []
    for first, last in _runs(sorted(tags)):
        pieces = []
        for token in range(first, last + 1):
            prefix, label_id = tags[token]
            if label_id is None:
                pieces.append("'O'")
            else:
                pieces.append("%s || (SELECT name FROM names WHERE id = %s)")
                params += [prefix, label_id]
        assignments.append(f"bio_tags[{first + 1}:{last + 1}] = ARRAY[{', '.join(pieces)}]::varchar[]")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH names AS (SELECT id, name FROM {Label._meta.db_table} WHERE id = ANY(%s::bigint[]) FOR KEY SHARE)"
            f" UPDATE {Annotation._meta.db_table} SET {', '.join(assignments)} WHERE id = %s",
            [sorted({row[2] for row in added}), *params, annotation.pk],
        )


def _runs(tokens: list[int]) -> list[tuple[int, int]]:
    """Sorted token indices as (first, last) runs of consecutive ones."""
    runs = []
    for token in tokens:
        if runs and runs[-1][1] == token - 1:
            runs[-1] = (runs[-1][0], token)
        else:
            runs.append((token, token))
    return runs


def _difference(rows: list[SpanRow], others: list[SpanRow]) -> list[SpanRow]:
    """The rows of `rows` not in `others`, in order."""
    other_keys = {tuple(row) for row in others}
    return [row for row in rows if tuple(row) not in other_keys]


def _ranges(rows: list[SpanRow]) -> list[tuple[int, int]]:
    return sorted((row[0], row[1]) for row in rows)


def _excerpt(text: str, start: int, end: int, limit: int = 40) -> str:
    excerpt = " ".join(text[start:end].split())
    return excerpt if len(excerpt) <= limit else excerpt[: limit - 1] + "…"
