"""How people get in: with LOCAL_PASSWORDS off, every page that takes or sets a password
refuses and says how to sign in; single sign-on says what went wrong on the log-in page;
and the settings refuse a studio nobody could log in to."""

import json
import subprocess
import sys

import pytest
from django.contrib.auth import views as auth_views
from django.urls import reverse

from studio.models import AuditEntry
from studio.sso import Backend, SignOnFailed
from tests.cast import PASSWORD, person
from tests.conftest import ROOT, subprocess_env
from tests.studio.test_pages import named_urls

PASSWORD_VIEWS = (auth_views.LoginView, auth_views.PasswordContextMixin)
ADMIN_PASSWORD_VIEWS = {"login", "password_change", "user_change_password"}
REFUSAL = "This studio takes no passwords: sign in with Hospital login instead."


@pytest.fixture
def passwords_off(settings):
    settings.LOCAL_PASSWORDS = False
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"  # nothing listens on port 9
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "studio", "secret"
    settings.OIDC_PROVIDER_NAME = "Hospital login"
    settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "studio.sso.Backend"]
    return settings


def takes_a_password(pattern) -> bool:
    """Django's log-in and password views, and the admin's, however they are wrapped."""
    view = pattern.callback
    while view is not None:
        if issubclass(getattr(view, "view_class", object), PASSWORD_VIEWS):
            return True
        if getattr(view, "__name__", "") in ADMIN_PASSWORD_VIEWS:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def password_urls():
    ids = {"uidb64": "MQ", "token": "set-password", "id": "1"}
    return [
        pytest.param(reverse(name, kwargs={key: ids[key] for key in pattern.pattern.converters}), id=name)
        for name, pattern in named_urls()
        if takes_a_password(pattern)
    ]


def test_the_pages_that_take_a_password_are_all_found():
    found = {param.id for param in password_urls()}
    assert found >= {"login", "admin:login", "password_reset", "password_reset_confirm", "password_reset_done"}
    assert found >= {"admin:password_change", "admin:auth_user_password_change"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", password_urls())
def test_every_page_that_takes_a_password_refuses_when_passwords_are_off(client, passwords_off, url):
    chief = person("chief", superuser=True)  # the admin's password pages are for people logged in
    client.force_login(chief, backend="studio.sso.Backend")
    nurse = person("nurse", email="nurse@example.org")
    form = {"username": "nurse", "password": PASSWORD, "email": nurse.email, "old_password": PASSWORD}
    form |= {"new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"}
    form |= {"password1": "a-new-passphrase", "password2": "a-new-passphrase"}
    answer = client.post(url, form)
    assert answer.status_code == 403
    assert REFUSAL in answer.content.decode()
    assert client.session["_auth_user_id"] == str(chief.pk)
    for account in (nurse, chief):
        account.refresh_from_db()
        assert account.check_password(PASSWORD)
    if url != reverse("login"):
        assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_the_log_in_page_offers_only_single_sign_on_when_passwords_are_off(client, passwords_off):
    page = client.get(reverse("login") + "?next=/profile/").content.decode()
    assert "Sign in with Hospital login" in page
    assert f'href="{reverse("oidc_authentication_init")}?next=/profile/"' in page
    assert 'type="password"' not in page and "Forgot your password?" not in page


@pytest.mark.django_db
def test_with_both_the_page_offers_both_and_passwords_still_log_in(client, passwords_off):
    passwords_off.LOCAL_PASSWORDS = True
    passwords_off.AUTHENTICATION_BACKENDS.insert(1, "django.contrib.auth.backends.ModelBackend")
    person("nurse")
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Hospital login" in page and 'type="password"' in page
    # The sign-on backend stays out of a password log-in, whatever the query says.
    login = client.post(reverse("login") + "?code=x&state=y", {"username": "nurse", "password": PASSWORD})
    assert login.status_code == 302 and client.session["_auth_user_backend"].endswith("ModelBackend")


@pytest.mark.django_db
def test_staff_add_people_without_links_and_make_no_reset_links(client, passwords_off, staff):
    client.force_login(staff, backend="studio.sso.Backend")
    added = client.post(reverse("user_invite"), {"username": "dr.house", "email": ""}, follow=True)
    assert "Added dr.house: they sign in with Hospital login." in added.content.decode()
    assert "/accounts/reset/" not in added.content.decode()
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.after["link"] == "none: signs in with Hospital login"
    house = entry.after["username"]
    assert house == "dr.house"

    nurse = person("nurse", email="nurse@example.org")
    refused = client.post(reverse("user_reset", args=[nurse.pk]), follow=True)
    assert "This studio takes no passwords: people sign in with Hospital login." in refused.content.decode()
    assert not AuditEntry.objects.filter(action="user.password_reset").exists()


@pytest.mark.django_db
def test_a_provider_that_does_not_answer_is_said_on_the_log_in_page(client, passwords_off):
    answer = client.get(reverse("oidc_authentication_init"), follow=True)
    assert answer.redirect_chain[-1][0] == reverse("login")
    assert "Signing in with Hospital login did not work: Hospital login does not answer" in answer.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?error=access_denied&error_description=You+may+not+use+this+application", "the provider said “You may"),
        ("?code=abc&state=never-issued", "please start again"),
        ("", "please start again"),
    ],
)
def test_a_callback_that_went_wrong_is_said_on_the_log_in_page(client, passwords_off, query, reason):
    answer = client.get(reverse("oidc_authentication_callback") + query, follow=True)
    assert answer.redirect_chain[-1][0] == reverse("login")
    text = answer.content.decode()
    assert "Signing in with Hospital login did not work" in text and reason in text
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_single_sign_on_pages_are_not_found_where_it_is_not_set_up(client):
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404


def settings_with(**env) -> subprocess.CompletedProcess:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.AUTHENTICATION_BACKENDS, s.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'], "
        "s.OIDC_PROVIDER_NAME]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="studio.settings", DEBUG="true", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_settings_for_single_sign_on_come_from_the_environment():
    result = settings_with(
        OIDC_ISSUER="https://login.hospital.example/realms/staff/",
        OIDC_CLIENT_ID="studio",
        OIDC_CLIENT_SECRET="s3cret",
        LOCAL_PASSWORDS="false",
    )
    assert result.returncode == 0, result.stderr
    backends, form_action, name = json.loads(result.stdout.splitlines()[-1])
    assert backends == ["axes.backends.AxesStandaloneBackend", "studio.sso.Backend"]
    assert form_action == ["'self'", "https://login.hospital.example"]
    assert name == "login.hospital.example"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOCAL_PASSWORDS": "false"}, "LOCAL_PASSWORDS is false and OIDC_ISSUER is not set: nobody could log in"),
        ({"OIDC_ISSUER": "https://login.example"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too"),
        ({"OIDC_ISSUER": "login.example", "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"}, "is not an http(s) URL"),
        ({"STAFF_REQUIRE_2FA": "maybe"}, "STAFF_REQUIRE_2FA='maybe' is not a boolean"),
    ],
)
def test_settings_nobody_could_use_stop_the_start(env, message):
    result = settings_with(**env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_the_provider_never_takes_over_an_account_with_a_studio_password(passwords_off):
    passwords_off.LOCAL_PASSWORDS = True
    passwords_off.OIDC_STAFF_GROUPS = ["studio-staff"]
    backend = Backend()
    local = person("admin", superuser=True)
    claims = {"preferred_username": "admin", "groups": ["studio-staff"]}
    with pytest.raises(SignOnFailed, match="the account admin logs in with a studio password here"):
        backend.update_user(local, claims)

    invited = person("dr.house")
    invited.set_unusable_password()
    invited.save()
    assert backend.update_user(invited, claims).is_staff  # added by staff, waiting for their first sign-in

    passwords_off.LOCAL_PASSWORDS = False  # the provider alone says who is who
    assert backend.update_user(local, {"preferred_username": "admin", "groups": []}) == local
    local.refresh_from_db()
    assert local.is_staff and local.is_superuser  # a superuser keeps staff whatever the groups say


@pytest.mark.django_db
@pytest.mark.parametrize("claims", [{}, {"preferred_username": ""}, {"preferred_username": ["dr.grey"]}])
def test_a_provider_that_names_nobody_is_refused_with_the_claim_to_check(passwords_off, claims):
    with pytest.raises(SignOnFailed, match="sent no 'preferred_username' claim to name your account"):
        Backend().verify_claims(claims)
