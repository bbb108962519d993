"""Training runs under real faults: a worker paused past its heartbeat, a worker killed with
no other alive, PostgreSQL restarted and stopped mid-run, and folders left by a killed save."""

import json
import os
import signal
import time
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import wait_for
from tests.faults import reconnect, restart_postgres, start_postgres, stop_postgres
from tests.reliability.conftest import TIMEOUT
from tests.training.test_runs import FAST, LONG, annotated_project, wait_for_status, wait_for_steps
from training import services
from training.models import ModelVersion, TrainingRun

# Long enough to be caught mid-run on a fast day (20 epochs once ended before a heartbeat showed
# its steps), short enough to finish well inside the wait.
MEDIUM = {"epochs": 200, "batch_size": 2, "max_length": 32, "patience": 0}


def test_a_paused_worker_declared_dead_stays_dead(client, admin, tiny_settings, fast_heartbeat, start_consumer):
    project = annotated_project(admin)
    paused = start_consumer(**fast_heartbeat)
    first = services.start_run(project, admin, LONG)
    wait_for_steps(first)
    os.killpg(paused.pid, signal.SIGSTOP)
    try:
        # The paused worker cannot beat: moving its last beat back stands in for the wait.
        silent_since = timezone.now() - timedelta(seconds=TIMEOUT + 1)
        TrainingRun.objects.filter(pk=first.pk).update(heartbeat_at=silent_since)
        client.force_login(admin)
        client.get(reverse("training_progress", args=[project.pk, first.pk]))  # the web side declares it dead
        first.refresh_from_db()
        assert first.status == "failed" and first.error.startswith("worker stopped: no heartbeat")

        start_consumer(**fast_heartbeat)
        second = services.start_run(project, admin, FAST)  # no 409: the dead run frees the project
        wait_for_status(second, "succeeded", "failed")
        assert second.status == "succeeded", second.error
    finally:
        os.killpg(paused.pid, signal.SIGCONT)

    def discarded():
        first.refresh_from_db()
        return "discarded" in first.error

    wait_for(discarded, timeout=30, message="the paused worker to notice it lost the run")
    assert first.status == "failed"
    assert not ModelVersion.objects.filter(run=first).exists()
    assert not services.run_directory(first).exists()
    assert TrainingRun.objects.filter(project=project, status__in=["queued", "running"]).count() == 0
    wait_for(lambda: "no longer this worker's: its result is discarded" in paused.log_path.read_text(), timeout=10)


def test_a_killed_run_is_declared_dead_on_time_with_no_worker_alive(
    client, admin, tiny_settings, fast_heartbeat, start_consumer
):
    project = annotated_project(admin)
    doomed = start_consumer(**fast_heartbeat)
    run = services.start_run(project, admin, LONG)
    wait_for_steps(run)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    run.refresh_from_db()
    last_beat = run.heartbeat_at
    client.force_login(admin)
    progress = reverse("training_progress", args=[project.pk, run.pk])

    def silence_shown():
        return "No heartbeat from the worker for" in client.get(progress).content.decode()

    wait_for(silence_shown, timeout=TIMEOUT, interval=0.2, message="the page to say the beats stopped")

    def declared_dead():
        client.get(progress)  # the page, as a person watching it would poll it
        run.refresh_from_db()
        return run.status == "failed"

    wait_for(declared_dead, timeout=TIMEOUT + 10, interval=0.5, message="the dead run to be failed")
    assert (timezone.now() - last_beat).total_seconds() <= TIMEOUT + 10
    assert run.error.startswith("worker stopped: no heartbeat")
    response = client.post(reverse("api_runs", args=[project.pk]), json.dumps(FAST), content_type="application/json")
    assert response.status_code == 201, response.content  # not refused with 409


def test_a_quick_database_restart_does_not_kill_a_run(admin, tiny_settings, fast_heartbeat, pgdata, start_consumer):
    project = annotated_project(admin)
    start_consumer(**fast_heartbeat)
    run = services.start_run(project, admin, MEDIUM)
    wait_for_steps(run)
    restart_postgres(pgdata)
    reconnect()
    wait_for_status(run, "succeeded", "failed", "cancelled", timeout=180)
    assert run.status == "succeeded", run.error
    assert ModelVersion.objects.filter(run=run).exists()


def test_an_outage_longer_than_the_timeout_fails_the_run_with_the_real_reason(
    admin, tiny_settings, fast_heartbeat, pgdata, start_consumer, api_client_of
):
    project = annotated_project(admin)
    start_consumer(**fast_heartbeat)
    run = services.start_run(project, admin, LONG)
    wait_for_steps(run)
    api = api_client_of(admin)
    browser = Client(raise_request_exception=False)
    browser.force_login(admin)
    tiny_settings.DEBUG = False  # as in production: the session's own lookup fails before any view
    stop_postgres(pgdata)
    try:
        reconnect()
        outage = api.get(reverse("api_run", args=[project.pk, run.pk]))
        assert outage.status_code == 503
        assert outage["Content-Type"] == "application/json"
        assert outage["Retry-After"] == "5"
        assert outage.json()["detail"].startswith("The database is unavailable right now")
        page = browser.get(reverse("training_run", args=[project.pk, run.pk]))
        assert page.status_code == 503 and page["Retry-After"] == "5"
        assert "The studio cannot reach its database" in page.content.decode()
        time.sleep(TIMEOUT + 2)  # the worker's own clock, in its own process, must run out
    finally:
        start_postgres(pgdata)
        reconnect()
    wait_for_status(run, "failed", "succeeded", timeout=60)
    assert run.error.startswith("the database was unreachable for over 3 s"), run.error
    assert not services.run_directory(run).exists()


def test_folders_left_by_a_killed_save_are_swept(admin, settings, start_consumer):
    project = annotated_project(admin, documents=1)
    folder = settings.MODELS_ROOT / f"project-{project.pk}"
    dead = TrainingRun.objects.create(project=project, status="failed")
    kept = TrainingRun.objects.create(project=project, status="succeeded")
    ModelVersion.objects.create(project=project, run=kept, artifact_path=str(folder / f"run-{kept.pk}"))
    running = TrainingRun.objects.create(project=project, status="running", heartbeat_at=timezone.now())
    leftovers = [
        folder / f".run-{dead.pk}.partial-x1y2",
        folder / f"run-{dead.pk}",
        folder / f".run-{kept.pk}.partial-a1",
    ]
    untouched = [folder / f"run-{kept.pk}", folder / f".run-{running.pk}.partial-z9"]
    for path in leftovers + untouched:
        path.mkdir(parents=True)
        (path / "model.safetensors").write_bytes(b"\0" * 1024)

    consumer = start_consumer()  # sweeps at start-up
    wait_for(lambda: not any(path.exists() for path in leftovers), timeout=30, message="the sweep")
    assert all(path.exists() for path in untouched)

    os.killpg(consumer.pid, signal.SIGKILL)  # the running run's worker is gone: failing it sweeps it
    TrainingRun.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.fail_stale_runs() == 1
    assert not (folder / f".run-{running.pk}.partial-z9").exists()
    assert (folder / f"run-{kept.pk}").exists()


def test_a_killed_preannotation_fails_with_its_reason_and_can_be_retried(
    client, admin, tiny_settings, fast_heartbeat, start_consumer
):
    from annotation.services import create_document

    project = annotated_project(admin)
    run = services.start_run(project, admin, FAST, enqueue=False)
    services.execute_run(run.pk)
    version = ModelVersion.objects.get(run=run)
    for index in range(1500):  # unfinished documents, so that pre-annotation takes a while
        create_document(project, f"Patient {index} has asthma and was given aspirin after surgery .")
    doomed = start_consumer(**fast_heartbeat)
    services.activate(version)

    def preannotating():
        version.refresh_from_db()
        return version.preannotation_status == "running"

    wait_for(preannotating, timeout=60, interval=0.05, message="pre-annotation to start")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    client.force_login(admin)
    progress = reverse("preannotation_progress", args=[project.pk, version.pk])

    def failed():
        return "Pre-annotation failed: worker stopped: no heartbeat" in client.get(progress).content.decode()

    wait_for(failed, timeout=TIMEOUT + 10, interval=0.5, message="the dead pre-annotation to be failed")
    assert "Retry" in client.get(progress).content.decode()

    start_consumer(**fast_heartbeat)
    client.post(reverse("model_activate", args=[project.pk, version.pk]), {"next": "/"})

    def done():
        version.refresh_from_db()
        return version.preannotation_status in {"done", "failed"}

    wait_for(done, timeout=120, message="pre-annotation to finish")
    assert version.preannotation_status == "done", version.preannotation_error
    assert version.preannotation_done == 1500
