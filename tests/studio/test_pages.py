import re
import subprocess
import sys

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.cast import person
from tests.conftest import ROOT, subprocess_env

PUBLIC_URL_NAMES = {
    "login",
    "healthz",
    "admin:login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    # Single sign-on begins and ends logged out (tests/browser/test_single_sign_on.py).
    "oidc_authentication_init",
    "oidc_authentication_callback",
}


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
    if url in {reverse("api_schema"), reverse("api_docs")}:  # public, so clients can be generated
        assert response.status_code == 200
        return
    if url.startswith("/api/"):  # an API answers, rather than redirecting to a page
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["detail"] == "Authentication credentials were not provided."
        return
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_login_page_and_logging_in(client, django_user_model):
    person("clinician", password="a-long-passphrase")
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "clinician", "password": "a-long-passphrase"})
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


@pytest.mark.slow  # a process of its own, on a database that is not there
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


@pytest.mark.django_db
def test_five_failed_logins_lock_that_username_from_that_address(client, django_user_model):
    person("clinician", password="right-passphrase-1")
    for _ in range(4):
        response = client.post(reverse("login"), {"username": "clinician", "password": "wrong"})
        assert "Please enter a correct username and password" in response.content.decode()
    client.post(reverse("login"), {"username": "clinician", "password": "wrong"})  # the fifth locks
    locked = client.post(reverse("login"), {"username": "clinician", "password": "right-passphrase-1"})
    assert locked.status_code == 429
    assert "Too many failed log-ins for clinician from this address. Try again in 15 minutes" in locked.content.decode()
    other = client.post(reverse("login"), {"username": "someone-else", "password": "wrong"})
    assert "Too many failed" not in other.content.decode()


@pytest.mark.django_db
def test_password_reset_answers_the_same_whether_or_not_the_email_exists(client, django_user_model, mailoutbox):
    person("clinician", email="c@example.org")
    known = client.post(reverse("password_reset"), {"email": "c@example.org"}, follow=True)
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.org"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    without_token = lambda page: re.sub(r'"X-CSRFToken": "[^"]+"', "", page.content.decode())  # noqa: E731
    assert without_token(known) == without_token(unknown)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["c@example.org"]


@pytest.mark.django_db
def test_sessions_slide_while_used_are_written_at_most_once_a_minute_and_end_when_idle(client, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from studio.middleware import SlidingSessionMiddleware

    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    client.force_login(person("clinician"))
    client.get(reverse("home"))
    key = client.session.session_key

    def expiry():
        return Session.objects.get(session_key=key).expire_date

    first = expiry()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert expiry() == first  # used again within the minute: not written

    stale = client.session
    stale[SlidingSessionMiddleware.KEY] -= SlidingSessionMiddleware.REFRESH_SECONDS
    stale.save()
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(hours=1))
    client.get(reverse("home"))
    assert expiry() > timezone.now() + timedelta(hours=7, minutes=59)  # used after a minute: slides

    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url  # idle past its age: signed out


@pytest.mark.django_db
def test_a_login_lock_lifts_after_fifteen_minutes(client, django_user_model):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    person("clinician", password="right-passphrase-1")
    for _ in range(5):
        client.post(reverse("login"), {"username": "clinician", "password": "wrong"})
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = client.post(reverse("login"), {"username": "clinician", "password": "right-passphrase-1"})
    assert response.status_code == 302
