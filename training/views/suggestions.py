"""Accepting and rejecting the model's suggestions on the labelling page. Each is an edit of
the annotator's annotation, answered with the fragments it changed like any other edit."""

from django.views.decorators.http import require_POST

from annotation.views.labelling import edit, label_from
from training import decisions
from training.suggestions import pending_suggestion


@require_POST
def accept(request, project_id, document_id, suggestion_id):
    def operation(annotation, version, data):
        suggestion = pending_suggestion(annotation.document, request.user, suggestion_id)
        label = label_from(annotation.document, data) if data.get("label") else None
        return decisions.accept(annotation, suggestion, version=version, user=request.user, label=label)

    return edit(request, project_id, document_id, operation)


@require_POST
def reject(request, project_id, document_id, suggestion_id):
    def operation(annotation, version, data):
        suggestion = pending_suggestion(annotation.document, request.user, suggestion_id)
        return decisions.reject(annotation, suggestion, version=version, user=request.user)

    return edit(request, project_id, document_id, operation)


@require_POST
def restore(request, project_id, document_id):
    """Show rejected suggestions again: the one named, or all of them."""

    def operation(annotation, version, data):
        chosen = [int(data["suggestion"])] if data.get("suggestion", "").isdigit() else None
        return decisions.restore(annotation, chosen, version=version, user=request.user)

    return edit(request, project_id, document_id, operation)


@require_POST
def decide_all(request, project_id, document_id, decision):
    """Accept or reject every suggestion still open to this annotator on the document."""
    decide = decisions.accept_all if decision == "accept" else decisions.reject_all
    return edit(
        request,
        project_id,
        document_id,
        lambda annotation, version, data: decide(annotation, version=version, user=request.user),
    )
