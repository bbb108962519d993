"""Every page with a table, on a phone (390x844): nothing overflows sideways, and every
action in a table (links, buttons, choices) is on screen without scrolling the table."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation import editing
from annotation.models import Annotation
from annotation.services import create_project
from tests.cast import person, team
from tests.conftest import make_document
from training.models import ModelVersion, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}

OUT_OF_SIGHT = """() => [...document.querySelectorAll("table a, table button, table select, table input:not([type=hidden])")]
  .filter((element) => element.getClientRects().length)
  .filter((element) => { const box = element.getBoundingClientRect(); return box.left < 0 || box.right > window.innerWidth; })
  .map((element) => (element.textContent || element.getAttribute("aria-label") || element.name || element.tagName).trim())"""


@pytest.fixture
def chief(db):
    return person("chief", superuser=True)


@pytest.fixture
def world(chief):
    project = create_project("Cardiology ward notes with a long project name", created_by=chief)
    people = team(project)
    disease = project.labels.get(name="DISEASE")
    for number in range(3):
        document = make_document(project, f"Patient {number} was treated for heart failure with furosemide.")
        for annotator in (people["annotator"], people["reviewer"]):
            annotation = editing.annotation_for(document, annotator)
            annotation = editing.add_span(
                annotation, version=annotation.version, first_token=number, last_token=number + 1, label=disease
            ).annotation
            editing.submit(annotation, version=annotation.version)
    run = TrainingRun.objects.create(project=project, status="succeeded")
    ModelVersion.objects.create(project=project, run=run, artifact_path="/unused")
    return project, run


def test_tables_fit_a_phone_with_their_actions_in_view(login_page, live_server, chief, world, tmp_path):
    project, run = world
    page = login_page(chief, **PHONE)
    pages = {
        "projects": reverse("home"),
        "documents": reverse("project_documents", args=[project.pk]),
        "settings": reverse("project_settings", args=[project.pk]),
        "runs": reverse("training_runs", args=[project.pk]),
        "agreement": reverse("agreement", args=[project.pk]),
        "history": reverse("audit_log", args=[project.pk]),
        "people": reverse("user_list"),
        "events": reverse("user_events"),
        "profile": reverse("profile"),
    }
    problems = {}
    for name, path in pages.items():
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        page.screenshot(path=str(tmp_path / f"phone-{name}.png"), full_page=True)
        hidden = page.evaluate(OUT_OF_SIGHT)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if hidden or overflow > 0:
            problems[name] = {"actions out of sight": hidden, "overflow px": overflow}
    assert problems == {}, {name: problem["actions out of sight"][:4] for name, problem in problems.items()}
    assert Annotation.objects.filter(document__project=project, status="submitted").count() == 6
