import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from annotation import consistency, imports

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
