"""What annotators do with suggestions: see them, accept them (as they are or edited) and
reject them, one decision per annotator, each audited."""

from django.db import transaction
from django.utils import timezone

from annotation import editing
from annotation.models import Annotation, Label, Span
from studio.audit import record
from training.models import ModelVersion, Suggestion, SuggestionDecision
from training.suggestions import visible_suggestions

Decision = SuggestionDecision.Status


def mark_shown(suggestions: list[Suggestion]) -> None:
    """Remember when each suggestion was first shown: the statistics count only those."""
    unseen = [s.pk for s in suggestions if s.shown_at is None]
    if unseen:
        Suggestion.objects.filter(pk__in=unseen, shown_at__isnull=True).update(shown_at=timezone.now())


def accept(
    annotation: Annotation,
    suggestion: Suggestion,
    *,
    version: int,
    user,
    label: Label | None = None,
    first_token: int | None = None,
    last_token: int | None = None,
) -> editing.EditResult:
    """Turn a suggestion into a span; a changed label or changed edges count as an edit."""
    label = label or suggestion.label
    first = suggestion.first_token if first_token is None else first_token
    last = suggestion.last_token if last_token is None else last_token
    edited = label.pk != suggestion.label_id or (first, last) != (suggestion.first_token, suggestion.last_token)
    with transaction.atomic():
        result = editing.add_span(
            annotation,
            version=version,
            first_token=first,
            last_token=last,
            label=label,
            source=Span.Source.SUGGESTION,
            model_version=suggestion.model_version,
            edited_before_accept=edited,
        )
        _decide(suggestion, Decision.EDITED if edited else Decision.ACCEPTED, user)
    result.touched.append((suggestion.start, suggestion.end))
    result.message = f"Accepted {label.name}{' after an edit' if edited else ''}."
    return result


def reject(annotation: Annotation, suggestion: Suggestion, *, version: int, user) -> editing.EditResult:
    if annotation.version != version:
        raise editing.VersionConflict(annotation.version)
    _decide(suggestion, Decision.REJECTED, user)
    return editing.EditResult(annotation, [(suggestion.start, suggestion.end)], "Suggestion rejected.")


def accept_all(annotation: Annotation, *, version: int, user) -> editing.EditResult:
    document = annotation.document
    suggestions = visible_suggestions(document, user, annotation, ModelVersion.objects.active_for(document.project))
    if not suggestions:
        raise editing.EditRejected("There are no suggestions to accept.")
    touched = []
    for suggestion in suggestions:
        result = accept(annotation, suggestion, version=version, user=user)
        annotation, version = result.annotation, result.annotation.version
        touched += result.touched
    return editing.EditResult(annotation, touched, f"Accepted {len(suggestions)} suggestions.")


def reject_all(annotation: Annotation, *, version: int, user) -> editing.EditResult:
    if annotation.version != version:
        raise editing.VersionConflict(annotation.version)
    document = annotation.document
    suggestions = visible_suggestions(document, user, annotation, ModelVersion.objects.active_for(document.project))
    for suggestion in suggestions:
        _decide(suggestion, Decision.REJECTED, user)
    touched = [(s.start, s.end) for s in suggestions]
    return editing.EditResult(annotation, touched, f"Rejected {len(suggestions)} suggestions.")


def _decide(suggestion: Suggestion, status: str, user) -> None:
    SuggestionDecision.objects.update_or_create(
        suggestion=suggestion, user=user, defaults={"status": status, "decided_at": timezone.now()}
    )
    record(
        user,
        f"suggestion.{status}",
        project_id=suggestion.label.project_id,
        document_id=suggestion.document_id,
        obj=suggestion,
        after={"label": suggestion.label.name, "start": suggestion.start, "end": suggestion.end},
    )
    if suggestion.shown_at is None:
        Suggestion.objects.filter(pk=suggestion.pk, shown_at__isnull=True).update(shown_at=timezone.now())
