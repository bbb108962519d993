"""Every log-in path shares one throttle (django-axes): per address and username, per account
across addresses after more failures, X-Forwarded-For only from trusted proxies, and
password-reset e-mails limited per address and per account."""

import pytest
from django.urls import reverse

from tests.cast import person

pytestmark = pytest.mark.django_db
RIGHT = "right-passphrase-1"


@pytest.fixture(autouse=True)
def clinician(db):
    return person("clinician", email="c@example.org", password=RIGHT, is_staff=True)


def log_in(client, path, password, **meta):
    fields = {"username": "clinician", "password": password}
    if path == "/admin/login/":
        fields["next"] = "/admin/"
    return client.post(path, fields, **meta)


@pytest.mark.parametrize(
    ("guessed_at", "then_at"), [("/admin/login/", "/accounts/login/"), ("/accounts/login/", "/admin/login/")]
)
def test_the_admin_and_studio_log_ins_share_one_throttle(client, guessed_at, then_at):
    for attempt in range(5):  # the fifth failure locks
        assert log_in(client, guessed_at, "wrong").status_code == (429 if attempt == 4 else 200)
    for path in (guessed_at, then_at):
        locked = log_in(client, path, RIGHT)
        assert locked.status_code == 429, path
        assert "Too many failed log-ins for clinician from this address" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_account_locks_across_addresses_after_more_failures(client, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 12
    for attempt in range(11):  # four addresses, each under its own limit of five
        log_in(client, "/accounts/login/", "wrong", REMOTE_ADDR=f"10.0.0.{attempt % 4 + 1}")
    assert log_in(client, "/accounts/login/", RIGHT, REMOTE_ADDR="10.0.0.9").status_code == 302
    client.logout()
    for attempt in range(12):
        log_in(client, "/accounts/login/", "wrong", REMOTE_ADDR=f"10.0.1.{attempt % 4 + 1}")
    locked = log_in(client, "/accounts/login/", RIGHT, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429
    assert "Too many failed log-ins for clinician. Try again" in locked.content.decode()


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(client, settings):
    for attempt in range(5):  # a guesser writing a new X-Forwarded-For each time
        log_in(client, "/accounts/login/", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}")
    assert log_in(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429

    settings.TRUSTED_PROXIES = 1  # now the proxy's entry names each client
    assert log_in(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="spoofed, 198.51.100.7").status_code == 302
    client.logout()
    for _ in range(5):
        log_in(client, "/accounts/login/", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert log_in(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 429
    assert log_in(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302


def test_password_reset_mails_are_limited_per_account_and_per_address(client, django_user_model, mailoutbox, settings):
    settings.PASSWORD_RESETS_PER_HOUR = 3
    for _ in range(5):
        assert client.post(reverse("password_reset"), {"email": "c@example.org"}).status_code == 302
    assert len(mailoutbox) == 3
    for number in range(5):
        person(f"other{number}", email=f"o{number}@example.org")
    for number in range(5):
        client.post(reverse("password_reset"), {"email": f"o{number}@example.org"}, REMOTE_ADDR="10.9.9.9")
    assert len(mailoutbox) == 3 + 3
