"""The labelling page and its edit endpoints. Each edit answers with htmx out-of-band
fragments: the text blocks it touched, the legend and the editor state."""

import re
from bisect import bisect_right
from collections import Counter

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import editing, ordering
from annotation.access import document_for, project_for
from annotation.assistance import assistant
from annotation.markdown import render_markdown
from annotation.models import Annotation, Document, Label
from annotation.rendering import SpanView, blocks, colour_class, render_block, touched_blocks
from annotation.services import set_evaluation_split


def _document(request, project_id, document_id) -> Document:
    return document_for(project_for(request.user, project_id), document_id)


def _annotation(document, user) -> Annotation | None:
    return editing.own_annotation(document, user)


def _marks(document, user, annotation) -> tuple[list[SpanView], dict]:
    """The annotator's spans and the suggestions still open to them, in text order, and the
    context of the assistant's panel beside the text."""
    helper = assistant()
    marks, panel = helper.help(document, user, annotation)
    if helper.panel_template:
        panel = {"panel_template": helper.panel_template, **panel}
    if annotation is not None:
        rows = annotation.spans.order_by("start").values_list("pk", "start", "end", "label__name", "label__color")
        marks += [SpanView(*row) for row in rows]
    return sorted(marks, key=lambda mark: mark.start), panel


def _legend(document, marks):
    counts = Counter(mark.label for mark in marks if not mark.is_suggestion)
    return [(label, counts.get(label.name, 0)) for label in document.project.labels.all()]


def _span_rows(document, marks) -> list[dict]:
    """The span list beside the text: each span's label, words and line, to jump back to."""
    text = document.text
    line_breaks = [match.start() for match in re.finditer("\n", text)]
    return [
        {
            "id": mark.id,
            "label": mark.label,
            "css_class": colour_class(mark.color),
            "text": " ".join(text[mark.start : mark.end].split()),
            "line": bisect_right(line_breaks, mark.start) + 1,
        }
        for mark in marks
        if not mark.is_suggestion
    ]


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
def annotate(request, project_id, document_id):
    document = _document(request, project_id, document_id)
    annotation = _annotation(document, request.user)
    spans, panel = _marks(document, request.user, annotation)
    text_blocks = blocks(document.text, document.token_starts, document.token_ends)
    context = {
        "project": document.project,
        "document": document,
        "annotation": annotation,
        **_editor_state(annotation),
        "text_html": "".join(
            render_block(b, document.text, document.token_starts, document.token_ends, spans) for b in text_blocks
        ),
        "labels": document.project.labels.all(),
        "legend": _legend(document, spans),
        "span_rows": _span_rows(document, spans),
        "progress": _progress(document, request.user),
        "guidelines": render_markdown(document.project.guidelines),
        "previous": _neighbour(document, request.user, forward=False),
        "next": _neighbour(document, request.user, forward=True),
        "order_reason": ordering.reason(document.project, document),
        **panel,
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


def edit(request, project_id, document_id, operation, *, changes_progress=False):
    """Run one edit and answer with the fragments it changed (409 redraws everything)."""
    document = _document(request, project_id, document_id)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        return _answer(request, document, message="The page sent no version; reload it.", level="error", status=400)
    try:
        with transaction.atomic():  # a refused first edit leaves no empty annotation behind
            annotation = editing.annotation_for(document, request.user)
            result = operation(annotation, version, request.POST)
    except editing.VersionConflict:
        return _answer(
            request,
            document,
            message="This document was changed elsewhere (another tab?). Showing the current "
            "version; everything that was saved is kept.",
            level="conflict",
            status=409,
            redraw_all=True,
        )
    except editing.EditRejected as rejected:
        return _answer(request, document, message=str(rejected), level="error", status=400)
    return _answer(
        request,
        document,
        message=result.message,
        touched=result.touched,
        annotation=result.annotation,
        with_progress=changes_progress,
    )


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
):
    """The fragments an edit changed. Counting the annotator's progress costs two counts over
    the project, so edits that cannot change it leave the progress card as it is."""
    if annotation is None:
        annotation = _annotation(document, request.user)
    spans, panel = _marks(document, request.user, annotation)
    all_blocks = blocks(document.text, document.token_starts, document.token_ends)
    redraw = all_blocks if redraw_all else touched_blocks(all_blocks, list(touched))
    context = {
        "document": document,
        "blocks_html": [
            render_block(b, document.text, document.token_starts, document.token_ends, spans, oob=True) for b in redraw
        ],
        "legend": _legend(document, spans),
        "span_rows": _span_rows(document, spans),
        **_editor_state(annotation),
        "progress": _progress(document, request.user) if with_progress else None,
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
    label = Label.objects.filter(project_id=document.project_id, pk=_int(data, "label")).first()
    if label is None:
        raise editing.EditRejected("Pick one of the project's labels.")
    return label


@require_POST
def span_add(request, project_id, document_id):
    def operation(annotation, version, data):
        document = annotation.document
        first, last, label = _int(data, "first"), _int(data, "last"), label_from(document, data)
        if 0 <= first <= last < len(document.token_starts):
            accepted = assistant().accept_over(
                annotation, request.user, version=version, label=label, first_token=first, last_token=last
            )
            if accepted is not None:
                return accepted
        return editing.add_span(annotation, version=version, first_token=first, last_token=last, label=label)

    return edit(request, project_id, document_id, operation)


@require_POST
def span_relabel(request, project_id, document_id, span_id):
    def operation(annotation, version, data):
        return editing.change_label(
            annotation, version=version, span_id=span_id, label=label_from(annotation.document, data)
        )

    return edit(request, project_id, document_id, operation)


@require_POST
def span_delete(request, project_id, document_id, span_id):
    return edit(
        request,
        project_id,
        document_id,
        lambda annotation, version, data: editing.delete_span(annotation, version=version, span_id=span_id),
    )


@require_POST
def undo(request, project_id, document_id):
    return edit(request, project_id, document_id, lambda a, version, data: editing.undo(a, version=version))


@require_POST
def redo(request, project_id, document_id):
    return edit(request, project_id, document_id, lambda a, version, data: editing.redo(a, version=version))


@require_POST
def submit(request, project_id, document_id):
    return edit(
        request,
        project_id,
        document_id,
        lambda a, version, data: editing.submit(a, version=version),
        changes_progress=True,
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
