"""Heavy work is bounded: run options are the known ones within the same bounds on the page
and in the API."""

import json

import pytest
from django.urls import reverse

from annotation.services import create_project
from training.forms import LIMITS
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project("Limits", created_by=admin)


def test_unknown_run_options_are_refused_with_the_known_ones(client, admin, project):
    client.force_login(admin)
    response = client.post(
        reverse("api_runs", args=[project.pk]), json.dumps({"epochs": 2, "warmup": 0.5}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["warmup"] == [
        "Not a training option; the options are epochs, learning_rate, batch_size, max_length, seed, patience, precision."
    ]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_page_and_the_api_hold_run_options_to_the_same_bounds(client, admin, project, name):
    client.force_login(admin)
    low, high = LIMITS[name]
    too_big = high * 10 if isinstance(high, int) else high * 2
    api = client.post(reverse("api_runs", args=[project.pk]), json.dumps({name: too_big}), content_type="application/json")
    assert api.status_code == 400 and name in api.json()["errors"]
    page_fields = {"epochs": 1, "learning_rate": 1e-4, "batch_size": 4, "max_length": 32, "seed": 1, name: too_big}
    page = client.post(reverse("train", args=[project.pk]), page_fields)
    if name == "patience":  # an API-only option
        return
    assert page.status_code == 400 and "Ensure this value is less than or equal to" in page.content.decode()
    assert not TrainingRun.objects.exists()
