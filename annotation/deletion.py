"""Deleting a document or a whole project. Its text, annotations, spans, suggestions and scores
go with its rows (the database cascades); a project's upload files go from disk once the
deletion is committed; the audit log says who deleted what, by name and counts, never text.
The training app listens to the two signals: it drops a deleted document's quotes from the dev
errors of runs, and removes a deleted project's model folders."""

from pathlib import Path

from django.db import transaction
from django.dispatch import Signal

from annotation.models import Annotation, Document, Project
from studio.audit import record

# Sent inside the deleting transaction, before the rows go: `document` or `project`.
document_deleted = Signal()
project_deleted = Signal()


def delete_document(document: Document, *, actor=None) -> None:
    with transaction.atomic():
        annotations = Annotation.objects.filter(document=document).count()
        before = {"title": document.title, "characters": len(document.text), "annotations": annotations}
        record(actor, "document.delete", project_id=document.project_id, document_id=document.pk, before=before)
        document_deleted.send(sender=Document, document=document)
        document.delete()


def delete_project(project: Project, *, actor=None) -> None:
    with transaction.atomic():
        uploads = [
            Path(path) for path in project.import_jobs.exclude(stored_path="").values_list("stored_path", flat=True)
        ]
        before = {"name": project.name, "documents": project.documents.count()}
        record(actor, "project.delete", project_id=project.pk, obj=project, before=before)
        project_deleted.send(sender=Project, project=project)
        project.delete()
        transaction.on_commit(lambda: [path.unlink(missing_ok=True) for path in uploads])
