"""What every piece of background work shares (training runs, imports, pre-annotation): a
heartbeat that proves the worker is alive and learns when the work was taken from it, and
database writes that ride out a restart of PostgreSQL.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# Errors a lost or restarting server gives: the statement may simply be tried again.
DISCONNECTS = (OperationalError, InterfaceError)
STALE = "worker stopped"
# What a beat says when the work must stop: somebody cancelled it, or it is no longer this
# worker's (declared dead, finished or deleted meanwhile).
CANCELLED, TAKEN = "cancelled", "taken"


def stale_before():
    """Work whose last heartbeat is older than this is dead."""
    return timezone.now() - timedelta(seconds=settings.HEARTBEAT_TIMEOUT)


def stale_message() -> str:
    return f"{STALE}: no heartbeat for over {settings.HEARTBEAT_TIMEOUT} s"


def silent_seconds(heartbeat_at) -> int | None:
    """How long running work has not beaten, once that is more than load explains."""
    if heartbeat_at is None:
        return None
    silence = (timezone.now() - heartbeat_at).total_seconds()
    late = min(3 * settings.HEARTBEAT_SECONDS + 1, settings.HEARTBEAT_TIMEOUT / 2)
    return round(silence) if silence >= late else None


def retrying(work: Callable, *, window: float | None = None):
    """`work()`, called again on a fresh connection while the database is unreachable, for up
    to `window` seconds (the heartbeat timeout: by then the work counts as dead anyway).

    `work` must be safe to repeat: a transaction inside it either committed or rolled back.
    """
    window = settings.HEARTBEAT_TIMEOUT if window is None else window
    deadline = time.monotonic() + window
    delay = 0.1
    while True:
        try:
            return work()
        except DISCONNECTS as error:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise  # inside a transaction, the transaction's owner must start it again
            logger.warning("database unreachable, trying again in %.1f s: %s", delay, first_line(error))
            connection.close()
            time.sleep(delay)
            delay = min(2 * delay, 1.0)


def recording(work: Callable):
    """`retrying` for the write of how work ended, its last word: that one waits longer for
    the database, so the reason on record is the real one rather than a missed heartbeat."""
    return retrying(work, window=max(30, 5 * settings.HEARTBEAT_TIMEOUT))


class WorkLost(Exception):
    """The work must stop: cancelled, taken from this worker, or the database is gone."""


class Heartbeat:
    """Calls `beat()` every HEARTBEAT_SECONDS from a thread, with that thread's own connection,
    so progress shows while the work's own transaction is still open.

    `beat()` writes the heartbeat (and progress) and returns "" while the work is still this
    worker's, else CANCELLED or TAKEN. `stopped` is set once the work must stop, for it to
    check between steps; `reason` says why. Beats are retried through a database outage
    until the heartbeat timeout, when the web side declares the work dead anyway; then
    `database_gone` is set and `reason` names the database error.

    Inside an outer transaction (a test's), no other connection can see the work's row, so
    there is nothing to beat on.
    """

    def __init__(self, beat: Callable[[], str]):
        self.beat = beat
        self.reason = ""
        self.database_gone = False
        self.stopped = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self):
        if not connection.in_atomic_block:
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def taken(self) -> bool:
        return self.reason == TAKEN

    def check(self) -> None:
        """Raise `WorkLost` once the work must stop."""
        if self.stopped.is_set():
            raise WorkLost(self.reason)

    def _run(self) -> None:
        try:
            while not self._done.wait(settings.HEARTBEAT_SECONDS):
                try:
                    reason = retrying(self.beat)
                except DISCONNECTS as error:
                    self.database_gone = True
                    reason = (
                        f"the database was unreachable for over {settings.HEARTBEAT_TIMEOUT} s: {first_line(error)}"
                    )
                if reason:
                    self.reason = reason
                    self.stopped.set()
                    return
        finally:
            connection.close()


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
