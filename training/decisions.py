"""What annotators do with suggestions: see them, accept them (as they are or edited) and
reject them, one decision per annotator, each audited."""

from django.db import transaction
from django.utils import timezone

from annotation import editing
from annotation.models import Annotation, Label, Span
from studio.audit import record
from training.models import ModelVersion, Suggestion, SuggestionDecision
from training.suggestions import suggestions_on, visible_suggestions

Decision = SuggestionDecision.Status
# A step's decision that took a rejection back ("show rejected"): undoing it rejects again.
RESTORED = "restored"


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
    status = Decision.EDITED if edited else Decision.ACCEPTED
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
            decisions={str(suggestion.pk): status},
        )
        _decide(suggestion, status, user)
    result.touched.append((suggestion.start, suggestion.end))
    result.message = f"Accepted {label.name}{' after an edit' if edited else ''}."
    return result


def reject(annotation: Annotation, suggestion: Suggestion, *, version: int, user) -> editing.EditResult:
    return _reject(annotation, [suggestion], version=version, user=user, message="Suggestion rejected.")


def _reject(annotation: Annotation, suggestions: list[Suggestion], *, version: int, user, message: str):
    """Rejections are a step of the annotation's history: Ctrl+Z brings the suggestions back."""
    with transaction.atomic():
        result = editing.record_decisions(
            annotation,
            version=version,
            decisions={str(s.pk): Decision.REJECTED for s in suggestions},
            touched=[(s.start, s.end) for s in suggestions],
            message=message,
        )
        for suggestion in suggestions:
            _decide(suggestion, Decision.REJECTED, user)
    return result


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
    if not suggestions:
        raise editing.EditRejected("There are no suggestions to reject.")
    return _reject(
        annotation, suggestions, version=version, user=user, message=f"Rejected {len(suggestions)} suggestions."
    )


def restore(annotation: Annotation, suggestion_ids: list[int] | None, *, version: int, user) -> editing.EditResult:
    """Show rejected suggestions again (all of them when `suggestion_ids` is None), as a step
    of the annotation's history."""
    document = annotation.document
    rejected = suggestions_on(document, user, None, ModelVersion.objects.active_for(document.project))[1]
    if suggestion_ids is not None:
        rejected = [s for s in rejected if s.pk in suggestion_ids]
    if not rejected:
        raise editing.EditRejected("There are no rejected suggestions to show again.")
    with transaction.atomic():
        result = editing.record_decisions(
            annotation,
            version=version,
            decisions={str(s.pk): RESTORED for s in rejected},
            touched=[(s.start, s.end) for s in rejected],
            message=f"{len(rejected)} rejected suggestion{'s' if len(rejected) != 1 else ''} shown again.",
            action="restore",
        )
        for suggestion in rejected:
            _undecide(suggestion, user, Decision.REJECTED)
    return result


def replay(annotation: Annotation, decisions: dict, *, undo: bool) -> list[tuple[int, int]]:
    """Take back an undone step's decisions (the suggestions come back, or a shown-again one
    is rejected again), or make them again."""
    user = annotation.annotator
    suggestions = list(Suggestion.objects.filter(pk__in=[int(pk) for pk in decisions]).select_related("label"))
    for suggestion in suggestions:
        made = decisions[str(suggestion.pk)]
        restored = made == RESTORED
        if undo != restored:
            _undecide(suggestion, user, Decision.REJECTED if restored else made)
        else:
            _decide(suggestion, Decision.REJECTED if restored else made, user)
    return [(s.start, s.end) for s in suggestions]


def _undecide(suggestion: Suggestion, user, decision: str) -> None:
    SuggestionDecision.objects.filter(suggestion=suggestion, user=user).delete()
    record(
        user,
        "suggestion.undecided",
        project_id=suggestion.label.project_id,
        document_id=suggestion.document_id,
        obj=suggestion,
        before={"decision": decision},
    )


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
