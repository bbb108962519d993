import subprocess
import sys

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import ROOT, subprocess_env

PUBLIC_URL_NAMES = {"login", "healthz", "admin:login"}


def named_urls(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def sample_kwargs(pattern: URLPattern) -> dict:
    samples = {"int": 1, "str": "x", "slug": "x", "path": "x"}
    return {
        name: samples.get(type(converter).__name__.replace("Converter", "").lower(), "1")
        for name, converter in pattern.pattern.converters.items()
    }


def every_page():
    seen = set()
    for name, pattern in named_urls():
        if name in PUBLIC_URL_NAMES or name in seen:
            continue
        seen.add(name)
        try:
            yield pytest.param(reverse(name, kwargs=sample_kwargs(pattern)), id=name)
        except Exception:  # admin's regex routes with lookups reverse poorly; skip them
            continue


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(every_page()))
def test_anonymous_requests_are_sent_to_log_in(client, url):
    response = client.get(url)
    if url.startswith("/api/"):  # an API answers, rather than redirecting to a page
        assert response.status_code == 403
        assert response.json()["detail"] == "Authentication credentials were not provided."
        return
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_login_page_and_logging_in(client, django_user_model):
    django_user_model.objects.create_user("clinician", password="a-long-passphrase")
    assert client.get(reverse("login")).status_code == 200
    response = client.post(
        reverse("login"), {"username": "clinician", "password": "a-long-passphrase"}
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True
    assert report["database"] == {"ok": True}
    assert report["queue"]["ok"] is True
    assert report["queue"]["backend"] == "SqliteHuey"


def test_healthz_is_503_with_a_reason_when_the_database_is_unreachable():
    script = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='localhost').get('/healthz'); print(r.status_code); print(r.content.decode())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=subprocess_env(DATABASE_URL="postgresql://nobody@127.0.0.1:9/nowhere"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-2:]
    assert status == "503"
    assert '"database": {"ok": false, "error": "database unreachable:' in body
