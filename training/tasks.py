from django.db import close_old_connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from training import learning_curves, preannotation, services


@db_task()
def train_task(run_id: int) -> None:
    services.execute_run(run_id)


@db_task()
def learning_curve_task(curve_id: int) -> None:
    learning_curves.execute(curve_id)


@db_task()
def preannotate_task(version_id: int) -> None:
    preannotation.preannotate(version_id)


@db_task()
def preannotate_chunks_task(version_id: int) -> None:
    preannotation.take_chunks(version_id)


@db_periodic_task(crontab(minute="*"))
def fail_stale_work_task() -> None:
    services.fail_stale_runs()
    learning_curves.fail_stale_curves()
    preannotation.fail_stale_preannotations()


@on_startup()
def recover_from_stopped_workers() -> None:
    """A worker killed mid-run left its runs running and half-written model folders behind."""
    services.fail_stale_runs()
    learning_curves.fail_stale_curves()
    preannotation.fail_stale_preannotations()
    services.sweep_run_leftovers()
    close_old_connections()
