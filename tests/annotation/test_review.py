import json

import pytest
from django.urls import reverse

from annotation import editing
from annotation.models import Annotation, Membership
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document
from training.services import training_annotations

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(admin, django_user_model):
    """Two annotators agree on "asthma", and only ann tagged "aspirin"."""
    project = create_project("Review", created_by=admin)
    document = make_document(project, "Asthma treated with aspirin.")
    labels = {label.name: label for label in project.labels.all()}
    for name, spans in (("ann", [(0, "DISEASE"), (3, "TREATMENT")]), ("bob", [(0, "DISEASE")])):
        user = person(name)
        annotation = editing.annotation_for(document, user)
        for token, label in spans:
            annotation = editing.add_span(
                annotation, version=annotation.version, first_token=token, last_token=token, label=labels[label]
            ).annotation
        editing.submit(annotation, version=annotation.version)
    reviewer = person("rita")
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    return project, document, reviewer


def test_review_builds_gold_from_agreement_and_chosen_spans(client, disputed):
    project, document, reviewer = disputed
    client.force_login(reviewer)
    page = client.get(reverse("review", args=[project.pk, document.pk])).content.decode()
    assert "<strong>DISEASE</strong> “Asthma”" in page  # agreed
    assert "Only in this version" in page and "“aspirin”" in page

    client.post(reverse("review_start", args=[project.pk, document.pk]))
    gold = Annotation.objects.get(document=document, annotator=reviewer)
    assert list(gold.spans.values_list("label__name", flat=True)) == ["DISEASE"]

    client.post(reverse("review_take", args=[project.pk, document.pk]), {"start": 20, "end": 27, "label": "TREATMENT"})
    client.post(reverse("review_done", args=[project.pk, document.pk]))
    page = client.get(reverse("review", args=[project.pk, document.pk])).content.decode()
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


def test_an_annotator_cannot_review(client, disputed, django_user_model):
    project, document, _ = disputed
    bob = django_user_model.objects.get(username="bob")
    Membership.objects.create(project=project, user=bob, role="annotator")
    client.force_login(bob)
    assert client.get(reverse("review", args=[project.pk, document.pk])).status_code == 403


def test_gold_only_policy_trains_on_reviewed_documents_alone(disputed):
    project, document, _ = disputed
    assert len(training_annotations(project)) == 1  # a submitted one stands in for the missing gold
    project.training_source = project.TrainingSource.GOLD_ONLY
    project.save()
    assert training_annotations(project) == []
