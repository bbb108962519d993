"""The labelling page in a real Chromium: every action is checked in the database after reload."""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation import editing
from annotation.models import Annotation, Span
from annotation.services import create_project
from tests.conftest import make_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "Patients with lung cancer were given cisplatin after surgery."


@pytest.fixture
def project(clinician):
    return create_project("Oncology", created_by=clinician)


@pytest.fixture
def document(project):
    return make_document(project, TEXT, "Case")


def open_document(page, live_server, document):
    page.goto(live_server.url + reverse("annotate", args=[document.project_id, document.pk]))
    expect(page.locator("#doc-text .t").first).to_be_visible()


def token(page, document, word):
    index = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)].index(word)
    return page.locator(f'#doc-text .t[data-i="{index}"]')


def drag_select(page, first, last):
    start, end = first.bounding_box(), last.bounding_box()
    page.mouse.move(start["x"] + 1, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] - 1, end["y"] + end["height"] / 2, steps=5)
    page.mouse.up()


def stored_spans(document):
    return sorted(
        (document.text[s.start : s.end], s.label.name)
        for s in Span.objects.filter(annotation__document=document).select_related("label")
    )


def saved(page, text):
    expect(page.locator("#editor-message")).to_contain_text(text)


def test_select_with_the_mouse_and_press_1(login_page, live_server, clinician, document):
    page = login_page(clinician)
    open_document(page, live_server, document)
    drag_select(page, token(page, document, "lung"), token(page, document, "cancer"))
    page.keyboard.press("1")
    saved(page, 'Tagged "lung cancer" as DISEASE.')
    page.reload()
    expect(page.locator('mark.span[aria-label="DISEASE: lung cancer"]')).to_be_visible()
    assert stored_spans(document) == [("lung cancer", "DISEASE")]


def test_double_click_a_word_and_tag_it_with_a_button(login_page, live_server, clinician, document):
    page = login_page(clinician)
    open_document(page, live_server, document)
    token(page, document, "cisplatin").dblclick()
    page.get_by_role("button", name="Tag as TREATMENT").click()
    saved(page, 'Tagged "cisplatin" as TREATMENT.')
    page.reload()
    assert stored_spans(document) == [("cisplatin", "TREATMENT")]


def test_change_a_label_with_the_keyboard_only(login_page, live_server, clinician, document):
    page = login_page(clinician)
    open_document(page, live_server, document)
    for _ in range(6):  # the cursor starts on the first token; onto "cisplatin"
        page.keyboard.press("ArrowRight")
    page.keyboard.press("1")
    saved(page, 'Tagged "cisplatin" as DISEASE.')
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")  # back onto the new span, which selects it
    page.keyboard.press("2")
    saved(page, "Changed to TREATMENT.")
    page.reload()
    assert stored_spans(document) == [("cisplatin", "TREATMENT")]


def test_delete_then_undo_then_redo(login_page, live_server, clinician, document):
    page = login_page(clinician)
    open_document(page, live_server, document)
    token(page, document, "surgery").dblclick()
    page.keyboard.press("2")
    saved(page, "Tagged")
    page.locator('mark.span[data-label="TREATMENT"]').click()
    page.keyboard.press("Delete")
    saved(page, "Span removed.")
    assert stored_spans(document) == []
    page.keyboard.press("Control+z")
    saved(page, "Undid delete.")
    assert stored_spans(document) == [("surgery", "TREATMENT")]
    page.keyboard.press("Control+Shift+Z")
    saved(page, "Redid delete.")
    page.reload()
    expect(page.locator("mark.span")).to_have_count(0)
    assert stored_spans(document) == []


def test_go_to_the_next_document_and_submit(login_page, live_server, clinician, project):
    first = make_document(project, "First note about asthma.", "First")
    second = make_document(project, "Second note about diabetes.", "Second")
    page = login_page(clinician)
    open_document(page, live_server, first)
    page.keyboard.press("]")
    expect(page.locator(".doc-title")).to_have_text("Second")
    page.locator("[data-action=submit]").click()  # the button submits and stays
    saved(page, "Submitted.")
    expect(page.locator(".doc-title")).to_have_text("Second")
    page.keyboard.press("Control+Enter")  # submits again and opens the next unfinished one
    expect(page.locator(".doc-title")).to_have_text("First")
    page.keyboard.press("Control+Enter")
    saved(page, "Submitted.")  # the last one: nothing left to open
    expect(page.locator("#doc-status")).to_have_text("Submitted")
    assert Annotation.objects.get(document=second).status == "submitted"
    assert Annotation.objects.get(document=first).status == "submitted"


def test_two_tabs_on_one_document_see_the_conflict(login_page, live_server, clinician, document):
    first_tab, second_tab = login_page(clinician), login_page(clinician)
    open_document(first_tab, live_server, document)
    open_document(second_tab, live_server, document)
    token(first_tab, document, "lung").dblclick()
    first_tab.keyboard.press("1")
    saved(first_tab, "Tagged")

    token(second_tab, document, "surgery").dblclick()
    second_tab.keyboard.press("2")
    saved(second_tab, "changed elsewhere")
    # The second tab now shows what the first one saved, and nothing was lost.
    expect(second_tab.locator('mark.span[aria-label="DISEASE: lung"]')).to_be_visible()
    assert stored_spans(document) == [("lung", "DISEASE")]
    second_tab.keyboard.press("2")  # the selection survived the redraw; saving again works
    saved(second_tab, 'Tagged "surgery" as TREATMENT.')
    assert stored_spans(document) == [("lung", "DISEASE"), ("surgery", "TREATMENT")]


def test_a_script_in_the_text_runs_nothing(login_page, live_server, clinician, project):
    document = make_document(project, 'Note <script>alert(1)</script> and <img src=x onerror="alert(2)"> end.')
    page = login_page(clinician)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_document(page, live_server, document)
    page.wait_for_timeout(500)
    assert dialogs == []
    expect(page.locator("#doc-text")).to_contain_text("<script>alert(1)</script>")


def active_model(project):
    from training.models import ModelVersion, TrainingRun

    run = TrainingRun.objects.create(project=project, status="succeeded")
    return ModelVersion.objects.create(project=project, run=run, artifact_path="/unused", is_active=True)


def suggest(document, version, word, label_name):
    from training.models import Suggestion

    index = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)].index(word)
    return Suggestion.objects.create(
        document=document,
        model_version=version,
        label=document.project.labels.get(name=label_name),
        start=document.token_starts[index],
        end=document.token_ends[index],
        first_token=index,
        last_token=index,
        confidence=0.9,
    )


def test_accept_with_a_and_reject_with_x(login_page, live_server, clinician, project, document):
    version = active_model(project)
    made = {
        word: suggest(document, version, word, label)
        for word, label in (("lung", "DISEASE"), ("cisplatin", "TREATMENT"))
    }
    page = login_page(clinician)
    open_document(page, live_server, document)
    expect(page.locator("mark.suggestion")).to_have_count(2)
    # The page opens with the focus on the first suggestion, "lung", and no token cursor beside it.
    expect(page.locator('mark.suggestion.selected[data-label="DISEASE"]')).to_be_focused()
    expect(page.locator("#doc-text .cursor")).to_have_count(0)
    page.keyboard.press("a")
    saved(page, "Accepted DISEASE.")
    page.keyboard.press("x")  # the next one moved into focus: "cisplatin"
    saved(page, "Suggestion rejected.")
    page.reload()
    expect(page.locator("mark.suggestion")).to_have_count(0)
    expect(page.locator('mark.span[aria-label="DISEASE: lung"]')).to_be_visible()
    assert stored_spans(document) == [("lung", "DISEASE")]
    assert Span.objects.get().source == "suggestion"
    assert list(made["cisplatin"].decisions.values_list("status", flat=True)) == ["rejected"]

    page.keyboard.press("Control+z")  # undoes the rejection, not the accepted span before it
    saved(page, "Undid reject.")
    expect(page.locator("mark.suggestion")).to_have_count(1)
    expect(page.locator('mark.span[aria-label="DISEASE: lung"]')).to_be_visible()
    assert stored_spans(document) == [("lung", "DISEASE")]
    assert not made["cisplatin"].decisions.exists()


def test_refusals_keep_the_page_in_debug_mode_as_make_run_serves_it(
    login_page, live_server, clinician, document, settings, tmp_path
):
    settings.DEBUG = True  # as `make run` serves the studio
    page = login_page(clinician)
    open_document(page, live_server, document)
    page.keyboard.press("Control+z")  # nothing to undo: a 400 with its message
    saved(page, "Nothing to undo.")
    drag_select(page, token(page, document, "lung"), token(page, document, "cancer"))
    page.keyboard.press("1")
    saved(page, 'Tagged "lung cancer" as DISEASE.')
    drag_select(page, token(page, document, "cancer"), token(page, document, "were"))
    page.keyboard.press("2")  # overlaps the span just made: refused
    expect(page.locator("#editor-message")).to_contain_text("overlaps")
    expect(page.locator("#doc-text .t").first).to_be_visible()  # the page is still the labelling page
    expect(page.locator("link[rel=stylesheet]")).to_have_count(1)

    annotation = Annotation.objects.get(document=document)  # deleted in another tab meanwhile
    editing.delete_span(annotation, version=annotation.version, span_id=annotation.spans.get().pk)
    page.locator("mark.span").first.click()
    page.keyboard.press("Delete")
    saved(page, "changed elsewhere")
    expect(page.locator("#doc-text .t").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("{#")  # no template source leaks onto the page
    page.screenshot(path=str(tmp_path / "refused-in-debug.png"), full_page=True)
    assert stored_spans(document) == []


def discharge_note(characters=12_000):
    """Real abstracts, one paragraph each, until the note is `characters` long."""
    paragraphs = [
        line.split("|", 2)[2].strip()
        for line in (Path(__file__).parents[1] / "data" / "ncbi_devel_sample.pubtator").read_text().splitlines()
        if line.count("|") >= 2 and line.split("|", 2)[1] in {"t", "a"}
    ]
    text = ""
    for paragraph in paragraphs:
        if len(text) >= characters:
            break
        text += paragraph + "\n\n"
    return text.strip()


def test_a_long_note_keeps_the_toolbar_labels_and_message_in_view_and_lists_its_spans(
    login_page, live_server, clinician, project, tmp_path
):
    document = make_document(project, discharge_note(), "Discharge note")
    words = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)]
    annotation = editing.annotation_for(document, clinician)
    disease = project.labels.get(name="DISEASE")
    for index in (3, len(words) // 2, len(words) - 3):  # near the start, the middle and the end
        annotation = editing.add_span(
            annotation, version=annotation.version, first_token=index, last_token=index, label=disease
        ).annotation
    page = login_page(clinician)
    open_document(page, live_server, document)
    rows = page.locator("#span-list .span-row")
    expect(rows).to_have_count(3)
    expect(rows.last).to_contain_text(words[-3])

    rows.last.click()  # jumps to the span at the end of the note and selects it
    last_span = page.locator("mark.span").last
    expect(last_span).to_be_in_viewport()
    expect(last_span).to_have_class(re.compile(r"\bselected\b"))
    assert page.evaluate("window.scrollY") > 2_000
    for sticky in ("#annotate-bar", "[data-action=submit]", ".label-bar", "#editor-message", "#span-list"):
        expect(page.locator(sticky).first).to_be_in_viewport()
    page.keyboard.press("2")  # relabel it from down there; the message is in view
    saved(page, "Changed to TREATMENT.")
    expect(page.locator("#editor-message")).to_be_in_viewport()
    expect(rows.last.locator(".label-chip")).to_have_text("TREATMENT")
    page.screenshot(path=str(tmp_path / "long-note-scrolled.png"))
    assert stored_spans(document).count((words[-3], "TREATMENT")) == 1


def test_the_page_opens_with_the_cursor_on_the_first_token(login_page, live_server, clinician, document):
    page = login_page(clinician)
    open_document(page, live_server, document)
    expect(page.locator("#doc-text")).to_be_focused()
    expect(page.locator("#doc-text .cursor")).to_have_count(1)
    expect(page.locator('#doc-text .t[data-i="0"]')).to_have_class("t selected cursor")
    page.keyboard.press("1")  # no click needed
    saved(page, 'Tagged "Patients" as DISEASE.')
    assert stored_spans(document) == [("Patients", "DISEASE")]


def test_leaving_a_document_that_is_not_submitted_says_so_once(login_page, live_server, clinician, project):
    first = make_document(project, "First note about asthma.", "First")
    make_document(project, "Second note about diabetes.", "Second")
    page = login_page(clinician)
    open_document(page, live_server, first)
    page.keyboard.press("1")  # tags the first token, where the cursor starts
    saved(page, "Tagged")
    page.keyboard.press("]")
    saved(page, "not submitted yet")
    expect(page.locator(".doc-title")).to_have_text("First")
    page.keyboard.press("]")  # the second time it goes
    expect(page.locator(".doc-title")).to_have_text("Second")

    page.get_by_role("button", name="Tag as DISEASE").click()  # the cursor's first token
    saved(page, "Tagged")
    page.get_by_role("link", name=project.name).click()
    saved(page, "not submitted yet")
    page.locator("[data-action=submit]").click()  # submitted: nothing more to say before leaving
    saved(page, "Submitted.")
    page.get_by_role("link", name=project.name).click()
    expect(page).to_have_url(live_server.url + reverse("project_documents", args=[project.pk]))


def test_show_rejected_brings_a_suggestion_back_and_undo_rejects_it_again(
    login_page, live_server, clinician, project, document
):
    suggestion = suggest(document, active_model(project), "cisplatin", "TREATMENT")
    page = login_page(clinician)
    open_document(page, live_server, document)
    page.keyboard.press("x")
    saved(page, "Suggestion rejected.")
    expect(page.locator("mark.suggestion")).to_have_count(0)
    page.get_by_text("Show rejected (1)").click()
    page.get_by_role("button", name="Show TREATMENT cisplatin again").click()
    saved(page, "1 rejected suggestion shown again.")
    expect(page.locator("mark.suggestion")).to_have_count(1)
    assert not suggestion.decisions.exists()
    page.keyboard.press("Control+z")
    saved(page, "Undid restore.")
    expect(page.locator("mark.suggestion")).to_have_count(0)
    assert list(suggestion.decisions.values_list("status", flat=True)) == ["rejected"]
    page.keyboard.press("Control+Shift+Z")
    saved(page, "Redid restore.")
    expect(page.locator("mark.suggestion")).to_have_count(1)
    page.reload()
    expect(page.locator('mark.suggestion[data-label="TREATMENT"]')).to_be_focused()


def test_on_a_phone_the_labels_stay_in_reach_and_two_taps_select_a_range(
    login_page, live_server, clinician, project, tmp_path
):
    document = make_document(project, discharge_note(4_000), "Discharge note")
    words = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)]
    page = login_page(clinician, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    open_document(page, live_server, document)
    first, last = 200, 202
    page.locator(f'#doc-text .t[data-i="{first}"]').tap()
    saved(page, "Tap the last word")
    page.locator(f'#doc-text .t[data-i="{last}"]').tap()
    expect(page.locator("#doc-text .t.selected")).to_have_count(last - first + 1)
    label_bar = page.locator(".label-bar")
    expect(label_bar).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 300  # the text scrolled; the labels came along
    page.get_by_role("button", name="Tag as DISEASE").tap()
    saved(page, "as DISEASE.")
    page.screenshot(path=str(tmp_path / "phone-labelling.png"))
    start, end = document.token_starts[first], document.token_ends[last]
    assert stored_spans(document) == [(document.text[start:end], "DISEASE")]
    assert words[first] in document.text[start:end]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
