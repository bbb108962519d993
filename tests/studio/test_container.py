"""The container pieces that can be checked without a Docker engine: the image's shape, the
compose services, and that its command (gunicorn, production settings) and its health
check really work."""

import http.client
import re
import secrets
import signal
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, database_url, subprocess_env, wait_for
from tests.studio.test_run_studio import free_port, get

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_image_is_multi_stage_non_root_and_checks_its_health():
    assert len(re.findall(r"^FROM ", DOCKERFILE, re.M)) >= 2
    assert "COPY --from=build" in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD .*healthz", DOCKERFILE, re.M)
    assert "gunicorn studio.wsgi" in DOCKERFILE


def test_compose_runs_web_worker_postgres_and_redis_with_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    assert services["worker"]["command"][:3] == ["python", "manage.py", "run_huey"]
    assert {"pgdata", "artifacts"} <= set(compose["volumes"])
    assert any("pgdata:" in volume for volume in services["postgres"]["volumes"])


@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_production_settings_passes_the_image_health_check(var_dir):
    port = free_port()
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="studio.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url(),
        STUDIO_VAR_DIR=str(var_dir),
    )
    # As the image build does: the production static storage serves only collected files.
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    assert subprocess.run(collect, cwd=ROOT, env=env, timeout=120).returncode == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "studio.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz"), timeout=60, message="gunicorn")
        check = re.search(r'CMD (python -c ".*")', DOCKERFILE).group(1).replace(":8000/", f":{port}/")
        assert subprocess.run(check, shell=True, cwd=ROOT, env=env, timeout=30).returncode == 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/accounts/login/", headers={"Host": "localhost"})
        response = connection.getresponse()
        assert (response.status, response.getheader("Location")) == (301, "https://localhost/accounts/login/")
        behind_tls = {"Host": "localhost", "X-Forwarded-Proto": "https"}
        # In production the schema and the docs need a log-in: a token, or the log-in page.
        for path, status in (("/api/v1/schema/", 401), ("/api/v1/docs/", 302)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers=behind_tls)
            response = connection.getresponse()
            assert response.status == status, path
            assert "script-src 'self'" in response.getheader("Content-Security-Policy"), path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
