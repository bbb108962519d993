"""The review page: every annotator's submitted version side by side, what they agree on, and
the document's gold annotation, built here and marked reviewed; "Next disagreement" walks the
documents whose annotators differ and that nobody has reviewed yet."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation import editing
from annotation import review as adjudication
from annotation.access import Role, project_for
from annotation.models import Document
from annotation.rendering import SpanView, render_text
from studio import access_log


def _reviewed_document(request, project_id, document_id):
    project = project_for(request.user, project_id, Role.REVIEWER)
    document = get_object_or_404(Document, pk=document_id, project=project)
    document.project = project
    return project, document


@require_GET
def review(request, project_id, document_id):
    project, document = _reviewed_document(request, project_id, document_id)
    access_log.record(
        request.user,
        access_log.Action.OPEN,
        via=access_log.Via.PAGE,
        project=project,
        documents=[document],
        detail="review page",
    )
    versions = adjudication.submitted_versions(document)
    agreed = adjudication.agreed(versions)
    gold = adjudication.gold_of(document)
    gold_spans = list(gold.spans.order_by("start").select_related("label")) if gold else []
    in_gold = {(s.start, s.end, s.label.name) for s in gold_spans}
    colours = {label.name: label.color for label in project.labels.all()}

    def rendered(marks):
        return render_text(document.text, document.token_starts, document.token_ends, marks)

    candidates = []
    for annotator, mentions in versions:
        marks = [SpanView(i, s, e, label, colours.get(label, "#888888")) for i, (s, e, label) in enumerate(mentions)]
        others = [
            {"start": s, "end": e, "label": label, "text": document.text[s:e], "in_gold": (s, e, label) in in_gold}
            for s, e, label in mentions
            if (s, e, label) not in agreed
        ]
        candidates.append(
            {
                "annotator": annotator,
                "is_yours": annotator == request.user.get_username(),
                "html": rendered(marks),
                "others": others,
            }
        )
    remaining = adjudication.unresolved_disagreements(project)
    left, is_disagreement = remaining.count(), remaining.filter(pk=document.pk).exists()
    context = {
        "project": project,
        "document": document,
        "versions": candidates,
        "agreed": [{"text": document.text[s:e], "label": label} for s, e, label in sorted(agreed)],
        "gold": gold,
        "gold_spans": [{"id": s.pk, "label": s.label.name, "text": document.text[s.start : s.end]} for s in gold_spans],
        "gold_html": rendered([SpanView(s.pk, s.start, s.end, s.label.name, s.label.color) for s in gold_spans]),
        "disagreements_left": left,
        "is_disagreement": is_disagreement,
        "other_disagreements": left - is_disagreement,
    }
    return render(request, "annotation/review.html", context)


@require_POST
def review_action(request, project_id, document_id, action):
    """Start the gold, add a version's span to it, drop one of its spans, or mark it reviewed;
    each answers with the review page again."""
    project, document = _reviewed_document(request, project_id, document_id)
    try:
        with transaction.atomic():  # a refused first change leaves no gold annotation started
            gold = adjudication.start_gold(document, request.user)
            if action == "take":
                mention = (int(request.POST["start"]), int(request.POST["end"]), request.POST["label"])
                adjudication.add_to_gold(gold, mention, version=gold.version)
                messages.success(
                    request, f"Added {mention[2]} “{document.text[mention[0] : mention[1]]}” to the gold annotation."
                )
            elif action == "drop":
                span_id = int(request.POST["span"])
                dropped = gold.spans.select_related("label").filter(pk=span_id).first()
                editing.delete_span(gold, version=gold.version, span_id=span_id)  # refuses a span not in the gold
                messages.success(
                    request,
                    f"Removed {dropped.label.name} “{document.text[dropped.start : dropped.end]}” from the gold annotation.",
                )
            elif action == "reviewed":
                messages.success(request, adjudication.mark_reviewed(gold, version=gold.version).message)
            else:
                messages.success(
                    request,
                    "Gold annotation started from the spans every annotator agreed on: add the rest from "
                    "the versions beside it, then mark it reviewed.",
                )
    except (KeyError, ValueError):
        messages.error(request, "That span was not sent whole; reload the page.")
    except editing.EditRejected as rejected:
        messages.error(request, str(rejected))
    return redirect("review", project.pk, document.pk)


@require_GET
def next_disagreement(request, project_id, document_id):
    project, document = _reviewed_document(request, project_id, document_id)
    target = adjudication.next_disagreement(project, after=document)
    if target is None:
        messages.info(request, "No other document has annotators who disagree and no review.")
        return redirect("review", project.pk, document.pk)
    return redirect("review", project.pk, target.pk)
