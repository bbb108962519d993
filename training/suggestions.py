"""Reading model suggestions: which ones an annotator still has to decide on. Nothing here
writes; what annotators do with suggestions is in `training.decisions`."""

from django.db.models import OuterRef, Q, Subquery

from annotation import editing
from annotation.models import Annotation, Document
from training.models import ModelVersion, Suggestion, SuggestionDecision
from training.thresholds import ShownFrom, shown_from

REJECTED = SuggestionDecision.Status.REJECTED


def suggestions_on(
    document: Document,
    user,
    annotation: Annotation | None,
    version: ModelVersion | None,
    shown: ShownFrom | None = None,
) -> tuple[list[Suggestion], list[Suggestion]]:
    """In one query, the suggestions shown beside model `version` that `user` still has to
    decide on (from the confidence `shown` says for their label, by default what
    `thresholds.shown_from` gives `user`; not overlapping their own spans in `annotation`),
    and those they rejected, which "show rejected" can bring back."""
    if shown is None:
        shown = shown_from(document.project, version, user)
    decision = SuggestionDecision.objects.filter(suggestion=OuterRef("pk"), user=user).values("status")[:1]
    rows = list(
        Suggestion.objects.shown_with(version)
        .filter(document=document)
        .annotate(decision=Subquery(decision))
        .filter(Q(decision__isnull=True) & shown.condition() | Q(decision=REJECTED))
        .select_related("label")
        .order_by("start", "pk")
    )
    undecided = [s for s in rows if s.decision is None]
    spans = list(annotation.spans.values_list("start", "end")) if annotation and undecided else []
    visible = [s for s in undecided if not any(s.start < end and start < s.end for start, end in spans)]
    return visible, [s for s in rows if s.decision == REJECTED]


def visible_suggestions(
    document: Document, user, annotation: Annotation | None, version: ModelVersion | None
) -> list[Suggestion]:
    return suggestions_on(document, user, annotation, version)[0]


def pending_suggestion(document: Document, user, suggestion_id: int) -> Suggestion:
    suggestion = (
        Suggestion.objects.open_for(user)
        .filter(pk=suggestion_id, document=document)
        .select_related("label", "model_version")
        .first()
    )
    if suggestion is None:
        raise editing.EditRejected("That suggestion was already accepted or rejected.")
    return suggestion


def suggestion_touching(document: Document, user, start: int, end: int) -> Suggestion | None:
    """A suggestion of the active model that `user` has not decided on, overlapping
    [start, end): tagging there by hand accepts it with edited edges or label."""
    # The document's suggestions are its project's, so "the active model's" needs no query of its own.
    return (
        Suggestion.objects.open_for(user)
        .filter(Q(model_version__is_active=True) | Q(model_version__isnull=True))
        .filter(document=document, start__lt=end, end__gt=start)
        .select_related("label", "model_version")
        .first()
    )
