"""Exports of the tools teams migrate from, shaped exactly as those tools write them: every
annotator, every "no mentions" decision and every span arrives, and the small quirks of
peer files are repaired and counted rather than refused."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation import review, selectors
from annotation.imports import ImportRejected, import_path, store_upload
from annotation.models import Annotation, Document, Project
from annotation.services import create_project
from annotation.text.formats.detect import detect_format, export_documents, read_documents
from annotation.text.formats.errors import FormatError
from tests.cast import person
from training.agreement import pairwise
from training.services import training_annotations

DATA = Path(__file__).resolve().parent.parent / "data" / "label_studio"
EXPORTS = sorted(path.name for path in DATA.glob("project-*"))
pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project("Migrated", created_by=admin)


def annotations_of(document) -> dict[str, list[tuple[int, int, str]]]:
    return {
        annotation.annotator.get_username(): sorted(
            annotation.spans.values_list("start", "end", "label__name").order_by("start")
        )
        for annotation in document.annotations.select_related("annotator")
    }


def test_the_exports_are_those_label_studio_writes():
    assert len(EXPORTS) == 5
    assert {detect_format(name, (DATA / name).read_text(encoding="utf-8")) for name in EXPORTS} == {
        "label-studio",
        "label-studio-csv",
    }
    tsv = (DATA / "project-1-at-2025-09-15-10-06-tsv.csv").read_bytes()
    assert tsv.startswith(b'"annotation_id"\t"annotator"') and b"\r\n" in tsv


@pytest.mark.parametrize("name", EXPORTS)
def test_every_label_studio_export_keeps_each_annotator_and_each_empty_result(project, admin, name):
    alice = person("alice", email="alice@example.org")
    summary = import_path(project, DATA / name, user=admin)

    assert summary.documents_created == 2 and summary.annotations_imported == 3
    assert summary.empty_annotations == 1 and summary.mentions_imported == 3
    by_email = "min.json" in name or "tsv" in name
    first, second = ("alice", "bob") if by_email else ("imported-1", "imported-2")
    aspirin = Document.objects.get(project=project, text="Aspirin eased the headache.")
    assert annotations_of(aspirin) == {
        first: [(0, 7, "TREATMENT"), (18, 26, "DISEASE")],
        second: [(18, 26, "DISEASE")],
    }
    nothing = Document.objects.get(project=project, text="No findings.")
    assert annotations_of(nothing) == {first: []}
    assert set(Annotation.objects.filter(document__project=project).values_list("status", flat=True)) == {"submitted"}

    accounts = {m.user.get_username(): m for m in project.memberships.select_related("user")}
    assert {first, second} <= set(accounts) and accounts[first].role == "annotator"
    if by_email:
        assert accounts["alice"].user == alice and alice.is_active  # matched by e-mail, not made again
        assert not accounts["bob"].user.is_active and accounts["bob"].user.email == "bob@example.org"
    else:
        assert not accounts["imported-1"].user.is_active

    # The "no findings" decision counts: in training data and in a finished export.
    assert {a.document_id for a in training_annotations(project)} == {aspirin.pk, nothing.pk}
    finished = "".join(export_documents("doccano", selectors.export_documents(project, finished_only=True)))
    assert '"No findings."' in finished
    # Review sees both annotators' versions of the first task; agreement compares them.
    assert len(review.submitted_versions(aspirin, excluding=admin)) == 2
    [pair] = pairwise(selectors.submitted_tags(project), ["DISEASE", "TREATMENT"])
    assert pair["documents"] == 1 and pair["f1"] == pytest.approx(2 / 3)


def test_importing_the_same_export_again_adds_nothing(project, admin):
    import_path(project, DATA / "project-1-at-2025-09-15-10-06-full.json", user=admin)
    again = import_path(project, DATA / "project-1-at-2025-09-15-10-06.csv", user=admin)
    assert again.documents_created == 0 and again.annotations_imported == 0 and again.duplicates_skipped == 2
    assert Annotation.objects.filter(document__project=project).count() == 3


def test_json_min_without_annotations_imports_text_only():
    text = '[{"text": "Only data.", "id": 3, "annotator": null, "annotation_id": null, "created_at": null}]'
    [document] = read_documents("label-studio", text)
    assert document.annotated is False and document.annotations == [] and document.external_id == "3"


def test_a_one_line_export_names_the_task_not_line_1():
    text = (
        '[{"id": 7, "data": {"text": "Fine."}, "annotations": []},'
        ' {"id": 42, "data": {"text": "Fever."}, "annotations": [{"completed_by": 1, "result": '
        '[{"type": "labels", "value": {"start": 0, "end": 5, "text": "Fever", "labels": ["A", "B"]}}]}]}]'
    )
    with pytest.raises(FormatError, match=r"task 2 \(id 42\): region 0-5 must have exactly one label"):
        read_documents("label-studio", text)


def test_a_tsv_named_csv_reads_as_tsv_in_the_plain_csv_reader_too():
    [document] = read_documents("csv", "title\ttext\nVisit\tCough, fever.\n")
    assert (document.title, document.text) == ("Visit", "Cough, fever.")


def test_every_problem_of_a_file_is_listed_and_nothing_is_stored(project, admin, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "Asthma.", "label": [[0, 40, "DISEASE"]]}\n'
        '{"text": "Fine."}\n'
        '{"text": "Lung cancer.", "label": [[0, 11, "DISEASE"], [5, 12, "DISEASE"]]}\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as refused:
        import_path(project, path, user=admin)
    message = str(refused.value)
    assert "2 problems to fix first" in message
    assert "line 1: mention DISEASE 0-40 is out of range" in message
    assert "line 3: mention DISEASE 5-12" in message and "overlaps" in message
    assert not Document.objects.filter(project=project).exists()


def test_spaces_inside_spans_are_trimmed_and_counted(project, admin, tmp_path):
    path = tmp_path / "doccano.jsonl"
    path.write_text(
        '{"text": "Given aspirin for asthma .", "label": [[5, 14, "TREATMENT"], [17, 25, "DISEASE"]]}\n',
        encoding="utf-8",
    )
    summary = import_path(project, path, user=admin)
    assert summary.mentions_trimmed == 2
    [annotation] = Annotation.objects.filter(document__project=project)
    assert sorted(annotation.spans.values_list("start", "end")) == [(6, 13), (18, 24)]


def test_an_i_tag_after_o_begins_a_mention_and_is_counted(project, admin, tmp_path):
    path = tmp_path / "tags.conll"
    path.write_text("-DOCSTART-\tO\n\nFever\tI-DISEASE\nand\tO\ncough\tI-DISEASE\n.\tO\n", encoding="utf-8")
    summary = import_path(project, path, user=admin)
    assert summary.tags_repaired == 2 and summary.mentions_imported == 2


def test_a_pubtator_document_without_mentions_is_a_checked_empty_annotation(project, admin, tmp_path):
    corpus = "1|t|Asthma in children.\n1\t0\t6\tAsthma\tDisease\n\n2|t|No disease is named here.\n\n"
    path = tmp_path / "corpus.pubtator"
    path.write_text(corpus, encoding="utf-8")
    summary = import_path(project, path, user=admin)
    assert summary.empty_annotations == 1
    empty = Annotation.objects.get(document__external_id="2")
    assert empty.status == "submitted" and not empty.spans.exists()

    other = create_project("In progress", created_by=admin)
    import_path(other, path, user=admin, options={"status": "in_progress"})
    assert list(Annotation.objects.filter(document__project=other).values_list("status", flat=True)) == ["in_progress"]


def test_per_user_doccano_files_join_the_same_documents(project, admin, tmp_path):
    alice, bob = person("alice"), person("bob")
    for user, spans in ((alice, '[[0, 6, "DISEASE"]]'), (bob, '[[0, 6, "DISEASE"], [10, 17, "TREATMENT"]]')):
        path = tmp_path / f"{user.username}.jsonl"
        path.write_text(
            f'{{"id": 1, "text": "Asthma on inhaler.", "label": {spans}}}\n{{"id": 2, "text": "Nothing.", "label": []}}\n',
            encoding="utf-8",
        )
        summary = import_path(project, path, user=admin, options={"annotator": user.username})
    assert summary.documents_created == 0 and summary.annotations_added_to_existing == 2
    asthma = Document.objects.get(project=project, external_id="1")
    assert annotations_of(asthma) == {
        "alice": [(0, 6, "DISEASE")],
        "bob": [(0, 6, "DISEASE"), (10, 17, "TREATMENT")],
    }
    assert annotations_of(Document.objects.get(project=project, external_id="2")) == {"alice": [], "bob": []}


def test_the_upload_page_shows_whose_work_goes_where_before_anything_is_stored(client, project, admin):
    person("alice", email="alice@example.org")
    data = (DATA / "project-1-at-2025-09-15-10-06-min.json").read_bytes()
    job = store_upload(project, [data], filename="export.json", size=len(data), user=admin)
    client.force_login(admin)
    page = client.get(reverse("import_job", args=[project.pk, job.pk])).content.decode()
    assert "alice@example.org" in page and "alice (existing account)" in page
    assert "bob (new inactive account)" in page
    assert "1 document without mentions: imported as checked and found to hold none" in page
    assert not Document.objects.filter(project=project).exists()
    assert not type(admin).objects.filter(username="bob").exists()


def test_create_project_leaves_no_empty_project_when_the_file_is_refused(admin, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "Asthma.", "label": [[0, 40, "DISEASE"]]}\n', encoding="utf-8")
    with pytest.raises(Exception, match="1 of 1 files were not imported"):
        call_command("import_documents", "Fresh", str(path), "--create-project", "--user", admin.username)
    assert not Project.objects.filter(name="Fresh").exists()


def test_an_alias_that_is_a_guess_is_offered_not_applied(client, project, admin):
    data = (Path(__file__).resolve().parent.parent / "data" / "bc5cdr_sample.pubtator").read_bytes()
    job = store_upload(project, [data], filename="bc5cdr.pubtator", size=len(data), user=admin)
    assert job.label_mapping == {"Disease": "DISEASE"}  # Chemical waits for a person's choice
    client.force_login(admin)
    page = client.get(reverse("import_job", args=[project.pk, job.pk])).content.decode()
    assert "TREATMENT (a guess: check)" in page and "caused the disease rather than treated it" in page
