"""Two-factor log-in for local accounts: a password log-in of someone with an authenticator
app reaches nothing but the code page until a right code, recovery codes work once each,
STAFF_REQUIRE_2FA keeps staff on the enrolment page, and sessions from single sign-on are
never asked."""

import time
from base64 import b32decode

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from studio.models import AuditEntry
from tests.cast import PASSWORD, person

pytestmark = pytest.mark.django_db


def code_for(device, drift=0) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, drift).token():06d}"


def log_in(client, user, *, follow=False):
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, follow=follow)


def enrol(client, user) -> tuple[TOTPDevice, list[str]]:
    """Enrol `user` through the page, as they would; returns the app and the recovery codes."""
    client.force_login(user)
    page = client.get(reverse("two_factor_setup"))
    response = client.post(reverse("two_factor_setup"), {"code": code_for(page.context["device"])})
    assert response.status_code == 200
    client.logout()
    return TOTPDevice.objects.get(user=user), response.context["codes"]


@pytest.fixture
def enrolled(client, nurse):
    device, codes = enrol(client, nurse)
    return nurse, device, codes


def test_enrolment_shows_a_qr_code_and_the_secret_and_a_wrong_code_is_refused(client, nurse):
    client.force_login(nurse)
    page = client.get(reverse("two_factor_setup"))
    device = page.context["device"]
    assert not TOTPDevice.objects.exists()  # nothing is stored before a code confirms the app
    assert page.context["qr_code"].startswith("data:image/svg+xml")
    assert page.context["secret"] in page.content.decode()
    assert b32decode(page.context["secret"].replace(" ", "")) == device.bin_key
    assert client.get(reverse("two_factor_setup")).context["secret"] == page.context["secret"]  # the same app

    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    refused = client.post(reverse("two_factor_setup"), {"code": wrong})
    assert refused.status_code == 400
    assert "That code is not the one the app shows now" in refused.content.decode()
    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()


def test_confirming_turns_it_on_with_ten_recovery_codes_and_an_audit_entry(client, enrolled):
    nurse, device, codes = enrolled
    assert device.confirmed
    assert len(codes) == len(set(codes)) == 10
    assert set(StaticToken.objects.filter(device__user=nurse).values_list("token", flat=True)) == set(codes)
    entry = AuditEntry.objects.get(action="user.two_factor")
    assert entry.after == {"two_factor": True, "recovery_codes": 10} and "token" not in str(entry.after)


def test_a_password_alone_reaches_only_the_code_page(client, enrolled):
    nurse, device, _codes = enrolled
    assert log_in(client, nurse).url == reverse("home")
    for path in (reverse("home"), reverse("profile"), reverse("two_factor_setup")):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith(reverse("two_factor_verify") + "?next=")
    api = client.get("/api/v1/projects/")
    assert api.status_code == 403 and "two-factor code" in api.json()["detail"]

    wrong = client.post(reverse("two_factor_verify"), {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302

    time.sleep(1.2)  # a wrong code holds the next one back a second
    right = client.post(reverse("two_factor_verify"), {"code": code_for(device, drift=1), "next": reverse("profile")})
    assert right.url == reverse("profile")
    assert client.get(reverse("home")).status_code == 200
    assert client.get("/api/v1/projects/").status_code == 200


def test_each_recovery_code_works_once(client, enrolled):
    nurse, _device, codes = enrolled
    log_in(client, nurse)
    used = client.post(reverse("two_factor_verify"), {"code": codes[0].upper()}, follow=True)
    assert "You used a recovery code; 9 remain." in used.content.decode()
    client.logout()

    log_in(client, nurse)
    again = client.post(reverse("two_factor_verify"), {"code": codes[0]})
    assert again.status_code == 400
    assert client.get(reverse("home")).status_code == 302


def test_a_recovery_code_does_not_hold_back_the_apps_next_code(client, enrolled):
    nurse, device, codes = enrolled
    log_in(client, nurse)
    client.post(reverse("two_factor_verify"), {"code": codes[1]})
    client.logout()
    log_in(client, nurse)
    assert client.post(reverse("two_factor_verify"), {"code": code_for(device, drift=1)}).status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_repeated_wrong_codes_are_slowed_down(client, enrolled):
    nurse, device, _codes = enrolled
    log_in(client, nurse)
    client.post(reverse("two_factor_verify"), {"code": "000000" if code_for(device, drift=1) != "000000" else "111111"})
    throttled = client.post(reverse("two_factor_verify"), {"code": code_for(device, drift=1)})
    assert throttled.status_code == 400 and "Wait a few seconds before the next code" in throttled.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_staff_must_enrol_first_when_the_setting_says_so(client, settings):
    settings.STAFF_REQUIRE_2FA = True
    chief = person("chief", is_staff=True)
    log_in(client, chief)
    response = client.get(reverse("user_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("two_factor_setup"))
    api = client.get("/api/v1/projects/")
    assert api.status_code == 403 and "set up two-factor log-in" in api.json()["detail"]
    page = client.get(reverse("two_factor_setup"))
    assert "Staff log in with a code from an authenticator app here" in page.content.decode()
    client.post(reverse("two_factor_setup"), {"code": code_for(page.context["device"])})
    assert client.get(reverse("user_list")).status_code == 200

    annotator = person("annotator")
    client.logout()
    log_in(client, annotator)
    assert client.get(reverse("home")).status_code == 200


def test_a_session_from_single_sign_on_is_not_asked(client, settings):
    settings.STAFF_REQUIRE_2FA = True
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "studio.sso.Backend"]
    chief = person("chief", is_staff=True)
    enrol(client, chief)
    client.force_login(chief, backend="studio.sso.Backend")
    assert client.get(reverse("user_list")).status_code == 200
    assert "which asks for any second factor" in client.get(reverse("profile")).content.decode()
