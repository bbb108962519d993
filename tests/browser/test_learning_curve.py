"""The run report's learning curve in a real Chromium: the curve from the project's runs with its
words, the "Learning curve" button queueing a background run shown as one progress bar, and the
finished curve replacing the bar in place once the worker's function has run."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.training.conftest import tiny_bert  # noqa: F401 (the fixture)
from tests.training.test_learning_curves import past_run
from tests.training.test_runs import FAST, annotated_project
from training import services, tasks
from training.models import LearningCurve, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#learning-curve").screenshot(path=str(SHOTS / f"{name}.png"))


def test_the_learning_curve_button_queues_a_run_whose_curve_appears_in_place(
    login_page,
    live_server,
    admin,
    settings,
    tiny_bert,  # noqa: F811 (the fixture)
):
    settings.BASE_MODEL = tiny_bert
    project = annotated_project(admin, documents=20)
    for documents, micro in ((4, 0.02), (9, 0.045)):
        TrainingRun.objects.filter(pk=past_run(project, documents, 4, micro, micro + 0.02, micro).pk).update(
            base_model=tiny_bert
        )
    run = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(run.pk)
    page = login_page(admin)
    page.goto(live_server.url + reverse("training_run", args=[project.pk, run.pk]))
    section = page.locator("#learning-curve")
    expect(section.locator('svg[aria-label="Dev F1 by training documents, one point per run"]')).to_be_visible()
    expect(section.locator(".curve-verdict")).to_contain_text("the last 25% of documents")
    expect(section.locator(".legend li")).to_have_text(["micro F1", "DISEASE F1", "TREATMENT F1"])
    shoot(page, "learning-curve-history")

    section.get_by_role("button", name="Learning curve").click()
    expect(page.locator(".messages, [role=status]").first).to_be_visible()
    section = page.locator("#learning-curve")
    expect(section.get_by_role("button", name="Learning curve")).to_be_disabled()
    expect(section.get_by_text("Waiting for a worker to pick the learning curve up.")).to_be_visible()
    expect(section.locator("progress")).to_have_count(1)
    shoot(page, "learning-curve-queued")

    page.evaluate("window.stayed = true")  # gone if the finished curve reloaded the whole page
    curve = LearningCurve.objects.get()
    tasks.learning_curve_task.call_local(curve.pk)
    chart = section.locator('svg[aria-label="Dev F1 on 25, 50, 75 and 100% of the training documents"]')
    expect(chart).to_be_visible(timeout=15_000)
    expect(section.locator("progress")).to_have_count(0)
    expect(section.locator(".curve-projection").first).to_contain_text("would likely give F1")
    assert page.evaluate("window.stayed") is True
    expect(section.get_by_role("button", name="Learning curve")).to_be_enabled()
    shoot(page, "learning-curve-finished")
