"""An annotator sees only their own spans, whatever URL, partial or API they try."""

import pytest
from django.urls import reverse

from annotation import editing
from annotation.models import Membership
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document
from tests.studio.test_permissions import ENDPOINTS, named_urls
from training.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


def test_no_page_partial_or_api_shows_another_annotators_spans(client, admin, django_user_model):
    project = create_project("Private", created_by=admin)
    document = make_document(project, "Asthma treated with zafirlukast.")
    me, other = (person(name) for name in ("me", "other"))
    for user in (me, other):
        Membership.objects.create(project=project, user=user, role="annotator")
    treatment = project.labels.get(name="TREATMENT")
    theirs = editing.add_span(
        editing.annotation_for(document, other), version=1, first_token=3, last_token=3, label=treatment
    ).annotation
    editing.submit(theirs, version=theirs.version)
    span = theirs.spans.get()
    run = TrainingRun.objects.create(
        project=project,
        status="succeeded",
        metrics={"evaluation": _evaluation_quoting(document, span)},
    )
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/unused", is_active=True)
    ids = {"project_id": project.pk, "document_id": document.pk, "run_id": run.pk, "version_id": version.pk}

    client.force_login(me)
    looked_at = 0
    for name, (method, *_rest) in ENDPOINTS.items():
        _, pattern = next((n, p) for n, p in named_urls() if n == name)
        if method != "get" or set(pattern.pattern.converters) - set(ids):
            continue
        url = reverse(name, kwargs={key: ids[key] for key in pattern.pattern.converters})
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, **headers)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode()
            assert f'data-span="{span.pk}"' not in text, url
            assert "TREATMENT: zafirlukast" not in text, url
            assert "<mark>zafirlukast</mark>" not in text, url
            looked_at += 1
    assert looked_at >= 20
    export = client.get(reverse("export_download", args=[project.pk]), {"format": "doccano", "scope": "all"})
    assert export.status_code == 403


def _evaluation_quoting(document, span):
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    return {
        "documents": 1,
        "per_label": {"TREATMENT": zero},
        "micro": zero,
        "macro": zero,
        "weighted": zero,
        "confusion": {"labels": ["O", "TREATMENT"], "matrix": [[3, 0], [1, 0]]},
        "false_positives": [],
        "false_negatives": [
            {
                "doc_id": str(document.pk),
                "label": "TREATMENT",
                "kind": "missed",
                "text": "zafirlukast",
                "context_left": "Asthma treated with ",
                "context_right": ".",
                "start": span.start,
                "end": span.end,
            }
        ],
    }
