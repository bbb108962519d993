"""Deleting a document or a project (project admins): a page that says what goes, then a POST
with the box ticked."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation.access import Role, document_for, project_for
from annotation.deletion import delete_document, delete_project
from annotation.models import Annotation, Document

NOT_CONFIRMED = "Tick the box to confirm: nothing was deleted."


def _confirm(request, context):
    problem = NOT_CONFIRMED if request.method == "POST" else ""
    return render(request, "annotation/delete.html", {**context, "problem": problem}, status=400 if problem else 200)


@require_http_methods(["GET", "POST"])
def document_delete(request, project_id, document_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    document = document_for(project, document_id, Document.objects.defer("text", "search"))
    if request.POST.get("confirm") == "yes":
        delete_document(document, actor=request.user)
        messages.success(request, f"{document.title or f'Document {document_id}'} was deleted.")
        return redirect("project_documents", project.pk)
    annotations = Annotation.objects.filter(document=document).count()
    goes = [
        "its text and its metadata",
        f"{annotations} annotation{'s' if annotations != 1 else ''} with their spans and history",
        "the model's suggestions and scores for it",
        "its quotes in the dev errors of training runs",
    ]
    context = {"project": project, "what": document.title or f"Document {document.pk}", "goes": goes}
    return _confirm(request, {**context, "cancel": reverse("annotate", args=[project.pk, document.pk])})


@require_http_methods(["GET", "POST"])
def project_delete(request, project_id):
    project = project_for(request.user, project_id, Role.ADMIN)
    if request.POST.get("confirm") == "yes":
        delete_project(project, actor=request.user)
        messages.success(request, f"{project.name} was deleted.")
        return redirect("home")
    documents = project.documents.count()
    goes = [
        f"{documents} document{'s' if documents != 1 else ''} with their annotations, spans and history",
        "its labels, members and assignments",
        "its uploads waiting or kept for a retry",
        "its training runs, their reports and every model trained on it, from disk too",
    ]
    context = {"project": project, "what": project.name, "goes": goes}
    return _confirm(request, {**context, "cancel": reverse("project_settings", args=[project.pk])})
