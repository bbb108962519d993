"""Every read of a document's text or spans leaves its entry in the access log, from the page
and the API, with who read it, how, and which documents.

Every page, partial and API read of the permission matrix (and the pages outside projects)
appears below, either with a request that reads documents and the entry it must leave, or
with the reason it reads none; a new endpoint fails `test_every_read_endpoint_is_listed`
until it is added here.
"""

import json
from types import SimpleNamespace

import pytest

from annotation import review
from annotation.models import Document
from studio.models import AccessEntry
from tests.studio.test_audit_matrix import UNSCOPED_WRITES
from tests.studio.test_permissions import API_ENDPOINTS, ENDPOINTS, UNSCOPED, url_for, world  # noqa: F401
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

Action, Via = AccessEntry.Action, AccessEntry.Via

# Endpoints that show no document's text or spans: counts, names, settings, forms, redirects
# to a page that is logged itself, and an uploaded file before any of it is stored.
NOT_A_READ = {
    "project_documents": "names and statuses: the first words at most",
    "status_summary": "counts",
    "project_settings": "settings",
    "agreement": "names and scores",
    "import_job": "the uploaded file before it is stored; its duplicates by name",
    "import_progress": "counts",
    "export_rule": "counts",
    "annotate_start": "a redirect to the labelling page",
    "annotate_next": "a redirect to the labelling page",
    "annotate_previous": "a redirect to the labelling page",
    "review_next": "a redirect to the review page",
    "training_runs": "scores",
    "training_progress": "progress",
    "learning_curve_progress": "progress and scores",
    "preannotation_progress": "progress",
    "try_it": "the form",
    "api_project": "settings",
    "api_labels": "labels",
    "api_documents": "titles, ids and sizes, no text",
    "api_runs": "scores",
    "api_models": "versions",
    "home": "project names",
    "user_list": "people",
    "user_events": "changes to accounts",
    "healthz": "health",
    "password_reset_done": "a message",
    "password_reset_complete": "a message",
    "profile": "tokens and memberships",
    "api_schema": "the schema",
    "api_docs": "the schema",
    "access_log": "the log itself",
    "access_log_csv": "the log itself",
    "two_factor_setup": "one's own authenticator key",
    "two_factor_verify": "the code form",
    "oidc_authentication_init": "a redirect to the sign-on provider",
    "oidc_authentication_callback": "a redirect back from the sign-on provider",
}


def read(name, action, *, method="get", data=None, via=Via.PAGE, documents=True, **options):
    return pytest.param(name, method, data, action, via, documents, options, id=name)


SCORES = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}


def dev_errors_quoting(document_id) -> dict:
    """A run's metrics whose one dev error quotes the document."""
    entity = {"label": "DISEASE", "start": 0, "end": 6, "text": "Asthma"}
    error = {"doc_id": str(document_id), **entity, "context": "Asthma", "gold": [entity], "predicted": []}
    evaluation = {
        **{average: SCORES for average in ("micro", "macro", "weighted")},
        "per_label": {"DISEASE": SCORES},
        "confusion": {"labels": ["O", "DISEASE"], "matrix": [[5, 1], [1, 1]]},
        "errors": [{**error, "kind": "missed"}],
        "documents": 1,
    }
    return {"evaluation": evaluation, "dev_f1_per_epoch": [0.5]}


READS = [
    read("annotate", Action.OPEN),
    read("review", Action.OPEN),
    read("gold_annotate", Action.OPEN, gold=True),
    read("audit_log", Action.OPEN),
    read("training_run", Action.OPEN, dev_errors=True),
    read("export_download", Action.EXPORT, data={"format": "doccano", "scope": "all"}),
    read("try_it_predict", Action.PREDICT, method="post", data={"text": "Gout ."}, documents=False),
    read("api_predict", Action.PREDICT, method="post", data={"text": "Gout ."}, via=Via.API, documents=False),
    read("api_v1_predict", Action.PREDICT, method="post", data={"text": "Gout ."}, via=Via.API, documents=False),
    read("api_document", Action.OPEN, via=Via.API),
    read("api_spans", Action.OPEN, via=Via.API),
    read("api_annotations", Action.OPEN, via=Via.API),
    read("api_run", Action.OPEN, via=Via.API, dev_errors=True),
    read("api_run_metrics", Action.OPEN, via=Via.API, dev_errors=True),
    read("api_export", Action.EXPORT, data={"format": "conll", "scope": "all"}, via=Via.API),
]


@pytest.fixture
def model_that_finds_nothing(monkeypatch):
    """The active model of the matrix project has no files: what it predicts is no concern of
    the log, only that a prediction was made."""
    found = SimpleNamespace(suggestions=[])
    monkeypatch.setattr(
        "training.ml.inference.load_predictor", lambda path: SimpleNamespace(predict_text=lambda text: found)
    )


@pytest.mark.parametrize(("name", "method", "data", "action", "via", "documents", "options"), READS)
def test_every_read_is_logged(
    client,
    world,  # noqa: F811 (the fixture)
    model_that_finds_nothing,
    name,
    method,
    data,
    action,
    via,
    documents,
    options,
):
    users, ids = world
    owner = users["admin"]  # the project admin reads everything the matrix offers
    if options.get("gold"):
        review.start_gold(Document.objects.get(pk=ids["document_id"]), owner)
    if options.get("dev_errors"):
        TrainingRun.objects.filter(pk=ids["run_id"]).update(metrics=dev_errors_quoting(ids["document_id"]))
    client.force_login(owner)
    before = set(AccessEntry.objects.values_list("pk", flat=True))
    url = url_for(name, ids)
    if method == "post" and name != "try_it_predict":
        response = client.post(url, json.dumps(data), content_type="application/json")
    else:
        response = getattr(client, method)(url, data or {})
    assert response.status_code == 200, response.content[:300]
    if response.streaming:
        b"".join(response.streaming_content)
    entries = list(AccessEntry.objects.exclude(pk__in=before))
    assert [(e.action, e.via, e.actor_name, e.project_id) for e in entries] == [
        (action, via, owner.username, ids["project_id"])
    ]
    assert entries[0].document_ids == ([ids["document_id"]] if documents else [])


def test_every_read_endpoint_is_listed():
    """Each GET endpoint, and each prediction, is either a logged read or named as no read."""
    listed = {param.values[0] for param in READS}
    pages = {name for name, (method, *_rest) in ENDPOINTS.items() if method == "get"}
    apis = {name for name, method in API_ENDPOINTS if method == "get"}
    predictions = {"try_it_predict", "api_predict", "api_v1_predict"}
    outside_projects = UNSCOPED - UNSCOPED_WRITES
    candidates = pages | apis | predictions | outside_projects
    assert candidates - listed - set(NOT_A_READ) == set()
    assert listed.isdisjoint(NOT_A_READ)
