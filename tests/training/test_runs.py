"""Training runs in the studio: refusals, a real huey consumer and cancel (faults: tests/reliability)."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from annotation.models import Annotation, Document
from annotation.services import create_project, import_documents
from annotation.text.formats.documents import ImportedDocument
from tests.conftest import wait_for
from training import services
from training.ml.data import Hyperparameters
from training.ml.inference import load_predictor
from training.models import ModelVersion, TrainingRun
from training.thresholds import model_thresholds

SENTENCES = [
    (
        "The patient has breast cancer and was given chemotherapy .",
        [("breast cancer", "DISEASE"), ("chemotherapy", "TREATMENT")],
    ),
    (
        "Asthma was treated with aspirin after surgery .",
        [("Asthma", "DISEASE"), ("aspirin", "TREATMENT"), ("surgery", "TREATMENT")],
    ),
    ("The patient with diabetes was given insulin .", [("diabetes", "DISEASE"), ("insulin", "TREATMENT")]),
    (
        "Lung cancer was treated with surgery and chemotherapy .",
        [("Lung cancer", "DISEASE"), ("surgery", "TREATMENT"), ("chemotherapy", "TREATMENT")],
    ),
]


def mentions(text, wanted):
    found, position = [], 0
    for phrase, label in wanted:
        start = text.index(phrase, position)
        found.append((start, start + len(phrase), label))
        position = start + len(phrase)
    return found


def annotated_project(admin, documents=12, name="Clinic", filler=""):
    project = create_project(name, created_by=admin)
    imported = []
    for index in range(documents):
        text, wanted = SENTENCES[index % len(SENTENCES)]
        text = f"{text} ( {index} ){filler}"
        imported.append(ImportedDocument(text=text, mentions=mentions(text, wanted)))
    import_documents(project, imported, importer=admin)
    return project


FAST = {"epochs": 2, "batch_size": 4, "max_length": 32, "patience": 0}
LONG = {"epochs": 400, "batch_size": 2, "max_length": 32, "patience": 0}


@pytest.fixture
def tiny_settings(settings, tiny_bert, tmp_path):
    settings.BASE_MODEL = tiny_bert
    return settings


@pytest.mark.django_db
def test_training_refuses_too_few_submitted_documents(admin, settings):
    project = annotated_project(admin, documents=4)
    with pytest.raises(services.TrainingRefused, match="at least 10 submitted documents; this project has 4"):
        services.start_run(project, admin)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_training_refuses_a_label_without_examples_and_warns_about_rare_ones(admin, settings):
    project = annotated_project(admin)
    project.labels.create(name="SYMPTOM", color="#123456", hotkey="3")
    with pytest.raises(services.TrainingRefused, match="The label SYMPTOM has no examples in submitted documents"):
        services.start_run(project, admin)
    Annotation.objects.filter(document__project=project).exclude(pk=Annotation.objects.first().pk).delete()
    settings.TRAINING_MIN_DOCUMENTS = 1
    project.labels.filter(name="SYMPTOM").delete()
    _annotations, warnings = services.check_training_data(project)
    assert warnings == [
        "DISEASE has only 1 example; its scores will be unreliable.",
        "TREATMENT has only 1 example; its scores will be unreliable.",
    ]


@pytest.mark.django_db
def test_bad_hyperparameters_are_refused(admin):
    project = annotated_project(admin)
    with pytest.raises(services.TrainingRefused, match="learning_rate must be"):
        services.start_run(project, admin, {"learning_rate": 5.0})


@pytest.mark.django_db
def test_a_large_corpus_trains_with_the_options_that_pay_on_one(client, admin):
    from training.ml.data import LARGE_CORPUS_OPTIONS, LARGE_CORPUS_WORDS

    small = annotated_project(admin)
    filler = " The patient was seen again ." * (LARGE_CORPUS_WORDS // 12 // 6 + 1)
    large = annotated_project(admin, name="Large", filler=filler)
    assert sum(len(d.token_starts) for d in large.documents.all()) >= LARGE_CORPUS_WORDS

    assert services.start_run(small, admin, enqueue=False).hyperparameters == Hyperparameters().to_dict()
    client.force_login(admin)
    page = client.get(reverse("train", args=[large.pk])).content.decode()
    assert 'name="batch_size" value="8"' in page and 'name="mlm_epochs" value="1"' in page
    run = services.start_run(large, admin, {"batch_size": 4}, enqueue=False)
    assert run.hyperparameters == {**Hyperparameters().to_dict(), **LARGE_CORPUS_OPTIONS, "batch_size": 4}


@pytest.mark.django_db(transaction=True)
def test_a_second_start_is_refused_by_the_database(admin, tiny_settings):
    project = annotated_project(admin)
    first = services.start_run(project, admin, FAST, enqueue=False)
    with pytest.raises(services.RunAlreadyActive) as error:
        services.start_run(project, admin, FAST, enqueue=False)
    assert error.value.run == first
    assert TrainingRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_train_page_links_to_the_run_already_in_progress(client, admin, tiny_settings):
    project = annotated_project(admin)
    run = services.start_run(project, admin, FAST, enqueue=False)
    client.force_login(admin)
    response = client.post(reverse("train", args=[project.pk]), {**FAST, "learning_rate": 1e-4, "seed": 1})
    assert response.status_code == 409
    assert reverse("training_run", args=[project.pk, run.pk]) in response.content.decode()


def wait_for_status(run, *statuses, timeout=120):
    def reached():
        run.refresh_from_db()
        return run.status in statuses

    wait_for(reached, timeout=timeout, message=f"run {run.pk} to reach {statuses}")


def wait_for_steps(run, steps=3, timeout=120):
    def stepping():
        run.refresh_from_db()
        return run.status == "running" and run.progress.get("step", 0) >= steps

    try:
        wait_for(stepping, timeout=timeout, message=f"run {run.pk} to train")
    except AssertionError as error:
        raise AssertionError(f"{error}; it is {run.status} at step {run.progress.get('step')}: {run.error!r}") from None


def test_a_full_run_succeeds_and_its_model_version_exists(client, admin, tiny_settings, huey_consumer):
    project = annotated_project(admin)
    run = services.start_run(project, admin, FAST)
    wait_for_status(run, "succeeded", "failed", "cancelled")
    assert run.status == "succeeded", run.error
    version = ModelVersion.objects.get(run=run)
    assert version.is_active == (run.metrics["evaluation"]["micro"]["f1"] > 0)
    assert (Path(version.artifact_path) / "config.json").exists()
    assert run.metrics["evaluation"]["per_label"].keys() >= {"DISEASE", "TREATMENT"}
    assert run.progress["loss"] and len(run.data_snapshot) == 12
    words = sum(len(document.token_starts) for document in Document.objects.filter(project=project))
    assert run.metrics["words_seen"] == words * run.metrics["epochs_run"]  # what the train page's estimate reads
    steps = [step for step, _ in run.progress["loss"]]
    assert steps == sorted(set(steps))  # one point per training step, in order
    calibration = run.metrics["calibration"]
    assert load_predictor(version.artifact_path).temperature == calibration["temperature"] != 1.0
    dev_tokens = run.metrics["evaluation"]["tokens"]
    assert calibration["tokens"]["before"]["count"] == calibration["tokens"]["after"]["count"] == dev_tokens
    assert 0 <= calibration["tokens"]["after"]["ece"] <= 1 and 0 <= calibration["entities"]["after"]["ece"] <= 1
    assert set(calibration["precision_curves"]) == {"DISEASE", "TREATMENT"}
    thresholds = model_thresholds(project, version)
    assert set(thresholds) <= {"DISEASE", "TREATMENT"}
    assert all(project.suggestion_threshold <= t for t in thresholds.values())

    client.force_login(admin)
    page = client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode()
    assert "Dev set report" in page and "Confusion matrix" in page and "<svg" in page
    assert f"temperature {calibration['temperature']:.2f}, fitted on dev" in page
    assert "Suggestion thresholds" in page


@pytest.mark.django_db
def test_only_a_model_that_finds_something_and_beats_the_active_one_is_activated(client, admin, tmp_path):
    from types import SimpleNamespace

    project = annotated_project(admin)

    def finish(f1):
        run = TrainingRun.objects.create(project=project, status="running")
        result = SimpleNamespace(
            evaluation={
                **{
                    average: {"precision": f1, "recall": f1, "f1": f1, "support": 4}
                    for average in ("micro", "macro", "weighted")
                },
                "per_label": {"DISEASE": {"precision": f1, "recall": f1, "f1": f1, "support": 4}},
                "confusion": {"labels": ["O", "DISEASE"], "matrix": [[9, 0], [4, 0]]},
                "false_negatives": [],
                "false_positives": [],
                "documents": 3,
            },
            dev_f1_per_epoch=[f1],
            epoch_loss=[1.0],
            epochs_run=1,
            best_epoch=1,
            train_seconds=1.0,
            train_examples_per_second=1.0,
            words_seen=30,
            runtime={},
            calibration=None,
            pretraining=None,
            model_dir=tmp_path / f"model-{run.pk}",
        )
        services._succeed(run, result, {})
        return ModelVersion.objects.get(run=run)

    useless = finish(0.0)
    assert not useless.is_active  # finds nothing on dev: stays a candidate
    client.force_login(admin)
    page = client.get(reverse("training_run", args=[project.pk, useless.run_id])).content.decode()
    assert "found no entity of the dev set" in page
    assert "Configuration" in page and "Dev set report" in page
    first = finish(0.6)
    assert first.is_active
    assert not finish(0.5).is_active
    assert finish(0.7).is_active
    first.refresh_from_db()
    assert not first.is_active


def test_cancel_stops_a_running_run(admin, tiny_settings, huey_consumer):
    project = annotated_project(admin)
    run = services.start_run(project, admin, LONG)
    wait_for_steps(run)
    services.cancel_run(run)
    wait_for_status(run, "cancelled", "failed", "succeeded", timeout=30)
    assert run.status == "cancelled"
    assert not ModelVersion.objects.exists()
    assert not services.run_directory(run).exists()


@pytest.mark.django_db(transaction=True)
def test_train_project_command_trains_and_reports(admin, tiny_settings):
    from io import StringIO

    from django.core.management import call_command

    project = annotated_project(admin)
    out = StringIO()
    call_command("train_project", project.name, "--wait", "--epochs", "2", "--batch-size", "4", stdout=out)
    run = TrainingRun.objects.get()
    assert run.status == "succeeded"
    assert "epoch 2/2: dev F1" in out.getvalue()
    assert f"Run {run.pk} succeeded" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_worker_trains_on_training_processes_or_the_commands_choice(admin, settings, monkeypatch):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from training.ml import pipeline

    chosen = []

    def train(*args, processes, **kwargs):
        chosen.append(processes)
        raise pipeline.TrainingCancelled("stopped before training")

    monkeypatch.setattr(pipeline, "train", train)
    settings.TRAINING_PROCESSES = 3
    project = annotated_project(admin)
    run = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(run.pk)
    TrainingRun.objects.filter(pk=run.pk).update(status="cancelled")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("train_project", project.name, "--wait", "--processes", "2", stdout=StringIO())
    assert chosen == [3, 2]
    with pytest.raises(CommandError, match="--processes needs --wait"):
        call_command("train_project", project.name, "--processes", "2")


@pytest.mark.django_db
def test_train_page_explains_why_it_cannot_start(client, admin):
    project = annotated_project(admin, documents=3)
    client.force_login(admin)
    page = client.get(reverse("train", args=[project.pk])).content.decode()
    assert "Training needs at least 10 submitted documents; this project has 3." in page
    refused = client.post(reverse("train", args=[project.pk]), {**FAST, "learning_rate": 1e-4, "seed": 1})
    assert refused.status_code == 400
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_run_shows_its_error(client, admin, tiny_settings, tmp_path):
    project = annotated_project(admin)
    run = services.start_run(project, admin, FAST, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(base_model=str(tmp_path / "no-such-model"))
    services.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "no-such-model" in run.error
    assert not services.run_directory(run).exists()
    client.force_login(admin)
    page = client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode()
    assert "no-such-model" in page and 'role="alert"' in page


@pytest.mark.django_db(transaction=True)
def test_deleting_a_version_frees_its_disk_but_not_the_active_one(client, admin, tiny_settings):
    project = annotated_project(admin)
    first = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(first.pk)
    TrainingRun.objects.filter(pk=first.pk).update(status="succeeded")
    second = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(second.pk)
    old, new = ModelVersion.objects.get(run=first), ModelVersion.objects.get(run=second)
    services.activate(new, preannotate=False)
    client.force_login(admin)
    refused = client.post(reverse("model_delete", args=[project.pk, new.pk]), follow=True)
    assert "Activate another version before deleting the active one." in refused.content.decode()
    assert Path(new.artifact_path).is_dir()
    client.post(reverse("model_delete", args=[project.pk, old.pk]))
    assert not ModelVersion.objects.filter(pk=old.pk).exists()
    assert not Path(old.artifact_path).exists()


@pytest.mark.django_db
def test_a_project_with_runs_and_models_deletes_whole(admin):
    project = annotated_project(admin)
    run = TrainingRun.objects.create(project=project, status="succeeded")
    ModelVersion.objects.create(project=project, run=run, artifact_path="/unused", is_active=True)
    project.delete()
    assert not TrainingRun.objects.exists() and not ModelVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_activations_leave_one_active_model(admin):
    import threading

    from django.db import connection

    project = annotated_project(admin, documents=1)
    versions = []
    for _ in range(4):
        run = TrainingRun.objects.create(project=project, status="succeeded")
        versions.append(ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere"))
    failures = []

    def activate(version):
        try:
            services.activate(version, preannotate=False)
        except Exception as error:  # the test reports any failure
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(version,)) for version in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert ModelVersion.objects.filter(project=project, is_active=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_can_first_learn_the_project_text_and_read_context(admin, tiny_settings):
    project = annotated_project(admin)
    unannotated = "The patient with asthma was given insulin after surgery ."
    import_documents(project, [ImportedDocument(text=unannotated, mentions=[])], importer=admin)
    held_out = "Diabetes was treated with insulin ."
    import_documents(project, [ImportedDocument(text=held_out, mentions=[])], importer=admin)
    Document.objects.filter(text=held_out).update(is_dev=True)
    annotations, _ = services.check_training_data(project)
    assert services.unlabelled_texts(project, annotations) == [unannotated.split()]

    run = services.start_run(project, admin, {**FAST, "mlm_epochs": 1, "context": 8}, enqueue=False)
    services.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.metrics["pretraining"]["steps"] >= 1 and run.metrics["pretraining"]["seconds"] > 0
    assert run.hyperparameters["context"] == 8


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["page", "api"])
def test_context_that_does_not_fit_the_model_is_refused_before_the_run(client, admin, where):
    from studio.tokens import create_token

    project = annotated_project(admin)
    client.force_login(admin)
    too_wide = {**FAST, "seed": 1, "context": 240, "max_length": 64}
    if where == "page":
        response = client.post(reverse("train", args=[project.pk]), too_wide)
        message = response.content.decode()
    else:
        _, key = create_token(admin, "pipeline")
        response = client.post(
            reverse("api_runs", args=[project.pk]),
            too_wide,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {key}",
        )
        message = json.dumps(response.json())
    assert response.status_code == 400
    assert "plus twice the context come to 544; the model reads at most 512" in message
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_progress_says_when_a_run_is_learning_the_project_text_first(client, admin):
    project = annotated_project(admin)
    run = TrainingRun.objects.create(
        project=project,
        status="running",
        hyperparameters={"mlm_epochs": 1},
        progress={"phase": "pretraining", "epoch": 0, "epochs": 6, "step": 3, "total_steps": 10, "loss": []},
    )
    client.force_login(admin)
    page = " ".join(client.get(reverse("training_progress", args=[project.pk, run.pk])).content.decode().split())
    assert "Learning the project's text first · step 3 of 10" in page and "Epoch 0" not in page
    run.progress = {**run.progress, "phase": "train", "epoch": 1, "step": 4, "total_steps": 60}
    run.save()
    page = " ".join(client.get(reverse("training_progress", args=[project.pk, run.pk])).content.decode().split())
    assert "Epoch 1 of 6 · step 4 of 60" in page
