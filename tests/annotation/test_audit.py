import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from annotation import editing
from annotation.services import create_project, set_role
from studio.models import AuditEntry
from tests.cast import person
from tests.conftest import make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def edited(admin):
    project = create_project("Audited", created_by=admin)
    document = make_document(project, "Asthma treated with aspirin.")
    annotation = editing.annotation_for(document, admin)
    disease, treatment = project.labels.get(name="DISEASE"), project.labels.get(name="TREATMENT")
    annotation = editing.add_span(annotation, version=1, first_token=0, last_token=0, label=disease).annotation
    span = annotation.spans.get()
    annotation = editing.change_label(annotation, version=2, span_id=span.pk, label=treatment).annotation
    annotation = editing.delete_span(annotation, version=3, span_id=span.pk).annotation
    annotation = editing.undo(annotation, version=4).annotation
    editing.submit(annotation, version=5)
    return project, document


def test_every_change_is_recorded_with_before_and_after(edited, admin):
    project, document = edited
    entries = list(AuditEntry.objects.filter(document_id=document.pk).order_by("id"))
    assert [e.action for e in entries] == [
        "span.create",
        "span.update",
        "span.delete",
        "annotation.undo",
        "annotation.status",
    ]
    create, update = entries[0], entries[1]
    assert create.actor_name == "admin" and create.project_id == project.pk
    assert create.after == {"start": 0, "end": 6, "label": "DISEASE", "source": "manual", "text": "Asthma"}
    assert (update.before["label"], update.after["label"]) == ("DISEASE", "TREATMENT")
    assert entries[4].before == "in_progress" and entries[4].after == "submitted"


def test_the_log_refuses_updates_and_deletes(edited):
    entry = AuditEntry.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


def test_role_changes_are_recorded(admin, django_user_model):
    project = create_project("Roles", created_by=admin)
    person("nurse")
    set_role(project, "nurse", "reviewer", actor=admin)
    entry = AuditEntry.objects.get(action="membership.update")
    assert entry.before == {"user": "nurse", "role": None}
    assert entry.after == {"user": "nurse", "role": "reviewer"}


def test_the_history_page_filters_by_document_and_action(client, admin, edited):
    project, document = edited
    client.force_login(admin)
    url = reverse("audit_log", args=[project.pk])
    page = client.get(url, {"document": document.pk, "action": "span.update"}).content.decode()
    assert page.count("<code>span.update</code>") == 1
    assert "<code>span.create</code>" not in page
    assert client.get(url).content.decode().count("<code>") == 6  # five edits and the project's creation
    assert client.get(url, {"document": 999999}).content.decode().count("Nothing recorded for these filters") == 1


@pytest.mark.django_db(transaction=True)
def test_user_training_and_activation_changes_are_recorded(client, admin, django_user_model, settings):
    from training import services
    from training.models import ModelVersion, TrainingRun

    client.force_login(admin)
    nurse = person("nurse")
    client.post(reverse("user_deactivate", args=[nurse.pk]))
    assert AuditEntry.objects.get(action="user.update").after == {"active": False}

    project = create_project("Audit training", created_by=admin)
    run = TrainingRun.objects.create(project=project, status="succeeded")
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/unused")
    services.activate(version, preannotate=False, actor=admin)
    entry = AuditEntry.objects.get(action="model.activate")
    assert (entry.actor_name, entry.after) == ("admin", {"active": version.pk})

    settings.TRAINING_MIN_DOCUMENTS = 1
    document = make_document(project, "Asthma treated with aspirin.")
    annotation = editing.annotation_for(document, admin)
    labels = {label.name: label for label in project.labels.all()}
    annotation = editing.add_span(
        annotation, version=1, first_token=0, last_token=0, label=labels["DISEASE"]
    ).annotation
    annotation = editing.add_span(
        annotation, version=2, first_token=3, last_token=3, label=labels["TREATMENT"]
    ).annotation
    editing.submit(annotation, version=3)
    services.start_run(project, admin, {"epochs": 1}, enqueue=False)
    assert AuditEntry.objects.get(action="training.start").after["epochs"] == 1


@pytest.mark.parametrize(
    "value, text",
    [
        ({"start": 0, "end": 6, "label": "DISEASE", "source": "manual", "text": "Asthma"}, "DISEASE “Asthma” (0–6)"),
        ({"user": "nurse", "role": None}, "user: nurse; role: none"),
        ({"active": None}, "active: none"),
        ({"active": False, "creates_projects": True}, "active: no; creates projects: yes"),
        ([[0, 6, 3, "manual", None, False], [9, 12, 3, "manual", None, False]], "2 spans"),
        ("submitted", "submitted"),
        (None, ""),
    ],
)
def test_history_values_read_as_words(value, text):
    from studio.audit import describe

    assert describe(value) == text


def test_an_import_is_recorded_with_its_summary(admin):
    from annotation.services import import_documents
    from annotation.text.formats.documents import ImportedDocument

    project = create_project("Imported", created_by=admin)
    import_documents(
        project, [ImportedDocument("Asthma .", mentions=[(0, 6, "DISEASE")])], importer=admin, filename="a.jsonl"
    )
    entry = AuditEntry.objects.get(action="documents.import")
    assert entry.project_id == project.pk and entry.actor_name == "admin"
    assert entry.after == {
        "filename": "a.jsonl",
        "documents_created": 1,
        "annotations_imported": 1,
        "mentions_imported": 1,
        "label_mapping": {"DISEASE": "DISEASE"},
        "annotators": ["admin"],
    }
