import os

from studio import tasks


def test_a_real_consumer_runs_a_task_enqueued_here(huey_consumer):
    result = tasks.ping()
    outcome = result.get(blocking=True, timeout=60)
    assert outcome["pid"] == huey_consumer.pid != os.getpid()
    assert outcome["database"] == {"ok": True}
