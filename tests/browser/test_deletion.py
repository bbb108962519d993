"""Deleting a document in a real Chromium: from the labelling page to a page that says what
goes, a ticked box, and the Models page marking the model that trained on it."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.models import Document
from tests.browser.test_csp import watch
from tests.conftest import make_document
from training.models import ModelVersion, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_an_admin_deletes_a_document_and_its_model_is_marked(login_page, live_server, admin):
    from annotation.services import create_project

    project = create_project("Cardiology", created_by=admin)
    letter = make_document(project, "Mrs Jones has sarcoidosis .", title="Jones letter")
    kept = make_document(project, "Gout treated with colchicine .")
    snapshot = [{"document": document.pk, "annotation": 0, "version": 1} for document in (letter, kept)]
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={}, data_snapshot=snapshot)
    ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere", is_active=True)

    page = login_page(admin)
    violations = watch(page)
    page.goto(live_server.url + reverse("annotate", args=[project.pk, letter.pk]))
    page.get_by_role("link", name="Delete this document…").click()
    expect(page.get_by_role("heading", name="Delete Jones letter?")).to_be_visible()
    expect(page.locator("main")).to_contain_text("0 annotations with their spans and history")
    shot(page, "delete-document-asks-first")
    page.get_by_role("button", name="Delete Jones letter").click()  # the box is not ticked: the browser keeps the page
    expect(page.get_by_role("heading", name="Delete Jones letter?")).to_be_visible()
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Delete Jones letter").click()
    expect(page.get_by_role("status").or_(page.locator(".messages"))).to_contain_text("Jones letter was deleted.")
    assert list(Document.objects.filter(project=project).values_list("pk", flat=True)) == [kept.pk]

    page.goto(live_server.url + reverse("training_runs", args=[project.pk]))
    expect(page.locator(".deleted-training-data")).to_have_text("Trained on 1 document that was deleted")
    shot(page, "models-trained-on-deleted-documents")
    assert violations == []
