"""Redacted exports: the text of the chosen labels never leaves in any format, and every other
span still covers exactly its own words, in both modes and through the page, the API and the
command."""

import io
import json
import re
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from annotation import selectors
from annotation.exports import export_redaction
from annotation.imports import import_path
from annotation.models import Document, Label, Span
from annotation.review import ExportRule
from annotation.services import create_project, import_documents
from annotation.text.formats.detect import EXPORT_FORMATS, FORMATS, export_documents
from annotation.text.formats.documents import ExportDocument, ImportedAnnotation, ImportedDocument
from annotation.text.redact import MASK, MODES, SAME_LENGTH, TAG, redact_document
from annotation.text.tokenize import tokenize
from tests.cast import person

pytestmark = pytest.mark.django_db

NOTE = "Mr John Smith, 54, has asthma.\nSmith takes salbutamol daily; Dr Jones agrees."
NAMES = ("John", "Smith", "Jones")


def at(word: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = NOTE.index(word, start + 1)
    return start, start + len(word)


KEPT = [(*at("asthma"), "DISEASE"), (*at("salbutamol"), "TREATMENT")]
ALICE = [(*at("John Smith"), "PHI"), (*at("Smith", 1), "PHI"), *KEPT]
BOB = [(*at("John"), "PHI"), (*at("Jones"), "PHI"), *KEPT]  # names the doctor, which alice missed


@pytest.fixture
def project(admin):
    project = create_project("Ward notes", created_by=admin)
    Label.objects.create(project=project, name="PHI", color="#333333", hotkey="3", identifying=True)
    person("alice", email="alice@example.org")
    person("bob")
    note = ImportedDocument(
        NOTE,
        external_id="n1",
        annotations=[ImportedAnnotation(ALICE, "alice@example.org"), ImportedAnnotation(BOB, "bob")],
        annotated=True,
    )
    import_documents(project, [note], importer=admin)
    return project


def everything_in(data: bytes) -> str:
    """The export's text, with every file of a ZIP read."""
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    return data.decode("utf-8")


def exported(project, fmt, redaction) -> bytes:
    labels = project.labels.order_by("pk").values_list("name", flat=True)
    rule = ExportRule(ExportRule.ANNOTATOR, "alice")
    documents = selectors.export_documents(project, finished_only=True, rule=rule)
    chunks = export_documents(fmt, documents, labels=labels, redaction=redaction)
    return b"".join(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8") for chunk in chunks)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
def test_no_format_lets_redacted_text_out_and_every_other_span_keeps_its_words(project, admin, fmt, mode, tmp_path):
    data = exported(project, fmt, export_redaction(project, mode))
    written = everything_in(data)
    assert "asthma" in written and "salbutamol" in written
    # Every annotator's names are hidden, also those only bob tagged, in formats that keep one version.
    assert not [name for name in NAMES if name in written]
    assert ("[PHI]" in written) == (mode == TAG)
    assert (MASK in written) == (mode == SAME_LENGTH)

    again = create_project(f"Again {fmt} {mode}", created_by=admin)
    path = tmp_path / f"export-{fmt}"
    path.write_bytes(data)
    import_path(again, path, user=admin, fmt=fmt if fmt in FORMATS else None)
    documents = list(Document.objects.filter(project=again))  # a sentence each, for hf-dataset-sentences
    assert not [name for name in NAMES for document in documents if name in document.text]
    spans = Span.objects.filter(annotation__document__in=documents).select_related("label", "annotation__document")
    kept = {(s.annotation.document.text[s.start : s.end], s.label.name) for s in spans if s.label.name != "PHI"}
    assert sorted(kept) == [("asthma", "DISEASE"), ("salbutamol", "TREATMENT")]


def export_document(spans, annotations=()) -> ExportDocument:
    tokens = tokenize(NOTE)
    return ExportDocument(
        1,
        "",
        "n1",
        NOTE,
        tokens.starts,
        tokens.ends,
        spans,
        {},
        annotations=list(annotations),
        concepts={at("asthma"): "D001249"},
    )


def test_a_type_tag_replaces_each_name_and_shifts_every_later_offset_token_and_concept():
    redacted = redact_document(export_document(ALICE, [("bob", BOB)]), {"PHI"}, TAG)
    assert redacted.text == "Mr [PHI], 54, has asthma.\n[PHI] takes salbutamol daily; Dr [PHI] agrees."
    words = [redacted.text[s:e] for s, e in zip(redacted.token_starts, redacted.token_ends)]
    assert words == [
        *("Mr", "[PHI]", ",", "54", ",", "has", "asthma", "."),
        *("[PHI]", "takes", "salbutamol", "daily", ";", "Dr", "[PHI]", "agrees", "."),
    ]
    assert [(redacted.text[s:e], label) for s, e, label in redacted.spans] == [
        ("[PHI]", "PHI"),
        ("[PHI]", "PHI"),
        ("asthma", "DISEASE"),
        ("salbutamol", "TREATMENT"),
    ]
    ((person_name, bobs),) = redacted.annotations
    assert [(redacted.text[s:e], label) for s, e, label in bobs] == [
        ("[PHI]", "PHI"),  # "John", inside alice's "John Smith": the tag they now share
        ("[PHI]", "PHI"),
        ("asthma", "DISEASE"),
        ("salbutamol", "TREATMENT"),
    ]
    ((start, end),) = redacted.concepts
    assert redacted.text[start:end] == "asthma"


def test_a_same_length_mask_keeps_every_offset_and_line():
    source = export_document(ALICE)
    redacted = redact_document(source, {"PHI"}, SAME_LENGTH)
    assert len(redacted.text) == len(NOTE) and redacted.text.count("\n") == 1
    assert redacted.text.startswith("Mr ████ █████, 54")
    assert (redacted.token_starts, redacted.token_ends, redacted.spans) == (
        source.token_starts,
        source.token_ends,
        source.spans,
    )


def test_only_the_chosen_labels_are_redacted(project):
    redaction = export_redaction(project, TAG, ["disease"])
    written = everything_in(exported(project, "doccano", redaction))
    assert "[DISEASE]" in written and "asthma" not in written and "John Smith" in written


def test_a_redaction_that_cannot_be_made_is_refused_with_the_reason(project):
    Label.objects.filter(project=project).update(identifying=False)
    with pytest.raises(ValueError, match="no identifying label"):
        export_redaction(project, TAG)
    with pytest.raises(ValueError, match="Unknown label NAME"):
        export_redaction(project, TAG, ["NAME"])
    with pytest.raises(ValueError, match="Choose how to redact"):
        export_redaction(project, "", ["PHI"])
    assert export_redaction(project, "") is None


def test_the_export_form_redacts_the_identifying_labels_by_default(client, project, admin):
    client.force_login(admin)
    url = reverse("export_download", args=[project.pk])
    query = {"format": "doccano", "scope": "finished", "rule": "annotator", "annotator": "alice"}
    page = client.get(reverse("project_documents", args=[project.pk])).content.decode()
    boxes = re.findall(r'<input type="checkbox" name="redact_labels" value="(\w+)"[^>]*?( checked)?>', page)
    assert boxes == [("DISEASE", ""), ("TREATMENT", ""), ("PHI", " checked")]
    response = client.get(url, {**query, "redact": "tag"})
    assert response.status_code == 200
    assert 'filename="ward-notes-finished-redacted-doccano.jsonl"' in response["Content-Disposition"]
    line = json.loads(b"".join(response.streaming_content))
    assert line["text"].startswith("Mr [PHI], 54") and "Smith" not in line["text"]
    refused = client.get(url, {**query, "redact": "tag", "redact_labels": "NOPE"})
    assert refused.status_code == 400 and "NOPE is not a label of this project" in refused.content.decode()


def test_the_api_redacts_the_labels_named_or_says_why_not(client, project, admin):
    client.force_login(admin)
    url = f"/api/v1/projects/{project.pk}/export/"
    query = {"format": "conll", "rule": "annotator", "annotator": "alice"}
    response = client.get(url, {**query, "redact": "mask", "redact_labels": "PHI"})
    assert response.status_code == 200
    written = b"".join(response.streaming_content).decode()
    assert "John" not in written and "████\tB-PHI" in written and "asthma\tB-DISEASE" in written
    refused = client.get(url, {**query, "redact": "tag", "redact_labels": "PHI,NAME"})
    assert refused.status_code == 400
    assert refused.json()["errors"]["redact"] == [
        "Unknown label NAME; the project's labels are DISEASE, TREATMENT, PHI."
    ]


def test_the_command_redacts_and_refuses_a_redaction_it_cannot_make(project, tmp_path):
    target = tmp_path / "notes.pubtator"
    args = ["export_documents", str(project.pk), "--format", "pubtator", "--rule", "annotator", "--annotator", "bob"]
    call_command(*args, "--redact", "tag", "-o", str(target), stderr=io.StringIO())
    written = target.read_text()
    assert "[PHI]" in written and not [name for name in NAMES if name in written]
    with pytest.raises(CommandError, match="Unknown label NAME"):
        call_command(
            *args, "--redact", "tag", "--redact-label", "NAME", "-o", str(tmp_path / "x"), stderr=io.StringIO()
        )
    assert not (tmp_path / "x").exists()


@st.composite
def tagged_notes(draw):
    """A text of words and punctuation, its tokens, and flat spans over whole tokens, each
    PHI or DISEASE."""
    words = draw(st.lists(st.sampled_from(["Anna", "Berg", "fever", ",", "of", "12", "(", ")", "é"]), min_size=1))
    text = "".join(f"{word}{draw(st.sampled_from([' ', '', chr(10)]))}" for word in words).strip() or "x"
    tokens = tokenize(text)
    spans, index = [], 0
    while index < len(tokens.starts):
        length = draw(st.integers(0, 3))
        if length and index + length <= len(tokens.starts):
            label = draw(st.sampled_from(["PHI", "DISEASE"]))
            spans.append((tokens.starts[index], tokens.ends[index + length - 1], label))
            index += length
        else:
            index += 1
    return ExportDocument(1, "", "", text, tokens.starts, tokens.ends, spans, {})


@given(tagged_notes(), st.sampled_from(sorted(MODES)))
def test_every_kept_span_and_token_covers_its_own_words_after_redaction(document, mode):
    redacted = redact_document(document, {"PHI"}, mode)
    text, source = redacted.text, document.text
    kept = [(source[s:e], label) for s, e, label in document.spans if label != "PHI"]
    assert [(text[s:e], label) for s, e, label in redacted.spans if label != "PHI"] == kept
    for (s, e, label), (new_s, new_e, _) in zip(document.spans, redacted.spans):
        if label == "PHI" and mode == TAG:
            assert text[new_s:new_e] == "[PHI]"
        elif label == "PHI":
            assert text[new_s:new_e] == "".join(c if c.isspace() else MASK for c in source[s:e])
    words = []
    for start, end in zip(document.token_starts, document.token_ends):
        inside = next(
            (span for span in document.spans if span[0] <= start and end <= span[1] and span[2] == "PHI"), None
        )
        if inside is None or mode == SAME_LENGTH:
            words.append(text[start:end] if mode == SAME_LENGTH else source[start:end])
        elif start == inside[0]:
            words.append("[PHI]")  # one token for the whole tag
    assert [text[s:e] for s, e in zip(redacted.token_starts, redacted.token_ends)] == words
    if mode == SAME_LENGTH:
        assert (redacted.token_starts, redacted.token_ends) == (document.token_starts, document.token_ends)
