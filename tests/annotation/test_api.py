"""The REST API for projects, labels, documents, annotations and exports, on real Postgres."""

import json

import pytest
from django.urls import reverse

from annotation import editing
from annotation.models import Annotation, Document, Membership, Project, Span
from annotation.services import create_project
from studio.models import AuditEntry
from tests.cast import person
from tests.conftest import make_document
from tests.studio.test_users import allowed_to_create_projects

pytestmark = pytest.mark.django_db

ABSTRACT = "Aspirin relieved the migraine of a patient with asthma ."


@pytest.fixture
def owner(user):
    """The project's creator, and so its admin."""
    return user


@pytest.fixture
def api(client, owner):
    client.force_login(owner)
    return client


def send(client, method, url, data=None):
    return getattr(client, method)(url, json.dumps(data) if data is not None else None, content_type="application/json")


def test_project_list_shows_my_projects_with_my_role(api, project, django_user_model):
    create_project("Somebody else's", created_by=person("other"))
    body = api.get(reverse("api_projects")).json()
    assert body["count"] == 1
    assert body["results"][0]["name"] == "Oncology" and body["results"][0]["role"] == "admin"


def test_staff_list_every_project_as_admins(client, project, django_user_model):
    create_project("Somebody else's", created_by=person("other"))
    client.force_login(person("staff", is_staff=True))
    body = client.get(reverse("api_projects"), {"page_size": 1}).json()
    assert body["count"] == 2 and body["next"]
    assert [(p["name"], p["role"]) for p in body["results"]] == [("Oncology", "admin")]


def test_creating_a_project_makes_me_its_admin_with_the_default_labels(api, owner):
    allowed_to_create_projects(owner)
    response = send(api, "post", reverse("api_projects"), {"name": "  Trial notes ", "description": "Oncology"})
    assert response.status_code == 201, response.content
    project = Project.objects.get(pk=response.json()["id"])
    assert project.name == "Trial notes"
    assert Membership.objects.get(project=project, user=owner).role == "admin"
    assert sorted(project.labels.values_list("name", flat=True)) == ["DISEASE", "TREATMENT"]
    again = send(api, "post", reverse("api_projects"), {"name": "Trial notes"})
    assert again.status_code == 400
    assert again.json()["errors"]["name"] == ["A project of this name exists already."]


def test_settings_change_is_validated(api, project):
    url = reverse("api_project", args=[project.pk])
    changes = {"suggestion_threshold": 0.8, "target_precision": 0.9, "document_order": "random"}
    assert send(api, "patch", url, changes).status_code == 200
    project.refresh_from_db()
    assert (project.suggestion_threshold, project.target_precision, project.document_order) == (0.8, 0.9, "random")
    for name in ("suggestion_threshold", "target_precision"):
        bad = send(api, "patch", url, {name: 1.5})
        assert bad.status_code == 400
        assert name in bad.json()["errors"]
        assert bad.json()["detail"].startswith(f"{name}:")


def test_labels_follow_the_settings_page_rules(api, project):
    url = reverse("api_labels", args=[project.pk])
    created = send(api, "post", url, {"name": "drug", "color": "#123456", "hotkey": "3"})
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "DRUG"
    duplicate = send(api, "post", url, {"name": "Drug", "color": "#123456"})
    assert duplicate.status_code == 400 and "already" in duplicate.json()["detail"]
    assert send(api, "post", url, {"name": "bad name", "color": "red"}).status_code == 400
    assert project.labels.count() == 3


def test_a_label_in_use_is_not_deleted(api, project, owner):
    document = make_document(project, ABSTRACT)
    label = project.labels.get(name="DISEASE")
    editing.add_span(editing.annotation_for(document, owner), version=1, first_token=3, last_token=3, label=label)
    response = api.delete(reverse("api_label", args=[project.pk, label.pk]))
    assert response.status_code == 409 and "used by spans" in response.json()["detail"]
    unused = project.labels.get(name="TREATMENT")
    assert api.delete(reverse("api_label", args=[project.pk, unused.pk])).status_code == 204
    assert list(project.labels.values_list("name", flat=True)) == ["DISEASE"]


def bulk(api, project, documents, **extra):
    return send(api, "post", reverse("api_documents", args=[project.pk]), {"documents": documents, **extra})


def test_bulk_create_stores_documents_and_their_spans(api, project, owner):
    response = bulk(
        api,
        project,
        [
            {"text": ABSTRACT, "external_id": "PMID-1", "spans": [{"start": 21, "end": 29, "label": "disease"}]},
            {"text": "Ibuprofen for fever .", "metadata": {"source": "ward 3"}},
            {"text": ABSTRACT},  # the same text again
        ],
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["duplicates_skipped"], body["spans_imported"]) == (2, 1, 1)
    first, second, repeat = body["documents"]
    assert first["created"] and second["created"] and not repeat["created"]
    assert repeat["id"] == first["id"]
    document = Document.objects.get(pk=first["id"])
    assert document.external_id == "PMID-1"
    annotation = Annotation.objects.get(document=document)
    assert annotation.annotator == owner and annotation.status == "submitted"
    span = annotation.spans.get()
    assert (span.start, span.end, span.label.name, span.source) == (21, 29, "DISEASE", "imported")
    assert Document.objects.get(pk=second["id"]).metadata == {"source": "ward 3"}


def test_bulk_create_is_all_or_nothing_with_an_error_per_item(api, project):
    response = bulk(
        api,
        project,
        [
            {"text": "Fine document about asthma ."},
            {"text": "   "},
            {"text": "Short .", "spans": [{"start": 0, "end": 50, "label": "DISEASE"}]},
            {"text": "Unknown label .", "spans": [{"start": 0, "end": 7, "label": "GENE"}]},
            {"title": "no text"},
        ],
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "4 of 5 documents are invalid; none was stored."
    assert [item["index"] for item in body["items"]] == [1, 2, 3, 4]
    assert "blank" in body["items"][0]["errors"]["text"][0]
    assert Document.objects.filter(project=project).count() == 0

    response = bulk(
        api,
        project,
        [
            {"text": "Fine document about asthma ."},
            {"text": "Short .", "spans": [{"start": 0, "end": 50, "label": "DISEASE"}]},
            {"text": "Unknown label .", "spans": [{"start": 0, "end": 7, "label": "GENE"}]},
        ],
    )
    assert response.status_code == 400
    items = {item["index"]: item["errors"] for item in response.json()["items"]}
    assert set(items) == {1, 2}
    assert "out of range" in items[1]["spans"][0]
    assert "GENE is not a label of this project" in items[2]["spans"][0]
    assert Document.objects.filter(project=project).count() == 0


def test_bulk_create_refuses_nested_spans_rather_than_drop_one(api, project):
    text = "drug-induced hepatitis ."
    response = bulk(
        api,
        project,
        [
            {
                "text": text,
                "spans": [{"start": 0, "end": 22, "label": "DISEASE"}, {"start": 13, "end": 22, "label": "DISEASE"}],
            }
        ],
    )
    assert response.status_code == 400
    assert "overlaps" in response.json()["items"][0]["errors"]["spans"][0]
    assert not Document.objects.filter(project=project).exists()


def test_bulk_create_refuses_more_than_a_thousand(api, project):
    response = bulk(api, project, [{"text": f"Note {n} ."} for n in range(1001)])
    assert response.status_code == 400
    assert "1000" in response.json()["detail"]
    assert not Document.objects.filter(project=project).exists()


def test_an_oversized_request_is_refused_in_json(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    response = bulk(api, project, [{"text": f"Long note {n} " + "word " * 100} for n in range(20)])
    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is over the 0.005 MB limit; send fewer documents per request."
    assert not Document.objects.filter(project=project).exists()


def test_bulk_create_refuses_text_postgres_cannot_store(api, project):
    response = bulk(api, project, [{"text": "nul \x00 here"}, {"text": "fine", "metadata": {"k": "\ud800"}}])
    assert response.status_code == 400
    errors = {item["index"]: item["errors"] for item in response.json()["items"]}
    assert "null" in errors[0]["text"][0].lower()
    assert "surrogate" in errors[1]["metadata"][0]


def test_document_filters_are_allow_listed(api, project, owner):
    for n in range(3):
        make_document(project, f"Patient {n} has asthma .")
    url = reverse("api_documents", args=[project.pk])
    assert api.get(url, {"q": "asthma", "page_size": 2}).json()["count"] == 3
    assert len(api.get(url, {"q": "asthma", "page_size": 2}).json()["results"]) == 2
    refused = api.get(url, {"text__icontains": "asthma"})
    assert refused.status_code == 400 and "Unknown filter" in refused.json()["detail"]
    assert api.get(url, {"status": "sideways"}).status_code == 400
    assert api.get(url, {"status": "not_started"}).json()["count"] == 3


def test_page_size_is_capped_at_500(api, project):
    url = reverse("api_documents", args=[project.pk])
    assert api.get(url, {"page_size": 500}).status_code == 200
    too_many = api.get(url, {"page_size": 501})
    assert too_many.status_code == 400 and "1 to 500" in too_many.json()["detail"]


def spans_url(project, document):
    return reverse("api_spans", args=[project.pk, document.pk])


def test_replacing_spans_and_the_version_conflict(api, project, owner):
    document = make_document(project, ABSTRACT)
    state = api.get(spans_url(project, document)).json()
    assert state == {"version": 1, "status": "not_started", "message": "", "spans": []}
    spans = [{"start": 0, "end": 7, "label": "TREATMENT"}, {"start": 21, "end": 29, "label": "DISEASE"}]
    response = send(api, "put", spans_url(project, document), {"version": 1, "spans": spans})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 2
    assert [(s["text"], s["label"]) for s in body["spans"]] == [("Aspirin", "TREATMENT"), ("migraine", "DISEASE")]
    annotation = Annotation.objects.get(document=document, annotator=owner)
    assert annotation.bio_tags[:4] == ["B-TREATMENT", "O", "O", "B-DISEASE"]

    stale = send(api, "put", spans_url(project, document), {"version": 1, "spans": []})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert Span.objects.filter(annotation=annotation).count() == 2


def test_a_span_off_token_edges_is_refused_with_the_reason(api, project):
    document = make_document(project, ABSTRACT)
    response = send(
        api, "put", spans_url(project, document), {"version": 1, "spans": [{"start": 1, "end": 7, "label": "DISEASE"}]}
    )
    assert response.status_code == 400
    assert "Span 1" in response.json()["detail"]
    unknown = send(
        api, "put", spans_url(project, document), {"version": 1, "spans": [{"start": 0, "end": 7, "label": "GENE"}]}
    )
    assert unknown.status_code == 400 and "Unknown label GENE" in unknown.json()["detail"]


def test_submit_carries_the_version(api, project, owner):
    document = make_document(project, ABSTRACT)
    url = reverse("api_submit", args=[project.pk, document.pk])
    assert send(api, "post", url, {"version": 7}).status_code == 409
    response = send(api, "post", url, {"version": 1})
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    assert AuditEntry.objects.filter(action="annotation.status", document_id=document.pk).exists()


def test_annotators_list_only_their_own_annotations(client, project, owner, django_user_model):
    document = make_document(project, ABSTRACT)
    label = project.labels.get(name="DISEASE")
    annotator = person("ann")
    Membership.objects.create(project=project, user=annotator, role="annotator")
    for someone in (owner, annotator):
        editing.add_span(editing.annotation_for(document, someone), version=1, first_token=3, last_token=3, label=label)
    url = reverse("api_annotations", args=[project.pk])
    client.force_login(annotator)
    mine = client.get(url).json()
    assert [a["annotator"] for a in mine["results"]] == ["ann"]
    assert mine["results"][0]["spans"][0]["text"] == "migraine"
    client.force_login(owner)
    assert sorted(a["annotator"] for a in client.get(url).json()["results"]) == ["ann", "clinician"]
    assert client.get(url, {"annotator": annotator.pk}).json()["count"] == 1


def test_export_streams_the_chosen_format(api, project, owner):
    document = make_document(project, ABSTRACT)
    label = project.labels.get(name="DISEASE")
    annotation = editing.add_span(
        editing.annotation_for(document, owner), version=1, first_token=3, last_token=3, label=label
    ).annotation
    editing.submit(annotation, version=annotation.version)
    response = api.get(reverse("api_export", args=[project.pk]), {"format": "doccano"})
    assert response.status_code == 200 and response.streaming
    line = json.loads(b"".join(response.streaming_content).decode())
    assert line["text"] == ABSTRACT and line["label"] == [[21, 29, "DISEASE"]]
    assert api.get(reverse("api_export", args=[project.pk]), {"format": "docx"}).status_code == 400


def test_unauthenticated_calls_get_401_not_a_login_page(client, project):
    response = client.get(reverse("api_projects"))
    assert response.status_code == 401
    assert response.json()["detail"]


def test_annotators_filter_by_their_own_status_only(client, project, owner, django_user_model):
    done = make_document(project, ABSTRACT)
    make_document(project, "Fever treated with paracetamol .")
    annotation = editing.annotation_for(done, owner)
    editing.submit(annotation, version=annotation.version)
    nurse = person("nurse")
    Membership.objects.create(project=project, user=nurse, role="annotator")
    client.force_login(nurse)
    url = reverse("api_documents", args=[project.pk])
    assert client.get(url, {"status": "submitted"}).json()["count"] == 0  # the owner's work is not hers
    assert client.get(url, {"status": "not_started"}).json()["count"] == 2
    assert client.get(url, {"annotator": owner.pk}).json()["count"] == 2  # no peeking at a colleague's list


def test_values_postgres_cannot_store_are_refused(api, project):
    body = '{"documents": [{"text": "Fever .", "metadata": {"score": 1e400}}, {"text": "' + "word " * 100_001 + '"}]}'
    response = api.post(reverse("api_documents", args=[project.pk]), body, content_type="application/json")
    assert response.status_code == 400
    errors = {item["index"]: item["errors"] for item in response.json()["items"]}
    assert errors[0]["metadata"] == ["metadata.score is not a finite number."]
    assert "split it into documents of at most 500,000" in errors[1]["text"][0]
    assert not Document.objects.filter(project=project).exists()


def test_the_spans_read_answers_what_the_span_serializer_gives(api, project, owner):
    """The span read builds its rows without a serializer per span; they must stay the
    serializer's, field for field, accepted suggestions' provenance included."""
    from annotation.serializers import SpanSerializer

    document = make_document(project, ABSTRACT)
    spans = [{"start": 0, "end": 7, "label": "TREATMENT"}, {"start": 21, "end": 29, "label": "DISEASE"}]
    assert send(api, "put", spans_url(project, document), {"version": 1, "spans": spans}).status_code == 200
    Span.objects.filter(start=0).update(source=Span.Source.SUGGESTION, edited_before_accept=True)
    read = api.get(spans_url(project, document)).json()["spans"]
    stored = Span.objects.filter(annotation__document=document).select_related("label").order_by("start")
    assert read == json.loads(json.dumps(SpanSerializer(stored, many=True, context={"text": ABSTRACT}).data))
    assert [(span["text"], span["source"]) for span in read] == [("Aspirin", "suggestion"), ("migraine", "manual")]
