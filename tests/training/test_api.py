"""The REST API for training runs, model versions and predictions: the loop an ML engineer
scripts, with a personal token, a real huey worker and Postgres."""

import json

import pytest
from django.urls import reverse

from annotation.models import Membership
from studio.tokens import create_token
from tests.cast import person
from tests.conftest import wait_for
from tests.training.test_runs import FAST, annotated_project
from training.models import ModelVersion, TrainingRun


def call(client, method, url, key, data=None, **params):
    if method == "get":
        return client.get(url, params, HTTP_AUTHORIZATION=f"Token {key}")
    body = json.dumps(data) if data is not None else None
    return getattr(client, method)(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}")


def test_train_poll_activate_and_predict_with_a_token(client, admin, tiny_bert, settings, huey_consumer):
    settings.BASE_MODEL = tiny_bert
    project = annotated_project(admin)
    _, key = create_token(admin, "pipeline")

    started = call(client, "post", reverse("api_runs", args=[project.pk]), key, FAST)
    assert started.status_code == 201, started.content
    run_id = started.json()["id"]
    assert started.json()["hyperparameters"]["epochs"] == 2
    second = call(client, "post", reverse("api_runs", args=[project.pk]), key, FAST)
    assert second.status_code == 409 and "already" in second.json()["detail"]

    run_url = reverse("api_run", args=[project.pk, run_id])

    def finished():
        return call(client, "get", run_url, key).json()["status"] in {"succeeded", "failed", "cancelled"}

    wait_for(finished, timeout=180, message="the run to finish")
    run = call(client, "get", run_url, key).json()
    assert run["status"] == "succeeded", run["error"]
    assert run["percent"] == 100 and run["micro_f1"] is not None and run["model_version"]
    metrics = call(client, "get", reverse("api_run_metrics", args=[project.pk, run_id]), key).json()
    assert {"DISEASE", "TREATMENT"} <= set(metrics["metrics"]["evaluation"]["per_label"])
    assert metrics["progress"]["loss"]

    versions = call(client, "get", reverse("api_models", args=[project.pk]), key).json()["results"]
    assert [v["id"] for v in versions] == [run["model_version"]]
    activated = call(client, "post", reverse("api_model_activate", args=[project.pk, versions[0]["id"]]), key)
    assert activated.status_code == 200 and activated.json()["is_active"]

    predicted = call(
        client, "post", reverse("api_v1_predict", args=[project.pk]), key, {"text": "Asthma 🙂 , given aspirin ."}
    )
    assert predicted.status_code == 200, predicted.content
    body = predicted.json()
    assert body["model_version"] == versions[0]["id"]
    for span in body["spans"]:
        assert "Asthma 🙂 , given aspirin ."[span["start"] : span["end"]] == span["text"]

    done = call(client, "post", reverse("api_run_cancel", args=[project.pk, run_id]), key)
    assert done.status_code == 409 and "succeeded" in done.json()["detail"]


@pytest.mark.django_db
def test_cancelling_a_queued_run(client, admin):
    project = annotated_project(admin)
    run = TrainingRun.objects.create(project=project, status="queued")
    _, key = create_token(admin, "pipeline")
    response = call(client, "post", reverse("api_run_cancel", args=[project.pk, run.pk]), key)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.django_db
def test_training_refusals_are_400_with_the_reason(client, admin):
    project = annotated_project(admin, documents=3)
    _, key = create_token(admin, "pipeline")
    url = reverse("api_runs", args=[project.pk])
    too_few = call(client, "post", url, key, {})
    assert too_few.status_code == 400 and "at least 10 submitted documents" in too_few.json()["detail"]
    bad = call(client, "post", url, key, {"epochs": 0, "precision": "fp8"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"epochs", "precision"}
    assert not TrainingRun.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_predict_without_a_usable_model_is_a_conflict(client, admin, django_user_model):
    project = annotated_project(admin, documents=1)
    _, key = create_token(admin, "pipeline")
    url = reverse("api_v1_predict", args=[project.pk])
    assert call(client, "post", url, key, {"text": "asthma"}).status_code == 409
    run = TrainingRun.objects.create(project=project, status="succeeded")
    ModelVersion.objects.create(project=project, run=run, artifact_path="/gone", is_active=True)
    gone = call(client, "post", url, key, {"text": "asthma"})
    assert gone.status_code == 409 and "could not be loaded" in gone.json()["detail"]
    assert call(client, "post", url, key, {"text": "   "}).status_code == 400


@pytest.mark.django_db
def test_annotators_read_runs_but_cannot_start_them(client, admin, django_user_model):
    project = annotated_project(admin)
    annotator = person("ann")
    Membership.objects.create(project=project, user=annotator, role="annotator")
    _, key = create_token(annotator, "notebook")
    assert call(client, "get", reverse("api_runs", args=[project.pk]), key).status_code == 200
    refused = call(client, "post", reverse("api_runs", args=[project.pk]), key, {})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
