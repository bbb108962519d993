"""The labelling endpoints against Postgres: saves, conflicts, undo/redo, refusals."""

from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from annotation import editing
from annotation.models import Annotation, AnnotationChange, Label, Span
from annotation.services import create_project
from tests.conftest import make_document

pytestmark = pytest.mark.django_db

TEXT = "Patients with lung cancer received cisplatin chemotherapy. <script>alert(1)</script>"


@pytest.fixture
def document(project):
    return make_document(project, TEXT, "Case 1")


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def label(project, name):
    return Label.objects.get(project=project, name=name)


def url(name, document, *args):
    return reverse(name, args=[document.project_id, document.pk, *args])


def tokens_of(document, text):
    """Token indices (first, last) of the first occurrence of `text`."""
    start = document.text.index(text)
    end = start + len(text)
    first = document.token_starts.index(start)
    last = document.token_ends.index(end)
    return first, last


def add(client, document, text, label_name, version):
    first, last = tokens_of(document, text)
    return client.post(
        url("span_add", document),
        {"first": first, "last": last, "label": label(document.project, label_name).pk, "version": version},
    )


def spans(document):
    return list(Span.objects.filter(annotation__document=document).values_list("start", "end", "label__name"))


def test_adding_a_span_saves_it_and_keeps_bio_tags_in_step(client_in, document):
    response = add(client_in, document, "lung cancer", "DISEASE", 1)
    assert response.status_code == 200
    start = TEXT.index("lung cancer")
    assert spans(document) == [(start, start + 11, "DISEASE")]
    annotation = Annotation.objects.get()
    assert annotation.version == 2
    first, last = tokens_of(document, "lung cancer")
    assert annotation.bio_tags[first : last + 1] == ["B-DISEASE", "I-DISEASE"]
    assert annotation.bio_tags.count("O") == len(document.token_starts) - 2
    html = response.content.decode()
    assert 'data-version="2"' in html
    assert 'aria-label="DISEASE: lung cancer"' in html


def test_a_save_redraws_only_the_blocks_it_touched(client_in, project):
    sentence = "Chronic kidney disease was noted in this patient today. "
    document = make_document(project, sentence * 60)  # 660 tokens, several blocks
    response = add(client_in, document, "kidney disease", "DISEASE", 1)
    html = response.content.decode()
    assert html.count('class="block"') == 1
    assert 'id="b-0"' in html


def test_a_stale_version_gets_409_and_changes_nothing(client_in, document):
    add(client_in, document, "lung cancer", "DISEASE", 1)
    before = spans(document)
    stale = add(client_in, document, "cisplatin", "TREATMENT", 1)
    assert stale.status_code == 409
    assert "changed elsewhere" in stale.content.decode()
    assert 'data-version="2"' in stale.content.decode()
    assert spans(document) == before
    assert Annotation.objects.get().version == 2


def test_an_overlap_is_refused_naming_the_span_it_overlaps(client_in, document):
    add(client_in, document, "lung cancer", "DISEASE", 1)
    refused = add(client_in, document, "cancer received", "DISEASE", 2)
    assert refused.status_code == 400
    start = TEXT.index("lung cancer")
    assert f'That overlaps DISEASE "lung cancer" ({start}–{start + 11}); the existing span stays.' in unescape(
        refused.content.decode()
    )
    assert spans(document) == [(start, start + 11, "DISEASE")]
    assert Annotation.objects.get().version == 2


def test_a_post_without_csrf_token_is_refused(user, document):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    first, last = tokens_of(document, "lung")
    response = client.post(url("span_add", document), {"first": first, "last": last, "label": 1, "version": 1})
    assert response.status_code == 403
    assert not Span.objects.exists()


def test_relabel_delete_undo_redo(client_in, document):
    add(client_in, document, "cisplatin", "DISEASE", 1)
    span = Span.objects.get()
    client_in.post(
        url("span_relabel", document, span.pk), {"label": label(document.project, "TREATMENT").pk, "version": 2}
    )
    assert spans(document)[0][2] == "TREATMENT"
    client_in.post(url("span_delete", document, span.pk), {"version": 3})
    assert spans(document) == []
    client_in.post(url("annotation_undo", document), {"version": 4})
    assert [s[2] for s in spans(document)] == ["TREATMENT"]
    client_in.post(url("annotation_undo", document), {"version": 5})
    assert [s[2] for s in spans(document)] == ["DISEASE"]
    client_in.post(url("annotation_redo", document), {"version": 6})
    client_in.post(url("annotation_redo", document), {"version": 7})
    assert spans(document) == []
    nothing = client_in.post(url("annotation_redo", document), {"version": 8})
    assert nothing.status_code == 400 and "Nothing to redo." in nothing.content.decode()
    annotation = Annotation.objects.get()
    assert annotation.bio_tags == ["O"] * len(document.token_starts)


def test_a_new_edit_after_undo_drops_the_redo_branch(client_in, document):
    add(client_in, document, "lung cancer", "DISEASE", 1)
    client_in.post(url("annotation_undo", document), {"version": 2})
    add(client_in, document, "cisplatin", "TREATMENT", 3)
    assert AnnotationChange.objects.filter(undone=True).count() == 0
    response = client_in.post(url("annotation_redo", document), {"version": 4})
    assert response.status_code == 400


def test_submit_marks_the_annotation_submitted(client_in, document):
    add(client_in, document, "lung cancer", "DISEASE", 1)
    response = client_in.post(url("annotation_submit", document), {"version": 2})
    assert response.status_code == 200
    annotation = Annotation.objects.get()
    assert annotation.status == "submitted" and annotation.submitted_at is not None
    assert "1 of 1 submitted" in response.content.decode()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"first": 0, "last": 999, "label": "DISEASE"}, "outside this document's"),
        ({"first": 3, "last": 1, "label": "DISEASE"}, "outside this document's"),
        ({"first": "x", "last": 1, "label": "DISEASE"}, "Missing or bad first."),
        ({"first": 0, "last": 1, "label": "NOPE"}, "Pick one of the project's labels."),
        ({"first": 0, "last": 1, "label": "DISEASE", "version": "abc"}, "The page sent no version"),
    ],
)
def test_bad_edits_get_a_specific_message(client_in, document, values, message):
    values = {"version": 1, **values}
    values["label"] = label(document.project, values["label"]).pk if values["label"] != "NOPE" else 99999
    response = client_in.post(url("span_add", document), values)
    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    assert not Span.objects.exists()


def test_labels_of_another_project_are_refused(client_in, document, user):
    other = create_project("Other", created_by=user)
    first, last = tokens_of(document, "lung")
    response = client_in.post(
        url("span_add", document), {"first": first, "last": last, "label": label(other, "DISEASE").pk, "version": 1}
    )
    assert response.status_code == 400


def test_the_page_escapes_the_text(client_in, document):
    page = client_in.get(url("annotate", document)).content.decode()
    assert "<script>alert" not in page
    assert '<span class="t" data-i="' in page
    assert "&lt;" in page and "alert" in page


def test_next_and_previous_documents(client_in, project, user):
    first, second = make_document(project, "First text."), make_document(project, "Second text.")
    response = client_in.get(reverse("annotate_next", args=[project.pk, first.pk]))
    assert response["Location"] == reverse("annotate", args=[project.pk, second.pk])
    wrapped = client_in.get(reverse("annotate_next", args=[project.pk, second.pk]))
    assert wrapped["Location"] == reverse("annotate", args=[project.pk, first.pk])  # still unfinished
    annotation = Annotation.objects.create(document=first, annotator=user, status="submitted")
    done = client_in.get(reverse("annotate_next", args=[project.pk, second.pk]))
    assert done.status_code == 404
    assert "finished every other document" in done.content.decode()
    annotation.delete()
    start = client_in.get(reverse("annotate_start", args=[project.pk]))
    assert start["Location"] == reverse("annotate", args=[project.pk, first.pk])


def test_an_annotator_can_pin_a_document_to_dev(client_in, document):
    response = client_in.post(url("evaluation_split", document), {"split": "dev"})
    assert response.status_code == 200
    assert '<option value="dev" selected>' in response.content.decode()
    document.refresh_from_db()
    assert document.is_dev is True
    client_in.post(url("evaluation_split", document), {"split": "auto"})
    document.refresh_from_db()
    assert document.is_dev is None
    bad = client_in.post(url("evaluation_split", document), {"split": "sideways"})
    assert bad.status_code == 400 and "Choose dev, train or auto." in bad.content.decode()


def test_a_span_edit_costs_a_fixed_number_of_queries(client_in, document, django_assert_max_num_queries):
    """Saving is the annotator's hot path: its queries must not grow with the spans on the page."""
    words = ["Patients", "lung", "cancer", "received", "cisplatin", "chemotherapy"]
    add(client_in, document, words[0], "DISEASE", 1)
    for version, word in enumerate(words[1:-1], start=2):
        add(client_in, document, word, "DISEASE", version)
    first, last = tokens_of(document, words[-1])
    values = {"first": first, "last": last, "label": label(document.project, "TREATMENT").pk, "version": len(words)}
    # Savepoints included (the request's, the edit's and the session's), the open suggestions
    # (imported ones too) and the confidence the annotator chose to see them from.
    with django_assert_max_num_queries(23):
        response = client_in.post(url("span_add", document), values)
    assert response.status_code == 200
    assert len(spans(document)) == len(words)


def test_only_submitting_redraws_the_progress_card(client_in, document):
    added = add(client_in, document, "lung cancer", "DISEASE", 1).content.decode()
    assert 'id="annotator-progress"' not in added
    submitted = client_in.post(url("annotation_submit", document), {"version": 2}).content.decode()
    assert 'id="annotator-progress"' in submitted and "1 of 1 submitted" in submitted


def test_undo_refuses_a_step_whose_label_was_deleted(client_in, project, document):
    from annotation.services import LabelInUse, delete_label

    symptom = project.labels.create(name="SYMPTOM", color="#123456")
    annotation = editing.annotation_for(document, document.project.created_by)
    first, last = tokens_of(document, "lung cancer")
    annotation = editing.add_span(annotation, version=1, first_token=first, last_token=last, label=symptom).annotation
    with pytest.raises(LabelInUse):
        delete_label(symptom)
    [span] = annotation.spans.all()
    annotation = editing.delete_span(annotation, version=annotation.version, span_id=span.pk).annotation
    delete_label(symptom)
    with pytest.raises(editing.EditRejected, match="used a label deleted since"):
        editing.undo(annotation, version=annotation.version)
    assert not annotation.spans.exists()
