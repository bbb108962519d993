"""Every project URL, for every role: the exact status code.

Outsiders get 404 (the project does not exist for them), roles below an action's minimum get
403, the rest get the endpoint's own answer. Edit endpoints are sent a bad version, so an
allowed role gets that specific 400 and nothing changes.
"""

import json

import pytest
from django.urls import reverse

from annotation.models import Label, Membership
from annotation.services import create_project
from tests.cast import person, team
from tests.conftest import make_document
from tests.studio.test_pages import named_urls
from training.models import ModelVersion, Suggestion, TrainingRun

# Every URL for every role: a few hundred requests, so the quick loop leaves them to the full run.
pytestmark = pytest.mark.slow

ANNOTATOR, REVIEWER, ADMIN = Membership.Role.ANNOTATOR, Membership.Role.REVIEWER, Membership.Role.ADMIN
RANK = {None: 0, ANNOTATOR: 1, REVIEWER: 2, ADMIN: 3}
BAD_EDIT = {"version": "not-a-number"}

# url name: (method, minimum role, status for allowed roles, data)
ENDPOINTS = {
    "project_documents": ("get", ANNOTATOR, 200, {}),
    "status_summary": ("get", ANNOTATOR, 200, {}),
    "project_settings": ("get", ADMIN, 200, {}),
    "project_delete": ("post", ADMIN, 400, {}),  # the box is not ticked: nothing is deleted
    "document_delete": ("post", ADMIN, 400, {}),
    "audit_log": ("get", REVIEWER, 200, {}),
    "agreement": ("get", REVIEWER, 200, {}),
    "member_save": ("post", ADMIN, 302, {"username": "nobody", "role": "annotator"}),
    "member_remove": ("post", ADMIN, 302, {}),  # the owner is the last admin: refused
    "label_create": ("post", ADMIN, 302, {"name": "X", "color": "bad"}),
    "label_update": ("post", ADMIN, 302, {"name": "X", "color": "bad"}),
    "label_delete": ("post", ADMIN, 302, {}),  # the label is in use: refused with a message
    "import_upload": ("post", ADMIN, 400, {}),
    "import_job": ("get", ADMIN, 200, {}),
    "import_progress": ("get", ADMIN, 200, {}),
    "import_retry": ("post", ADMIN, 302, {}),  # the job never failed: refused with a message
    "import_split": ("post", ADMIN, 302, {}),  # no split named: refused with a message
    "export_download": ("get", REVIEWER, 400, {}),
    "export_rule": ("get", REVIEWER, 200, {}),
    "annotate_start": ("get", ANNOTATOR, 302, {}),
    "annotate": ("get", ANNOTATOR, 200, {}),
    "annotate_next": ("get", ANNOTATOR, 404, {}),  # a single document: there is no next one
    "annotate_previous": ("get", ANNOTATOR, 404, {}),
    "span_add": ("post", ANNOTATOR, 400, BAD_EDIT),
    "span_relabel": ("post", ANNOTATOR, 400, BAD_EDIT),
    "span_delete": ("post", ANNOTATOR, 400, BAD_EDIT),
    "suggestion_accept": ("post", ANNOTATOR, 400, BAD_EDIT),
    "suggestion_reject": ("post", ANNOTATOR, 400, BAD_EDIT),
    "suggestions_accept_all": ("post", ANNOTATOR, 400, BAD_EDIT),
    "suggestions_reject_all": ("post", ANNOTATOR, 400, BAD_EDIT),
    "annotation_undo": ("post", ANNOTATOR, 400, BAD_EDIT),
    "annotation_redo": ("post", ANNOTATOR, 400, BAD_EDIT),
    "annotation_submit": ("post", ANNOTATOR, 400, BAD_EDIT),
    "suggestions_restore": ("post", ANNOTATOR, 400, BAD_EDIT),
    "evaluation_split": ("post", ANNOTATOR, 400, {"split": "sideways"}),
    "gold_annotate": ("get", REVIEWER, 302, {}),  # no gold started yet: to the review page, with a message
    **{
        "gold_" + name: ("post", REVIEWER, 400, BAD_EDIT)
        for name in (
            "span_add",
            "span_relabel",
            "span_delete",
            "annotation_undo",
            "annotation_redo",
            "annotation_submit",
        )
    },
    "review": ("get", REVIEWER, 200, {}),
    "review_start": ("post", REVIEWER, 302, {}),
    "review_take": ("post", REVIEWER, 302, {}),  # no span sent: a message, nothing added
    "review_drop": ("post", REVIEWER, 302, {}),  # no span sent: a message, nothing removed
    "review_done": ("post", REVIEWER, 302, {}),
    "review_next": ("get", REVIEWER, 302, {}),  # no other disagreement: back, with a message
    "train": ("post", ADMIN, 400, {"epochs": 0}),
    "training_runs": ("get", ANNOTATOR, 200, {}),
    "training_run": ("get", ANNOTATOR, 200, {}),
    "training_progress": ("get", ANNOTATOR, 200, {}),
    "training_cancel": ("post", ADMIN, 302, {}),  # the run has finished: nothing to cancel
    "learning_curve_start": ("post", ADMIN, 302, {}),  # one document, none for dev: refused with a message
    "learning_curve_progress": ("get", ANNOTATOR, 200, {}),
    "model_activate": ("post", ADMIN, 302, {}),
    "model_delete": ("post", ADMIN, 302, {}),  # the active version: refused with a message
    "preannotation_progress": ("get", ANNOTATOR, 200, {}),
    "try_it": ("get", ANNOTATOR, 200, {}),
    "try_it_predict": ("post", ANNOTATOR, 200, {"text": ""}),
    "personal_threshold": ("post", ANNOTATOR, 200, {"threshold": "high"}),  # refused, said in the control
    "api_predict": ("post", ANNOTATOR, 400, {}),
}
# API endpoints, per method: (minimum role, status for allowed roles, JSON body). Writes get
# invalid input or a refused action, so an allowed role gets that answer and nothing changes.
API_ENDPOINTS = {
    ("api_project", "get"): (ANNOTATOR, 200, None),
    ("api_project", "patch"): (ADMIN, 400, {"suggestion_threshold": 5}),
    ("api_labels", "get"): (ANNOTATOR, 200, None),
    ("api_labels", "post"): (ADMIN, 400, {"name": "X", "color": "bad"}),
    ("api_label", "put"): (ADMIN, 400, {"name": "X", "color": "bad"}),
    ("api_label", "delete"): (ADMIN, 409, None),  # the label is in use
    ("api_documents", "get"): (ANNOTATOR, 200, None),
    ("api_documents", "post"): (ADMIN, 400, {"documents": []}),
    ("api_document", "get"): (ANNOTATOR, 200, None),
    ("api_spans", "get"): (ANNOTATOR, 200, None),
    ("api_spans", "put"): (ANNOTATOR, 400, BAD_EDIT),
    ("api_submit", "post"): (ANNOTATOR, 400, BAD_EDIT),
    ("api_annotations", "get"): (ANNOTATOR, 200, None),
    ("api_export", "get"): (REVIEWER, 400, None),  # no format chosen
    ("api_runs", "get"): (ANNOTATOR, 200, None),
    ("api_runs", "post"): (ADMIN, 400, {"epochs": 0}),
    ("api_run", "get"): (ANNOTATOR, 200, None),
    ("api_run_metrics", "get"): (ANNOTATOR, 200, None),
    ("api_run_cancel", "post"): (ADMIN, 409, None),  # the run has finished
    ("api_models", "get"): (ANNOTATOR, 200, None),
    ("api_model_activate", "post"): (ADMIN, 200, None),  # already the active one
    ("api_v1_predict", "post"): (ANNOTATOR, 400, {}),
}
UNSCOPED = {
    "home",
    "project_create",
    "user_list",
    "user_invite",
    "user_deactivate",
    "user_reactivate",
    "user_reset",
    "user_project_creation",
    "user_events",
    "access_log",
    "access_log_csv",
    "healthz",
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "two_factor_setup",
    "two_factor_verify",
    "oidc_authentication_init",
    "oidc_authentication_callback",
    "profile",
    "api_token_create",
    "api_token_revoke",
    "api_projects",
    "api_schema",
    "api_docs",
}
API_METHODS = ["get", "post", "put", "patch", "delete"]
ROLES = ["outsider", ANNOTATOR, REVIEWER, ADMIN, "staff"]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module's few hundred cases: each case runs in its own transaction,
    rolled back after it, so none sees another's changes."""
    with django_db_blocker.unblock():
        users, ids = _world()
    yield users, ids
    with django_db_blocker.unblock():
        from django.contrib.auth import get_user_model

        from annotation.models import Project

        Project.objects.filter(pk=ids["project_id"]).delete()
        get_user_model().objects.filter(pk__in=[user.pk for user in users.values()] + [ids["owner_id"]]).delete()


def _world():
    owner = person("owner")
    project = create_project("Matrix", created_by=owner)
    document = make_document(project, "Asthma treated with aspirin.")
    users = team(project)

    from annotation import editing
    from annotation.imports import store_upload

    label = Label.objects.get(project=project, name="DISEASE")
    annotation = editing.annotation_for(document, owner)
    span = editing.add_span(annotation, version=1, first_token=0, last_token=0, label=label).annotation.spans.get()
    job = store_upload(project, [b"Plain text."], filename="a.txt", size=11, user=owner)
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/nonexistent", is_active=True)
    suggestion = Suggestion.objects.create(
        document=document,
        model_version=version,
        label=label,
        start=22,
        end=29,
        first_token=3,
        last_token=3,
        confidence=0.9,
    )
    ids = {
        "project_id": project.pk,
        "document_id": document.pk,
        "label_id": label.pk,
        "job_id": job.pk,
        "run_id": run.pk,
        "version_id": version.pk,
        "span_id": span.pk,
        "suggestion_id": suggestion.pk,
        "membership_id": Membership.objects.get(project=project, user=owner).pk,
        "owner_id": owner.pk,
    }
    return users, ids


def test_every_project_url_is_in_the_matrix():
    names = {name for name, _ in named_urls() if not name.startswith("admin:")}
    assert names - UNSCOPED == set(ENDPOINTS) | {name for name, _ in API_ENDPOINTS}


def test_every_api_method_is_in_the_matrix():
    for name, pattern in named_urls():
        if name.startswith("api_") and name not in UNSCOPED and name != "api_predict":
            view_class = pattern.callback.view_class
            methods = {method for method in API_METHODS if hasattr(view_class, method)}
            assert methods == {method for n, method in API_ENDPOINTS if n == name}, name


def url_for(name, ids):
    _, pattern = next((n, p) for n, p in named_urls() if n == name)
    return reverse(name, kwargs={key: ids[key] for key in pattern.pattern.converters})


def expected_status(role, minimum, allowed_status):
    held = {"outsider": None, "staff": ADMIN}.get(role, role)
    if held is None:
        return 404
    if RANK[held] < RANK[minimum]:
        return 403
    return allowed_status


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_status_for_each_role(client, world, name, role):
    users, ids = world
    method, minimum, allowed_status, data = ENDPOINTS[name]
    url = url_for(name, ids)
    client.force_login(users[role])
    if name == "api_predict":
        response = client.post(url, data, content_type="application/json")
    else:
        response = getattr(client, method)(url, data)
    assert response.status_code == expected_status(role, minimum, allowed_status), response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method", sorted(API_ENDPOINTS))
def test_api_status_for_each_role_with_a_token(client, world, name, method, role):
    from studio.tokens import create_token

    users, ids = world
    minimum, allowed_status, data = API_ENDPOINTS[name, method]
    _, key = create_token(users[role], "matrix")
    response = getattr(client, method)(
        url_for(name, ids),
        json.dumps(data) if data is not None else None,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == expected_status(role, minimum, allowed_status), response.content[:300]
    assert "detail" in response.json() if response.status_code >= 400 else True


@pytest.mark.django_db
def test_the_project_list_shows_only_my_projects(client, world):
    users, ids = world
    client.force_login(users["outsider"])
    assert "Matrix" not in client.get(reverse("home")).content.decode()
    client.force_login(users[ANNOTATOR])
    assert "Matrix" in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*ROLES, "creator"])
def test_only_staff_and_people_allowed_to_create_projects(client, world, role):
    """A project role is no right to create projects: only staff are, or people given the
    right; the page, its button and the API agree."""
    from annotation.models import Project
    from tests.studio.test_users import allowed_to_create_projects

    users, _ids = world
    allowed = role in {"staff", "creator"}
    client.force_login(users.get(role) or allowed_to_create_projects(person("creator")))
    form = client.get(reverse("project_create"))
    page = client.post(reverse("project_create"), {"name": f"Page of {role}"})
    api = client.post(reverse("api_projects"), json.dumps({"name": f"API of {role}"}), content_type="application/json")
    statuses = (form.status_code, page.status_code, api.status_code)
    assert statuses == ((200, 302, 201) if allowed else (403, 403, 403))
    assert (reverse("project_create") in client.get(reverse("home")).content.decode()) is allowed
    assert Project.objects.filter(name__in=[f"Page of {role}", f"API of {role}"]).count() == (2 if allowed else 0)
    if not allowed:
        refusal = "Only staff, and people a staff member has allowed to, create projects"
        assert refusal in form.content.decode() and api.json()["detail"].startswith(refusal)
