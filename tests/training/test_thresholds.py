"""Which suggestions a person sees: each label from the confidence its model's dev predictions
reach the project's target precision, never below the project's threshold, or from their own
threshold control; on the labelling page, "Try it" and the run page."""

from html import unescape

import pytest
from django.urls import reverse

from annotation.models import Membership
from annotation.services import create_project
from tests.cast import person
from tests.conftest import make_document
from tests.training.test_run_report import evaluated_run
from training import thresholds
from training.models import ModelVersion, PersonalThreshold, Suggestion, TrainingRun

pytestmark = pytest.mark.django_db

TEXT = "Asthma and gout were treated with aspirin and rest ; lupus got steroids ."
# [confidence, precision of the dev predictions at or above it, how many]: DISEASE reaches 0.8
# from 0.7, TREATMENT from 0.3 (below the project's 0.5), SYMPTOM never; RARE has no curve.
CURVES = {
    "DISEASE": [[0.9, 1.0, 4], [0.7, 0.8, 5], [0.6, 0.6667, 6], [0.2, 0.5, 8]],
    "TREATMENT": [[0.8, 1.0, 3], [0.3, 0.8, 5]],
    "SYMPTOM": [[0.95, 0.5, 2], [0.4, 0.25, 4]],
    "RARE": [],
}
CALIBRATION = {
    "temperature": 1.7,
    "bins": 15,
    "tokens": {
        "before": {"ece": 0.121, "count": 400, "bins": [{"confidence": 0.97, "accuracy": 0.85, "count": 400}]},
        "after": {"ece": 0.034, "count": 400, "bins": [{"confidence": 0.88, "accuracy": 0.85, "count": 400}]},
    },
    "entities": {
        "before": {"ece": 0.187, "count": 19, "bins": [{"confidence": 0.9, "accuracy": 0.7, "count": 19}]},
        "after": {"ece": 0.052, "count": 19, "bins": [{"confidence": 0.75, "accuracy": 0.7, "count": 19}]},
    },
    "precision_curves": CURVES,
}
# (words, label, confidence): which of them each label's threshold lets through
PROPOSED = [
    ("Asthma", "DISEASE", 0.75),  # from 0.7: shown
    ("gout", "DISEASE", 0.65),  # hidden
    ("aspirin", "TREATMENT", 0.55),  # the project's 0.5 applies: shown
    ("rest", "TREATMENT", 0.45),  # hidden, though the model's dev threshold is 0.3
    ("lupus", "SYMPTOM", 0.99),  # SYMPTOM never reaches 0.8 on dev: hidden
    ("steroids", "RARE", 0.52),  # no curve: the project's 0.5
]


@pytest.fixture
def scene(admin):
    project = create_project("Thresholds", created_by=admin)
    for name, colour, key in (("SYMPTOM", "#76b041", "3"), ("RARE", "#9c6ade", "4")):
        project.labels.create(name=name, color=colour, hotkey=key)
    document = make_document(project, TEXT, "Case")
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={"calibration": CALIBRATION})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/nowhere", is_active=True)
    labels = {label.name: label for label in project.labels.all()}
    proposed = {}
    for words, label, confidence in PROPOSED:
        start = TEXT.index(words)
        first = document.token_starts.index(start)
        proposed[words] = Suggestion.objects.create(
            document=document,
            model_version=version,
            label=labels[label],
            start=start,
            end=start + len(words),
            first_token=first,
            last_token=first,
            confidence=confidence,
        )
    return project, document, proposed


def shown_on_page(client, document, proposed) -> set[str]:
    html = client.get(reverse("annotate", args=[document.project_id, document.pk])).content.decode()
    return {words for words, suggestion in proposed.items() if f'data-suggestion="{suggestion.pk}"' in html}


def test_model_thresholds_reach_the_target_and_never_go_below_the_project_threshold(scene):
    project, _document, _proposed = scene
    version = ModelVersion.objects.get(project=project)
    assert thresholds.model_thresholds(project, version) == {
        "DISEASE": 0.7,
        "TREATMENT": 0.5,
        "SYMPTOM": thresholds.NEVER,
    }
    project.target_precision = 0.6
    assert thresholds.model_thresholds(project, version)["DISEASE"] == 0.6
    project.target_precision, project.suggestion_threshold = 1.0, 0.0
    assert thresholds.model_thresholds(project, version) == {
        "DISEASE": 0.9,
        "TREATMENT": 0.8,
        "SYMPTOM": thresholds.NEVER,
    }
    assert thresholds.model_thresholds(project, None) == {}


def test_the_labelling_page_shows_each_label_from_its_own_threshold(client, admin, scene):
    project, document, proposed = scene
    client.force_login(admin)
    assert shown_on_page(client, document, proposed) == {"Asthma", "aspirin", "steroids"}
    html = unescape(client.get(reverse("annotate", args=[project.pk, document.pk])).content.decode())
    assert "reach 80% precision" in html
    assert "DISEASE</span><span>from 0.70</span>" in html
    assert "TREATMENT</span><span>from 0.50</span>" in html
    assert "SYMPTOM</span><span>none: its dev predictions never reach 80%</span>" in html
    assert 'RARE</span><span>from 0.50 <span class="muted">(the project\'s threshold)</span></span>' in html

    project.target_precision = 0.6  # a new target applies at once, without training again
    project.save()
    assert shown_on_page(client, document, proposed) == {"Asthma", "gout", "aspirin", "steroids"}
    project.suggestion_threshold = 1.0  # the project's threshold still hides everything below it
    project.save()
    assert shown_on_page(client, document, proposed) == set()


def choose(client, project, document=None, **data):
    if document is not None:
        data["document"] = document.pk
    return client.post(reverse("personal_threshold", args=[project.pk]), data)


def test_the_threshold_control_changes_only_its_users_view(client, admin, scene):
    project, document, proposed = scene
    colleague = person("colleague")
    Membership.objects.create(project=project, user=colleague, role=Membership.Role.ANNOTATOR)
    client.force_login(colleague)
    response = choose(client, project, document, threshold="0.4")
    assert response.status_code == 200
    body = unescape(response.content.decode())
    assert "Suggestions now show from your own threshold." in body
    assert all(f'data-suggestion="{s.pk}"' in body for w, s in proposed.items() if w != "rest")  # redrawn
    assert "Your own threshold, 0.40, for every label." in body
    assert shown_on_page(client, document, proposed) == {"Asthma", "gout", "aspirin", "rest", "lupus", "steroids"}

    client.force_login(admin)
    assert shown_on_page(client, document, proposed) == {"Asthma", "aspirin", "steroids"}

    client.force_login(colleague)
    response = choose(client, project, document, threshold="0.4", choice="model")
    assert "Suggestions now show from the model's thresholds." in unescape(response.content.decode())
    assert not PersonalThreshold.objects.exists()
    assert shown_on_page(client, document, proposed) == {"Asthma", "aspirin", "steroids"}


@pytest.mark.parametrize(
    "value, message",
    [
        ("1.5", "The threshold must be from 0 to 1, not 1.5."),
        ("-0.1", "The threshold must be from 0 to 1, not -0.1."),
        ("nan", "The threshold must be from 0 to 1, not nan."),
        ("high", "The threshold must be a number from 0 to 1, not 'high'."),
        ("", "The threshold must be a number from 0 to 1, not ''."),
    ],
)
def test_a_bad_threshold_is_refused_with_why_and_changes_nothing(client, admin, scene, value, message):
    project, document, _proposed = scene
    client.force_login(admin)
    on_page = choose(client, project, document, threshold=value)
    assert on_page.status_code == 400
    assert message in unescape(on_page.content.decode())
    on_try_it = choose(client, project, threshold=value)
    assert on_try_it.status_code == 200 and "HX-Trigger" not in on_try_it
    assert message in unescape(on_try_it.content.decode())
    assert not PersonalThreshold.objects.exists()


def test_on_try_it_the_control_answers_itself_and_asks_for_a_new_prediction(client, admin, scene):
    project, _document, _proposed = scene
    client.force_login(admin)
    page = client.get(reverse("try_it", args=[project.pk])).content.decode()
    assert 'id="threshold-range"' in page and "threshold-changed from:body" in page
    assert 'value="0.50"' in page  # the lowest threshold that shows anything
    response = choose(client, project, threshold="0.85")
    assert response["HX-Trigger"] == "threshold-changed"
    assert 'value="0.85"' in response.content.decode()
    assert PersonalThreshold.objects.get().threshold == 0.85


def test_someone_outside_the_project_cannot_choose(client, scene):
    project, _document, _proposed = scene
    client.force_login(person("stranger"))
    assert choose(client, project, threshold="0.4").status_code == 404
    assert not PersonalThreshold.objects.exists()


def test_the_run_page_reports_calibration_and_the_thresholds(client, admin, scene):
    project, _document, _proposed = scene
    client.force_login(admin)
    run = evaluated_run(project)
    run.metrics["calibration"] = CALIBRATION
    run.save()
    html = unescape(client.get(reverse("training_run", args=[project.pk, run.pk])).content.decode())
    assert "Calibration" in html and "temperature 1.70, fitted on dev" in html and "over-confident" in html
    tokens = html.index("Tokens <span")
    assert html.index("0.121", tokens) < html.index("0.034", tokens)
    entities = html.index("Entities <span")
    assert html.index("0.187", entities) < html.index("0.052", entities)
    assert html.count('aria-label="Tokens: accuracy by confidence') == 1
    assert html.count('aria-label="Entities: accuracy by confidence') == 1
    row = html[html.index('<th scope="row">DISEASE</th>', html.index("Suggestion thresholds")) :]
    assert row.startswith('<th scope="row">DISEASE</th><td>0.700</td><td>0.800</td><td>5 of 8</td>')
    assert "never reaches the target: none shown" in html
    assert "none predicted on dev: the project's threshold applies" in html
