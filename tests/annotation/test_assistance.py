"""The labelling page through the assistance seam: with the training app's assistant it shows
a model's help; with none registered, `annotation` works alone."""

import pytest
from django.urls import reverse

from annotation import assistance, ordering
from annotation.models import Project
from annotation.selectors import document_ids
from tests.conftest import make_document
from training.assistance import ModelAssistant

pytestmark = pytest.mark.django_db


@pytest.fixture
def unassisted():
    registered = assistance.assistant()
    assistance.register(assistance.Assistant())
    yield
    assistance.register(registered)


def test_the_training_app_registers_its_assistant():
    assert isinstance(assistance.assistant(), ModelAssistant)


def test_without_an_assistant_the_page_has_no_suggestion_panel_and_model_orders_fall_back(
    client, user, project, unassisted
):
    first = make_document(project, "Asthma treated with aspirin.")
    second = make_document(project, "Lung cancer treated with cisplatin.")
    project.document_order = Project.DocumentOrder.UNCERTAIN
    project.save()
    client.force_login(user)

    page = client.get(reverse("annotate", args=[project.pk, first.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="suggestion-panel"' not in html
    assert "No model has scored this document yet, so it comes in import order." in html

    saved = client.post(
        reverse("span_add", args=[project.pk, first.pk]),
        {"version": 1, "first": 0, "last": 0, "label": project.labels.get(name="DISEASE").pk},
    )
    assert saved.status_code == 200 and "suggestion-panel" not in saved.content.decode()
    assert ordering.next_document(project, user, current=first) == second
    assert list(document_ids(project, has_suggestions=True, viewer=user)) == []


def test_with_the_model_assistant_the_page_shows_the_suggestion_panel(client, user, project):
    document = make_document(project, "Asthma treated with aspirin.")
    client.force_login(user)
    html = client.get(reverse("annotate", args=[project.pk, document.pk])).content.decode()
    assert 'id="suggestion-panel"' in html and "No model is active yet" in html
    assert reverse("suggestion_accept", args=[project.pk, document.pk, 0]) in html
