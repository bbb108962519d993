"""The access log in a real Chromium: a nurse opens a note on the labelling page, a doctor
reads another; staff find the access log from the People page, filter it by user, document
and dates, and download the filtered rows as CSV. Nothing breaks the Content-Security-Policy."""

import csv
import io
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from annotation.models import Membership
from annotation.services import create_project
from tests.browser.test_csp import watch
from tests.cast import person
from tests.conftest import make_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_staff_filter_the_access_log_and_download_what_they_see(login_page, live_server, admin):
    project = create_project("Cardiology", created_by=admin)
    angina = make_document(project, "Unstable angina treated with heparin .", title="Ward 4 admission")
    gout = make_document(project, "Gout flare treated with colchicine .", title="Clinic letter")
    nurse, doctor = person("nurse"), person("doctor")
    for user in (nurse, doctor):
        Membership.objects.create(project=project, user=user, role=Membership.Role.REVIEWER)

    nurse_page = login_page(nurse)
    nurse_page.goto(live_server.url + reverse("annotate", args=[project.pk, angina.pk]))
    expect(nurse_page.locator("#doc-text")).to_contain_text("Unstable angina")
    nurse_page.goto(live_server.url + reverse("review", args=[project.pk, gout.pk]))
    doctor_page = login_page(doctor)
    doctor_page.goto(live_server.url + reverse("annotate", args=[project.pk, gout.pk]))
    expect(doctor_page.locator("#doc-text")).to_contain_text("Gout flare")

    page = login_page(admin)
    violations = watch(page)
    page.goto(live_server.url + reverse("user_list"))
    page.get_by_role("link", name="Access log").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("doctor")
    expect(rows.first).to_contain_text("Clinic letter")
    shot(page, "access-log")

    page.get_by_placeholder("username").fill("nurse")
    page.get_by_placeholder("document id").fill(str(gout.pk))
    page.get_by_label("From").fill(timezone.localdate().isoformat())
    page.get_by_label("to", exact=True).fill(timezone.localdate().isoformat())
    page.get_by_placeholder("document id").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("nurse")
    expect(rows.first).to_contain_text("review page")
    expect(page.locator(".pager")).to_contain_text("1 entry")
    shot(page, "access-log-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "access-log.csv"
    lines = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(line["who"], line["document ids"], line["detail"]) for line in lines] == [
        ("nurse", str(gout.pk), "review page")
    ]

    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    page.get_by_label("From").fill(tomorrow)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".empty")).to_contain_text("No reads for these filters yet.")
    shot(page, "access-log-nothing-found")
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(3)
    assert violations == []
