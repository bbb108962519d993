"""The labelling page and its edit endpoints. Each edit answers with htmx out-of-band
fragments: the text blocks it touched, the legend and the editor state.

The same page and endpoints edit a document's gold annotation for a reviewer (`gold=True`,
under .../gold/): the same editor, without model suggestions, and "submit" marks it reviewed."""

from collections import Counter
from functools import partial

from django.contrib import messages
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import editing, ordering
from annotation import review as adjudication
from annotation.access import Role, document_for, project_for
from annotation.assistance import assistant
from annotation.markdown import render_markdown
from annotation.models import Annotation, Document, Label
from annotation.rendering import SpanView, blocks, render_block, render_text, touched_blocks
from annotation.services import set_evaluation_split
from studio import access_log


def _document(request, project_id, document_id, gold=False) -> Document:
    project = project_for(request.user, project_id, Role.REVIEWER if gold else Role.ANNOTATOR)
    return document_for(project, document_id, Document.objects.defer("search"))


def _annotation(document, user, gold=False) -> Annotation | None:
    return adjudication.gold_of(document) if gold else editing.own_annotation(document, user)


def _marks(document, user, annotation, gold=False) -> tuple[list[SpanView], dict]:
    """The annotator's spans and the suggestions still open to them, in text order, and the
    context of the assistant's panel beside the text (a gold annotation is built from the
    annotators' work, not from a model's)."""
    marks, panel = [], {}
    helper = assistant()
    if not gold:
        marks, panel = helper.help(document, user, annotation)
    if helper.panel_template and not gold:
        panel = {"panel_template": helper.panel_template, **panel}
    if annotation is not None:
        rows = annotation.spans.order_by("start").values_list("pk", "start", "end", "label__name", "label__color")
        marks += [SpanView(*row) for row in rows]
    return sorted(marks, key=lambda mark: mark.start), panel


def _legend(document, marks):
    counts = Counter(mark.label for mark in marks if not mark.is_suggestion)
    return [(label, counts.get(label.name, 0)) for label in document.project.labels.all()]


def _edit_urls(document, gold: bool) -> dict:
    """Where the page sends its edits: the annotator's own version, or the gold annotation."""
    prefix, args = ("gold_" if gold else ""), [document.project_id, document.pk]
    return {
        "add": reverse(prefix + "span_add", args=args),
        "relabel": reverse(prefix + "span_relabel", args=[*args, 0]),
        "delete": reverse(prefix + "span_delete", args=[*args, 0]),
        "undo": reverse(prefix + "annotation_undo", args=args),
        "redo": reverse(prefix + "annotation_redo", args=args),
        "submit": reverse(prefix + "annotation_submit", args=args),
    }


def _editor_state(annotation) -> dict:
    return {
        "version": annotation.version if annotation else 1,
        "status": annotation.get_status_display() if annotation else "Not started",
        "unsubmitted": annotation is not None and annotation.status == Annotation.Status.IN_PROGRESS,
    }


def _progress(document, user):
    total = Document.objects.filter(project_id=document.project_id).count()
    done = Annotation.objects.filter(
        document__project_id=document.project_id,
        annotator=user,
        is_gold=False,
        status__in=[Annotation.Status.SUBMITTED, Annotation.Status.REVIEWED],
    ).count()
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}


def _neighbour(document, user, *, forward: bool) -> Document | None:
    if forward:
        return ordering.next_document(document.project, user, current=document)
    siblings = Document.objects.filter(project_id=document.project_id).only("pk")
    return siblings.filter(pk__lt=document.pk).order_by("-pk").first()


@require_GET
def annotate(request, project_id, document_id, gold=False):
    document = _document(request, project_id, document_id, gold)
    annotation = _annotation(document, request.user, gold)
    if gold and annotation is None:
        messages.info(request, "Start the gold annotation here first; then edit it on the labelling page.")
        return redirect("review", project_id, document_id)
    access_log.record(
        request.user,
        access_log.Action.OPEN,
        via=access_log.Via.PAGE,
        project=document.project,
        documents=[document],
        detail="gold on the labelling page" if gold else "labelling page",
    )
    spans, panel = _marks(document, request.user, annotation, gold)
    context = {
        "project": document.project,
        "document": document,
        "annotation": annotation,
        "gold": gold,
        "urls": _edit_urls(document, gold),
        **_editor_state(annotation),
        "text_html": render_text(document.text, document.token_starts, document.token_ends, spans),
        "labels": document.project.labels.all(),
        "legend": _legend(document, spans),
        "guidelines": render_markdown(document.project.guidelines),
        **panel,
    }
    if not gold:
        context |= {
            "progress": _progress(document, request.user),
            "previous": _neighbour(document, request.user, forward=False),
            "next": _neighbour(document, request.user, forward=True),
            "order_reason": ordering.reason(document.project, document),
        }
    return render(request, "annotation/annotate.html", context)


@require_GET
def neighbour(request, project_id, document_id, direction):
    document = _document(request, project_id, document_id)
    target = _neighbour(document, request.user, forward=direction == "next")
    if target is None:
        message = (
            "You have finished every other document of this project."
            if direction == "next"
            else "This is the first document of the project."
        )
        return HttpResponse(message, status=404, content_type="text/plain")
    url = reverse("annotate", args=[project_id, target.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)


def edit(request, project_id, document_id, operation, *, changes_progress=False, gold=False):
    """Run one edit and answer with the fragments it changed (409 redraws everything)."""
    document = _document(request, project_id, document_id, gold)
    # The edit's label, the legend and the threshold control all read the project's labels.
    prefetch_related_objects([document.project], "labels")
    answer = partial(_answer, request, document, gold=gold)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        return answer(message="The page sent no version; reload it.", level="error", status=400)
    try:
        with transaction.atomic():  # a refused first edit leaves no empty annotation behind
            annotation = (
                _gold_to_edit(document, request.user) if gold else editing.annotation_for(document, request.user)
            )
            result = operation(annotation, version, request.POST)
    except editing.VersionConflict:
        return answer(
            message="This document was changed elsewhere (another tab?). Showing the current "
            "version; everything that was saved is kept.",
            level="conflict",
            status=409,
            redraw_all=True,
        )
    except editing.EditRejected as rejected:
        return answer(message=str(rejected), level="error", status=400)
    return answer(
        message=result.message,
        touched=result.touched,
        annotation=result.annotation,
        with_progress=changes_progress and not gold,
    )


def _gold_to_edit(document, reviewer) -> Annotation:
    gold = adjudication.gold_of(document)
    if gold is None:
        raise editing.EditRejected("Start the gold annotation on the review page first.")
    # Changes are recorded under the reviewer who makes them; the row keeps who started it.
    gold.document, gold.annotator = document, reviewer
    return gold


def _answer(
    request,
    document,
    *,
    message,
    level="ok",
    status=200,
    touched=(),
    redraw_all=False,
    annotation=None,
    with_progress=True,
    gold=False,
):
    """The fragments an edit changed. Counting the annotator's progress costs two counts over
    the project, so edits that cannot change it leave the progress card as it is."""
    if annotation is None:
        annotation = _annotation(document, request.user, gold)
    spans, panel = _marks(document, request.user, annotation, gold)
    all_blocks = blocks(document.text, document.token_starts, document.token_ends)
    redraw = all_blocks if redraw_all else touched_blocks(all_blocks, list(touched))
    context = {
        "document": document,
        "blocks_html": [
            render_block(b, document.text, document.token_starts, document.token_ends, spans, oob=True) for b in redraw
        ],
        "legend": _legend(document, spans),
        **_editor_state(annotation),
        "progress": _progress(document, request.user) if with_progress and not gold else None,
        **panel,
        "message": message,
        "level": level,
    }
    html = render_to_string("annotation/partials/annotation_update.html", context, request=request)
    return HttpResponse(html, status=status)


def redraw(request, document, *, message, level="ok", status=200):
    """Every fragment of the page, as an edit answers: for a change outside the annotation that
    changes what the page shows (from what confidence suggestions show, say)."""
    return _answer(request, document, message=message, level=level, status=status, redraw_all=True, with_progress=False)


def _int(data, key) -> int:
    try:
        return int(data.get(key, ""))
    except ValueError:
        raise editing.EditRejected(f"Missing or bad {key.replace('_', ' ')}.") from None


def label_from(document, data) -> Label:
    chosen = _int(data, "label")
    label = next((label for label in document.project.labels.all() if label.pk == chosen), None)
    if label is None:
        raise editing.EditRejected("Pick one of the project's labels.")
    return label


@require_POST
def span_add(request, project_id, document_id, gold=False):
    def operation(annotation, version, data):
        document = annotation.document
        first, last, label = _int(data, "first"), _int(data, "last"), label_from(document, data)
        if 0 <= first <= last < len(document.token_starts) and not gold:
            accepted = assistant().accept_over(
                annotation, request.user, version=version, label=label, first_token=first, last_token=last
            )
            if accepted is not None:
                return accepted
        return editing.add_span(annotation, version=version, first_token=first, last_token=last, label=label)

    return edit(request, project_id, document_id, operation, gold=gold)


@require_POST
def span_relabel(request, project_id, document_id, span_id, gold=False):
    def operation(annotation, version, data):
        return editing.change_label(
            annotation, version=version, span_id=span_id, label=label_from(annotation.document, data)
        )

    return edit(request, project_id, document_id, operation, gold=gold)


@require_POST
def span_delete(request, project_id, document_id, span_id, gold=False):
    return edit(
        request,
        project_id,
        document_id,
        lambda annotation, version, data: editing.delete_span(annotation, version=version, span_id=span_id),
        gold=gold,
    )


@require_POST
def undo(request, project_id, document_id, gold=False):
    return edit(request, project_id, document_id, lambda a, version, data: editing.undo(a, version=version), gold=gold)


@require_POST
def redo(request, project_id, document_id, gold=False):
    return edit(request, project_id, document_id, lambda a, version, data: editing.redo(a, version=version), gold=gold)


@require_POST
def submit(request, project_id, document_id, gold=False):
    """Submit one's own version, or mark the gold annotation reviewed."""
    finish = adjudication.mark_reviewed if gold else editing.submit
    return edit(
        request,
        project_id,
        document_id,
        lambda a, version, data: finish(a, version=version),
        changes_progress=True,
        gold=gold,
    )


@require_GET
def start(request, project_id):
    """The first document this annotator has not submitted yet, in the project's order."""
    project = project_for(request.user, project_id)
    document = (
        ordering.next_document(project, request.user, current=None)
        or Document.objects.filter(project=project).order_by("pk").only("pk").first()
    )
    if document is None:
        return redirect("project_documents", project_id)
    return redirect("annotate", project_id, document.pk)


@require_POST
def evaluation_split(request, project_id, document_id):
    """Annotators may pin a document to the dev (evaluation) split, to training, or leave it
    to the hash."""
    document = _document(request, project_id, document_id)
    choice = request.POST.get("split", "")
    if choice not in {"dev", "train", "auto"}:
        return HttpResponse("Choose dev, train or auto.", status=400, content_type="text/plain")
    set_evaluation_split(document, {"dev": True, "train": False, "auto": None}[choice], actor=request.user)
    return render(
        request, "annotation/partials/evaluation_split.html", {"document": document, "project": document.project}
    )
