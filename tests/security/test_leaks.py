"""What each role reads: one rule for pages and API. The dev error lists quote other people's
annotations, so only reviewers and project admins get them; the server path of the base
model is for project admins."""

import pytest
from django.urls import reverse

from annotation.models import Membership
from annotation.services import create_project
from tests.cast import person, team
from tests.conftest import make_document
from training.models import TrainingRun

pytestmark = pytest.mark.django_db
SECRET = "Mrs Jones has metastatic melanoma"  # someone else's annotated text


@pytest.fixture
def world(django_user_model):
    owner = person("owner")
    project = create_project("Leaks", created_by=owner)
    document = make_document(project, SECRET + " .")
    error = {
        "doc_id": str(document.pk),
        "label": "DISEASE",
        "start": 13,
        "end": 32,
        "text": SECRET[13:32],
        "context": SECRET,
    }
    evaluation = {
        "micro": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "macro": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "weighted": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "per_label": {"DISEASE": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}},
        "confusion": {"labels": ["O", "DISEASE"], "matrix": [[5, 1], [1, 1]]},
        "false_negatives": [error],
        "false_positives": [error],
        "documents": 1,
    }
    run = TrainingRun.objects.create(
        project=project,
        status="succeeded",
        base_model="/srv/studio/models/clinical-bert",
        metrics={"evaluation": evaluation, "dev_f1_per_epoch": [0.5]},
    )
    readers = {role: user for role, user in team(project).items() if role in Membership.Role.values}
    return project, run, readers


def reads(client, user, project, run) -> dict[str, str]:
    client.force_login(user)
    urls = {
        "page": reverse("training_run", args=[project.pk, run.pk]),
        "runs": reverse("api_runs", args=[project.pk]),
        "run": reverse("api_run", args=[project.pk, run.pk]),
        "metrics": reverse("api_run_metrics", args=[project.pk, run.pk]),
    }
    return {name: client.get(url).content.decode() for name, url in urls.items()}


def test_annotators_read_error_counts_and_the_model_name_only(client, world):
    project, run, readers = world
    for name, body in reads(client, readers["annotator"], project, run).items():
        assert SECRET[13:32] not in body and 'false_positives"' not in body, name
        assert "/srv/studio" not in body, name
    body = client.get(reverse("api_run", args=[project.pk, run.pk])).json()
    assert body["base_model"] == "clinical-bert"
    assert body["metrics"]["evaluation"]["false_negatives_count"] == 1
    assert body["metrics"]["evaluation"]["micro"]["f1"] == 0.5


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_and_admins_read_the_error_lists(client, world, role):
    project, run, readers = world
    for name, body in reads(client, readers[role], project, run).items():
        if name != "runs":  # the list has no metrics
            assert SECRET[13:32] in body, name
        if name != "metrics":  # which has no base model
            assert ("/srv/studio/models/clinical-bert" in body) == (role == "admin"), name
