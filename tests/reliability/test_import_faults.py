"""Imports under real faults: the worker killed mid-import (then Retry), PostgreSQL restarted
mid-import, the mapping sent twice, and uploads kept only as long as they can be retried."""

import json
import os
import signal
from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from annotation.imports import start_import, store_upload, sweep_uploads
from annotation.models import Annotation, Document, ImportJob
from annotation.services import create_project
from tests.conftest import wait_for
from tests.faults import reconnect, restart_postgres
from tests.reliability.conftest import TIMEOUT

DOCUMENTS = 6000


def corpus(count=DOCUMENTS) -> bytes:
    lines = []
    for index in range(count):
        text = f"Patient {index} with breast cancer was given tamoxifen and chemotherapy ."
        disease, treatment = text.index("breast cancer"), text.index("tamoxifen")
        spans = [[disease, disease + 13, "DISEASE"], [treatment, treatment + 9, "TREATMENT"]]
        lines.append(json.dumps({"text": text, "label": spans}))
    return ("\n".join(lines) + "\n").encode()


def queued_import(project, user, settings, data=None):
    """A file large enough for the worker, mapped and queued."""
    settings.IMPORT_INLINE_MAX_BYTES = 0
    data = data or corpus()
    job = store_upload(project, [data], filename="notes.jsonl", size=len(data), user=user)
    return start_import(job, label_mapping={"DISEASE": "DISEASE", "TREATMENT": "TREATMENT"}, create_unmapped=False)


def wait_for_job(job, *statuses, timeout=120):
    def reached():
        job.refresh_from_db()
        return job.status in statuses

    wait_for(reached, timeout=timeout, interval=0.05, message=f"import {job.pk} to reach {statuses}")


def test_a_killed_import_fails_with_its_reason_and_retries_from_its_upload(
    client, admin, settings, fast_heartbeat, start_consumer
):
    project = create_project("Migration", created_by=admin)
    doomed = start_consumer(**fast_heartbeat)
    job = queued_import(project, admin, settings)
    wait_for_job(job, "running")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    client.force_login(admin)
    page = reverse("import_job", args=[project.pk, job.pk])

    def failed():
        client.get(reverse("import_progress", args=[project.pk, job.pk]))
        job.refresh_from_db()
        return job.status == "failed"

    wait_for(failed, timeout=TIMEOUT + 10, interval=0.5, message="the dead import to be failed")
    assert job.error == f"worker stopped: no heartbeat for over {TIMEOUT} s"
    assert Document.objects.filter(project=project).count() == 0
    shown = client.get(page).content.decode()
    assert "Nothing was imported: worker stopped" in shown and "Retry" in shown
    assert Path(job.stored_path).is_file()

    start_consumer(**fast_heartbeat)
    client.post(reverse("import_retry", args=[project.pk, job.pk]))
    wait_for_job(job, "succeeded", "failed")
    assert job.status == "succeeded", job.error
    assert Document.objects.filter(project=project).count() == DOCUMENTS
    assert Annotation.objects.filter(document__project=project).count() == DOCUMENTS
    assert not Path(job.stored_path).exists()  # imported: nothing to retry from


def test_a_database_restart_during_an_import_imports_everything_once(
    admin, settings, fast_heartbeat, pgdata, start_consumer
):
    project = create_project("Migration", created_by=admin)
    start_consumer(**fast_heartbeat)
    job = queued_import(project, admin, settings)
    wait_for_job(job, "running")
    restart_postgres(pgdata)
    reconnect()
    wait_for_job(job, "succeeded", "failed")
    assert job.status == "succeeded", job.error
    assert job.summary["documents_created"] == DOCUMENTS
    assert Document.objects.filter(project=project).count() == DOCUMENTS


def test_the_mapping_sent_again_shows_the_import_not_an_empty_page(client, admin, settings):
    project = create_project("Migration", created_by=admin)
    data = corpus(3)
    job = store_upload(project, [data], filename="notes.jsonl", size=len(data), user=admin)
    client.force_login(admin)
    page = reverse("import_job", args=[project.pk, job.pk])
    mapping = {"map:DISEASE": "DISEASE", "map:TREATMENT": "TREATMENT"}
    assert client.post(page, mapping).status_code == 302
    again = client.post(page, mapping, follow=True).content.decode()
    assert "notes.jsonl is imported already; its progress is below." in again
    assert "Imported 3 documents with 6 spans." in again
    assert Document.objects.filter(project=project).count() == 3


def test_uploads_are_kept_only_while_they_can_be_retried(admin, settings):
    project = create_project("Migration", created_by=admin)
    data = corpus(2)

    def job_with_file(status, **fields):
        job = store_upload(project, [data], filename="notes.jsonl", size=len(data), user=admin)
        ImportJob.objects.filter(pk=job.pk).update(status=status, **fields)
        return job

    long_ago = timezone.now() - timedelta(days=settings.IMPORT_RETENTION_DAYS + 1)
    failed_recently = job_with_file("failed", finished_at=timezone.now())
    failed_long_ago = job_with_file("failed", finished_at=long_ago)
    never_mapped = job_with_file("uploaded")
    ImportJob.objects.filter(pk=never_mapped.pk).update(created_at=long_ago)
    waiting = job_with_file("uploaded")
    imports = Path(settings.MEDIA_ROOT) / "imports"
    orphan = imports / "killed-upload.jsonl.part"
    orphan.write_bytes(b"half")
    os.utime(orphan, (0, 0))
    fresh_orphan = imports / "being-written.jsonl.part"
    fresh_orphan.write_bytes(b"half")

    removed = set(sweep_uploads())
    assert removed == {Path(failed_long_ago.stored_path), Path(never_mapped.stored_path), orphan}
    assert Path(failed_recently.stored_path).is_file() and Path(waiting.stored_path).is_file() and fresh_orphan.exists()
    never_mapped.refresh_from_db()
    assert never_mapped.status == "failed" and "was not chosen within 7 days" in never_mapped.error
    failed_long_ago.refresh_from_db()
    assert not failed_long_ago.can_retry
