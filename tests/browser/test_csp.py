"""The Content-Security-Policy allows only the studio's own scripts and styles, and every page
still works under it in a real Chromium: no violation reported, colours and charts drawn,
the labelling page saving, the API docs running."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation import editing
from annotation.services import create_project
from tests.browser.test_labelling import TEXT, drag_select, open_document, saved, stored_spans, token
from tests.cast import person
from tests.conftest import make_document
from training.models import TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
EVALUATION = {
    **{
        average: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
        for average in ("micro", "macro", "weighted")
    },
    "per_label": {"DISEASE": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}},
    "confusion": {"labels": ["O", "DISEASE"], "matrix": [[9, 3], [1, 1]]},
    "false_negatives": [],
    "false_positives": [],
    "documents": 1,
}


@pytest.fixture
def world(django_user_model):
    owner = person("owner", superuser=True)
    project = create_project("Policy", created_by=owner)
    document = make_document(project, TEXT, "Case")
    annotation = editing.annotation_for(document, owner)
    editing.add_span(annotation, version=1, first_token=2, last_token=3, label=project.labels.get(name="DISEASE"))
    run = TrainingRun.objects.create(
        project=project,
        status="succeeded",
        metrics={"evaluation": EVALUATION, "dev_f1_per_epoch": [0.3, 0.5]},
        progress={"loss": [[1, 1.2], [2, 0.8], [3, 0.5]], "step": 3, "total_steps": 3},
    )
    return owner, project, document, run


def watch(page) -> list[str]:
    """Every CSP violation the page reports, as Chromium's console words it, and every htmx
    error (an attribute htmx cannot read, such as a trigger it cannot parse)."""
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text)
        if "Content Security Policy" in message.text or message.text.startswith("htmx:")
        else None,
    )
    return violations


def test_every_page_works_under_the_policy(login_page, live_server, world):
    owner, project, document, run = world
    page = login_page(owner)
    violations = watch(page)

    response = page.goto(live_server.url + reverse("home"))
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    chip = page.locator(".label-chip", has_text="DISEASE")
    assert chip.evaluate("e => getComputedStyle(e).borderLeftColor") == "rgb(228, 87, 46)"  # #e4572e

    page.goto(live_server.url + reverse("project_documents", args=[project.pk]))
    expect(page.locator("#document-table")).to_be_visible()

    open_document(page, live_server, document)
    mark = page.locator("mark.span").first
    assert mark.evaluate("e => getComputedStyle(e).borderBottomColor") == "rgb(228, 87, 46)"
    drag_select(page, token(page, document, "cisplatin"), token(page, document, "cisplatin"))
    page.keyboard.press("2")
    saved(page, "Tagged")
    assert ("cisplatin", "TREATMENT") in stored_spans(document)

    page.goto(live_server.url + reverse("training_run", args=[project.pk, run.pk]))
    expect(page.locator("svg").first).to_be_visible()
    hot = page.locator("table.confusion td.heat-10").first
    assert hot.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    page.goto(live_server.url + reverse("try_it", args=[project.pk]))
    page.goto(live_server.url + "/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Clinical NER studio API")
    assert violations == []
