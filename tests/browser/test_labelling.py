"""The labelling page in a real Chromium: every action is checked in the database after reload."""

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
    page.locator("#doc-text").focus()
    for _ in range(7):  # cursor onto "cisplatin"
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


def test_accept_with_a_and_reject_with_x(login_page, live_server, clinician, project, document):
    from training.models import ModelVersion, Suggestion, TrainingRun

    run = TrainingRun.objects.create(project=project, status="succeeded")
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/unused", is_active=True)
    labels = {label.name: label for label in project.labels.all()}
    made = {}
    for word, label in (("lung", "DISEASE"), ("cisplatin", "TREATMENT")):
        index = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)].index(word)
        made[word] = Suggestion.objects.create(
            document=document,
            model_version=version,
            label=labels[label],
            start=document.token_starts[index],
            end=document.token_ends[index],
            first_token=index,
            last_token=index,
            confidence=0.9,
        )
    page = login_page(clinician)
    open_document(page, live_server, document)
    expect(page.locator("mark.suggestion")).to_have_count(2)
    page.locator("#doc-text").focus()
    page.keyboard.press("Tab")  # the first suggestion, "lung"
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
