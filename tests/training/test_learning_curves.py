"""The learning curve on the run report: from the project's own runs, and from a background run
on 25/50/75/100% of the training documents that keeps no model."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from annotation.models import Membership
from tests.cast import person
from tests.training.test_runs import FAST, annotated_project
from training import learning_curves, services, tasks
from training.models import LearningCurve, ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(admin, settings, tiny_bert):
    """A project of 20 annotated documents and one real succeeded run of the tiny BERT."""
    settings.BASE_MODEL = tiny_bert
    project = annotated_project(admin, documents=20)
    run = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return project, run


def model_folders() -> list[Path]:
    return sorted(Path(django_settings.MODELS_ROOT).rglob("config.json"))


def test_a_learning_curve_run_trains_on_growing_shares_and_keeps_no_model(admin, trained):
    project, run = trained
    versions, folders = list(ModelVersion.objects.values_list("pk", "is_active")), model_folders()
    curve = learning_curves.start(run, admin)
    tasks.learning_curve_task.call_local(curve.pk)
    curve.refresh_from_db()
    assert curve.status == LearningCurve.Status.SUCCEEDED, curve.error
    assert curve.percent == 100
    train_documents = len(run.data_snapshot) - run.metrics["evaluation"]["documents"]
    sizes = [point["documents"] for point in curve.points]
    assert sizes == [round(train_documents * share) for share in (0.25, 0.5, 0.75, 1.0)]
    for point in curve.points:
        assert 0.0 <= point["micro"] <= 1.0
        assert set(point["per_label"]) == {"DISEASE", "TREATMENT"}
    # The full share is the run itself: the same documents, dev split, settings and seed.
    assert curve.points[-1]["micro"] == pytest.approx(run.metrics["evaluation"]["micro"]["f1"])
    assert list(ModelVersion.objects.values_list("pk", "is_active")) == versions
    assert model_folders() == folders


def test_the_report_shows_the_curve_its_words_and_the_projection(client, admin, trained):
    project, run = trained
    curve = learning_curves.start(run, admin)
    tasks.learning_curve_task.call_local(curve.pk)
    client.force_login(admin)
    page = client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode()
    assert 'aria-label="Dev F1 on 25, 50, 75 and 100% of the training documents"' in page
    assert page.count("<polyline") >= 3 + 1  # micro and both labels here; the loss curve above
    words = learning_curves_words(page)
    assert words[0].startswith(("F1 rose ", "F1 is flat over the last 25% of documents"))
    assert words[0].endswith(("more annotation still pays off.", "spend effort on review instead."))
    assert "doubling to " in words[1] and "training documents would likely give F1 " in words[1]
    assert "From the learning-curve run." in page and "From the runs of this project." not in page  # one run: no curve


def learning_curves_words(page: str) -> list[str]:
    section = page[page.index('id="learning-curve"') :]
    verdict = section.split('class="curve-verdict', 1)[1].split("<strong>", 1)[1].split("</strong>", 1)[0]
    projection = section.split("Fitted F1 = ", 1)[1].split("</p>", 1)[0]
    return [verdict, "Fitted F1 = " + projection]


def past_run(project, documents: int, dev: int, micro: float, disease: float, treatment: float) -> TrainingRun:
    def scores(f1):
        return {"precision": f1, "recall": f1, "f1": f1, "support": 10}

    evaluation = {
        "documents": dev,
        "per_label": {"DISEASE": scores(disease), "TREATMENT": scores(treatment)},
        **{average: scores(micro) for average in ("micro", "macro", "weighted")},
        "confusion": {"labels": ["O"], "matrix": [[1]]},
    }
    return TrainingRun.objects.create(
        project=project,
        status=TrainingRun.Status.SUCCEEDED,
        base_model="tiny",
        data_snapshot=[{"document": n} for n in range(documents + dev)],
        metrics={"evaluation": evaluation},
    )


def test_the_projects_own_runs_draw_a_curve_that_says_annotation_pays_off(client, admin):
    project = annotated_project(admin, documents=1)
    past_run(project, 40, 10, 0.50, 0.55, 0.45)
    past_run(project, 80, 10, 0.62, 0.66, 0.58)
    run = past_run(project, 120, 10, 0.70, 0.73, 0.67)
    TrainingRun.objects.create(project=project, status=TrainingRun.Status.SUCCEEDED, base_model="other")
    assert [p["documents"] for p in learning_curves.history_points(run)] == [40, 80, 120]
    client.force_login(admin)
    page = client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode()
    assert 'aria-label="Dev F1 by training documents, one point per run"' in page
    assert "<title>DISEASE F1 120: 0.730</title>" in page
    verdict = learning_curves_words(page)[0]
    assert verdict.startswith("F1 rose 0.0") and verdict.endswith(
        "from the last 25% of documents: more annotation still pays off."
    )
    assert "No learning-curve run yet." in page and "From the runs of this project." in page


def test_starting_is_refused_with_a_reason(client, admin, trained):
    project, run = trained
    failed = TrainingRun.objects.create(project=project, status=TrainingRun.Status.FAILED, base_model="tiny")
    with pytest.raises(services.TrainingRefused, match="this run did not succeed"):
        learning_curves.start(failed, admin)
    learning_curves.start(run, admin)
    client.force_login(admin)
    response = client.post(reverse("learning_curve_start", args=[project.pk, run.pk]), follow=True)
    assert "A learning curve is already being drawn for this project; wait for it." in response.content.decode()
    assert LearningCurve.objects.count() == 1
    annotator = person("annotator")
    Membership.objects.create(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    client.force_login(annotator)
    assert client.post(reverse("learning_curve_start", args=[project.pk, run.pk])).status_code == 403
    assert (
        "Learning curve</button>" not in client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode()
    )


def test_a_running_curve_shows_one_progress_bar_and_a_dead_one_fails(client, admin, trained, settings):
    project, run = trained
    curve = learning_curves.start(run, admin)
    LearningCurve.objects.filter(pk=curve.pk).update(
        status=LearningCurve.Status.RUNNING, progress=0.375, points=[{"documents": 4, "micro": 0.4, "per_label": {}}]
    )
    from django.utils import timezone

    LearningCurve.objects.filter(pk=curve.pk).update(heartbeat_at=timezone.now())
    client.force_login(admin)
    partial = client.get(reverse("learning_curve_progress", args=[project.pk, run.pk])).content.decode()
    assert partial.count("<progress") == 1
    assert 'value="38"' in partial and "Training on 2 of 4 shares of the documents" in partial
    assert 'hx-trigger="every 2s"' in partial
    LearningCurve.objects.filter(pk=curve.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    partial = client.get(reverse("learning_curve_progress", args=[project.pk, run.pk])).content.decode()
    assert "The learning curve failed: " in partial and "<progress" not in partial
