"""Reading model suggestions: which ones an annotator still has to decide on. Nothing here
writes; what annotators do with suggestions is in `training.decisions`."""

from annotation import editing
from annotation.models import Annotation, Document
from training.models import ModelVersion, Suggestion


def visible_suggestions(
    document: Document, user, annotation: Annotation | None, version: ModelVersion | None
) -> list[Suggestion]:
    """The active `version`'s suggestions above the project's threshold that `user` has not
    decided on and that do not overlap their own spans (`annotation`'s)."""
    suggestions = list(
        Suggestion.objects.open_for(user)
        .shown_with(version)
        .filter(document=document, confidence__gte=document.project.suggestion_threshold)
        .select_related("label")
    )
    spans = list(annotation.spans.values_list("start", "end")) if annotation and suggestions else []
    return [s for s in suggestions if not any(s.start < end and start < s.end for start, end in spans)]


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
    version = ModelVersion.objects.active_for(document.project)
    return (
        Suggestion.objects.open_for(user)
        .shown_with(version)
        .filter(document=document, start__lt=end, end__gt=start)
        .select_related("label", "model_version")
        .first()
    )
