"""The text of identifying labels never reaches an annotator the project does not allow: not in
the labelling page, its edit answers, the document list, the API or a suggestion."""

import json

import pytest
from django.urls import reverse

from annotation import editing
from annotation.access import document_for, project_for
from annotation.assistance import assistant
from annotation.models import Label, Project
from annotation.services import create_project
from tests.cast import team
from tests.conftest import make_document

pytestmark = pytest.mark.django_db

NOTE = "Mr John Smith, 54, has asthma. Dr Jones prescribed salbutamol."
HIDDEN = ("John", "Smith", "Jones")


def tokens_of(document, words: str) -> tuple[int, int]:
    start = document.text.index(words)
    end = start + len(words)
    first = document.token_starts.index(start)
    return first, document.token_ends.index(end)


@pytest.fixture
def project(clinician):
    return create_project("Ward notes", created_by=clinician)


@pytest.fixture
def people(project):
    return team(project)


@pytest.fixture
def phi(project):
    return Label.objects.create(project=project, name="PHI", color="#333333", hotkey="3", identifying=True)


@pytest.fixture
def note(project, people, phi):
    """ "John Smith" tagged by a reviewer, "Jones" only proposed by a pre-annotation."""
    document = make_document(project, NOTE, "Admission")
    annotation = editing.annotation_for(document, people["reviewer"])
    first, last = tokens_of(document, "John Smith")
    editing.add_span(annotation, version=1, first_token=first, last_token=last, label=phi)
    start = NOTE.index("Jones")
    assistant().import_suggestions([(document, phi, start, start + len("Jones"))])
    return document


def shows_names(content: bytes) -> list[str]:
    text = content.decode()
    return [name for name in HIDDEN if name in text]


def allow_annotators(project):
    Project.objects.filter(pk=project.pk).update(annotators_see_identifying=True)


def test_the_labelling_page_masks_names_for_annotators_only(client, project, people, note):
    url = reverse("annotate", args=[project.pk, note.pk])
    client.force_login(people["annotator"])
    page = client.get(url)
    assert page.status_code == 200 and shows_names(page.content) == []
    html = page.content.decode()
    assert '<span class="t" data-i="1">████</span> <span class="t" data-i="2">█████</span>' in html
    assert 'aria-label="Suggestion PHI 100%: █████"' in html
    for role in ("reviewer", "admin", "staff"):
        client.force_login(people[role])
        assert shows_names(client.get(url).content) == list(HIDDEN)
    allow_annotators(project)
    client.force_login(people["annotator"])
    assert shows_names(client.get(url).content) == list(HIDDEN)


def test_edit_answers_and_a_redraw_after_a_conflict_stay_masked(client, project, people, note, phi):
    client.force_login(people["annotator"])
    url = reverse("span_add", args=[project.pk, note.pk])
    first, last = tokens_of(note, "Smith")
    saved = client.post(url, {"first": first, "last": last, "label": phi.pk, "version": 1})
    assert saved.status_code == 200
    assert "Tagged &quot;█████&quot; as PHI." in saved.content.decode() and shows_names(saved.content) == []
    conflict = client.post(url, {"first": 0, "last": 0, "label": phi.pk, "version": 1})
    assert conflict.status_code == 409 and 'id="b-0"' in conflict.content.decode()
    assert shows_names(conflict.content) == []


def test_the_document_list_masks_the_opening_it_shows(client, project, people, note):
    note.title = ""
    note.save(update_fields=["title"])
    client.force_login(people["annotator"])
    listed = client.get(reverse("project_documents", args=[project.pk]))
    assert "Mr ████ █████, 54, has asthma. Dr █████…" in listed.content.decode()
    assert shows_names(listed.content) == []


def test_api_reads_and_edits_answer_masked_text_to_annotators(client, project, people, note, phi):
    base = f"/api/v1/projects/{project.pk}/documents/{note.pk}/"
    client.force_login(people["annotator"])
    detail = client.get(base).json()
    assert detail["text"] == "Mr ████ █████, 54, has asthma. Dr █████ prescribed salbutamol."
    start = NOTE.index("Smith")
    put = client.put(
        base + "spans/",
        json.dumps({"version": 1, "spans": [{"start": start, "end": start + 5, "label": "PHI"}]}),
        content_type="application/json",
    )
    assert put.status_code == 200 and put.json()["spans"][0]["text"] == "█████"
    assert shows_names(client.get(base + "spans/").content) == []
    listed = client.get(f"/api/v1/projects/{project.pk}/annotations/")
    assert listed.json()["results"][0]["spans"][0]["text"] == "█████"
    client.force_login(people["reviewer"])
    assert client.get(base).json()["text"] == NOTE
    assert "Smith" in client.get(f"/api/v1/projects/{project.pk}/annotations/").content.decode()


def test_a_masked_document_cannot_store_its_text(project, people, note):
    annotator_view = document_for(project_for(people["annotator"], project.pk), note.pk)
    with pytest.raises(ValueError, match="masked"):
        annotator_view.save()
    annotator_view.is_dev = True
    annotator_view.save(update_fields=["is_dev"])
    note.refresh_from_db()
    assert note.text == NOTE and note.is_dev is True


def test_the_labels_page_and_the_api_set_which_labels_identify(client, project, people, phi):
    client.force_login(people["admin"])
    disease = project.labels.get(name="DISEASE")
    client.post(
        reverse("label_update", args=[project.pk, disease.pk]),
        {"name": "DISEASE", "color": disease.color, "hotkey": "1", "identifying": "on"},
    )
    disease.refresh_from_db()
    assert disease.identifying
    settings = client.get(reverse("project_settings", args=[project.pk])).content.decode()
    assert 'name="annotators_see_identifying"' in settings and "DISEASE identifies a person" in settings
    answer = client.put(
        f"/api/v1/projects/{project.pk}/labels/{phi.pk}/",
        json.dumps({"name": "PHI", "color": "#333333", "hotkey": "3", "identifying": False}),
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["identifying"] is False


def test_a_rejected_suggestion_is_listed_masked(client, project, people, note):
    from training.models import Suggestion

    suggestion = Suggestion.objects.get(document=note)
    client.force_login(people["annotator"])
    url = reverse("suggestion_reject", args=[project.pk, note.pk, suggestion.pk])
    answer = client.post(url, {"version": 1})
    assert answer.status_code == 200, answer.content.decode()
    assert '<span class="span-words">█████</span>' in answer.content.decode()
    assert shows_names(answer.content) == []
    client.force_login(people["reviewer"])
    assert "Jones" in client.get(reverse("annotate", args=[project.pk, note.pk])).content.decode()


def test_an_annotator_cannot_find_a_note_by_a_masked_name(client, project, people, note):
    make_document(project, "Mrs Smith has a cough.", "Clinic")  # nobody tagged this Smith: visible
    url = reverse("project_documents", args=[project.pk])
    client.force_login(people["annotator"])
    assert [
        title for title in ("Admission", "Clinic") if title in client.get(url, {"q": "smith"}).content.decode()
    ] == ["Clinic"]
    assert "Admission" in client.get(url, {"q": "asthma"}).content.decode()
    api = client.get(f"/api/v1/projects/{project.pk}/documents/", {"q": "john"}).json()
    assert api["count"] == 0
    client.force_login(people["reviewer"])
    found = client.get(url, {"q": "smith"}).content.decode()
    assert "Admission" in found and "Clinic" in found
