from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from training import services, suggestions


@db_task()
def train_task(run_id: int) -> None:
    services.execute_run(run_id)


@db_task()
def preannotate_task(version_id: int) -> None:
    suggestions.preannotate(version_id)


@db_periodic_task(crontab(minute="*"))
def fail_stale_runs_task() -> None:
    services.fail_stale_runs()


@on_startup()
def fail_runs_of_stopped_workers() -> None:
    from django.db import close_old_connections

    services.fail_stale_runs()
    close_old_connections()
