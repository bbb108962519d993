"""The labelling page and its edit endpoints. Each edit answers with htmx out-of-band
fragments: the text blocks it touched, the legend and the editor state."""

from collections import Counter

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import editing
from annotation.markdown import render_markdown
from annotation.models import Annotation, Document, Label, Span
from annotation.rendering import SpanView, blocks, render_block, touched_blocks


def _document(project_id, document_id) -> Document:
    return get_object_or_404(Document.objects.select_related("project"), pk=document_id, project_id=project_id)


def _annotation(document, user) -> Annotation | None:
    return Annotation.objects.filter(document=document, annotator=user).first()


def _span_views(annotation) -> list[SpanView]:
    if annotation is None:
        return []
    return [
        SpanView(span.pk, span.start, span.end, span.label.name, span.label.color)
        for span in annotation.spans.select_related("label").order_by("start")
    ]


def _legend(document, spans):
    counts = Counter(span.label for span in spans)
    return [(label, counts.get(label.name, 0)) for label in document.project.labels.all()]


def _progress(document, user):
    total = Document.objects.filter(project_id=document.project_id).count()
    done = Annotation.objects.filter(
        document__project_id=document.project_id,
        annotator=user,
        status__in=[Annotation.Status.SUBMITTED, Annotation.Status.REVIEWED],
    ).count()
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}


def _neighbour(document, *, forward: bool) -> Document | None:
    siblings = Document.objects.filter(project_id=document.project_id).only("pk")
    if forward:
        return siblings.filter(pk__gt=document.pk).order_by("pk").first()
    return siblings.filter(pk__lt=document.pk).order_by("-pk").first()


@require_GET
def annotate(request, project_id, document_id):
    document = _document(project_id, document_id)
    annotation = _annotation(document, request.user)
    spans = _span_views(annotation)
    text_blocks = blocks(document.text, document.token_starts, document.token_ends)
    context = {
        "project": document.project,
        "document": document,
        "annotation": annotation,
        "version": annotation.version if annotation else 1,
        "status": annotation.get_status_display() if annotation else "Not started",
        "text_html": "".join(
            render_block(b, document.text, document.token_starts, document.token_ends, spans)
            for b in text_blocks
        ),
        "labels": document.project.labels.all(),
        "legend": _legend(document, spans),
        "progress": _progress(document, request.user),
        "guidelines": render_markdown(document.project.guidelines),
        "previous": _neighbour(document, forward=False),
        "next": _neighbour(document, forward=True),
    }
    return render(request, "annotation/annotate.html", context)


@require_GET
def neighbour(request, project_id, document_id, direction):
    document = _document(project_id, document_id)
    target = _neighbour(document, forward=direction == "next")
    if target is None:
        return HttpResponse(
            f"This is the {'last' if direction == 'next' else 'first'} document of the project.",
            status=404,
            content_type="text/plain",
        )
    url = reverse("annotate", args=[project_id, target.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)


def _edit(request, project_id, document_id, operation):
    """Run one edit and answer with the fragments it changed (409 redraws everything)."""
    document = _document(project_id, document_id)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        return _answer(request, document, message="The page sent no version; reload it.", level="error", status=400)
    annotation = editing.annotation_for(document, request.user)
    try:
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
    return _answer(request, document, message=result.message, touched=result.touched)


def _answer(request, document, *, message, level="ok", status=200, touched=(), redraw_all=False):
    annotation = _annotation(document, request.user)
    spans = _span_views(annotation)
    all_blocks = blocks(document.text, document.token_starts, document.token_ends)
    redraw = all_blocks if redraw_all else touched_blocks(all_blocks, list(touched))
    context = {
        "blocks_html": [
            render_block(b, document.text, document.token_starts, document.token_ends, spans, oob=True)
            for b in redraw
        ],
        "legend": _legend(document, spans),
        "version": annotation.version if annotation else 1,
        "status": annotation.get_status_display() if annotation else "Not started",
        "progress": _progress(document, request.user),
        "message": message,
        "level": level,
    }
    html = render_to_string("annotation/partials/annotation_update.html", context, request=request)
    return HttpResponse(html, status=status)


def _int(data, key) -> int:
    try:
        return int(data.get(key, ""))
    except ValueError:
        raise editing.EditRejected(f"Missing or bad {key.replace('_', ' ')}.") from None


def _label(document, data) -> Label:
    label = Label.objects.filter(project_id=document.project_id, pk=_int(data, "label")).first()
    if label is None:
        raise editing.EditRejected("Pick one of the project's labels.")
    return label


@require_POST
def span_add(request, project_id, document_id):
    def operation(annotation, version, data):
        return editing.add_span(
            annotation,
            version=version,
            first_token=_int(data, "first"),
            last_token=_int(data, "last"),
            label=_label(annotation.document, data),
        )

    return _edit(request, project_id, document_id, operation)


@require_POST
def span_relabel(request, project_id, document_id, span_id):
    def operation(annotation, version, data):
        return editing.change_label(annotation, version=version, span_id=span_id, label=_label(annotation.document, data))

    return _edit(request, project_id, document_id, operation)


@require_POST
def span_delete(request, project_id, document_id, span_id):
    return _edit(
        request, project_id, document_id,
        lambda annotation, version, data: editing.delete_span(annotation, version=version, span_id=span_id),
    )


@require_POST
def undo(request, project_id, document_id):
    return _edit(request, project_id, document_id, lambda a, version, data: editing.undo(a, version=version))


@require_POST
def redo(request, project_id, document_id):
    return _edit(request, project_id, document_id, lambda a, version, data: editing.redo(a, version=version))


@require_POST
def submit(request, project_id, document_id):
    return _edit(request, project_id, document_id, lambda a, version, data: editing.submit(a, version=version))


@require_GET
def start(request, project_id):
    """The first document this annotator has not submitted yet."""
    finished = Annotation.objects.filter(
        annotator=request.user, status__in=[Annotation.Status.SUBMITTED, Annotation.Status.REVIEWED]
    ).values("document_id")
    document = (
        Document.objects.filter(project_id=project_id).exclude(pk__in=finished).order_by("pk").only("pk").first()
        or Document.objects.filter(project_id=project_id).order_by("pk").only("pk").first()
    )
    if document is None:
        return redirect("project_documents", project_id)
    return redirect("annotate", project_id, document.pk)
