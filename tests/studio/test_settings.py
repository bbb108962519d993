import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio.env import parse_database_url
from tests.conftest import ROOT, run_manage, subprocess_env

pytestmark = pytest.mark.slow  # each test starts Python with other settings


def import_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="studio.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "no scheme"),
        ("mysql://u:p@db:3306/studio", "scheme 'mysql' is not supported"),
        ("sqlite:///var/db.sqlite3", "scheme 'sqlite' is not supported"),
        ("postgresql://u:p@db:54x2/studio", "the port is not a number"),
        ("postgresql://u:p@db:5432/", "no database name"),
        ("postgresql:///studio", "no host"),
    ],
)
def test_malformed_database_url_is_refused_with_the_reason(url, reason):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL is malformed") as error:
        parse_database_url(url)
    assert reason in str(error.value)


def test_database_url_parts_reach_django():
    config = parse_database_url("postgresql://ann%40x:s3cr%2Ft@db.internal:6543/studio?sslmode=require")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("ann@x", "s3cr/t")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", "6543", "studio")
    assert config["OPTIONS"] == {"sslmode": "require"}


def test_database_url_with_a_socket_directory():
    config = parse_database_url("postgresql://postgres@/studio?host=/run/postgresql")
    assert config["HOST"] == "/run/postgresql"
    assert config["OPTIONS"] == {}


def test_startup_fails_loudly_on_a_malformed_database_url():
    result = import_settings(DATABASE_URL="postgres://user@host:notaport/db")
    assert result.returncode != 0
    assert "DATABASE_URL is malformed (the port is not a number)" in result.stderr


def test_startup_fails_loudly_on_debug_maybe():
    result = import_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_startup_fails_loudly_on_a_malformed_api_rate():
    result = import_settings(API_RATE_LIMIT="lots")
    assert result.returncode != 0
    assert "API_RATE_LIMIT='lots' is not a rate" in result.stderr


def test_production_mode_requires_a_secret_key():
    result = import_settings(DEBUG="false", SECRET_KEY="", ALLOWED_HOSTS="studio.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_base_model_must_be_a_model_directory(tmp_path):
    result = import_settings(BASE_MODEL=str(tmp_path))
    assert result.returncode != 0
    assert "is not a Hugging Face model directory" in result.stderr


def test_development_mode_keeps_its_generated_secret_key(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = subprocess_env(DJANGO_SETTINGS_MODULE="studio.settings", DEBUG="true", STUDIO_VAR_DIR=str(tmp_path))
    env.pop("SECRET_KEY", None)
    keys = [
        subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {script}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert len(keys[0]) >= 50
    assert keys[0] == keys[1] == (tmp_path / "secret_key").read_text()


def test_production_settings_pass_the_deploy_check():
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="studio.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="studio.example.org",
    )
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout
