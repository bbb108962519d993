"""Onboarding without e-mail in a real Chromium: a staff member invites someone, copies the
set-password link, and the newcomer uses it in a browser of their own; deactivating asks
first. Nothing on these pages breaks the Content-Security-Policy."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_csp import watch
from tests.cast import person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"
PASSPHRASE = "ward-rounds-at-nine"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


@pytest.fixture
def staff_page(login_page, live_server, admin):
    page = login_page(admin)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url + reverse("user_list"))
    return page


def test_invite_copy_the_link_and_the_newcomer_sets_a_password_and_logs_in(staff_page, browser, live_server):
    page = staff_page
    violations = watch(page)
    page.get_by_label("Username").fill("nurse")
    page.get_by_role("button", name="Make invitation link").click()
    card = page.get_by_role("status").filter(has_text="Invitation for nurse")
    expect(card).to_contain_text("This studio sends no email: give this link to nurse yourself.")
    shown = page.get_by_label("The set-password link for nurse").input_value()
    assert shown.startswith(live_server.url + "/accounts/reset/")
    shot(page, "invitation-link")

    page.get_by_role("button", name="Copy link").click()
    expect(card).to_contain_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    shot(page, "invitation-link-copied")
    assert violations == []

    newcomer = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    newcomer.set_default_timeout(10_000)
    newcomer.goto(live_server.url + reverse("login"))
    newcomer.get_by_role("link", name="Forgot your password?").click()
    expect(newcomer.locator("main")).to_contain_text("ask a staff member for a link to set a new password")
    shot(newcomer, "forgotten-password-without-email")
    newcomer.goto(shown)
    newcomer.get_by_label("New password", exact=True).fill(PASSPHRASE)
    newcomer.get_by_label("New password confirmation").fill(PASSPHRASE)
    shot(newcomer, "newcomer-sets-a-password")
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_role("heading", name="Password set")).to_be_visible()
    newcomer.get_by_role("link", name="Log in").click()
    newcomer.get_by_label("Username").fill("nurse")
    newcomer.get_by_label("Password").fill(PASSPHRASE)
    newcomer.keyboard.press("Enter")
    expect(newcomer.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(newcomer.locator(".topbar")).to_contain_text("nurse")
    expect(newcomer.get_by_role("link", name="New project")).to_have_count(0)
    shot(newcomer, "newcomer-logged-in")
    newcomer.goto(live_server.url + reverse("project_create"))
    expect(newcomer.locator("main")).to_contain_text("Only staff, and people a staff member has allowed to, create")
    shot(newcomer, "newcomer-may-not-create-projects")

    newcomer.goto(shown)
    expect(newcomer.get_by_role("alert")).to_contain_text("This link has been used or has expired.")
    newcomer.context.close()


def test_deactivating_asks_first_and_is_not_offered_on_ones_own_account(staff_page, live_server, django_user_model):
    nurse = person("nurse")
    page = staff_page
    page.reload()
    own_row = page.get_by_role("row").filter(has_text="admin")
    expect(own_row).to_contain_text("This is you")
    expect(page.get_by_role("link", name="Deactivate admin")).to_have_count(0)

    page.get_by_role("link", name="Deactivate nurse").click()
    expect(page.get_by_role("heading", name="Deactivate nurse?")).to_be_visible()
    shot(page, "deactivate-question")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    nurse.refresh_from_db()
    assert nurse.is_active

    page.get_by_role("link", name="Deactivate nurse").click()
    page.get_by_role("button", name="Deactivate nurse").click()
    expect(page.get_by_role("status")).to_contain_text("nurse is deactivated.")
    expect(page.get_by_role("row").filter(has_text="nurse")).to_contain_text("Deactivated")
    shot(page, "deactivated")
    nurse.refresh_from_db()
    assert not nurse.is_active

    page.get_by_role("link", name="Events").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("active: no")
    shot(page, "events")
