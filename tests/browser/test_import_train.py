"""The confirmations before an import and before a run, in a real Chromium: what the file will
become (with a one-click switch of how plain text is cut), and what "Train model" will do."""

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from annotation.models import Document
from tests.conftest import make_document
from tests.training.test_runs import annotated_project
from training import services
from training.models import TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "studio-screenshots"
DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "import_check.png"
NOTES = "\n".join(
    [
        "Chest pain at rest, relieved by nitroglycerin.",
        "Known asthma, treated with inhaled salbutamol.",
        "Fever and productive cough for three days.",
        "Chest pain at rest, relieved by nitroglycerin.",
        "Admitted for community-acquired pneumonia.",
        "Type 2 diabetes on metformin.",
    ]
)


@pytest.fixture
def project(admin):
    """Twelve submitted documents to train on, and one text the upload repeats."""
    project = annotated_project(admin, documents=12)
    make_document(project, "Type 2 diabetes on metformin.")
    return project


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def upload(page, live_server, project, name, data: bytes):
    page.goto(live_server.url + reverse("import_upload", args=[project.pk]))
    page.locator('input[type="file"]').set_input_files({"name": name, "mimeType": "text/plain", "buffer": data})
    page.get_by_role("button", name="Upload and check").click()


def test_upload_a_txt_switch_its_split_import_then_see_what_training_will_do(login_page, live_server, admin, project):
    page = login_page(admin)
    upload(page, live_server, project, "ward-notes.txt", NOTES.encode())
    expect(page.get_by_text("This file will become 1 document (one per file).")).to_be_visible()
    expect(page.locator("figure.import-preview")).to_have_count(1)
    expect(page.locator("figure.import-preview figcaption")).to_have_text("ward-notes")
    shot(page, "import_check_one_per_file.png")

    page.get_by_role("button", name="Split it one per line").click()
    expect(page.get_by_text("This file will become 6 documents (one per line).")).to_be_visible()
    expect(page.locator("figure.import-preview figcaption")).to_have_text(["line 1", "line 2", "line 3"])
    expect(page.get_by_role("heading", name="The first 3 of 6 documents")).to_be_visible()
    expect(page.locator("#duplicates-in-project")).to_have_text("“Type 2 diabetes on metformin.” (line 6)")
    expect(page.locator("#duplicates-in-file")).to_have_text(
        "“Chest pain at rest, relieved by nitroglycerin.” (line 4, the same text as line 1)"
    )
    shot(page, "import_check_one_per_line.png")
    assert Document.objects.filter(project=project).count() == 13  # nothing stored yet

    page.get_by_role("button", name="Import 6 documents").click()
    expect(page.get_by_role("status")).to_have_text("Imported 4 documents with 0 spans.")
    assert Document.objects.filter(project=project).count() == 17

    words = sum(len(a.document.token_starts) for a in services.training_annotations(project)) * 6
    finished = timezone.now()
    TrainingRun.objects.create(  # a run on this machine that trained those words in 4 minutes
        project=project,
        status="succeeded",
        base_model=services.base_model(),
        metrics={"words_seen": words},
        started_at=finished - timedelta(minutes=4),
        finished_at=finished,
    )
    page.get_by_role("link", name="Train model").click()
    plan = page.locator("#training-plan")
    expect(plan).to_contain_text(" will train, ")
    expect(plan).to_contain_text("held out for dev (the evaluation split).")
    expect(plan).to_contain_text("Estimated duration: about 4 minutes (from the last run on this machine).")
    shot(page, "train_plan.png")

    page.get_by_text("Advanced").click()
    page.get_by_label("Epochs", exact=True).fill("12")
    page.keyboard.press("Tab")
    expect(page.locator("#training-plan")).to_contain_text("Estimated duration: about 8 minutes")
    shot(page, "train_plan_12_epochs.png")
    assert not TrainingRun.objects.filter(status__in=TrainingRun.QUEUED_OR_RUNNING).exists()


def test_a_file_with_spans_is_previewed_highlighted_in_its_labels_colours(login_page, live_server, admin, project):
    records = [
        ("Breast cancer treated with tamoxifen after lumpectomy.", [[0, 13, "Disease"], [27, 36, "Treatment"]]),
        ("Known asthma, treated with inhaled salbutamol.", [[6, 12, "Disease"], [35, 45, "Treatment"]]),
        ("BRCA1 carriers with ovarian cancer were offered olaparib.", [[0, 5, "Gene"], [20, 34, "Disease"]]),
        ("Type 2 diabetes on metformin.", [[0, 15, "Disease"], [19, 28, "Treatment"]]),
    ]
    data = "".join(json.dumps({"text": text, "label": spans}) + "\n" for text, spans in records).encode()
    page = login_page(admin)
    upload(page, live_server, project, "oncology.jsonl", data)
    expect(page.get_by_text("4 documents, 8 spans, 3 labels")).to_be_visible()
    disease = page.locator("figure.import-preview mark.span", has_text="Breast cancer")
    expect(disease).to_have_attribute("data-label", "DISEASE")
    colour = project.labels.get(name="DISEASE").color.lstrip("#")
    border = tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))
    expect(disease).to_have_css("border-bottom-color", f"rgb({border[0]}, {border[1]}, {border[2]})")
    expect(page.locator("figure.import-preview mark.span", has_text="BRCA1")).to_have_css(
        "border-bottom-color", "rgb(136, 136, 136)"
    )
    page.screenshot(path=str(DOCS_SHOT), full_page=True)
    shot(page, "import_check_spans.png")
