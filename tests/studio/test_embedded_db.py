"""The embedded PostgreSQL: starts on demand, keeps its data, and leaves no server behind."""

from studio.embedded_db import server_processes
from tests.conftest import run_manage, subprocess_env


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
        "shell", "-c",
        "from annotation.services import create_project; create_project('Survivor')",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert server_processes(pgdata) == []

    read_back = run_manage(
        "shell", "-c",
        "from annotation.models import Project; "
        "print([(p.name, sorted(l.name for l in p.labels.all())) for p in Project.objects.all()])",
        env=env,
    )
    assert read_back.returncode == 0, read_back.stderr
    assert "[('Survivor', ['DISEASE', 'TREATMENT'])]" in read_back.stdout
    assert server_processes(pgdata) == []
