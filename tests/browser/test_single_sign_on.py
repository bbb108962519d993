"""Single sign-on end to end: a real OpenID Connect provider (django-oauth-toolkit, in a
process of its own on a PostgreSQL database of its own, signing with an RSA key made here)
and the studio with local passwords turned off, in a real Chromium. The first sign-in makes
the account, the provider's groups decide who is staff at every sign-in, and logging out
ends the session at the provider too; an account deactivated in the studio stays out."""

import json
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from playwright.sync_api import expect

from studio.models import AuditEntry
from tests.browser.test_csp import watch
from tests.conftest import ROOT, database_url, subprocess_env, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"
CLIENT_ID, CLIENT_SECRET = "clinical-ner-studio", "a-client-secret-for-tests"
PEOPLE = [
    {
        "username": "dr.grey",
        "email": "grey@hospital.example",
        "password": "grey-passphrase",
        "groups": ["studio-staff"],
    },
    {"username": "nurse.ward", "email": "ward@hospital.example", "password": "ward-passphrase", "groups": ["nursing"]},
]


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Provider:
    def __init__(self, issuer, env, log_path):
        self.issuer, self.env, self.log_path = issuer, env, log_path

    def shell(self, code: str):
        """Run Python inside the provider's Django, as its administrator would."""
        result = subprocess.run(
            [sys.executable, "-m", "django", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture
def provider(live_server, tmp_path):
    name = f"oidc_provider_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/o"
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="tests.oidc_provider.settings",
        DATABASE_URL=database_url().replace(f"/{connection.settings_dict['NAME']}", f"/{name}", 1),
        OIDC_RSA_PRIVATE_KEY=pem.decode(),
        PROVIDER_ISSUER=issuer,
        SEED=json.dumps(
            {
                "people": PEOPLE,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": live_server.url + reverse("oidc_authentication_callback"),
                "post_logout_redirect_uri": live_server.url + reverse("login"),
            }
        ),
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    provider = Provider(issuer, env, tmp_path / "provider.log")
    provider.shell("import tests.oidc_provider.seed")
    with provider.log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def answers():
        try:
            return requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok
        except requests.ConnectionError:
            return process.poll() is not None  # ends the wait; the assertion below says why

    wait_for(answers, timeout=60, message="the provider to answer")
    assert process.poll() is None, provider.log_path.read_text()
    yield provider
    process.terminate()
    process.wait(timeout=20)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def hospital_settings(settings, provider):
    """The studio as a hospital runs it: single sign-on, no local passwords."""
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Hospital login"
    settings.OIDC_STAFF_GROUPS = ["studio-staff"]
    settings.LOCAL_PASSWORDS = False
    settings.STAFF_REQUIRE_2FA = True  # staff who sign on are not asked: the provider does it
    settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "studio.sso.Backend"]
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    form_action = [*directives["form-action"], provider.issuer.removesuffix("/o")]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "form-action": form_action}}
    return settings


def sign_in(page, live_server, person, *, at_provider=True):
    page.goto(live_server.url + reverse("home"))
    page.get_by_role("link", name="Sign in with Hospital login").click()
    if at_provider:
        expect(page.get_by_role("heading", name="Hospital sign-in")).to_be_visible()
        page.get_by_label("Username").fill(person["username"])
        page.get_by_label("Password").fill(person["password"])
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".topbar")).to_contain_text(person["username"])


def test_sign_in_makes_the_account_maps_staff_from_groups_and_logs_out_at_the_provider(
    browser, live_server, provider, hospital_settings
):
    grey, ward = PEOPLE
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    violations = watch(page)

    hospital_settings.LOCAL_PASSWORDS = True  # while a studio still has both
    page.goto(live_server.url + reverse("login"))
    expect(page.get_by_role("link", name="Sign in with Hospital login")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    shot(page, "sso-and-password-login-page")
    hospital_settings.LOCAL_PASSWORDS = False

    page.goto(live_server.url + reverse("login"))
    expect(page.get_by_role("link", name="Sign in with Hospital login")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)
    shot(page, "sso-login-page")
    page.goto(live_server.url + reverse("password_reset"))
    expect(page.get_by_role("alert")).to_have_text(
        "This studio takes no passwords: sign in with Hospital login instead."
    )
    shot(page, "sso-password-reset-refused")

    sign_in(page, live_server, grey)
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    account = get_user_model().objects.get(username="dr.grey")
    assert account.is_staff and not account.is_superuser and not account.has_usable_password()
    assert account.email == "grey@hospital.example"
    created = AuditEntry.objects.get(action="user.create", object_id=account.pk)
    assert created.after["via"] == "single sign-on" and created.after["staff"] is True
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    expect(page.get_by_role("button", name="Reset password")).to_have_count(0)
    shot(page, "sso-staff-on-the-people-page")
    page.goto(live_server.url + reverse("profile"))
    expect(page.locator("main")).to_contain_text("You signed in with Hospital login, which asks for any second factor.")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Sign in with Hospital login")).to_be_visible()
    assert page.url.startswith(live_server.url + reverse("login"))
    # The provider's session ended too: signing in again asks for the password there.
    page.get_by_role("link", name="Sign in with Hospital login").click()
    expect(page.get_by_role("heading", name="Hospital sign-in")).to_be_visible()

    # The provider drops dr.grey from the staff group: the next sign-in takes staff away.
    provider.shell("from django.contrib.auth.models import User; User.objects.get(username='dr.grey').groups.clear()")
    page.get_by_label("Username").fill(grey["username"])
    page.get_by_label("Password").fill(grey["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".topbar")).to_contain_text("dr.grey")
    expect(page.get_by_role("link", name="People")).to_have_count(0)
    account.refresh_from_db()
    assert not account.is_staff
    assert AuditEntry.objects.filter(action="user.role", object_id=account.pk, after__staff=False).exists()
    page.get_by_role("button", name="Log out").click()

    sign_in(page, live_server, ward)
    assert not get_user_model().objects.get(username="nurse.ward").is_staff
    expect(page.get_by_role("link", name="People")).to_have_count(0)
    assert get_user_model().objects.filter(username__in=["dr.grey", "nurse.ward"]).count() == 2
    page.get_by_role("button", name="Log out").click()

    # Deactivated in the studio, the provider's word is not enough.
    get_user_model().objects.filter(username="nurse.ward").update(is_active=False)
    page.get_by_role("link", name="Sign in with Hospital login").click()
    page.get_by_label("Username").fill(ward["username"])
    page.get_by_label("Password").fill(ward["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Signing in with Hospital login did not work: the account nurse.ward is deactivated here; ask staff."
    )
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    shot(page, "sso-deactivated-account")
    assert violations == []
    page.context.close()
