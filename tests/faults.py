"""Faults injected for real: PostgreSQL restarted or stopped under the running studio."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from studio.embedded_db import pg_ctl


def embedded_pgdata() -> Path:
    """The data directory of the embedded server the tests run on; skips when DATABASE_URL
    points at a server these tests cannot restart."""
    pgdata = settings.DATABASES["default"].get("PGDATA")
    if not pgdata:
        pytest.skip("restarting PostgreSQL needs the embedded server (DATABASE_URL is set)")
    return Path(pgdata).resolve()


def restart_postgres(pgdata: Path) -> None:
    """A fast restart: every connection is cut, the server is back within about a second."""
    pg_ctl(pgdata, "-m", "fast", "restart")


def stop_postgres(pgdata: Path) -> None:
    pg_ctl(pgdata, "-m", "fast", "stop")


def start_postgres(pgdata: Path) -> None:
    # restart on a stopped server starts it with the options it last ran with (postmaster.opts)
    pg_ctl(pgdata, "-m", "fast", "restart")


def reconnect() -> None:
    """This process's own connection died with the server; the next query opens a new one."""
    connection.close()
