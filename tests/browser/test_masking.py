"""A masked labelling page in a real Chromium: the annotator labels around names they never
receive, and the admin marks a label identifying and exports with it redacted."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation import editing
from annotation.models import Label, Span
from annotation.services import create_project
from tests.cast import team
from tests.conftest import make_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTE = "Mr John Smith, 54, was admitted with asthma.\nDr Jones started salbutamol and prednisolone."
SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


@pytest.fixture
def project(clinician):
    return create_project("Ward notes", created_by=clinician)


@pytest.fixture
def people(project):
    return team(project)


@pytest.fixture
def note(project, people):
    phi = Label.objects.create(project=project, name="PHI", color="#5c5c5c", hotkey="3", identifying=True)
    document = make_document(project, NOTE, "Admission")
    gold = editing.annotation_for(document, people["reviewer"])
    for words in ("John Smith", "Jones"):
        start = NOTE.index(words)
        first = document.token_starts.index(start)
        last = document.token_ends.index(start + len(words))
        gold = editing.add_span(gold, version=gold.version, first_token=first, last_token=last, label=phi).annotation
    return document


def test_an_annotator_labels_a_masked_note_without_receiving_the_names(login_page, live_server, people, note):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = login_page(people["annotator"])
    page.goto(live_server.url + reverse("annotate", args=[note.project_id, note.pk]))
    text = page.locator("#doc-text")
    expect(text).to_contain_text("Mr ████ █████, 54, was admitted with asthma.")
    page.screenshot(path=SHOTS / "masked-labelling-page.png", full_page=True)
    index = [NOTE[s:e] for s, e in zip(note.token_starts, note.token_ends)].index("asthma")
    page.locator(f'#doc-text .t[data-i="{index}"]').dblclick()
    page.keyboard.press("1")
    expect(page.locator("#editor-message")).to_contain_text("Tagged")
    expect(text.locator("mark.span")).to_have_count(1)
    expect(text).to_contain_text("Dr █████ started")
    page.screenshot(path=SHOTS / "masked-labelling-page-after-an-edit.png", full_page=True)
    assert not [name for name in ("John", "Smith", "Jones") if name in page.content()]
    span = Span.objects.get(annotation__annotator=people["annotator"])
    assert (NOTE[span.start : span.end], span.label.name) == ("asthma", "DISEASE")


def test_an_admin_marks_a_label_identifying_and_chooses_a_redacted_export(login_page, live_server, people, note):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = login_page(people["admin"])
    page.goto(live_server.url + reverse("project_settings", args=[note.project_id]))
    page.get_by_label("TREATMENT identifies a person").check()
    page.get_by_role("button", name="Save TREATMENT").click()
    expect(page.locator(".messages")).to_contain_text("Label TREATMENT saved.")
    expect(page.get_by_label("TREATMENT identifies a person")).to_be_checked()
    page.screenshot(path=SHOTS / "labels-identifying.png", full_page=True)
    assert Label.objects.get(project=note.project, name="TREATMENT").identifying

    page.goto(live_server.url + reverse("project_documents", args=[note.project_id]))
    boxes = page.locator(".redact-labels")
    expect(boxes).to_be_hidden()
    page.locator("#export_redact").select_option("tag")
    expect(boxes).to_be_visible()
    expect(boxes.get_by_label("PHI")).to_be_checked()
    expect(boxes.get_by_label("TREATMENT")).to_be_checked()
    page.screenshot(path=SHOTS / "export-redaction.png")
