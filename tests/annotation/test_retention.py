"""The retention period: upload files, access log entries and finished imports' files older than
RETENTION_DAYS go every night, in the worker, and the audit log says how many; unset, nothing
goes."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from annotation import retention
from annotation.imports import store_upload
from annotation.models import ImportJob
from annotation.services import create_project
from annotation.tasks import retention_purge_task
from studio.models import AccessEntry, AuditEntry
from tests.conftest import wait_for

DAY = timedelta(days=1)


def upload(project, user, text: str, *, age: timedelta, status=ImportJob.Status.UPLOADED) -> ImportJob:
    data = f'{{"text": "{text}", "label": []}}\n'.encode()
    job = store_upload(project, [data], filename=f"{text}.jsonl", size=len(data), user=user)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - age, status=status)
    job.refresh_from_db()
    return job


def read_at(age: timedelta) -> AccessEntry:
    return AccessEntry.objects.create(at=timezone.now() - age, actor_name="nurse", action="open", via="page")


@pytest.fixture
def kept_and_expired(clinician):
    project = create_project("Retained", created_by=clinician)
    return {
        "waiting": upload(project, clinician, "Old waiting", age=40 * DAY),
        "failed": upload(project, clinician, "Old failed", age=40 * DAY, status=ImportJob.Status.FAILED),
        "queued": upload(project, clinician, "Old queued", age=40 * DAY, status=ImportJob.Status.QUEUED),
        "recent": upload(project, clinician, "Recent", age=2 * DAY),
        "old read": read_at(31 * DAY),
        "recent read": read_at(29 * DAY),
    }


@pytest.mark.django_db
def test_without_a_period_nothing_goes(settings, kept_and_expired):
    settings.RETENTION_DAYS = None
    assert retention.purge_expired() == {}
    assert AccessEntry.objects.count() == 2
    assert all(Path(kept_and_expired[name].stored_path).is_file() for name in ("waiting", "failed", "recent"))
    assert not AuditEntry.objects.filter(action="retention.purge").exists()


@pytest.mark.django_db
def test_what_is_older_than_the_period_goes_and_the_audit_log_counts_it(settings, kept_and_expired):
    settings.RETENTION_DAYS = 30
    jobs = kept_and_expired
    paths = {name: Path(jobs[name].stored_path) for name in ("waiting", "failed", "queued", "recent")}
    purged = retention.purge_expired()
    assert purged == {"upload files": 1, "finished job files": 1, "access log entries": 1}
    assert [name for name, path in paths.items() if path.is_file()] == ["queued", "recent"]
    assert list(AccessEntry.objects.all()) == [jobs["recent read"]]
    waiting = ImportJob.objects.get(pk=jobs["waiting"].pk)
    assert waiting.status == ImportJob.Status.FAILED and not waiting.can_retry
    assert waiting.error == "The upload was removed after 30 days, the studio's retention period."
    entry = AuditEntry.objects.get(action="retention.purge")
    assert entry.actor_name == "" and {key: entry.after[key] for key in purged} == purged
    assert retention.purge_expired() == {"upload files": 0, "finished job files": 0, "access log entries": 0}
    assert AuditEntry.objects.filter(action="retention.purge").count() == 1  # a night with nothing to purge


def test_the_purge_is_scheduled_every_night_at_2_29():
    def due(hour, minute):
        return {type(task) for task in HUEY.read_periodic(datetime(2026, 3, 10, hour, minute, tzinfo=UTC))}

    assert retention_purge_task.task_class in due(2, 29)
    assert not any(
        retention_purge_task.task_class in due(hour, minute) for hour, minute in [(2, 28), (3, 29), (14, 29)]
    )


def test_the_worker_purges_with_the_period_it_is_given(start_consumer, clinician):
    project = create_project("Retained", created_by=clinician)
    # younger than IMPORT_RETENTION_DAYS, which the worker's start-up sweep keeps waiting uploads
    old = upload(project, clinician, "Old waiting", age=5 * DAY)
    read_at(5 * DAY)
    start_consumer(RETENTION_DAYS="3")
    retention_purge_task()  # what the schedule enqueues at 02:29
    entry = wait_for(lambda: AuditEntry.objects.filter(action="retention.purge").first(), message="the purge")
    assert entry.after["upload files"] == 1 and entry.after["access log entries"] == 1
    assert not Path(old.stored_path).exists() and not AccessEntry.objects.exists()
