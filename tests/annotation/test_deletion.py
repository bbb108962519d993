"""Deleting a document or a project: everything of it goes, rows and files, after a page that
says what and a ticked box; models trained on a deleted document are marked so; the audit log
names who deleted what, without the text."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from annotation import editing
from annotation.imports import store_upload
from annotation.models import Annotation, AnnotationChange, Document, ImportJob, Label, Project, Span
from annotation.services import create_project
from studio.models import AccessEntry, AuditEntry
from tests.conftest import make_document
from tests.studio.test_access_matrix import dev_errors_quoting
from training.models import DocumentScore, ModelVersion, Suggestion, TrainingRun

pytestmark = pytest.mark.django_db
SECRET = "Mrs Jones has sarcoidosis"


@pytest.fixture
def clinic(clinician):
    """A project whose model trained on two documents, one of which its dev errors quote."""
    project = create_project("Clinic", created_by=clinician)
    noted = make_document(project, f"{SECRET} .", title="Jones letter")
    other = make_document(project, "Gout treated with colchicine .")
    label = Label.objects.get(project=project, name="DISEASE")
    for document in (noted, other):
        annotation = editing.annotation_for(document, clinician)
        editing.add_span(annotation, version=1, first_token=0, last_token=0, label=label)
    metrics = dev_errors_quoting(noted.pk)
    metrics["evaluation"]["errors"][0].update(text="sarcoidosis", context=SECRET)
    run = TrainingRun.objects.create(
        project=project,
        status="succeeded",
        metrics=metrics,
        data_snapshot=[{"document": d.pk, "annotation": 0, "version": 2} for d in (noted, other)],
    )
    folder = Path(settings.MODELS_ROOT) / f"project-{project.pk}" / f"run-{run.pk}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    version = ModelVersion.objects.create(project=project, run=run, artifact_path=str(folder), is_active=True)
    Suggestion.objects.create(
        document=noted,
        model_version=version,
        label=label,
        start=13,
        end=24,
        first_token=3,
        last_token=3,
        confidence=0.9,
    )
    DocumentScore.objects.create(document=noted, model_version=version, min_max_probability=0.5, mean_entropy=0.1)
    data = b'{"text": "Waiting for its mapping .", "label": []}\n'
    upload = store_upload(project, [data], filename="waiting.jsonl", size=len(data), user=clinician)
    return {"project": project, "noted": noted, "other": other, "run": run, "folder": folder, "upload": upload}


def test_the_page_says_what_goes_and_nothing_goes_without_the_box_ticked(client, clinician, clinic):
    project, noted = clinic["project"], clinic["noted"]
    client.force_login(clinician)
    url = reverse("document_delete", args=[project.pk, noted.pk])
    page = client.get(url).content.decode()
    assert "Delete Jones letter?" in page and "1 annotation with their spans and history" in page
    refused = client.post(url, {"confirm": "no"})
    assert refused.status_code == 400 and "Tick the box to confirm: nothing was deleted." in refused.content.decode()
    assert Document.objects.filter(pk=noted.pk).exists()


def test_a_deleted_document_leaves_no_text_spans_suggestions_or_quotes(client, clinician, clinic):
    project, noted, run = clinic["project"], clinic["noted"], clinic["run"]
    client.force_login(clinician)
    client.get(reverse("annotate", args=[project.pk, noted.pk]))
    response = client.post(reverse("document_delete", args=[project.pk, noted.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    assert not Document.objects.filter(pk=noted.pk).exists()
    for model in (Annotation, Span, AnnotationChange, Suggestion, DocumentScore):
        assert not model.objects.filter(**_of(model, noted.pk)).exists(), model.__name__
    run.refresh_from_db()
    assert SECRET not in str(run.metrics) and run.metrics["evaluation"]["errors"] == []
    entry = AuditEntry.objects.get(action="document.delete")
    assert (entry.actor_name, entry.document_id) == ("clinician", noted.pk)
    assert entry.before == {"title": "Jones letter", "characters": len(SECRET) + 2, "annotations": 1}
    assert SECRET not in str(list(AccessEntry.objects.values()))  # the access log kept the id and title
    models = client.get(reverse("training_runs", args=[project.pk])).content.decode()
    assert "Trained on 1 document that was deleted" in models
    assert Document.objects.filter(pk=clinic["other"].pk).exists()


def _of(model, document_id) -> dict:
    return {
        Annotation: {"document_id": document_id},
        Span: {"annotation__document_id": document_id},
        AnnotationChange: {"annotation__document_id": document_id},
        Suggestion: {"document_id": document_id},
        DocumentScore: {"document_id": document_id},
    }[model]


def test_a_deleted_project_leaves_no_rows_uploads_or_models(
    client, clinician, clinic, django_capture_on_commit_callbacks
):
    project = clinic["project"]
    upload = Path(clinic["upload"].stored_path)
    assert upload.is_file() and clinic["folder"].is_dir()
    client.force_login(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("project_delete", args=[project.pk]), {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert not Project.objects.filter(pk=project.pk).exists()
    for model in (Document, ImportJob, TrainingRun, ModelVersion):
        assert not model.objects.filter(project_id=project.pk).exists(), model.__name__
    assert not upload.exists() and not clinic["folder"].parent.exists()
    entry = AuditEntry.objects.get(action="project.delete")
    assert entry.before == {"name": "Clinic", "documents": 2} and entry.actor_name == "clinician"


@pytest.mark.parametrize("name", ["document_delete", "project_delete"])
def test_only_project_admins_delete(client, clinic, name, django_user_model):
    from annotation.models import Membership

    project = clinic["project"]
    reviewer = django_user_model.objects.create_user("reviewer")
    Membership.objects.create(project=project, user=reviewer, role=Membership.Role.REVIEWER)
    client.force_login(reviewer)
    args = [project.pk, clinic["noted"].pk] if name == "document_delete" else [project.pk]
    assert client.post(reverse(name, args=args), {"confirm": "yes"}).status_code == 403
    assert Document.objects.filter(pk=clinic["noted"].pk).exists()
