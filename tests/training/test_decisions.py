"""Every decision on a suggestion is a step of the annotation's history: undo brings a
rejected suggestion back, takes an accepted one back to a suggestion, and undoes only the
last step of this annotator on this document."""

import pytest
from django.urls import reverse

from annotation.models import Annotation, Label
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document
from training.models import Suggestion, SuggestionDecision

pytestmark = pytest.mark.django_db
TEXT = "Asthma treated with salbutamol and lung cancer with cisplatin ."


@pytest.fixture
def document(clinician):
    project = create_project("Decisions", created_by=clinician)
    document = make_document(project, TEXT)
    for start, end, name in ((0, 6, "DISEASE"), (20, 30, "TREATMENT"), (35, 46, "DISEASE")):
        Suggestion.objects.create(
            document=document,
            label=Label.objects.get(project=project, name=name),
            start=start,
            end=end,
            first_token=document.token_starts.index(start),
            last_token=document.token_ends.index(end),
            confidence=1.0,
        )
    return document


def act(client, name, document, *args):
    annotation = Annotation.objects.filter(document=document, annotator_id=client.session["_auth_user_id"]).first()
    version = annotation.version if annotation else 1
    response = client.post(reverse(name, args=[document.project_id, document.pk, *args]), {"version": version})
    assert response.status_code == 200, response.content.decode()
    return response.content.decode()


def suggestion(document, start) -> Suggestion:
    return Suggestion.objects.get(document=document, start=start)


def spans(document) -> list[tuple[int, int]]:
    return sorted(Annotation.objects.get(document=document).spans.values_list("start", "end"))  # one annotator


def open_to(user, document) -> list[int]:
    return sorted(Suggestion.objects.filter(document=document).open_for(user).values_list("start", flat=True))


def test_undo_after_a_rejection_brings_it_back_and_keeps_the_accepted_span(client, clinician, document):
    client.force_login(clinician)
    act(client, "suggestion_accept", document, suggestion(document, 0).pk)
    act(client, "suggestion_reject", document, suggestion(document, 20).pk)
    assert spans(document) == [(0, 6)] and open_to(clinician, document) == [35]

    undone = act(client, "annotation_undo", document)
    assert "Undid reject." in undone and 'data-suggestion="' in undone
    assert spans(document) == [(0, 6)]  # the accepted span stays
    assert open_to(clinician, document) == [20, 35]

    act(client, "annotation_redo", document)
    assert open_to(clinician, document) == [35]
    assert SuggestionDecision.objects.get(suggestion=suggestion(document, 20)).status == "rejected"


def test_undoing_an_accept_turns_the_span_back_into_a_suggestion(client, clinician, document):
    client.force_login(clinician)
    act(client, "suggestion_accept", document, suggestion(document, 0).pk)
    act(client, "annotation_undo", document)
    assert spans(document) == [] and open_to(clinician, document) == [0, 20, 35]


def test_rejecting_all_is_one_step_and_one_annotators_undo_is_theirs_alone(client, clinician, document):
    colleague = person("colleague")
    document.project.memberships.create(user=colleague, role="annotator")
    client.force_login(colleague)
    act(client, "suggestion_reject", document, suggestion(document, 35).pk)
    client.force_login(clinician)
    act(client, "suggestions_reject_all", document)
    assert open_to(clinician, document) == []
    act(client, "annotation_undo", document)
    assert open_to(clinician, document) == [0, 20, 35]
    assert open_to(colleague, document) == [0, 20]  # their own rejection stands


def test_show_rejected_brings_back_one_or_all_and_each_is_a_step_to_undo(client, clinician, nurse, document):
    client.force_login(clinician)
    act(client, "suggestions_reject_all", document)
    assert open_to(clinician, document) == []
    page = client.get(reverse("annotate", args=[document.project_id, document.pk])).content.decode()
    assert "Show rejected (3)" in page

    annotation = Annotation.objects.get(document=document)
    response = client.post(
        reverse("suggestions_restore", args=[document.project_id, document.pk]),
        {"version": annotation.version, "suggestion": suggestion(document, 20).pk},
    )
    assert "1 rejected suggestion shown again." in response.content.decode()
    assert open_to(clinician, document) == [20]
    assert "Show all 3 again" in act(client, "annotation_undo", document)
    assert open_to(clinician, document) == []  # undo rejected it again
    act(client, "annotation_redo", document)
    assert open_to(clinician, document) == [20]
    assert "2 rejected suggestions shown again." in act(client, "suggestions_restore", document)
    assert open_to(clinician, document) == [0, 20, 35]
    assert open_to(nurse, document) == [0, 20, 35]  # another annotator's decisions are their own

    annotation = Annotation.objects.get(document=document)
    response = client.post(
        reverse("suggestions_restore", args=[document.project_id, document.pk]), {"version": annotation.version}
    )
    assert response.status_code == 400
    assert "There are no rejected suggestions to show again." in response.content.decode()
    assert not SuggestionDecision.objects.filter(user=clinician).exists()
