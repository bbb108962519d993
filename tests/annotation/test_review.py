import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation import editing, review
from annotation.models import Annotation, Membership
from annotation.selectors import submitted_tags
from annotation.services import create_project
from studio.models import AuditEntry
from tests.cast import person
from tests.conftest import make_document
from training.services import training_annotations

pytestmark = pytest.mark.django_db

TEXT = "Asthma treated with aspirin."


def submitted(document, name, spans):
    """`name`'s submitted version of `document`: (token, label name) spans, one token each."""
    labels = {label.name: label for label in document.project.labels.all()}
    user = type(document.project.created_by).objects.filter(username=name).first() or person(name)
    annotation = editing.annotation_for(document, user)
    for token, label in spans:
        annotation = editing.add_span(
            annotation, version=annotation.version, first_token=token, last_token=token, label=labels[label]
        ).annotation
    editing.submit(annotation, version=annotation.version)
    return annotation


@pytest.fixture
def disputed(admin, django_user_model):
    """Two annotators agree on "asthma", and only ann tagged "aspirin"."""
    project = create_project("Review", created_by=admin)
    document = make_document(project, TEXT)
    submitted(document, "ann", [(0, "DISEASE"), (3, "TREATMENT")])
    submitted(document, "bob", [(0, "DISEASE")])
    reviewer = person("rita")
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    return project, document, reviewer


def test_review_builds_gold_from_agreement_and_chosen_spans_without_leaving_the_page(client, disputed):
    project, document, reviewer = disputed
    client.force_login(reviewer)
    review_url = reverse("review", args=[project.pk, document.pk])
    page = client.get(review_url).content.decode()
    assert "<strong>DISEASE</strong> “Asthma”" in page  # agreed
    assert "Only in this version" in page and "“aspirin”" in page

    started = client.post(reverse("review_start", args=[project.pk, document.pk]), follow=True)
    assert started.redirect_chain == [(review_url, 302)]  # starting the gold stays on the review page
    assert "Gold annotation started from the spans every annotator agreed on" in started.content.decode()
    gold = Annotation.objects.get(document=document, is_gold=True)
    assert gold.annotator == reviewer and gold.status == "in_progress"
    assert list(gold.spans.values_list("label__name", flat=True)) == ["DISEASE"]

    client.post(reverse("review_take", args=[project.pk, document.pk]), {"start": 20, "end": 27, "label": "TREATMENT"})
    client.post(reverse("review_done", args=[project.pk, document.pk]))
    page = client.get(review_url).content.decode()
    assert "Reviewed</span> · 2 spans" in page
    assert page.count('aria-label="TREATMENT: aspirin"') >= 2  # in the gold text and the annotator's
    gold.refresh_from_db()
    assert gold.status == "reviewed"
    assert sorted(gold.spans.values_list("label__name", flat=True)) == ["DISEASE", "TREATMENT"]
    assert training_annotations(project) == [gold]  # training prefers gold to the submitted ones
    client.force_login(project.created_by)
    export = client.get(reverse("export_download", args=[project.pk]), {"format": "doccano", "scope": "finished"})
    record = json.loads(b"".join(export.streaming_content))
    assert record["label"] == [[0, 6, "DISEASE"], [20, 27, "TREATMENT"]] and record["status"] == "reviewed"


def test_a_span_leaves_the_gold_and_a_span_from_elsewhere_is_refused_plainly(client, disputed):
    project, document, reviewer = disputed
    client.force_login(reviewer)
    client.post(reverse("review_start", args=[project.pk, document.pk]))
    gold = Annotation.objects.get(document=document, is_gold=True)
    asthma = gold.spans.get()
    others = Annotation.objects.get(document=document, annotator__username="ann").spans.first()

    refused = client.post(reverse("review_drop", args=[project.pk, document.pk]), {"span": others.pk}, follow=True)
    assert "That span no longer exists." in refused.content.decode()
    assert Annotation.objects.get(document=document, annotator__username="ann").spans.count() == 2

    dropped = client.post(reverse("review_drop", args=[project.pk, document.pk]), {"span": asthma.pk}, follow=True)
    assert "Removed DISEASE “Asthma” from the gold annotation." in dropped.content.decode()
    assert not gold.spans.exists()


def test_a_reviewer_who_annotated_sees_their_version_as_a_candidate_and_builds_gold_apart(client, disputed):
    project, document, reviewer = disputed
    own = submitted(document, "rita", [(0, "DISEASE"), (3, "DISEASE")])
    client.force_login(reviewer)
    page = client.get(reverse("review", args=[project.pk, document.pk])).content.decode()
    assert 'rita <span class="muted">(your version)</span>' in page
    assert "No gold yet." in page  # the reviewer's own submitted version is not the gold

    client.post(reverse("review_start", args=[project.pk, document.pk]))
    gold = Annotation.objects.get(document=document, is_gold=True)
    assert gold.pk != own.pk and gold.annotator == reviewer
    # Agreed by all three (rita included): "Asthma" only.
    assert list(gold.spans.values_list("start", "end", "label__name")) == [(0, 6, "DISEASE")]
    client.post(reverse("review_take", args=[project.pk, document.pk]), {"start": 20, "end": 27, "label": "TREATMENT"})
    client.post(reverse("review_done", args=[project.pk, document.pk]))

    own.refresh_from_db()
    assert own.status == "submitted" and list(own.spans.values_list("label__name", flat=True)) == ["DISEASE"] * 2
    # Their labelling page shows their own version; agreement compares the three versions, not the gold.
    labelling = client.get(reverse("annotate", args=[project.pk, document.pk])).content.decode()
    assert 'aria-label="DISEASE: aspirin"' in labelling and 'aria-label="TREATMENT: aspirin"' not in labelling
    assert sorted(submitted_tags(project)) == ["ann", "bob", "rita"]
    assert [a.pk for a in training_annotations(project)] == [gold.pk]


def test_next_disagreement_walks_unreviewed_disagreements_and_a_reviewed_one_leaves(client, disputed, admin):
    project, first, reviewer = disputed
    agreeing = make_document(project, "Gout.")
    submitted(agreeing, "ann", [(0, "DISEASE")])
    submitted(agreeing, "bob", [(0, "DISEASE")])
    last = make_document(project, "Fever and rash.")
    submitted(last, "ann", [(0, "DISEASE")])
    submitted(last, "bob", [(2, "DISEASE")])
    assert list(review.unresolved_disagreements(project)) == [first, last]

    client.force_login(reviewer)

    def next_after(document):
        answer = client.get(reverse("review_next", args=[project.pk, document.pk]))
        assert answer.status_code == 302
        return answer["Location"]

    assert next_after(first) == reverse("review", args=[project.pk, last.pk])  # past the agreeing one
    assert next_after(agreeing) == reverse("review", args=[project.pk, last.pk])
    assert next_after(last) == reverse("review", args=[project.pk, first.pk])  # round again

    client.post(reverse("review_start", args=[project.pk, first.pk]))
    client.post(reverse("review_done", args=[project.pk, first.pk]))
    assert list(review.unresolved_disagreements(project)) == [last]
    assert next_after(first) == reverse("review", args=[project.pk, last.pk])
    assert next_after(last) == reverse("review", args=[project.pk, last.pk])  # back, with a message
    page = client.get(reverse("review", args=[project.pk, last.pk])).content.decode()
    assert "No other document has annotators who disagree and no review." in page
    assert "1 document with disagreeing annotators and no review, this one included." in page
    assert "Next disagreement" not in page

    agreement = client.get(reverse("agreement", args=[project.pk])).content.decode()
    assert reverse("review", args=[project.pk, last.pk]) in agreement
    assert reverse("review", args=[project.pk, first.pk]) not in agreement  # reviewed: off the list


def test_an_unfinished_gold_does_not_resolve_a_disagreement(client, disputed):
    project, document, reviewer = disputed
    client.force_login(reviewer)
    client.post(reverse("review_start", args=[project.pk, document.pk]))
    assert list(review.unresolved_disagreements(project)) == [document]


def test_an_annotator_cannot_review(client, disputed, django_user_model):
    project, document, _ = disputed
    bob = django_user_model.objects.get(username="bob")
    Membership.objects.create(project=project, user=bob, role="annotator")
    client.force_login(bob)
    assert client.get(reverse("review", args=[project.pk, document.pk])).status_code == 403
    assert client.get(reverse("review_next", args=[project.pk, document.pk])).status_code == 403


def test_gold_only_policy_trains_on_reviewed_documents_alone(disputed):
    project, document, _ = disputed
    assert len(training_annotations(project)) == 1  # a submitted one stands in for the missing gold
    project.training_source = project.TrainingSource.GOLD_ONLY
    project.save()
    assert training_annotations(project) == []


# Exports of a disagreement nobody reviewed: ann has Asthma and aspirin, bob Asthma alone, and
# a third document where carl and dana each tagged a different word.


@pytest.fixture
def exported_project(disputed):
    project, document, reviewer = disputed
    split = make_document(project, "Fever and rash.")
    submitted(split, "carl", [(0, "DISEASE"), (2, "DISEASE")])
    submitted(split, "dana", [(2, "DISEASE")])
    submitted(split, "erin", [(0, "TREATMENT"), (2, "DISEASE")])
    agreeing = make_document(project, "Gout.")
    submitted(agreeing, "ann", [(0, "DISEASE")])
    submitted(agreeing, "bob", [(0, "DISEASE")])
    return project


def doccano(client, project, **query):
    answer = client.get(
        reverse("export_download", args=[project.pk]), {"format": "doccano", "scope": "finished", **query}
    )
    assert answer.status_code == 200, answer.content
    return {
        record["text"]: record["label"]
        for record in map(json.loads, b"".join(answer.streaming_content).decode().splitlines())
    }


def test_an_export_follows_the_chosen_rule_for_unreviewed_disagreements(client, exported_project, admin):
    client.force_login(admin)
    agreed = {"Gout.": [[0, 4, "DISEASE"]]}
    assert doccano(client, exported_project) == agreed  # no rule given: reviewed only
    assert doccano(client, exported_project, rule="reviewed", scope="all") == agreed
    assert doccano(client, exported_project, rule="annotator", annotator="ann") == {
        TEXT: [[0, 6, "DISEASE"], [20, 27, "TREATMENT"]],
        **agreed,
    }
    assert doccano(client, exported_project, rule="annotator", annotator="carl") == {
        "Fever and rash.": [[0, 5, "DISEASE"], [10, 14, "DISEASE"]],
        **agreed,
    }
    # Majority: more than half of each document's annotators (ann and bob: both; carl, dana, erin: two).
    assert doccano(client, exported_project, rule="majority") == {
        TEXT: [[0, 6, "DISEASE"]],
        "Fever and rash.": [[10, 14, "DISEASE"]],
        **agreed,
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"rule": "annotator"}, "Choose the annotator whose versions to export."),
        ({"rule": "annotator", "annotator": "zoe"}, "zoe has not annotated any document of this project."),
        ({"rule": "latest"}, "Choose a rule for disagreements: reviewed, annotator or majority."),
    ],
)
def test_a_rule_that_cannot_be_followed_is_refused_by_name(client, exported_project, admin, query, message):
    client.force_login(admin)
    url = reverse("export_download", args=[exported_project.pk])
    answer = client.get(url, {"format": "doccano", "scope": "finished", **query})
    assert answer.status_code == 400 and answer.content.decode() == message


def test_the_document_list_states_the_rule_and_the_documents_it_decides(client, exported_project, admin):
    client.force_login(admin)
    page = client.get(reverse("project_documents", args=[exported_project.pk])).content.decode()
    assert "2 documents have disagreeing annotators and no review: they are left out until someone reviews them." in (
        page
    )
    rule_url = reverse("export_rule", args=[exported_project.pk])
    majority = client.get(rule_url, {"format": "doccano", "rule": "majority"}).content.decode()
    assert "they are exported with the spans more than half of their annotators made." in majority
    named = client.get(rule_url, {"rule": "annotator", "annotator": "carl"}).content.decode()
    assert "they are exported as carl annotated them; those carl did not annotate are left out." in named
    unnamed = client.get(rule_url, {"rule": "annotator", "annotator": ""}).content.decode()
    assert "Choose the annotator whose versions to export." in unnamed


def test_the_api_and_the_command_take_the_same_rule(exported_project, admin, tmp_path, capsys):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin)
    url = reverse("api_export", args=[exported_project.pk])
    answer = api.get(url, {"format": "doccano", "rule": "annotator", "annotator": "dana"})
    texts = [json.loads(line)["text"] for line in b"".join(answer.streaming_content).decode().splitlines()]
    assert texts == ["Fever and rash.", "Gout."]  # dana did not annotate the first document
    refused = api.get(url, {"format": "doccano", "rule": "majority", "annotator": "dana"})
    assert refused.status_code == 400
    assert refused.json()["errors"]["annotator"] == ["An annotator is named only with the annotator rule."]

    output = tmp_path / "out.jsonl"
    call_command("export_documents", exported_project.name, "--rule", "majority", "-o", str(output))
    assert "2 documents have disagreeing annotators and no review" in capsys.readouterr().err
    assert [json.loads(line)["label"] for line in output.read_text().splitlines()][0] == [[0, 6, "DISEASE"]]
    with pytest.raises(Exception, match="zoe has not annotated any document of this project."):
        call_command("export_documents", exported_project.name, "--rule", "annotator", "--annotator", "zoe")


def test_a_reviewer_edits_the_gold_on_the_labelling_page_with_undo_and_marks_it_reviewed(client, disputed):
    project, document, reviewer = disputed
    args = [project.pk, document.pk]
    client.force_login(reviewer)
    not_started = client.get(reverse("gold_annotate", args=args), follow=True)
    assert not_started.redirect_chain == [(reverse("review", args=args), 302)]
    assert "Start the gold annotation here first" in not_started.content.decode()

    client.post(reverse("review_start", args=args))
    gold = Annotation.objects.get(document=document, is_gold=True)
    page = client.get(reverse("gold_annotate", args=args)).content.decode()
    assert "Gold: " in page and "Mark reviewed" in page
    assert reverse("gold_span_add", args=args) in page

    treatment = project.labels.get(name="TREATMENT")
    added = client.post(
        reverse("gold_span_add", args=args), {"first": 2, "last": 2, "label": treatment.pk, "version": gold.version}
    )
    assert added.status_code == 200, added.content.decode()  # "with": a span no annotator made
    gold.refresh_from_db()
    assert sorted(gold.spans.values_list("start", "end")) == [(0, 6), (15, 19)]
    client.post(reverse("gold_annotation_undo", args=args), {"version": gold.version})
    gold.refresh_from_db()
    assert sorted(gold.spans.values_list("start", "end")) == [(0, 6)]
    client.post(reverse("gold_annotation_submit", args=args), {"version": gold.version})
    gold.refresh_from_db()
    assert gold.status == "reviewed"
    assert not Annotation.objects.filter(document=document, annotator=reviewer, is_gold=False).exists()
    assert list(gold.spans.values_list("label__name", flat=True)) == ["DISEASE"]
    entries = AuditEntry.objects.filter(document_id=document.pk, action="span.create", actor_id=reviewer.pk)
    assert entries.count() == 2  # the agreed span at the start, then the one added here

    annotator = type(reviewer).objects.get(username="ann")
    client.force_login(annotator)
    refused = client.post(
        reverse("gold_span_add", args=args), {"first": 1, "last": 1, "label": treatment.pk, "version": 9}
    )
    assert refused.status_code in (403, 404)
    assert gold.spans.count() == 1
