"""Heavy work is bounded: run options are the known ones within the same bounds on the page
and in the API."""

import json

import pytest
from django.urls import reverse

from annotation.services import create_project
from tests.cast import person
from tests.studio.test_users import allowed_to_create_projects
from training.forms import LIMITS
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project("Limits", created_by=admin)


def test_unknown_run_options_are_refused_with_the_known_ones(client, admin, project):
    client.force_login(admin)
    response = client.post(
        reverse("api_runs", args=[project.pk]),
        json.dumps({"epochs": 2, "warmup": 0.5}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["warmup"] == [
        "Not a training option; the options are epochs, learning_rate, batch_size, max_length, seed, patience, precision, "
        "context, mlm_epochs."
    ]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_page_and_the_api_hold_run_options_to_the_same_bounds(client, admin, project, name):
    client.force_login(admin)
    low, high = LIMITS[name]
    too_big = high * 10 if isinstance(high, int) else high * 2
    api = client.post(
        reverse("api_runs", args=[project.pk]), json.dumps({name: too_big}), content_type="application/json"
    )
    assert api.status_code == 400 and name in api.json()["errors"]
    page_fields = {"epochs": 1, "learning_rate": 1e-4, "batch_size": 4, "max_length": 32, "seed": 1, name: too_big}
    page = client.post(reverse("train", args=[project.pk]), page_fields)
    if name == "patience":  # an API-only option
        return
    assert page.status_code == 400 and "Ensure this value is less than or equal to" in page.content.decode()
    assert not TrainingRun.objects.exists()


def test_people_who_are_not_staff_create_a_bounded_number_of_projects(client, django_user_model, settings):
    settings.MAX_PROJECTS_PER_USER = 2
    clinician = allowed_to_create_projects(person("clinician"))
    client.force_login(clinician)
    for name in ("One", "Two"):
        assert client.post(reverse("project_create"), {"name": name}).status_code == 302
    page = client.post(reverse("project_create"), {"name": "Three"})
    assert page.status_code == 400 and "You have created 2 projects, the most one person may" in page.content.decode()
    api = client.post(reverse("api_projects"), json.dumps({"name": "Three"}), content_type="application/json")
    assert api.status_code == 403 and api.json()["detail"].startswith("You have created 2 projects")
    staff = person("staff", is_staff=True)
    create_project("Staff one", created_by=staff)
    create_project("Staff two", created_by=staff)
    create_project("Staff three", created_by=staff)


def test_a_person_has_a_bounded_number_of_runs_queued_or_running(admin, settings):
    from tests.training.test_runs import annotated_project
    from training.services import TrainingRefused, start_run

    settings.MAX_ACTIVE_RUNS_PER_USER = 2
    projects = [annotated_project(admin, name=f"Project {n}") for n in range(3)]
    for project in projects[:2]:
        start_run(project, admin, enqueue=False)
    with pytest.raises(TrainingRefused, match="You have 2 runs queued or running, the most one person may"):
        start_run(projects[2], admin, enqueue=False)


def test_try_it_and_the_predict_api_share_one_rate_per_person(client, admin, project):
    client.force_login(admin)
    api, page = reverse("api_v1_predict", args=[project.pk]), reverse("try_it_predict", args=[project.pk])
    body = json.dumps({"text": "Asthma ."})
    for number in range(30):  # 30 a minute, counted together (no model yet: each is refused after counting)
        if number % 2:
            assert client.post(api, body, content_type="application/json").status_code == 409
        else:
            assert "no active model" in client.post(page, {"text": "Asthma ."}).content.decode()
    assert client.post(api, body, content_type="application/json").status_code == 429
    assert "Too many predictions in a row; try again in" in client.post(page, {"text": "Asthma ."}).content.decode()


def test_pre_annotation_keeps_to_the_projects_hourly_quota(admin, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tests.conftest import make_document
    from tests.training.test_runs import annotated_project
    from training import preannotation, services
    from training.models import ModelVersion

    project = annotated_project(admin)
    for number in range(3):
        make_document(project, f"Unfinished note {number} about asthma .")
    needed = preannotation.characters(preannotation.documents_to_preannotate(project))
    settings.PREANNOTATION_CHARACTERS_PER_HOUR = needed + needed // 2
    versions = []
    for _ in range(2):
        run = TrainingRun.objects.create(project=project, status="succeeded")
        versions.append(ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere"))
    services.activate(versions[0])  # the first is never refused, and records what it read
    ModelVersion.objects.filter(pk=versions[0].pk).update(
        preannotation_started_at=timezone.now(), preannotation_characters=needed
    )
    services.activate(versions[1])
    versions[1].refresh_from_db()
    assert versions[1].is_active and versions[1].preannotation_status == "failed"
    assert versions[1].preannotation_error.startswith(
        f"This project has pre-annotated {needed:,} characters in the last hour"
    )
    ModelVersion.objects.filter(pk=versions[0].pk).update(preannotation_started_at=timezone.now() - timedelta(hours=2))
    services.activate(versions[1])  # an hour later: the Retry goes through
    versions[1].refresh_from_db()
    assert versions[1].preannotation_status == "queued"
