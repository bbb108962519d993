"""Import and export against the database: nothing lost or shifted, bad files refused whole."""

import io
import json
from pathlib import Path

import pytest
from django.urls import reverse

from annotation import selectors
from annotation.imports import ImportRejected, import_path, start_import, store_upload
from annotation.models import Annotation, Document, ImportJob, Label, Span
from annotation.review import ExportRule
from annotation.services import create_project, import_documents
from annotation.text.bio import tags_to_spans
from annotation.text.formats.conll import parse_conll
from annotation.text.formats.detect import export_documents
from annotation.text.formats.documents import ImportedDocument
from annotation.text.formats.jsonl import read_doccano_jsonl
from tests.conftest import make_document

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project("Oncology notes", created_by=admin)


def pubtator_mentions(text: str) -> set[tuple[str, int, int, str, str]]:
    """(PMID, start, end, type, concept id) of each mention line."""
    mentions = set()
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 5 and parts[1].isdigit():
            mentions.add((parts[0], int(parts[1]), int(parts[2]), parts[4], parts[5] if len(parts) > 5 else ""))
    return mentions


def exported(project, fmt, *, finished_only=True) -> str:
    documents = selectors.export_documents(project, finished_only=finished_only, rule=ExportRule())
    return "".join(export_documents(fmt, documents))


def upload(project, user, name, data: bytes, **kwargs):
    return store_upload(project, [data], filename=name, size=len(data), user=user, **kwargs)


def test_ncbi_pubtator_round_trip_keeps_every_mention(project, admin):
    source = (DATA / "ncbi_devel_sample.pubtator").read_text(encoding="utf-8")
    types = {label for *_, label, _concept in pubtator_mentions(source)}
    summary = import_path(
        project,
        DATA / "ncbi_devel_sample.pubtator",
        user=admin,
        label_mapping={label: label for label in types},
    )
    assert summary.documents_created == 40
    assert summary.mentions_imported == len(pubtator_mentions(source)) > 250
    assert pubtator_mentions(exported(project, "pubtator")) == pubtator_mentions(source)


def test_ncbi_types_map_to_disease_by_default(project, admin):
    summary = import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    assert summary.labels_created == []
    assert set(Span.objects.values_list("label__name", flat=True)) == {"DISEASE"}


def test_bc5cdr_pubtator_with_nested_mentions_imports_the_outer_ones(project, admin):
    summary = import_path(project, DATA / "bc5cdr_sample.pubtator", user=admin)
    assert summary.documents_created == 11
    assert (summary.mentions_imported, summary.nested_dropped) == (191, 8)
    # Disease is DISEASE; Chemical is not taken for TREATMENT unless someone says so.
    assert summary.labels_created == ["Chemical"]
    assert summary.label_mapping == {"Chemical": "Chemical", "Disease": "DISEASE"}
    assert set(Span.objects.values_list("label__name", flat=True)) == {"DISEASE", "Chemical"}
    spans = list(Span.objects.filter(annotation__document__project=project).values_list("annotation", "start", "end"))
    for (annotation, _start, end), (next_annotation, next_start, _) in zip(sorted(spans), sorted(spans)[1:]):
        assert annotation != next_annotation or end <= next_start


def test_bc5cdr_conll_round_trip_is_identical(project, admin):
    path = DATA / "bc5cdr_devel_sample.conll"
    project.labels.all().delete()  # a BC5CDR project keeps the corpus' own label names
    summary = import_path(project, path, user=admin)
    assert summary.documents_created == 30  # 300 sentences without -DOCSTART-, ten a document
    with path.open(encoding="utf-8") as source, io.StringIO(exported(project, "conll")) as again:
        [original] = parse_conll(source)
        assert [sentence for document in parse_conll(again) for sentence in document] == original


@pytest.mark.parametrize("sentences, documents", [(0, 1), (1, 300), (7, 43)])
def test_a_conll_file_without_docstart_is_cut_as_asked(project, admin, sentences, documents):
    summary = import_path(
        project, DATA / "bc5cdr_devel_sample.conll", user=admin, options={"sentences_per_document": sentences}
    )
    assert summary.documents_created == documents
    texts = Document.objects.filter(project=project).order_by("pk").values_list("text", flat=True)
    assert sum(text.count("\n") + 1 for text in texts) == 300


def test_the_import_command_takes_the_sentence_count(project, admin):
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "import_documents",
        project.name,
        str(DATA / "bc5cdr_devel_sample.conll"),
        "--sentences-per-document",
        "50",
        stdout=out,
    )
    assert "bc5cdr_devel_sample.conll: 6 documents" in out.getvalue()


def test_docstart_lines_cut_documents_and_a_sentence_count_is_refused_not_ignored(project, admin, tmp_path):
    path = tmp_path / "two.conll"
    path.write_text(
        "-DOCSTART- 101\tO\n\n" + "Pain\tB-DIS\n.\tO\n\n" * 12 + "-DOCSTART- 102\tO\n\nFever\tB-DIS\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected, match="marks its documents with -DOCSTART- lines"):
        import_path(project, path, user=admin, options={"sentences_per_document": 5})
    summary = import_path(project, path, user=admin)
    assert summary.documents_created == 2
    assert list(Document.objects.filter(project=project).order_by("pk").values_list("external_id", flat=True)) == [
        "101",
        "102",
    ]
    again = exported(project, "conll")
    assert again.startswith("-DOCSTART- 101\tO\n\nPain\tB-DIS\n") and "-DOCSTART- 102\tO\n\nFever" in again


def test_bio_tags_always_match_the_spans(project, admin):
    import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    for annotation in Annotation.objects.select_related("document").prefetch_related("spans__label"):
        document = annotation.document
        spans = [(s.start, s.end, s.label.name) for s in annotation.spans.all()]
        assert tags_to_spans(document.token_starts, document.token_ends, annotation.bio_tags) == spans


def test_mention_edges_inside_words_split_tokens_and_are_counted(project, admin, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"text": "Given anti-TNFalpha therapy.", "label": [[11, 14, "TREATMENT"]]}))
    summary = import_path(project, path, user=admin)
    assert summary.forced_splits == 1
    document = Document.objects.get()
    tokens = [document.text[s:e] for s, e in zip(document.token_starts, document.token_ends)]
    assert tokens == ["Given", "anti", "-", "TNF", "alpha", "therapy", "."]
    assert Annotation.objects.get().bio_tags == ["O", "O", "O", "B-TREATMENT", "O", "O", "O"]


def test_duplicates_are_skipped_and_counted(project, admin):
    import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    again = import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    assert (again.documents_created, again.duplicates_skipped) == (0, 40)
    assert Document.objects.count() == 40


def test_unmapped_labels_are_created_or_dropped(project, admin, tmp_path):
    path = tmp_path / "gene.jsonl"
    path.write_text(
        json.dumps({"text": "BRCA1 carriers with breast cancer.", "label": [[0, 5, "Gene"], [20, 33, "Disease"]]})
    )
    dropped = import_path(project, path, user=admin, create_unmapped=False)
    assert (dropped.mentions_imported, dropped.mentions_dropped) == (1, 1)
    assert not Label.objects.filter(name="Gene").exists()

    other = create_project("Genes", created_by=admin)
    created = import_path(other, path, user=admin)
    assert created.labels_created == ["Gene"]
    assert Label.objects.get(project=other, name="Gene").hotkey == "3"


BAD_FILES = [
    ("latin1.txt", "Café".encode("latin-1"), "not UTF-8 text: invalid byte 0xe9 at line 1"),
    ("nul.txt", b"fine\nbad\x00byte", "line 2: contains a NUL byte"),
    ("blank.jsonl", b'{"text": "ok"}\n{"text": "   "}\n', "line 2: empty document"),
    ("broken.jsonl", b'{"text": "ok"}\n{"text": "oops"\n', "line 2: malformed JSON"),
    ("range.jsonl", b'{"text": "short", "label": [[0, 99, "DISEASE"]]}\n', "out of range"),
    ("reversed.jsonl", b'{"text": "short text", "label": [[5, 2, "DISEASE"]]}\n', "empty or reversed"),
    (
        "overlap.jsonl",
        b'{"text": "lung cancer cells", "label": [[0, 11, "DISEASE"], [5, 17, "DISEASE"]]}\n',
        "overlaps",
    ),
    ("tags.conll", b"Aspirin\tB-Chem\nworks\tX-Chem\n", "line 2: tag 'X-Chem' is not a BIO tag"),
    ("mystery.bin", b"\x01\x02 what is this", "unknown format"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_files_are_refused_whole_with_a_specific_message(project, admin, name, data, message, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # empty, so whatever is left behind is this upload's
    with pytest.raises(ImportRejected) as error:
        upload(project, admin, name, data)
    assert name in str(error.value)
    assert message in str(error.value)
    assert not Document.objects.exists()
    assert not ImportJob.objects.exists()
    assert not any((Path(settings.MEDIA_ROOT) / "imports").glob("*"))


def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(project, admin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_MAX_BYTES = 1000
    chunks_read = []

    def chunks():
        for index in range(100):
            chunks_read.append(index)
            yield b"x" * 100

    with pytest.raises(ImportRejected, match="over the 0 MB limit|over the"):
        store_upload(project, chunks(), filename="big.txt", size=500, user=admin)
    assert len(chunks_read) < 100
    assert not any((Path(settings.MEDIA_ROOT) / "imports").glob("*"))


def test_a_file_whose_declared_size_is_over_the_limit_is_not_read(project, admin, settings):
    settings.IMPORT_MAX_BYTES = 1000

    def never():
        raise AssertionError("read")
        yield

    with pytest.raises(ImportRejected, match="big.txt: the file is 0.0 MB, over the 0 MB limit"):
        store_upload(project, never(), filename="big.txt", size=5000, user=admin)


def test_upload_then_mapping_then_inline_import(project, admin):
    data = (DATA / "ncbi_devel_sample.pubtator").read_bytes()
    job = upload(project, admin, "ncbi.pubtator", data)
    assert job.format == "pubtator"
    assert job.document_count == 40
    assert job.label_mapping == {
        "CompositeMention": "DISEASE",
        "DiseaseClass": "DISEASE",
        "Modifier": "DISEASE",
        "SpecificDisease": "DISEASE",
    }
    job = start_import(job, label_mapping={**job.label_mapping, "Modifier": ""}, create_unmapped=False)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.summary["documents_created"] == 40
    assert job.summary["mentions_dropped"] == job.source_labels["Modifier"]
    assert not Path(job.stored_path).exists()


def test_a_project_with_spans_can_be_deleted_whole(project, admin):
    import_path(project, DATA / "ncbi_devel_sample.pubtator", user=admin)
    project.delete()
    assert not Document.objects.exists() and not Span.objects.exists() and not Label.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_imports_of_the_same_texts_both_succeed(admin):
    """Each checks for duplicates, then inserts: one at a time per project, or one would fail."""
    import threading

    from django.db import connection

    from annotation.services import add_documents

    project = create_project("Twice", created_by=admin)
    documents = [f"Note {n} about asthma ." for n in range(300)]
    results, failures = [], []

    def push():
        try:
            summary, _ = add_documents(
                project, [ImportedDocument(text) for text in documents], user=admin, annotation_status="submitted"
            )
            results.append(summary.documents_created)
        except Exception as error:  # the test reports any failure
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(results) == [0, 0, 300]
    assert Document.objects.filter(project=project).count() == 300


# ------------------------------------------------------------ the check step


@pytest.fixture
def logged_in(client, admin):
    client.force_login(admin)
    return client


def check_page(client, job) -> str:
    response = client.get(reverse("import_job", args=[job.project_id, job.pk]))
    assert response.status_code == 200
    return response.content.decode()


def doccano(*records) -> bytes:
    return "".join(json.dumps({"text": text, "label": spans}) + "\n" for text, spans in records).encode()


def test_the_check_step_shows_the_first_documents_with_their_spans_in_their_labels_colours(project, admin, logged_in):
    data = doccano(
        ("Breast cancer treated with tamoxifen.", [[0, 13, "Disease"], [27, 36, "TREATMENT"]]),
        ("BRCA1 carriers.", [[0, 5, "Gene"]]),
        ("Asthma.", [[0, 6, "Disease"]]),
        ("A fourth note, not shown.", []),
    )
    job = upload(project, admin, "notes.jsonl", data)
    page = check_page(logged_in, job)
    assert "4 documents, 4 spans, 3 labels" in page
    assert "The first 3 of 4 documents" in page
    assert page.count('<figure class="import-preview">') == 3 and "A fourth note" not in page
    disease = project.labels.get(name="DISEASE")
    treatment = project.labels.get(name="TREATMENT")
    # As the labelling page marks spans: the label the mapping gives, in its colour; a label
    # still to choose (Gene) in grey under its own name.
    assert f'<mark class="span {disease.css_class}" data-span="0" data-label="DISEASE"' in page
    assert 'aria-label="DISEASE: Breast cancer"' in page
    assert f'<mark class="span {treatment.css_class}" data-span="1" data-label="TREATMENT"' in page
    assert '<mark class="span c-888888" data-span="0" data-label="Gene" tabindex="-1" aria-label="Gene: BRCA1"' in page
    assert not Document.objects.exists()


def test_a_long_document_is_previewed_up_to_a_word_with_the_spans_inside_it(project, admin):
    text = "Fever " * 400 + "with pneumonia."
    job = upload(
        project, admin, "long.jsonl", doccano((text, [[0, 5, "DISEASE"], [len(text) - 10, len(text) - 1, "DISEASE"]]))
    )
    [shown] = job.preview["documents"]
    assert shown["cut"] and len(shown["text"]) < 1500 and shown["text"].endswith("Fever")
    assert shown["mentions"] == [[0, 5, "DISEASE"]]
    assert job.preview["mentions"] == 2


def test_duplicates_are_named_before_anything_is_stored_and_the_import_skips_exactly_those(project, admin, logged_in):
    make_document(project, "Asthma since childhood.")
    lines = ["Asthma since childhood.", "Chest pain at rest.", "Fever and cough.", "Chest pain at rest."]
    job = upload(project, admin, "notes.txt", "\n".join(lines).encode(), fmt="text-lines")
    assert (job.preview["in_project"], job.preview["in_file"]) == (1, 1)
    page = check_page(logged_in, job)
    assert "1 text the project holds already: not stored again." in page
    assert "“Asthma since childhood.” (line 1)" in page
    assert "1 text repeats an earlier one in the file: stored once." in page
    assert "“Chest pain at rest.” (line 4, the same text as line 2)" in page
    assert Document.objects.filter(project=project).count() == 1

    job = start_import(job, label_mapping={}, create_unmapped=False)
    assert (job.summary["documents_created"], job.summary["duplicates_skipped"]) == (2, 2)


def test_duplicates_past_the_first_ten_are_counted_not_named(project, admin, logged_in):
    job = upload(project, admin, "notes.txt", ("Same note.\n" * 14).encode(), fmt="text-lines")
    page = check_page(logged_in, job)
    assert "13 texts repeat an earlier one in the file" in page
    assert page.count("the same text as line 1") == 10 and "and 3 more" in page


def test_a_txt_upload_says_how_it_is_split_and_one_click_splits_it_the_other_way(project, admin, logged_in):
    job = upload(project, admin, "notes.txt", b"Chest pain at rest.\n\nFever and cough.\nAsthma.\n")
    assert job.format == "text"
    page = check_page(logged_in, job)
    assert "This file will become 1 document (one per file)." in page
    assert 'name="format" value="text-lines"><button type="submit">Split it one per line</button>' in page

    split = reverse("import_split", args=[project.pk, job.pk])
    page = logged_in.post(split, {"format": "text-lines"}, follow=True).content.decode()
    assert "This file will become 3 documents (one per line)." in page
    assert "Make it one document</button>" in page
    job.refresh_from_db()
    assert (job.format, job.document_count, len(job.preview["documents"])) == ("text-lines", 3, 3)
    assert [shown["name"] for shown in job.preview["documents"]] == ["line 1", "line 3", "line 4"]

    page = logged_in.post(split, {"format": "text"}, follow=True).content.decode()
    assert "This file will become 1 document (one per file)." in page
    job.refresh_from_db()
    assert (job.format, job.document_count) == ("text", 1)
    start_import(job, label_mapping={}, create_unmapped=False)
    assert list(Document.objects.filter(project=project).values_list("title", flat=True)) == ["notes"]


def test_a_split_that_cannot_be_made_leaves_the_check_as_it_was(project, admin, logged_in):
    lines = ("A line of a very long note about asthma. " * 2 + "\n") * 6500  # 546,000 characters
    job = upload(project, admin, "long.txt", lines.encode(), fmt="text-lines")
    split = reverse("import_split", args=[project.pk, job.pk])
    page = logged_in.post(split, {"format": "text"}, follow=True).content.decode()
    assert "One per file: long.txt" in page and "500000" in page.replace(",", "")
    job.refresh_from_db()
    assert (job.format, job.document_count) == ("text-lines", 6500)

    page = logged_in.post(split, {"format": "sideways"}, follow=True).content.decode()
    assert "Choose one document per file or one document per line." in page

    other = upload(project, admin, "notes.jsonl", doccano(("Asthma.", [])))
    page = logged_in.post(reverse("import_split", args=[project.pk, other.pk]), {"format": "text"}, follow=True)
    assert "notes.jsonl is not plain text (doccano JSONL): it has no split to choose." in page.content.decode()

    start_import(job, label_mapping={}, create_unmapped=False)
    page = logged_in.post(split, {"format": "text"}, follow=True).content.decode()
    assert "long.txt is imported already; its split can no longer change." in page
    assert ImportJob.objects.get(pk=job.pk).format == "text-lines"


def test_a_doccano_record_without_spans_is_not_annotated_and_an_empty_list_is(clinician):
    project = create_project("Doccano", created_by=clinician)
    lines = [
        '{"text": "Gout flared.", "label": [[0, 4, "DISEASE"]]}',
        '{"text": "Nothing to tag here.", "label": []}',
        '{"text": "Not looked at yet."}',
    ]
    import_documents(project, list(read_doccano_jsonl(lines)), importer=clinician)
    annotated = {d.text: d.annotations.exists() for d in Document.objects.filter(project=project)}
    assert annotated == {"Gout flared.": True, "Nothing to tag here.": True, "Not looked at yet.": False}


@pytest.mark.django_db
def test_arrays_copied_as_text_arrive_exactly():
    """Imports write array columns as PostgreSQL array literals through COPY."""
    from types import SimpleNamespace

    from django.db import connection

    from annotation.bulk import copy_rows

    tags = ["O", 'B-A"B', "I-C\\D", "B-{x,y}", " spaced ", "NULL", "", "ÄRZTE\ttab", "I-line\nbreak"]
    offsets = [0, 7, 2_147_483_647]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copied (tags text[], offsets int[], empty int[])")
        copy_rows(
            SimpleNamespace(_meta=SimpleNamespace(db_table="copied")),
            ["tags", "offsets", "empty"],
            [(tags, offsets, [])],
        )
        cursor.execute("SELECT tags, offsets, empty FROM copied")
        assert cursor.fetchone() == (tags, offsets, [])
