import logging

from django.db import close_old_connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from annotation import consistency, imports, retention

logger = logging.getLogger(__name__)


@db_task()
def run_import_task(job_id: int) -> None:
    imports.run_import(job_id)


@db_periodic_task(crontab(hour="3", minute="17"))
def check_annotations_task() -> None:
    """Nightly proof that stored BIO tags match the spans; any drift is logged, then repaired."""
    stale = consistency.stale_annotations()
    for mismatch in stale:
        logger.error("BIO tags disagree with the spans: %s", mismatch)
    if stale:
        consistency.repair(stale)


@db_periodic_task(crontab(minute="*"))
def fail_stale_imports_task() -> None:
    imports.fail_stale_imports()


@db_periodic_task(crontab(minute="41"))
def sweep_uploads_task() -> None:
    imports.sweep_uploads()


@db_periodic_task(crontab(hour="2", minute="29"))
def retention_purge_task() -> None:
    retention.purge_expired()


@on_startup()
def recover_imports_of_stopped_workers() -> None:
    imports.fail_stale_imports()
    imports.sweep_uploads()
    close_old_connections()
