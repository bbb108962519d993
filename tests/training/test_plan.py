"""The train page says what a run will do before it starts: the split and the expected duration."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Document
from tests.training.test_runs import annotated_project
from training import services
from training.ml.data import TrainingDocument, split_documents
from training.models import TrainingRun
from training.plan import Estimate

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return annotated_project(admin, documents=20)


def train_page(client, admin, project) -> str:
    client.force_login(admin)
    response = client.get(reverse("train", args=[project.pk]))
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def words_of(project) -> int:
    return sum(
        len(starts) for starts in Document.objects.filter(project=project).values_list("token_starts", flat=True)
    )


def finished_run(project, *, words_seen, seconds, base_model=None, status="succeeded"):
    finished = timezone.now()
    return TrainingRun.objects.create(
        project=project,
        status=status,
        base_model=base_model or services.base_model(),
        metrics={"words_seen": words_seen},
        started_at=finished - timedelta(seconds=seconds),
        finished_at=finished,
    )


def test_the_counts_are_the_split_the_run_will_make(client, admin, project):
    ids = [str(pk) for pk in Document.objects.filter(project=project).values_list("pk", flat=True)]
    train, dev = split_documents([TrainingDocument(doc_id, [], []) for doc_id in ids], 0.2)
    page = train_page(client, admin, project)
    assert f"{len(train)} documents will train, {len(dev)} {'is' if len(dev) == 1 else 'are'} held out for dev" in page

    Document.objects.filter(project=project).update(is_dev=False)
    Document.objects.filter(pk__in=ids[:6]).update(is_dev=True)
    page = train_page(client, admin, project)
    assert "14 documents will train, 6 are held out for dev (the evaluation split)." in page
    assert "held out for dev: the scores" not in page and "No document is held out" not in page


def test_an_empty_or_tiny_dev_split_is_warned_about(client, admin, project):
    Document.objects.filter(project=project).update(is_dev=False)
    page = train_page(client, admin, project)
    assert "20 documents will train, 0 are held out for dev" in page
    assert "⚠ No document is held out for dev: the run will have no scores" in page

    Document.objects.filter(pk=Document.objects.filter(project=project).first().pk).update(is_dev=True)
    page = train_page(client, admin, project)
    assert "19 documents will train, 1 is held out for dev" in page
    assert "⚠ Only 1 document is held out for dev: the scores will swing with every document." in page


def test_the_estimate_comes_from_the_last_finished_runs_of_the_same_base_model(client, admin, project):
    page = train_page(client, admin, project)
    assert (
        "Estimated duration: under a minute (a rough guess for 2 CPU cores: no run has finished on this machine yet)."
        in page
    )
    # Six epochs of this project's words: each of these runs went at a speed that takes 3 minutes.
    words = words_of(project) * 6
    finished_run(project, words_seen=words, seconds=180)
    finished_run(project, words_seen=2 * words, seconds=360)
    finished_run(project, words_seen=words, seconds=9000, base_model="another-model")
    finished_run(project, words_seen=words, seconds=9000, status="failed")
    page = train_page(client, admin, project)
    assert "Estimated duration: about 3 minutes (from the last 2 runs on this machine)." in page


def test_the_estimate_follows_the_epochs_typed_in(client, admin, project):
    finished_run(project, words_seen=words_of(project) * 6, seconds=180)
    client.force_login(admin)
    url = reverse("train", args=[project.pk])
    plan = client.get(url, {"epochs": "12", "seed": "x"}, headers={"HX-Request": "true"}).content.decode()
    assert plan.startswith('<ul class="summary" id="training-plan">') and "<html" not in plan
    assert "Estimated duration: about 6 minutes (from the last run on this machine)." in plan
    # A refused start keeps the epochs asked for in the estimate beside the error.
    asked = {"epochs": 3, "learning_rate": 1e-4, "batch_size": 16, "max_length": 9999, "seed": 1}
    page = " ".join(client.post(url, asked).content.decode().split())
    assert "Estimated duration: about 2 minutes (from the last run on this machine)." in page
    assert not TrainingRun.objects.filter(status="queued").exists()


def test_no_estimate_is_shown_when_training_cannot_start(client, admin):
    project = annotated_project(admin, documents=3)
    page = train_page(client, admin, project)
    assert "Training needs at least 10 submitted documents" in page and "Estimated duration" not in page
    assert "hx-get" not in page
    changed = client.get(reverse("train", args=[project.pk]), {"epochs": "3"}, headers={"HX-Request": "true"})
    assert changed.status_code == 204  # htmx leaves the page as it is


@pytest.mark.parametrize(
    ("seconds", "runs", "said"),
    [
        (40, 0, "under a minute (a rough guess for 2 CPU cores: no run has finished on this machine yet)"),
        (70, 1, "about 1 minute (from the last run on this machine)"),
        (89 * 60, 3, "about 89 minutes (from the last 3 runs on this machine)"),
        (3 * 3600, 2, "about 3.0 hours (from the last 2 runs on this machine)"),
    ],
)
def test_an_estimate_says_how_long_and_how_it_was_made(seconds, runs, said):
    assert str(Estimate(seconds, runs)) == said


def test_the_estimate_counts_pretraining_on_the_training_and_unannotated_text(client, admin, project):
    from annotation.services import import_documents
    from annotation.text.formats.documents import ImportedDocument

    annotated = words_of(project)
    import_documents(project, [ImportedDocument(text=" ".join(["asthma"] * annotated))], importer=admin)
    import_documents(project, [ImportedDocument(text=" ".join(["insulin"] * 10 * annotated))], importer=admin)
    Document.objects.filter(text__startswith="insulin").update(is_dev=True)  # dev text is never learnt
    annotations, _ = services.check_training_data(project)
    train, _dev = split_documents(
        [TrainingDocument(str(a.document_id), [], [], is_dev=a.document.is_dev) for a in annotations], 0.2
    )
    train_ids = {d.doc_id for d in train}
    train_words = sum(len(a.document.token_starts) for a in annotations if str(a.document_id) in train_ids)
    # A speed of 6 epochs of the annotated words in 6 minutes: a minute an epoch.
    finished_run(project, words_seen=annotated * 6, seconds=360)
    client.force_login(admin)
    url = reverse("train", args=[project.pk])
    asked = {"epochs": "2", "mlm_epochs": "1"}
    plan = client.get(url, asked, headers={"HX-Request": "true"}).content.decode()
    minutes = round(2 + (train_words + min(train_words, annotated)) / annotated)  # unannotated: capped
    assert f"Estimated duration: about {minutes} minutes" in plan
    plain = client.get(url, {"epochs": "2"}, headers={"HX-Request": "true"}).content.decode()
    assert "Estimated duration: about 2 minutes" in plain
