"""Review in a real Chromium: "Next disagreement" walks the documents whose annotators differ,
the gold is built without leaving the review page, and a reviewed document leaves the list."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation import editing
from annotation.models import Annotation, Membership
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def submitted(document, user, spans):
    labels = {label.name: label for label in document.project.labels.all()}
    annotation = editing.annotation_for(document, user)
    for token, label in spans:
        annotation = editing.add_span(
            annotation, version=annotation.version, first_token=token, last_token=token, label=labels[label]
        ).annotation
    editing.submit(annotation, version=annotation.version)


@pytest.fixture
def reviewed_project(clinician):
    """Two notes where ann and bob differ, one where they agree; rita reviews, and annotated
    the first note herself."""
    project = create_project("Respiratory", created_by=clinician)
    ann, bob, rita = person("ann"), person("bob"), person("rita")
    Membership.objects.create(project=project, user=rita, role="reviewer")
    first = make_document(project, "Asthma treated with aspirin.", "First note")
    agreeing = make_document(project, "Gout flared.", "Agreed note")
    last = make_document(project, "Fever and rash after penicillin.", "Last note")
    submitted(first, ann, [(0, "DISEASE"), (3, "TREATMENT")])
    submitted(first, bob, [(0, "DISEASE")])
    submitted(first, rita, [(0, "DISEASE"), (3, "DISEASE")])
    for user in (ann, bob):
        submitted(agreeing, user, [(0, "DISEASE")])
    submitted(last, ann, [(0, "DISEASE"), (4, "TREATMENT")])
    submitted(last, bob, [(2, "DISEASE"), (4, "TREATMENT")])
    return project, first, last, rita


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_next_disagreement_start_gold_and_mark_reviewed(login_page, live_server, reviewed_project):
    project, first, last, rita = reviewed_project
    review_url = live_server.url + reverse("review", args=[project.pk, first.pk])
    page = login_page(rita)
    page.goto(review_url)
    expect(page.locator("#disagreements-left")).to_have_text(
        "2 documents with disagreeing annotators and no review, this one included."
    )
    expect(page.get_by_role("heading", name="rita (your version)")).to_be_visible()
    expect(page.get_by_text("No gold yet.")).to_be_visible()
    shot(page, "review-first-note")

    page.get_by_role("link", name="Next disagreement →").click()
    expect(page).to_have_url(live_server.url + reverse("review", args=[project.pk, last.pk]))
    expect(page.get_by_role("heading", name="Review: Last note")).to_be_visible()
    shot(page, "review-next-disagreement")
    page.get_by_role("link", name="Next disagreement →").click()
    expect(page).to_have_url(review_url)  # past the note they agree on, and round again

    page.get_by_role("button", name="Start the gold annotation").click()
    expect(page).to_have_url(review_url)
    gold = page.get_by_role("region", name="Gold annotation")
    expect(gold.get_by_text("In progress")).to_be_visible()
    expect(page.locator(".message.success")).to_contain_text("Gold annotation started")
    shot(page, "review-gold-started")

    page.get_by_role("region", name="ann's version").get_by_role("button", name="Add to gold").click()
    expect(page.locator(".message.success")).to_have_text("Added TREATMENT “aspirin” to the gold annotation.")
    page.get_by_role("button", name="Mark reviewed (gold)").click()
    expect(page).to_have_url(review_url)
    expect(gold.get_by_text("Reviewed", exact=True)).to_be_visible()
    expect(page.locator("#disagreements-left")).to_have_text("1 document with disagreeing annotators and no review.")
    shot(page, "review-marked-reviewed")

    stored = Annotation.objects.get(document=first, is_gold=True)
    assert stored.status == "reviewed"
    assert sorted(stored.spans.values_list("label__name", flat=True)) == ["DISEASE", "TREATMENT"]
    assert Annotation.objects.get(document=first, annotator=rita, is_gold=False).status == "submitted"

    page.get_by_role("link", name="Next disagreement →").click()
    expect(page).to_have_url(live_server.url + reverse("review", args=[project.pk, last.pk]))
    expect(page.get_by_role("link", name="Next disagreement →")).to_have_count(0)  # the only one left

    page.goto(live_server.url + reverse("agreement", args=[project.pk]))
    disagreements = page.get_by_role("region", name="Documents with disagreements")
    expect(disagreements.get_by_role("link", name="Last note")).to_be_visible()
    expect(disagreements.get_by_role("link", name="First note")).to_have_count(0)
    shot(page, "agreement-after-review")


def test_the_export_form_states_the_rule_it_will_follow(login_page, live_server, reviewed_project, clinician):
    project, *_ = reviewed_project
    page = login_page(clinician)
    page.goto(live_server.url + reverse("project_documents", args=[project.pk]))
    rule = page.locator("#export-rule")
    shot(page, "export-rule-default")
    expect(page.get_by_label("Annotator whose versions to export")).to_be_hidden()  # only the annotator rule reads it
    expect(rule).to_have_text(
        "2 documents have disagreeing annotators and no review: they are left out until someone reviews them."
    )
    page.get_by_label("Where annotators disagree and nobody reviewed").select_option("majority")
    expect(rule).to_have_text(
        "2 documents have disagreeing annotators and no review: they are exported with the spans more than half "
        "of their annotators made."
    )
    page.get_by_label("Where annotators disagree and nobody reviewed").select_option("annotator")
    expect(rule).to_have_text("Choose the annotator whose versions to export.")
    page.get_by_label("Annotator whose versions to export").select_option("bob")
    expect(rule).to_contain_text("they are exported as bob annotated them; those bob did not annotate are left out.")
    shot(page, "export-rule-annotator")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    assert download.value.suggested_filename == "respiratory-finished-doccano.jsonl"


def test_a_reviewer_adds_a_span_nobody_made_to_the_gold_on_the_labelling_page(
    login_page, live_server, reviewed_project
):
    project, first, last, rita = reviewed_project
    page = login_page(rita)
    page.goto(live_server.url + reverse("review", args=[project.pk, last.pk]))
    page.get_by_role("button", name="Start the gold annotation").click()
    page.get_by_role("link", name="Edit it on the labelling page").click()
    expect(page.locator(".doc-title")).to_have_text("Gold: Last note")
    expect(page.locator("#suggestion-panel")).to_have_count(0)
    page.locator('#doc-text .t[data-i="2"]').dblclick()  # "rash": neither annotator tagged it as it is here
    page.keyboard.press("1")
    expect(page.locator("#editor-message")).to_contain_text('Tagged "rash" as DISEASE.')
    page.keyboard.press("Control+Enter")
    expect(page.locator("#editor-message")).to_contain_text("Marked reviewed")
    shot(page, "gold-on-the-labelling-page")
    gold = Annotation.objects.get(document=last, is_gold=True)
    assert gold.status == "reviewed"
    assert sorted((last.text[s.start : s.end], s.label.name) for s in gold.spans.select_related("label")) == [
        ("penicillin", "TREATMENT"),
        ("rash", "DISEASE"),
    ]
    assert not Annotation.objects.filter(document=last, annotator=rita, is_gold=False).exists()
