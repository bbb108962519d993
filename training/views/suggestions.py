"""Accepting and rejecting the model's suggestions on the labelling page. Each is an edit of
the annotator's annotation, answered with the fragments it changed like any other edit."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_POST

from annotation.access import document_for, project_for
from annotation.views.labelling import edit, label_from, redraw
from training import decisions
from training.models import ModelVersion
from training.suggestions import pending_suggestion
from training.thresholds import BadThreshold, choose_threshold, parse_threshold, shown_from, threshold_control


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


@require_POST
def threshold(request, project_id):
    """The threshold control: show this person the project's suggestions from the confidence
    they chose, or (`choice=model`) from the model's thresholds again. From the labelling page
    (with `document`), the answer redraws that document's suggestions; from "Try it", it is
    the control itself, which tells the page to predict again."""
    project = project_for(request.user, project_id)
    document = _document_named(project, request.POST.get("document", ""))
    error = ""
    try:
        chosen = None if request.POST.get("choice") == "model" else parse_threshold(request.POST.get("threshold"))
    except BadThreshold as bad:
        error = str(bad)
    else:
        choose_threshold(project, request.user, chosen)
    if document is not None:
        if error:
            return redraw(request, document, message=error, level="error", status=400)
        shown = "your own threshold" if chosen is not None else "the model's thresholds"
        return redraw(request, document, message=f"Suggestions now show from {shown}.")
    shown = shown_from(project, ModelVersion.objects.active_for(project), request.user)
    context = {"project_id": project.pk, "error": error, **threshold_control(project, shown)}
    response = render(request, "training/partials/threshold_control.html", context)
    if not error:
        response["HX-Trigger"] = "threshold-changed"
    return response


def _document_named(project, value: str):
    """The labelling page's document the control was moved on; None from "Try it"."""
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:  # no primary key is longer
        raise Http404("No such document in your queue.")
    return document_for(project, int(value))
