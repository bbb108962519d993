import os
import shutil

import pytest
from django.test import Client

# Playwright's sync API keeps an event loop in this thread; the ORM calls in these tests
# are still plain synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Browser tests need Chromium: apt-get install chromium (.ci/run does this).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def login_page(browser, live_server):
    """Open a page in a fresh browser context, logged in as `user` (a desktop window unless
    `options` say otherwise, such as a phone's viewport and touch screen)."""
    contexts = []

    def open_page(user, **options):
        client = Client()
        client.force_login(user)
        context = browser.new_context(**{"viewport": {"width": 1300, "height": 900}, **options})
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
