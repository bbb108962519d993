"""Two-factor log-in in a real Chromium: a staff member who must use it logs in with a
password, lands on the enrolment page, adds the studio to an app from the key shown, keeps the
recovery codes, and later logs in with the app's code and once with a recovery code."""

import tempfile
from base64 import b32decode
from pathlib import Path

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.browser.test_csp import watch
from tests.cast import PASSWORD, person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def app_code(secret: str, drift: int = 0) -> str:
    """What an authenticator app shows for the key typed in by hand."""
    return f"{TOTP(b32decode(secret.replace(' ', '')), drift=drift).token():06d}"


def log_in_with_password(page, live_server, username):
    page.goto(live_server.url + reverse("user_list"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")


@pytest.fixture
def chief(settings):
    settings.STAFF_REQUIRE_2FA = True
    return person("chief", is_staff=True)


def test_staff_enrol_then_log_in_with_a_code_and_with_a_recovery_code(browser, live_server, chief):
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    violations = watch(page)

    log_in_with_password(page, live_server, "chief")
    expect(page.get_by_role("heading", name="Two-factor log-in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Staff log in with a code from an authenticator app here")
    expect(page.get_by_role("img", name="QR code to add Clinical NER Studio")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    page.goto(live_server.url + reverse("home"))  # nothing else opens before enrolling
    expect(page.get_by_role("heading", name="Two-factor log-in")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text()
    shot(page, "two-factor-enrolment")

    page.get_by_label("The 6-digit code the app now shows").fill(
        "123 456" if app_code(secret) != "123456" else "654321"
    )
    page.get_by_role("button", name="Turn on two-factor log-in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not the one the app shows now")
    shot(page, "two-factor-enrolment-wrong-code")
    page.get_by_label("The 6-digit code the app now shows").fill(app_code(secret))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Two-factor log-in is on")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="Go on").click()  # to where the last click was going
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    page.get_by_role("link", name="Profile").click()
    expect(page.locator("main")).to_contain_text(
        "On: you log in with your password and a code from your authenticator app."
    )
    shot(page, "two-factor-on-the-profile-page")

    page.get_by_role("button", name="Log out").click()
    log_in_with_password(page, live_server, "chief")
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    shot(page, "two-factor-code-page")
    page.get_by_label("Code").fill(app_code(secret, drift=1))  # the enrolment's code cannot be used again
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="People")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    log_in_with_password(page, live_server, "chief")
    page.get_by_label("Code").fill(codes[0])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You used a recovery code; 9 remain.")
    shot(page, "two-factor-recovery-code-used")

    page.get_by_role("button", name="Log out").click()
    log_in_with_password(page, live_server, "chief")
    page.get_by_label("Code").fill(codes[0])
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    shot(page, "two-factor-recovery-code-used-twice")
    assert violations == []
    page.context.close()
