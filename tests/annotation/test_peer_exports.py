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
from annotation.review import ExportRule
from annotation.services import create_project
from annotation.text.formats.detect import EXPORT_FORMATS, FORMATS, detect_format, export_documents, read_documents
from annotation.text.formats.errors import FormatError
from tests.cast import person
from training.agreement import pairwise
from training.services import training_annotations

DATA = Path(__file__).resolve().parent.parent / "data" / "label_studio"
EXPORTS = sorted(path.name for path in DATA.glob("project-*"))
ALICE = ExportRule(ExportRule.ANNOTATOR, "alice")  # where alice and bob disagree, alice's version
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
    assert admin.username not in summary.annotators  # the importer made none of them
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
    finished = "".join(export_documents("doccano", selectors.export_documents(project, finished_only=True, rule=ALICE)))
    assert '"No findings."' in finished
    # Review sees both annotators' versions of the first task; agreement compares them.
    assert len(review.submitted_versions(aspirin)) == 2
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


ROUND_TRIP_TEXT = "Aspirin 😀 eased the migraine.\r\nNo fever."


@pytest.fixture
def team_project(project, admin):
    """Two annotators on one note (emoji and CRLF in its text, a concept id on a mention),
    one note decided to hold nothing, one nobody has started."""
    from annotation.services import import_documents
    from annotation.text.formats.documents import ImportedAnnotation, ImportedDocument

    person("alice", email="alice@example.org")
    person("bob")
    note = ImportedDocument(
        ROUND_TRIP_TEXT,
        external_id="n1",
        annotations=[
            ImportedAnnotation([(0, 7, "TREATMENT"), (20, 28, "DISEASE")], "alice@example.org"),
            ImportedAnnotation([(20, 28, "DISEASE")], "bob"),
        ],
        annotated=True,
        concepts={(20, 28, "DISEASE"): "D008881"},
    )
    nothing = ImportedDocument(
        "Nothing to see.", external_id="n2", annotations=[ImportedAnnotation([], "alice@example.org")], annotated=True
    )
    untouched = ImportedDocument("Not started yet.", external_id="n3", annotated=False)
    import_documents(project, [note, nothing, untouched], importer=admin)
    return project


def reimported(project, admin, fmt, *, finished_only, directory, rule=None):
    """The project exported in `fmt` (where alice and bob disagree, alice's version unless
    `rule` says otherwise), then imported into a new project from the file."""
    labels = project.labels.order_by("pk").values_list("name", flat=True)
    documents = selectors.export_documents(project, finished_only=finished_only, rule=rule or ALICE)
    chunks = export_documents(fmt, documents, labels=labels)
    data = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8") for chunk in chunks)
    target = create_project(f"Again {fmt}", created_by=admin)
    path = directory / f"export-{fmt}"
    path.write_bytes(data)
    import_path(target, path, user=admin, fmt=fmt if fmt in FORMATS else None)
    return target


def mention_texts(document) -> dict[str, list[tuple[str, str]]]:
    return {
        name: [(document.text[s:e], label) for s, e, label in spans] for name, spans in annotations_of(document).items()
    }


@pytest.mark.parametrize("fmt", ["label-studio", "doccano"])
def test_a_team_project_survives_a_round_trip_through_its_own_export(team_project, admin, fmt, tmp_path):
    target = reimported(team_project, admin, fmt, finished_only=False, directory=tmp_path)
    note = Document.objects.get(project=target, external_id="n1")
    assert note.text == ROUND_TRIP_TEXT
    names = {"alice", "bob"} if fmt == "label-studio" else {"admin"}
    assert set(annotations_of(note)) == names
    if fmt == "label-studio":
        assert annotations_of(note) == {
            "alice": [(0, 7, "TREATMENT"), (20, 28, "DISEASE")],
            "bob": [(20, 28, "DISEASE")],
        }
    assert annotations_of(Document.objects.get(project=target, external_id="n2")) == {
        "alice" if fmt == "label-studio" else "admin": []
    }
    assert annotations_of(Document.objects.get(project=target, external_id="n3")) == {}


@pytest.mark.parametrize("fmt", ["conll", "pubtator", "hf-dataset", "hf-dataset-sentences", "webanno-tsv"])
def test_finished_work_survives_a_round_trip_through_every_other_format(team_project, admin, fmt, tmp_path):
    source = Document.objects.get(project=team_project, external_id="n1")
    expected = mention_texts(source)["alice"]
    target = reimported(team_project, admin, fmt, finished_only=True, directory=tmp_path)
    documents = list(Document.objects.filter(project=target).order_by("pk"))
    found = [pair for document in documents for pair in mention_texts(document).get("admin", [])]
    assert found == expected
    assert sum(1 for document in documents if annotations_of(document) == {"admin": []}) >= 1  # "nothing to see"
    assert Annotation.objects.filter(document__project=target).exclude(status="submitted").count() == 0
    if fmt == "pubtator":
        assert (
            list(
                Document.objects.get(project=target, external_id="n1")
                .annotations.get()
                .spans.values_list("concept_id", flat=True)
            ).count("D008881")
            == 1
        )


@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
def test_every_format_follows_the_rule_for_a_disagreement_nobody_reviewed(team_project, admin, fmt, tmp_path):
    """alice tagged Aspirin and migraine in n1, bob migraine alone, and nobody reviewed it."""
    rules = {
        "reviewed": ExportRule(),
        "alice": ALICE,
        "majority": ExportRule(ExportRule.MAJORITY),
    }
    found = {}
    for name, rule in rules.items():
        (tmp_path / name).mkdir()
        target = reimported(team_project, admin, fmt, finished_only=True, directory=tmp_path / name, rule=rule)
        found[name] = [mention_texts(d) for d in Document.objects.filter(project=target) if "Aspirin" in d.text]
        target.delete()
    assert found["reviewed"] == []  # left out, in every format
    if fmt == "label-studio":  # it keeps every annotator's version: nothing is chosen among them
        everyone = {"alice": [("Aspirin", "TREATMENT"), ("migraine", "DISEASE")], "bob": [("migraine", "DISEASE")]}
        assert found["alice"] == found["majority"] == [everyone]
    else:
        assert found["alice"] == [{"admin": [("Aspirin", "TREATMENT"), ("migraine", "DISEASE")]}]
        assert found["majority"] == [{"admin": [("migraine", "DISEASE")]}]


# As INCEpTION writes them: a trailing tab on token lines, an identifier column before the
# value, [n] on every token of a multi-token entity, offsets in UTF-16 code units.
T = "\t"
INCEPTION_TSV = f"""#FORMAT=WebAnno TSV 3.3
#T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|identifier|value


#Text=Aspirin 😊 eased the migraine headache.
1-1{T}0-7{T}Aspirin{T}*{T}TREATMENT{T}
1-2{T}8-10{T}😊{T}_{T}_{T}
1-3{T}11-16{T}eased{T}_{T}_{T}
1-4{T}17-20{T}the{T}_{T}_{T}
1-5{T}21-29{T}migraine{T}*[3]{T}DISEASE[3]{T}
1-6{T}30-38{T}headache{T}*[3]{T}DISEASE[3]{T}
1-7{T}38-39{T}.{T}_{T}_{T}

#Text=No fever\\tnoted.
2-1{T}40-42{T}No{T}_{T}_{T}
2-2{T}43-48{T}fever{T}*{T}SIGN\\_OR\\_SYMPTOM{T}
2-3{T}49-55{T}noted.{T}_{T}_{T}
"""


def test_an_inception_export_imports_with_exact_offsets(project, admin, tmp_path):
    path = tmp_path / "user1.tsv"
    path.write_text(INCEPTION_TSV, encoding="utf-8")
    summary = import_path(project, path, user=admin, options={"annotator": "admin"})
    document = Document.objects.get(project=project)
    assert document.text == "Aspirin 😊 eased the migraine headache.\nNo fever\tnoted."
    assert [(document.text[s:e], label) for s, e, label in annotations_of(document)["admin"]] == [
        ("Aspirin", "TREATMENT"),
        ("migraine headache", "DISEASE"),
        ("fever", "SIGN_OR_SYMPTOM"),
    ]
    assert summary.documents_created == 1 and summary.mentions_imported == 3


def test_webanno_problems_are_named():
    with pytest.raises(FormatError, match="no named-entity layer"):
        read_documents(
            "webanno-tsv", "#FORMAT=WebAnno TSV 3.3\n#T_SP=webanno.custom.Span|value\n\n\n#Text=a\n1-1\t0-1\ta\t_\n"
        )
    with pytest.raises(FormatError, match="line 7: expected 5 tab-separated fields"):
        read_documents("webanno-tsv", INCEPTION_TSV.replace("1-2\t8-10\t😊\t_\t_\t", "1-2\t8-10\t😊"))


def test_the_webanno_export_is_a_zip_inception_files_import_back_from(team_project, admin, tmp_path):
    import io
    import zipfile

    chunks = export_documents("webanno-tsv", selectors.export_documents(team_project, finished_only=True, rule=ALICE))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert sorted(archive.namelist()) == ["n1.tsv", "n2.tsv"]
    written = archive.read("n1.tsv").decode("utf-8")
    assert written.startswith("#FORMAT=WebAnno TSV 3.3\n#T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|")
    assert "1-3\t11-16\teased\t_\t_\t" in written  # after the emoji, offsets count UTF-16 units
    target = create_project("From INCEpTION", created_by=admin)
    for name in archive.namelist():
        (tmp_path / name).write_bytes(archive.read(name))
        import_path(target, tmp_path / name, user=admin)
    source = Document.objects.get(project=team_project, external_id="n1")
    again = Document.objects.get(project=target, text=source.text)  # CRLF and all
    assert mention_texts(again)["admin"] == mention_texts(source)["alice"]


def test_a_pre_annotation_to_review_imports_as_suggestions_each_annotator_decides(client, project, admin, tmp_path):
    from training.models import Suggestion

    path = tmp_path / "pre.jsonl"
    path.write_text(
        '{"text": "Asthma treated with salbutamol .", "label": [[0, 6, "DISEASE"], [20, 30, "TREATMENT"]]}\n'
    )
    summary = import_path(project, path, user=admin, options={"status": "suggestions"})
    assert summary.suggestions_imported == 2 and summary.annotations_imported == 0
    assert not Annotation.objects.filter(document__project=project).exists()
    document = Document.objects.get(project=project)
    assert sorted(Suggestion.objects.filter(document=document).values_list("start", "end", "model_version")) == [
        (0, 6, None),
        (20, 30, None),
    ]
    again = import_path(project, path, user=admin, options={"status": "suggestions"})
    assert again.duplicates_skipped == 0 and Suggestion.objects.filter(document=document).count() == 2

    client.force_login(admin)
    page = client.get(reverse("annotate", args=[project.pk, document.pk])).content.decode()
    assert page.count('class="suggestion') >= 2 and "2 suggestions on this document" in page
    first = Suggestion.objects.get(document=document, start=0)
    accepted = client.post(reverse("suggestion_accept", args=[project.pk, document.pk, first.pk]), {"version": 1})
    assert accepted.status_code == 200
    annotation = Annotation.objects.get(document=document, annotator=admin)
    assert list(annotation.spans.values_list("start", "end", "label__name", "source")) == [
        (0, 6, "DISEASE", "suggestion")
    ]
