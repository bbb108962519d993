import pytest
from django.urls import reverse

from annotation.models import Assignment, Membership
from annotation.ordering import next_document
from annotation.services import assign_documents, create_project, import_documents
from annotation.text.formats.documents import ImportedDocument
from tests.cast import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(admin, django_user_model):
    project = create_project("Team", created_by=admin)
    people = []
    for name in ("ann", "bob", "cat"):
        user = person(name)
        Membership.objects.create(project=project, user=user, role="annotator")
        people.append(user)
    return project, people


def test_each_document_goes_to_n_annotators_round_robin(team, admin):
    project, people = team
    project.annotators_per_document = 2
    project.save()
    import_documents(project, [ImportedDocument(text=f"Note {i}.") for i in range(6)], importer=admin)
    per_document = {}
    for document_id, username in Assignment.objects.values_list("document_id", "user__username"):
        per_document.setdefault(document_id, set()).add(username)
    assert len(per_document) == 6 and all(len(users) == 2 for users in per_document.values())
    load = {p.username: Assignment.objects.filter(user=p).count() for p in people}
    assert load == {"ann": 4, "bob": 4, "cat": 4}
    assert assign_documents(project) == 0  # nothing left to assign


def test_an_annotators_queue_shows_only_their_documents(client, team, admin):
    project, (ann, *_) = team
    project.annotators_per_document = 1
    project.save()
    import_documents(project, [ImportedDocument(text=f"Note {i}.") for i in range(3)], importer=admin)
    mine = set(Assignment.objects.filter(user=ann).values_list("document_id", flat=True))
    assert len(mine) == 1
    assert next_document(project, ann, current=None).pk in mine
    client.force_login(ann)
    page = client.get(reverse("project_documents", args=[project.pk])).content.decode()
    assert "· 1 document" in page
    assert next_document(project, admin, current=None) is not None  # the admin sees everything
    api = client.get(reverse("api_documents", args=[project.pk])).json()
    assert [document["id"] for document in api["results"]] == sorted(mine)  # the API keeps the same queue
