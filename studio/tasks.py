import os
import time

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from studio import health


@db_task()
def ping() -> dict:
    """Proves a consumer is alive and reaches the database."""
    return {"pid": os.getpid(), "database": health.check_database()}


@db_periodic_task(crontab(minute="*"))
def record_worker_heartbeat() -> None:
    HUEY.put(health.WORKER_HEARTBEAT_KEY, time.time())
