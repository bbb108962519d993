"""The threshold control in a real Chromium: on the labelling page's suggestion panel it
redraws the suggestions shown, on "Try it" it predicts again; and the run page's calibration
report."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.services import create_project
from tests.conftest import make_document
from tests.training.conftest import TINY_VOCABULARY, build_tiny_bert
from tests.training.test_thresholds import CALIBRATION, PROPOSED, TEXT
from training.models import ModelVersion, PersonalThreshold, Suggestion, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"


def shot(page, name, **options):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), **options)


@pytest.fixture
def labelled(clinician):
    project = create_project("Rheumatology", created_by=clinician)
    for name, colour, key in (("SYMPTOM", "#76b041", "3"), ("RARE", "#9c6ade", "4")):
        project.labels.create(name=name, color=colour, hotkey=key)
    document = make_document(project, TEXT, "Case")
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics={"calibration": CALIBRATION})
    version = ModelVersion.objects.create(project=project, run=run, artifact_path="/unused", is_active=True)
    for words, label, confidence in PROPOSED:
        start = TEXT.index(words)
        first = document.token_starts.index(start)
        Suggestion.objects.create(
            document=document,
            model_version=version,
            label=project.labels.get(name=label),
            start=start,
            end=start + len(words),
            first_token=first,
            last_token=first,
            confidence=confidence,
        )
    return document


def shown_words(page) -> list[str]:
    return page.locator("#doc-text mark.suggestion").evaluate_all(
        "marks => marks.map(m => m.querySelector('.t').textContent)"
    )


def test_the_panel_threshold_redraws_the_suggestions_shown(login_page, live_server, clinician, labelled):
    page = login_page(clinician)
    page.goto(live_server.url + reverse("annotate", args=[labelled.project_id, labelled.pk]))
    expect(page.locator("#doc-text mark.suggestion")).to_have_count(3)
    assert shown_words(page) == ["Asthma", "aspirin", "steroids"]
    panel = page.locator("#suggestion-panel")
    expect(panel).to_contain_text("reach 80% precision")
    expect(panel).to_contain_text("none: its dev predictions never reach 80%")
    panel.scroll_into_view_if_needed()
    shot(page, "labelling-model-thresholds")

    slider = page.locator("#threshold-range")
    slider.focus()
    page.keyboard.press("Home")  # from 0: every suggestion
    expect(page.locator("#editor-message")).to_contain_text("Suggestions now show from your own threshold.")
    expect(page.locator("#doc-text mark.suggestion")).to_have_count(6)
    expect(panel).to_contain_text("Your own threshold, 0.00, for every label.")
    assert PersonalThreshold.objects.get(user=clinician).threshold == 0
    shot(page, "labelling-own-threshold")

    for step in range(1, 13):  # up to 0.60 with the arrow key, each step saved, the focus kept
        page.keyboard.press("ArrowRight")
        expect(panel).to_contain_text(f"Your own threshold, {step * 0.05:.2f}, for every label.")
        assert page.evaluate("document.activeElement.id") == "threshold-range"
    expect(page.locator("#doc-text mark.suggestion")).to_have_count(3)
    assert shown_words(page) == ["Asthma", "gout", "lupus"]

    page.get_by_role("button", name="Use the model's thresholds").click()
    expect(page.locator("#editor-message")).to_contain_text("Suggestions now show from the model's thresholds.")
    expect(page.locator("#doc-text mark.suggestion")).to_have_count(3)
    assert shown_words(page) == ["Asthma", "aspirin", "steroids"]
    assert not PersonalThreshold.objects.exists()

    page.reload()  # the choice is kept by the server, not the page
    expect(page.locator("#doc-text mark.suggestion")).to_have_count(3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny BERT trained on the test sentences: its directory and its training result."""
    from annotation.text.bio import spans_to_tags
    from annotation.text.tokenize import tokenize
    from tests.training.test_runs import SENTENCES, mentions
    from training.ml.data import Hyperparameters, TrainingDocument
    from training.ml.pipeline import train

    base = build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_VOCABULARY)
    documents = []
    for index in range(48):
        text, wanted = SENTENCES[index % len(SENTENCES)]
        tokens = tokenize(text)
        tags = spans_to_tags(tokens.starts, tokens.ends, mentions(text, wanted))
        documents.append(TrainingDocument(str(index), [text[s:e] for s, e in zip(tokens.starts, tokens.ends)], tags))
    output = tmp_path_factory.mktemp("calibrated") / "model"
    hp = Hyperparameters(epochs=3, learning_rate=1e-2, batch_size=8, max_length=32, precision="fp32")
    return output, train(documents, ["DISEASE", "TREATMENT"], hp, base_model=base, output_dir=output)


def test_try_it_predicts_again_when_the_threshold_moves(login_page, live_server, clinician, trained):
    output, result = trained
    project = create_project("Try thresholds", created_by=clinician)
    metrics = {"evaluation": result.evaluation, "calibration": result.calibration, "best_epoch": result.best_epoch}
    metrics |= {"epochs_run": result.epochs_run, "dev_f1_per_epoch": result.dev_f1_per_epoch}
    run = TrainingRun.objects.create(project=project, status="succeeded", metrics=metrics)
    ModelVersion.objects.create(project=project, run=run, artifact_path=str(output), is_active=True)

    page = login_page(clinician)
    page.goto(live_server.url + reverse("try_it", args=[project.pk]))
    page.locator("#try-text").fill("The patient has asthma and was given aspirin .")
    expect(page.locator("#prediction table")).to_contain_text("asthma")
    found = page.locator("#prediction tbody tr").count()
    assert found >= 1
    shot(page, "try-it-model-thresholds")

    page.locator("#threshold-range").focus()
    page.keyboard.press("End")  # 1.0: nothing short of certainty
    expect(page.locator("#threshold-control")).to_contain_text("Your own threshold, 1.00, for every label.")
    expect(page.locator("#prediction")).to_contain_text("No entities found above the threshold.")
    expect(page.locator("#prediction")).to_contain_text(f"{found} more")
    shot(page, "try-it-own-threshold")

    page.get_by_role("button", name="Use the model's thresholds").click()
    expect(page.locator("#prediction tbody tr")).to_have_count(found)

    page.goto(live_server.url + reverse("training_run", args=[project.pk, run.pk]) + "#calibration")
    expect(page.locator("#calibration")).to_contain_text("fitted on dev")
    expect(page.locator("#calibration svg")).to_have_count(2)
    page.locator("#calibration").scroll_into_view_if_needed()
    shot(page, "run-calibration", full_page=True)
