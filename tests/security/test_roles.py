"""Sharper roles: an annotator's queue is all they can open where documents are assigned,
staff cannot switch off a superuser, and a new password takes the old tokens with it."""

import json

import pytest
from django.urls import reverse

from annotation.models import Membership
from annotation.services import assign_documents, create_project
from studio.tokens import create_token
from tests.cast import person
from tests.conftest import make_document

pytestmark = pytest.mark.django_db


def test_an_annotator_opens_and_saves_only_documents_assigned_to_them(client, django_user_model):
    owner = person("owner")
    project = create_project("Queues", created_by=owner)
    project.annotators_per_document = 1
    project.save()
    annotators = [person(name) for name in ("ann", "bob")]
    for user in annotators:
        Membership.objects.create(project=project, user=user, role="annotator")
    documents = [make_document(project, f"Patient {n} has asthma .") for n in range(4)]
    assign_documents(project)
    ann = annotators[0]
    mine = {a.document_id for a in ann.assignments.all()}
    theirs = [d for d in documents if d.pk not in mine]
    assert mine and theirs
    _, key = create_token(ann, "queue")
    client.force_login(ann)
    for document in theirs:
        args = [project.pk, document.pk]
        assert client.get(reverse("annotate", args=args)).status_code == 404
        assert (
            client.post(reverse("span_add", args=args), {"version": 1, "first": 0, "last": 0, "label": 1}).status_code
            == 404
        )
        spans = reverse("api_spans", args=args)
        body = json.dumps({"version": 1, "spans": []})
        assert (
            client.put(spans, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}").status_code
            == 404
        )
        assert client.get(reverse("api_document", args=args), HTTP_AUTHORIZATION=f"Token {key}").status_code == 404
    assert client.get(reverse("annotate", args=[project.pk, min(mine)])).status_code == 200
    client.force_login(owner)  # reviewers and admins see every document
    assert client.get(reverse("annotate", args=[project.pk, theirs[0].pk])).status_code == 200


def test_staff_cannot_deactivate_a_superuser(client, django_user_model):
    root = person("root", superuser=True)
    staff = person("staff", is_staff=True)
    client.force_login(staff)
    response = client.post(reverse("user_deactivate", args=[root.pk]), follow=True)
    assert "root is a superuser; only a superuser can change that account." in response.content.decode()
    root.refresh_from_db()
    assert root.is_active


def test_a_new_password_revokes_the_api_tokens(client, django_user_model, mailoutbox):
    import re

    user = person("clinician", email="c@example.org", password="old-passphrase-1")
    _, key = create_token(user, "pipeline")
    api = reverse("api_projects")
    assert client.get(api, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client.post(reverse("password_reset"), {"email": "c@example.org"})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mailoutbox[0].body)[1]
    form = client.get(link, follow=True)
    new = {"new_password1": "new-passphrase-2", "new_password2": "new-passphrase-2"}
    done = client.post(form.redirect_chain[-1][0], new, follow=True)
    assert "API tokens of this account were revoked" in done.content.decode()
    refused = client.get(api, HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    _, second = create_token(user, "again")
    user.set_password("third-passphrase-3")  # the admin, a shell: any path
    user.save()
    assert client.get(api, HTTP_AUTHORIZATION=f"Token {second}").status_code == 401


def test_adding_a_member_does_not_tell_a_project_admin_who_has_an_account(client, django_user_model):
    lead = person("lead")
    project = create_project("Ward", created_by=lead)
    colleague = person("colleague")
    shared = create_project("Earlier study", created_by=lead)
    Membership.objects.create(project=shared, user=colleague, role="annotator")
    person("stranger")
    client.force_login(lead)
    url = reverse("member_save", args=[project.pk])

    def add(username):
        return client.post(url, {"username": username, "role": "annotator"}, follow=True).content.decode()

    for username in ("stranger", "ghost"):  # an account, and none: the same answer
        assert f"ask a staff member to add &#x27;{username}&#x27;." in add(username)
    assert not Membership.objects.filter(project=project, user__username="stranger").exists()
    add("colleague")
    assert Membership.objects.get(project=project, user=colleague).role == "annotator"
