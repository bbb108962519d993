"""What /healthz reports: can we reach the database and the queue, and is a worker alive."""

import time

from django.db import DatabaseError, connection
from huey.contrib.djhuey import HUEY

from studio.background import first_line

WORKER_HEARTBEAT_KEY = "studio:worker-heartbeat"


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return {"ok": False, "error": f"database unreachable: {first_line(error)}"}
    return {"ok": True}


def check_queue() -> dict:
    try:
        pending = HUEY.pending_count()
        last_beat = HUEY.get(WORKER_HEARTBEAT_KEY, peek=True)
    except Exception as error:  # each storage backend raises its own client's errors
        return {"ok": False, "error": f"queue unreachable: {first_line(error)}"}
    seen = round(time.time() - last_beat) if last_beat else None
    return {
        "ok": True,
        "backend": type(HUEY).__name__,
        "pending_tasks": pending,
        "worker_last_seen_seconds_ago": seen,
    }


def report() -> dict:
    database, queue = check_database(), check_queue()
    return {"ok": database["ok"] and queue["ok"], "database": database, "queue": queue}
