"""The access log: append-only in the database, purged only by retention (which the audit log
records), read by staff on a page filtered by user, document and dates, and as streamed CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from annotation import editing
from annotation.exports import export_chunks
from annotation.models import Label
from annotation.review import ExportRule
from annotation.services import create_project
from studio import access_log
from studio.models import AccessEntry, AuditEntry
from tests.conftest import make_document
from training import preannotation
from training.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db

Action, Via = AccessEntry.Action, AccessEntry.Via
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def entry(who="nurse", documents=(7,), at=NOON, action=Action.OPEN, **fields):
    return AccessEntry.objects.create(
        at=at, actor_name=who, action=action, via=Via.PAGE, project_id=1, document_ids=list(documents), **fields
    )


def test_the_log_refuses_updates_and_deletes():
    kept = entry()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessEntry.objects.filter(pk=kept.pk).update(actor_name="someone else")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessEntry.objects.filter(pk=kept.pk).delete()
    assert AccessEntry.objects.get(pk=kept.pk).actor_name == "nurse"


def test_the_retention_purge_is_the_one_delete_and_the_audit_log_counts_it():
    old, recent = entry(at=NOON - timedelta(days=400)), entry(at=NOON)
    assert access_log.purge_older_than(NOON - timedelta(days=365)) == 1
    assert list(AccessEntry.objects.values_list("pk", flat=True)) == [recent.pk]
    purge = AuditEntry.objects.get(action="access_log.purge")
    assert purge.actor_name == "" and purge.after["entries"] == 1
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():  # the purge let nothing else go
        AccessEntry.objects.filter(pk=recent.pk).delete()
    assert not AccessEntry.objects.filter(pk=old.pk).exists()


def test_filters_by_user_document_and_days_both_included():
    early = entry("nurse", [3, 7], at=NOON - timedelta(days=2))
    on_day = entry("nurse", [7], at=NOON.replace(hour=23, minute=59))
    other_user = entry("doctor", [7])
    other_document = entry("nurse", [8])
    assert set(access_log.entries(user="Nurse", document="7")) == {early, on_day}
    assert set(access_log.entries(since="2026-03-10", until="2026-03-10")) == {on_day, other_user, other_document}
    assert set(access_log.entries(document="3", until="2026-03-08")) == {early}


@pytest.mark.parametrize(
    ("filters", "problem"),
    [
        ({"document": "seven"}, "Document must be a document id (a whole number), not “seven”."),
        ({"document": "9" * 5000}, "Document must be a document id"),
        ({"since": "10/03/2026"}, "From must be a date such as 2026-01-31, not “10/03/2026”."),
        ({"until": "2026-02-30"}, "To must be a date such as 2026-01-31"),
    ],
)
def test_a_bad_filter_is_named_on_the_page_and_refused_by_the_csv(client, staff, filters, problem):
    entry()
    client.force_login(staff)
    page = client.get(reverse("access_log"), filters)
    assert page.status_code == 400 and problem in page.content.decode()
    download = client.get(reverse("access_log_csv"), filters)
    assert download.status_code == 400 and problem in download.content.decode()


def test_the_page_is_paged_and_for_staff_only(client, staff, nurse):
    for minute in range(51):
        entry(at=NOON + timedelta(minutes=minute), document_name=f"Note {minute}")
    client.force_login(nurse)
    assert client.get(reverse("access_log")).status_code == 403
    assert client.get(reverse("access_log_csv")).status_code == 403
    client.force_login(staff)
    first = client.get(reverse("access_log"), {"user": "nurse"}).content.decode()
    assert "Note 50" in first and "Note 0<" not in first and "Page 1 of 2 · 51 entries" in first
    second = client.get(reverse("access_log"), {"user": "nurse", "page": 2}).content.decode()
    assert "Note 0 <" in second and "Page 2 of 2" in second


def test_the_csv_streams_every_filtered_row(client, staff):
    entry("nurse", [3, 7], detail="doccano, all", action=Action.EXPORT, project_name="Cardiology")
    entry("doctor", [7])
    for minute in range(60):  # more than a page: the CSV is not paged
        entry("nurse", [7], at=NOON - timedelta(minutes=minute + 1))
    client.force_login(staff)
    response = client.get(reverse("access_log_csv"), {"user": "nurse", "document": "7"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == access_log.CSV_HEADER and len(rows) == 1 + 61
    assert rows[1] == [NOON.isoformat(), "nurse", "export", "page", "1", "Cardiology", "3 7", "", "doccano, all"]


@pytest.fixture
def annotated(clinician):
    project = create_project("Cardiology", created_by=clinician)
    document = make_document(project, "Asthma treated with aspirin .")
    annotation = editing.annotation_for(document, clinician)
    label = Label.objects.get(project=project, name="DISEASE")
    editing.add_span(annotation, version=1, first_token=0, last_token=0, label=label)
    return project, document


def test_the_export_command_logs_its_account_and_documents(annotated, tmp_path):
    project, document = annotated
    call_command("export_documents", project.name, "--all", "-o", str(tmp_path / "out.jsonl"))
    logged = AccessEntry.objects.get()
    assert (logged.action, logged.via, logged.project_name) == (Action.EXPORT, Via.COMMAND, "Cardiology")
    assert logged.document_ids == [document.pk] and logged.actor_name and logged.detail == "doccano, all"


def test_an_export_cut_off_midway_is_logged_with_what_it_handed_over(annotated, clinician):
    project, first = annotated
    make_document(project, "Gout .")
    chunks = export_chunks(
        project, "doccano", finished_only=False, rule=ExportRule(ExportRule.REVIEWED_ONLY), reader=clinician, via="api"
    )
    next(chunks)
    assert not AccessEntry.objects.exists()  # still streaming
    chunks.close()  # the client went away
    logged = AccessEntry.objects.get()
    assert (logged.actor_name, logged.action, logged.via) == ("clinician", Action.EXPORT, Via.API)
    assert logged.document_ids[:1] == [first.pk]


def test_pre_annotation_logs_the_documents_it_predicted_on(annotated, monkeypatch):
    project, document = annotated
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere", is_active=True)
    nothing = SimpleNamespace(suggestions=[], min_max_probability=1.0, mean_entropy=0.0, expected_counts={})
    monkeypatch.setattr(
        "training.ml.inference.load_predictor",
        lambda path: SimpleNamespace(predict_many=lambda items: [nothing for _ in items]),
    )
    preannotation.preannotate(version.pk)
    logged = AccessEntry.objects.get()
    assert (logged.action, logged.via, logged.actor_name) == (Action.PREDICT, Via.WORKER, "")
    assert logged.document_ids == [document.pk] and logged.detail == f"pre-annotation, model v{version.pk}"


@pytest.mark.django_db(transaction=True)
def test_a_read_outside_a_transaction_is_one_statement_that_commits_on_its_own(clinician, django_assert_num_queries):
    project = SimpleNamespace(pk=5, name="Ürologie " + "x" * 300)
    with django_assert_num_queries(1):
        access_log.record(clinician, Action.OPEN, via=Via.API, project=project, documents=[], detail="spans")
    with django_assert_num_queries(1):
        access_log.record("root", Action.EXPORT, via=Via.COMMAND, project=project, documents=[4, 9])
    first, second = AccessEntry.objects.order_by("id")
    assert (first.actor_id, first.actor_name, first.document_ids, first.detail) == (
        clinician.pk,
        "clinician",
        [],
        "spans",
    )
    assert first.project_name == project.name[:200] and first.at <= timezone.now()
    assert (second.actor_id, second.actor_name, second.document_ids) == (None, "root", [4, 9])
    with pytest.raises(DatabaseError, match="append-only"):
        AccessEntry.objects.filter(pk=first.pk).update(detail="")
