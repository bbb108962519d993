"""Every write the studio allows leaves its entry in the audit log, from the page and the API.

Each write endpoint of the permission matrix (and the pages outside projects) appears below
with a request it accepts and the action it must record; a new write endpoint fails
`test_every_write_endpoint_is_listed` until it is added here.
"""

import json

import pytest

from annotation import editing, review
from annotation.imports import store_upload
from annotation.models import ImportJob, Label, Membership
from annotation.services import import_documents
from annotation.text.formats.documents import ImportedDocument
from studio.models import AuditEntry
from studio.tokens import create_token
from tests.studio.test_permissions import API_ENDPOINTS, ENDPOINTS, UNSCOPED, url_for, world  # noqa: F401
from training.models import ModelVersion, Suggestion, TrainingRun

pytestmark = pytest.mark.django_db

# Writes that change nothing the log keeps: sessions, e-mails, an uploaded file waiting for its
# mapping, or checked again cut another way (the import itself is logged), a prediction, the
# confidence from which one person sees suggestions in their own view.
NOT_LOGGED = {
    "login",
    "logout",
    "password_reset",
    "password_reset_confirm",
    "import_upload",
    "import_split",
    "try_it_predict",
    "personal_threshold",
    "api_predict",
    "api_v1_predict",
}


@pytest.fixture
def scene(world, settings):  # noqa: F811 (the fixture)
    """The permission matrix's project, with what each write needs."""
    users, ids = world
    settings.TRAINING_MIN_DOCUMENTS = 1
    owner = users["admin"]
    project_id, document_id = ids["project_id"], ids["document_id"]
    treatment = Label.objects.get(project_id=project_id, name="TREATMENT")
    annotation = editing.annotation_for(editing.Document.objects.get(pk=document_id), owner)
    version = editing.add_span(
        annotation, version=1, first_token=0, last_token=0, label=Label.objects.get(pk=ids["label_id"])
    )
    # "treated", clear of the model's suggestion on "aspirin"
    version = editing.add_span(version.annotation, version=2, first_token=1, last_token=1, label=treatment)
    editing.submit(version.annotation, version=3)
    span = version.annotation.spans.order_by("start").first()
    spare = Label.objects.create(project_id=project_id, name="SPARE", color="#123456", hotkey="7")
    inactive = ModelVersion.objects.create(
        project_id=project_id,
        run=TrainingRun.objects.create(project_id=project_id, status="succeeded"),
        artifact_path="/nowhere",
    )
    queued = TrainingRun.objects.create(project_id=project_id, status="queued", started_by=owner)
    data = b'{"text": "Gout was treated with colchicine .", "label": [[0, 4, "DISEASE"]]}\n'
    mapped = store_upload(
        editing.Document.objects.get(pk=document_id).project, [data], filename="a.jsonl", size=len(data), user=owner
    )
    failed = store_upload(
        mapped.project, [data.replace(b"Gout", b"Lupus")], filename="b.jsonl", size=len(data), user=owner
    )
    ImportJob.objects.filter(pk=failed.pk).update(status="failed", label_mapping={"DISEASE": "DISEASE"})
    create_token(owner, "old")
    users["annotator"].email = "annotator@example.org"
    users["annotator"].save()
    return {
        **ids,
        "owner": owner,
        "users": users,
        "span": span,
        "version": 4,
        "spare": spare,
        "inactive": inactive,
        "queued": queued,
        "mapped": mapped,
        "failed": failed,
        "token_id": owner.api_tokens.get().pk,
        "reviewer_membership": Membership.objects.get(project_id=project_id, user=users["reviewer"]).pk,
    }


def gold_scene(scene) -> dict:
    """A gold annotation the reviewer started, with one span: what editing the gold needs."""
    document = editing.Document.objects.get(pk=scene["document_id"])
    gold = review.start_gold(document, scene["users"]["reviewer"])
    gold = review.add_to_gold(gold, (0, 6, "DISEASE"), version=gold.version).annotation
    return {"gold": gold, "gold_span": gold.spans.get().pk, "gold_version": gold.version}


def gold_span(scene) -> int:
    return gold_scene(scene)["gold_span"]


def gold_undone(scene) -> int:
    return editing.undo(scene["gold"], version=scene["gold_version"]).annotation.version


def rejected(scene) -> int:
    """The owner rejects the model's suggestion, for showing it again; the version after."""
    from training import decisions

    annotation = editing.Annotation.objects.get(annotator=scene["owner"], is_gold=False)
    suggestion = Suggestion.objects.get(pk=scene["suggestion_id"])
    return decisions.reject(annotation, suggestion, version=scene["version"], user=scene["owner"]).annotation.version


def page(name, data, action, **kwargs):
    return pytest.param(name, "post", data, action, kwargs, id=name)


def api(name, method, data, action, **kwargs):
    return pytest.param(name, method, data, action, {"json": True, **kwargs}, id=f"{name}-{method}")


WRITES = [
    page("project_create", lambda s: {"name": "Another"}, "project.create", who="staff"),
    page(
        "project_settings",
        lambda s: {
            "name": "Matrix",
            "description": "",
            "guidelines": "",
            "suggestion_threshold": 0.7,
            "target_precision": 0.9,
            "annotators_per_document": 0,
            "document_order": "sequential",
            "training_source": "gold_first",
        },
        "project.update",
    ),
    page("document_delete", lambda s: {"confirm": "yes"}, "document.delete"),
    page("project_delete", lambda s: {"confirm": "yes"}, "project.delete"),
    page("label_create", lambda s: {"name": "SYMPTOM", "color": "#654321", "hotkey": "3"}, "label.create"),
    page("label_update", lambda s: {"name": "ILLNESS", "color": "#e4572e", "hotkey": "1"}, "label.update"),
    page("label_delete", lambda s: {}, "label.delete", label_id="spare"),
    page("member_save", lambda s: {"username": "annotator", "role": "reviewer"}, "membership.update"),
    page("member_remove", lambda s: {}, "membership.remove", membership_id="reviewer_membership"),
    page("import_job", lambda s: {"map:DISEASE": "DISEASE"}, "documents.import", job_id="mapped"),
    page("import_retry", lambda s: {}, "documents.import", job_id="failed"),
    page("span_add", lambda s: {"version": s["version"], "first": 2, "last": 2, "label": s["label_id"]}, "span.create"),
    page(
        "span_relabel",
        lambda s: {"version": s["version"], "label": Label.objects.get(name="TREATMENT").pk},
        "span.update",
        span_id="span",
    ),
    page("span_delete", lambda s: {"version": s["version"]}, "span.delete", span_id="span"),
    page("suggestion_accept", lambda s: {"version": s["version"]}, "suggestion.accepted"),
    page("suggestion_reject", lambda s: {"version": s["version"]}, "suggestion.rejected"),
    page("suggestions_accept_all", lambda s: {"version": s["version"]}, "suggestion.accepted"),
    page("suggestions_reject_all", lambda s: {"version": s["version"]}, "suggestion.rejected"),
    page("annotation_undo", lambda s: {"version": s["version"]}, "annotation.undo"),
    page("annotation_redo", lambda s: {"version": s["version"] + 1}, "annotation.redo", undo_first=True),
    page("annotation_submit", lambda s: {"version": s["version"]}, "annotation.status", reopen=True),
    page("suggestions_restore", lambda s: {"version": rejected(s)}, "suggestion.undecided"),
    page("evaluation_split", lambda s: {"split": "dev"}, "document.split"),
    *(
        page("gold_" + name, data, action, who="reviewer", gold=True, **span)
        for name, data, action, span in (
            (
                "span_add",
                lambda s: {"version": s["gold_version"], "first": 2, "last": 2, "label": s["label_id"]},
                "span.create",
                {},
            ),
            (
                "span_relabel",
                lambda s: {"version": s["gold_version"], "label": Label.objects.get(name="TREATMENT").pk},
                "span.update",
                {"span_id": "gold_span"},
            ),
            ("span_delete", lambda s: {"version": s["gold_version"]}, "span.delete", {"span_id": "gold_span"}),
            ("annotation_undo", lambda s: {"version": s["gold_version"]}, "annotation.undo", {}),
            ("annotation_redo", lambda s: {"version": gold_undone(s)}, "annotation.redo", {}),
            ("annotation_submit", lambda s: {"version": s["gold_version"]}, "annotation.status", {}),
        )
    ),
    page("review_take", lambda s: {"start": 0, "end": 6, "label": "DISEASE"}, "span.create", who="reviewer"),
    page("review_start", lambda s: {}, "annotation.gold", who="reviewer"),
    page("review_drop", lambda s: {"span": gold_span(s)}, "span.delete", who="reviewer"),
    page("review_done", lambda s: {}, "annotation.status", who="reviewer"),
    page(
        "train",
        lambda s: {"epochs": 1, "learning_rate": 1e-4, "batch_size": 4, "max_length": 32, "seed": 1},
        "training.start",
        no_queued_run=True,
    ),
    page("training_cancel", lambda s: {}, "training.cancel", run_id="queued"),
    page("learning_curve_start", lambda s: {}, "learning_curve.start", no_queued_run=True, second_document=True),
    page("model_activate", lambda s: {}, "model.activate", version_id="inactive"),
    page("model_delete", lambda s: {}, "model.delete", version_id="inactive"),
    page("user_invite", lambda s: {"username": "nurse", "email": "nurse@example.org"}, "user.create", who="staff"),
    page("user_deactivate", lambda s: {}, "user.update", who="staff"),
    page("user_reactivate", lambda s: {}, "user.update", who="staff"),
    page("user_reset", lambda s: {}, "user.password_reset", who="staff"),
    page("user_project_creation", lambda s: {"allowed": "true"}, "user.role", who="staff"),
    page("api_token_create", lambda s: {"name": "pipeline"}, "token.create"),
    page("api_token_revoke", lambda s: {}, "token.revoke"),
    api("api_projects", "post", lambda s: {"name": "By script"}, "project.create", who="staff"),
    api("api_project", "patch", lambda s: {"suggestion_threshold": 0.3}, "project.update"),
    api("api_labels", "post", lambda s: {"name": "SYMPTOM", "color": "#654321", "hotkey": "3"}, "label.create"),
    api("api_label", "put", lambda s: {"name": "ILLNESS", "color": "#e4572e", "hotkey": "1"}, "label.update"),
    api("api_label", "delete", lambda s: None, "label.delete", label_id="spare"),
    api("api_documents", "post", lambda s: {"documents": [{"text": "Gout again ."}]}, "documents.import"),
    api("api_spans", "put", lambda s: {"version": s["version"], "spans": []}, "annotation.replace"),
    api("api_submit", "post", lambda s: {"version": s["version"]}, "annotation.status", reopen=True),
    api("api_runs", "post", lambda s: {"epochs": 1}, "training.start", no_queued_run=True),
    api("api_run_cancel", "post", lambda s: None, "training.cancel", run_id="queued"),
    api("api_model_activate", "post", lambda s: None, "model.activate", version_id="inactive"),
]


@pytest.mark.parametrize(("name", "method", "data", "action", "options"), WRITES)
def test_every_allowed_write_is_logged(client, scene, name, method, data, action, options):
    options = dict(options)
    who = scene["users"].get(options.pop("who", None)) or scene["owner"]
    if options.pop("reopen", False):
        editing.Annotation.objects.filter(annotator=scene["owner"]).update(status="in_progress")
    if options.pop("undo_first", False):
        annotation = editing.Annotation.objects.get(annotator=scene["owner"])
        editing.undo(annotation, version=scene["version"])
    if options.pop("gold", False):
        scene = {**scene, **gold_scene(scene)}
    if options.pop("no_queued_run", False):  # and no label without examples
        TrainingRun.objects.filter(pk=scene["queued"].pk).update(status="cancelled")
        scene["spare"].delete()
    if options.pop("second_document", False):  # so that one of two documents is held out for dev
        text = "Gout was treated with colchicine ."
        project = editing.Document.objects.get(pk=scene["document_id"]).project
        imported = ImportedDocument(text=text, mentions=[(0, 4, "DISEASE"), (22, 32, "TREATMENT")])
        import_documents(project, [imported], importer=scene["owner"])
    as_json = options.pop("json", False)
    ids = {**scene, **{key: getattr(scene[value], "pk", scene[value]) for key, value in options.items()}}
    if name.startswith("user_"):
        ids["user_id"] = scene["users"]["annotator"].pk
    url = url_for(name, ids)
    client.force_login(who)
    before = AuditEntry.objects.count()
    body = data(scene)
    if as_json:
        response = getattr(client, method)(
            url, json.dumps(body) if body is not None else None, content_type="application/json"
        )
    else:
        response = client.post(url, body)
    assert response.status_code in (200, 201, 204, 302), (response.status_code, response.content[:300])
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True)[before:])
    assert action in actions, actions


# Writes outside a project (the matrix lists every project URL; these are the rest).
UNSCOPED_WRITES = {
    "project_create",
    "user_invite",
    "user_deactivate",
    "user_reactivate",
    "user_reset",
    "user_project_creation",
    "api_token_create",
    "api_token_revoke",
    "api_projects",
    "login",
    "logout",
    "password_reset",
    "password_reset_confirm",
}


def test_every_write_endpoint_is_listed():
    listed = {param.values[0] for param in WRITES}
    pages = {name for name, (method, *_rest) in ENDPOINTS.items() if method == "post"}
    apis = {name for name, method in API_ENDPOINTS if method != "get"}
    assert UNSCOPED_WRITES <= UNSCOPED
    assert (pages | apis | UNSCOPED_WRITES) - NOT_LOGGED - listed == set()
