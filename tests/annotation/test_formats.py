import io
import json
import re
import textwrap
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from annotation.text.formats.conll import read_conll, write_conll_documents
from annotation.text.formats.csv import read_csv
from annotation.text.formats.decode import decode_upload
from annotation.text.formats.detect import (
    EXPORT_FORMATS,
    FORMAT_HELP,
    FORMATS,
    detect_format,
    export_documents,
    read_archive,
    read_documents,
)
from annotation.text.formats.documents import ExportDocument, ImportedDocument
from annotation.text.formats.errors import FormatError
from annotation.text.formats.huggingface import read_hf_jsonl
from annotation.text.formats.jsonl import read_doccano_jsonl
from annotation.text.formats.labelstudio import read_label_studio, write_label_studio
from annotation.text.formats.pubtator import read_pubtator, write_pubtator
from annotation.text.formats.text import read_text
from annotation.text.tokenize import tokenize

DATA = Path(__file__).parent.parent / "data"


def lines(text):
    return io.StringIO(text)


def exported(documents):
    """ExportDocuments as the app would build them from imported ones."""
    result = []
    for number, document in enumerate(documents, start=1):
        if document.tokens is not None:
            starts, ends = (list(column) for column in zip(*document.tokens))
        else:
            edges = [offset for start, end, _ in document.mentions for offset in (start, end)]
            tokens = tokenize(document.text, edges)
            starts, ends = tokens.starts, tokens.ends
        result.append(
            ExportDocument(
                id=number,
                title=document.title,
                external_id=document.external_id,
                text=document.text,
                token_starts=starts,
                token_ends=ends,
                spans=document.mentions,
                metadata=document.metadata,
            )
        )
    return result


def round_trip(fmt, documents):
    return read_documents(fmt, "".join(export_documents(fmt, exported(documents))))


@contextmanager
def raises(message, line=None):
    """Expect a FormatError that says `message` at `line`: as the error's own line, or as one
    of the problems a whole file is refused for."""
    with pytest.raises(FormatError) as info:
        yield
    error = info.value
    if error.line is not None or line is None:
        assert message in error.message
        assert error.line == line
    else:
        assert any(
            problem.startswith((f"line {line}: ", f"line {line}, ")) and message in problem
            for problem in error.message.splitlines()
        ), error.message


SAMPLE_DOCUMENT = ImportedDocument(
    "Lung cancer (NSCLC) and pain 😀.\nSecond line.",
    title="Note 1",
    external_id="n1",
    metadata={"ward": "B"},
    mentions=[(0, 11, "DIS"), (13, 18, "ABBR"), (24, 28, "SYM")],
)


# --- shared validation -------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "  \n"}, "empty document"),
        ({"text": "a\u0000b"}, "the text contains a NUL character"),
        ({"text": "a\ud800b"}, "the text contains an unpaired surrogate character"),
        ({"text": "fine", "note": "a\u0000b"}, "metadata.note contains a NUL character"),
        ({"text": "fine", "score": float("nan")}, "metadata.score is not a finite number"),
        ({"text": "lung cancer", "label": [[0, 4, "D" * 60]]}, "the label of mention 0-4 is longer than 50 characters"),
        (
            {"text": "lung cancer", "label": [[0, 4, "D\ud800"]]},
            "the label of mention 0-4 contains an unpaired surrogate",
        ),
        ({"text": "lung cancer", "label": [[5, 20, "DIS"]]}, "mention DIS 5-20 is out of range"),
        ({"text": "lung cancer", "label": [[-1, 4, "DIS"]]}, "mention DIS -1-4 is out of range"),
        ({"text": "lung cancer", "label": [[5, 5, "DIS"]]}, "mention DIS 5-5 is empty or reversed"),
        ({"text": "lung cancer", "label": [[9, 5, "DIS"]]}, "mention DIS 9-5 is empty or reversed"),
        (
            {"text": "lung cancer cells", "label": [[0, 11, "DIS"], [5, 17, "DIS"]]},
            'mention DIS 5-17 "cancer cells" overlaps DIS 0-11 "lung cancer"',
        ),
        (
            {"text": "lung   cancer", "label": [[4, 7, "DIS"]]},  # spaces alone: nothing to trim it to
            'mention DIS 4-7 "   " starts or ends with whitespace',
        ),
        ({"text": "lung cancer", "label": [["0", 4, "DIS"]]}, "mention offsets must be integers"),
        ({"text": "lung cancer", "label": [[0, 4, ""]]}, "mention 0-4 has no label"),
    ],
)
def test_validation_shared_by_readers(record, message):
    text = '{"text": "fine"}\n' + json.dumps(record) + "\n"
    with raises(message, line=2):
        read_documents("doccano", text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "malformed JSON: Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "JSON nested more than 64 levels deep"),
        ("[" * 70 + "]" * 70, "JSON nested more than 64 levels deep"),
        ("1e400", "metadata.x is not a finite number"),
    ],
)
@pytest.mark.parametrize(
    ("fmt", "file"),
    [
        ("doccano", '{"text": "ok"}\n{"text": "fine", "x": VALUE}\n'),
        ("label-studio", '[{"data": {"text": "ok"}},\n{"data": {"text": "fine", "x": VALUE}}]'),
    ],
)
def test_json_that_python_decodes_badly_is_refused_with_its_line(fmt, file, value, message):
    with raises(message, line=2):
        list(read_documents(fmt, file.replace("VALUE", value)))


def test_mentions_come_back_sorted():
    text = json.dumps({"text": "lung cancer", "label": [[5, 11, "B"], [0, 4, "A"]]})
    assert next(read_doccano_jsonl(lines(text))).mentions == [(0, 4, "A"), (5, 11, "B")]


# --- plain text and CSV ------------------------------------------------------


def test_text_whole_file_is_one_document_titled_by_the_file_name():
    text = "First line.\r\nSecond line.\r\n\r\n"
    [document] = read_text(lines(text), one_per_line=False, filename="notes/visit 3.txt")
    assert document.text == "First line.\nSecond line."
    assert document.title == "visit 3"


def test_text_one_document_per_non_blank_line():
    documents = list(read_text(lines("one\n\n  two  \r\n"), one_per_line=True))
    assert [(d.text, d.line) for d in documents] == [("one", 1), ("two", 3)]


def test_text_empty_file():
    with raises("empty document", line=1):
        read_documents("text", "\n\n")


def test_csv_text_column_title_id_and_metadata():
    text = 'id,Title,text,ward\n7,Visit,"Chest pain,\nresolved.",B\n8,,Cough.,C\n'
    documents = list(read_csv(lines(text)))
    assert [(d.external_id, d.title, d.text, d.metadata, d.line) for d in documents] == [
        ("7", "Visit", "Chest pain,\nresolved.", {"ward": "B"}, 2),
        ("8", "", "Cough.", {"ward": "C"}, 4),
    ]


def test_csv_single_column_is_the_text():
    assert [d.text for d in read_csv(lines("note\nA.\n\nB.\n"))] == ["A.", "B."]


def test_csv_chosen_column():
    documents = list(read_csv(lines("a,b\nx,y\n"), column="b"))
    assert (documents[0].text, documents[0].metadata) == ("y", {"a": "x"})


def test_csv_without_text_column_lists_the_columns():
    with raises("no 'text' column; choose the text column among 'a', 'b'", line=1):
        list(read_csv(lines("a,b\nx,y\n")))
    with raises("no column 'c'; the columns are 'a', 'b'", line=1):
        list(read_csv(lines("a,b\nx,y\n"), column="c"))


def test_csv_row_errors_name_the_line():
    with raises("expected 2 fields as in the header, found 3", line=4):
        list(read_csv(lines('text,x\n"multi\nline",1\nb,2,3\n')))
    with raises("empty document", line=3):
        read_documents("csv", "text\nA.\n  \n")  # a blank cell, not a blank line
    with raises("expected a header row", line=1):
        list(read_csv(lines("")))


# --- doccano JSONL -----------------------------------------------------------


def test_doccano_label_labels_and_entities_forms():
    text = "\n".join(
        [
            json.dumps({"id": 1, "text": "lung cancer", "label": [[0, 11, "DIS"]], "ward": "B"}),
            "",
            json.dumps({"text": "lung cancer", "labels": [[5, 11, "DIS"]]}),
            json.dumps(
                {
                    "id": "x",
                    "text": "lung cancer",
                    "entities": [{"id": 4, "start_offset": 0, "end_offset": 4, "label": "ORG"}],
                    "relations": [],
                }
            ),
        ]
    )
    documents = list(read_doccano_jsonl(lines(text)))
    assert [(d.external_id, d.mentions, d.metadata, d.line) for d in documents] == [
        ("1", [(0, 11, "DIS")], {"ward": "B"}, 1),
        ("", [(5, 11, "DIS")], {}, 3),
        ("x", [(0, 4, "ORG")], {"relations": []}, 4),
    ]


def test_doccano_malformed_json_names_the_line():
    with raises("malformed JSON: Expecting ',' delimiter", line=2):
        list(read_doccano_jsonl(lines('{"text": "a"}\n{"text": "b" "label": []}\n')))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('["a"]', "expected a JSON object, found list"),
        ('{"body": "a"}', 'expected a "text" string'),
        (
            '{"text": "a", "label": ["positive"]}',
            '"label" must be a list of [start, end, "LABEL"] triples',
        ),
        ('{"text": "a", "entities": {}}', '"entities" must be a list'),
    ],
)
def test_doccano_shape_errors(line, message):
    with raises(message, line=1):
        list(read_doccano_jsonl(lines(line)))


def test_doccano_round_trip():
    [document] = round_trip("doccano", [SAMPLE_DOCUMENT])
    assert (document.text, document.title, document.external_id) == (
        SAMPLE_DOCUMENT.text,
        "Note 1",
        "n1",
    )
    assert document.mentions == SAMPLE_DOCUMENT.mentions
    assert document.metadata == {"ward": "B"}


# --- Label Studio ------------------------------------------------------------

LABEL_STUDIO = """[
  {
    "id": 11,
    "data": {"note": "Lung cancer and pain."},
    "annotations": [
      {"was_cancelled": true, "result": []},
      {"result": [
        {"type": "labels", "value": {"start": 0, "end": 11, "text": "Lung cancer", "labels": ["DIS"]}},
        {"type": "choices", "value": {"choices": ["urgent"]}}
      ]}
    ]
  },
  {
    "id": 12,
    "data": {"text": "Fever.", "source": "ward B"},
    "predictions": [{"result": [{"type": "labels", "value": {"start": 0, "end": 5, "labels": ["SYM"]}}]}]
  }
]
"""


def test_label_studio_reads_annotations_then_predictions():
    documents = list(read_label_studio(LABEL_STUDIO))
    assert [(d.external_id, d.text, d.mentions, d.annotated, d.metadata, d.line) for d in documents] == [
        ("11", "Lung cancer and pain.", [(0, 11, "DIS")], True, {}, 2),
        ("12", "Fever.", [(0, 5, "SYM")], None, {"source": "ward B"}, 13),
    ]


def test_label_studio_errors_name_the_task_line():
    with raises('region DIS 0-11 is "Lung cance" in the export but "Lung cancer" in the text', line=2):
        list(read_label_studio(LABEL_STUDIO.replace('"text": "Lung cancer"', '"text": "Lung cance"')))
    with raises("cannot tell which field is the text", line=13):
        list(read_label_studio(LABEL_STUDIO.replace('"text": "Fever."', '"body": "Fever."')))
    with raises("must have exactly one label", line=13):
        list(read_label_studio(LABEL_STUDIO.replace('["SYM"]', '["SYM", "DIS"]')))


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('[\n  {"data": {"text": "a"}},\n  {"data": }\n]', "malformed JSON: Expecting value", 3),
        ('[\n  {"data": {"text": "a"}}\n  {"data": {}}\n]', "malformed JSON: expected ',' or ']'", 3),
        ('[{"data": {"text": "a"}}]\n]', "malformed JSON: extra data after the array", 2),
        ('{"data": {"text": "a"}}', "expected a JSON array of tasks", 1),
        ('[\n"task"\n]', 'expected a task object with a "data" object', 2),
    ],
)
def test_label_studio_json_errors(text, message, line):
    with raises(message, line=line):
        list(read_label_studio(text))


def test_label_studio_export_is_valid_json_and_round_trips():
    assert json.loads("".join(write_label_studio([]))) == []
    chunks = list(export_documents("label-studio", exported([SAMPLE_DOCUMENT, SAMPLE_DOCUMENT])))
    tasks = json.loads("".join(chunks))
    assert len(chunks) == 3 and len(tasks) == 2
    assert tasks[0]["annotations"][0]["result"][0]["value"] == {
        "start": 0,
        "end": 11,
        "text": "Lung cancer",
        "labels": ["DIS"],
    }
    [document, _] = round_trip("label-studio", [SAMPLE_DOCUMENT, SAMPLE_DOCUMENT])
    assert (document.text, document.title, document.external_id, document.metadata) == (
        SAMPLE_DOCUMENT.text,
        "Note 1",
        "n1",
        {"ward": "B"},
    )
    assert document.mentions == SAMPLE_DOCUMENT.mentions


# --- CoNLL -------------------------------------------------------------------


def test_a_mention_inside_a_longer_one_is_dropped_and_counted():
    [document] = read_doccano_jsonl(
        lines(
            json.dumps(
                {
                    "text": "drug-induced hepatitis and fever",
                    "label": [[13, 22, "DIS"], [0, 22, "DIS"], [27, 32, "DIS"], [0, 22, "DIS"]],
                }
            )
        )
    )
    assert document.mentions == [(0, 22, "DIS"), (27, 32, "DIS")]
    assert document.nested_dropped == 2  # "hepatitis", and the repeated outer mention


def test_conll_documents_keep_the_file_tokens_and_repair_tags():
    text = "Lung B-DIS\nca.\tI-DIS\n\n-DOCSTART- -X- O\n\nPain\tNN\tI-SYM\nin\tO\nNew York\tB-LOC\n"
    first, second = read_conll(lines(text))
    assert (first.text, first.tokens, first.mentions, first.line) == (
        "Lung ca.",
        [(0, 4), (5, 8)],
        [(0, 8, "DIS")],
        1,
    )
    assert second.text == "Pain in New York"
    assert second.tokens == [(0, 4), (5, 7), (8, 16)]
    assert second.mentions == [(0, 4, "SYM"), (8, 16, "LOC")]
    assert second.line == 6


def test_conll_errors_name_the_line():
    with raises("tag 'DIS' is not a BIO tag", line=2):
        list(read_conll(lines("a\tO\nb\tDIS\n")))


def test_conll_sample_round_trips_byte_for_byte():
    original = (DATA / "bc5cdr_devel_sample.conll").read_text(encoding="utf-8")
    documents = read_documents("conll", original, sentences_per_document=0)
    assert len(documents) == 1
    assert sum(d.text.count("\n") + 1 for d in documents) == 300  # sentences
    written = "".join(export_documents("conll", exported(documents)))
    assert written.rstrip("\n") == original.rstrip("\n")


def test_conll_export_breaks_sentences_at_line_breaks():
    written = "".join(write_conll_documents(exported([SAMPLE_DOCUMENT, SAMPLE_DOCUMENT])))
    first, second = written.split("-DOCSTART- n1\tO\n\n")[1:]  # each document named by its id
    sentences = first.strip("\n").split("\n\n")
    assert sentences[0].split("\n")[:3] == ["Lung\tB-DIS", "cancer\tI-DIS", "(\tO"]
    assert sentences[1] == "Second\tO\nline\tO\n.\tO"
    assert first == second and written.startswith("-DOCSTART- n1")
    assert [d.external_id for d in read_documents("conll", written)] == ["n1", "n1"]


# --- PubTator ----------------------------------------------------------------


def test_pubtator_sample_round_trips():
    sample = (DATA / "ncbi_devel_sample.pubtator").read_text(encoding="utf-8")
    documents = read_documents("pubtator", sample)
    assert len(documents) == 40
    assert documents[0].external_id == "8808605"
    assert documents[0].text.startswith(documents[0].title + " X-chromosome inactivation")
    assert (154, 171, "DiseaseClass") in documents[0].mentions

    def keys(docs):
        return {(d.external_id, start, end, label) for d in docs for start, end, label in d.mentions}

    again = round_trip("pubtator", documents)
    assert keys(again) == keys(documents)
    assert [d.text for d in again] == [d.text for d in documents]


PUBTATOR = (
    "123|t|Lung cancer.\n"
    "123|a|Pain and fever.\n"
    "123\t0\t11\tLung cancer\tDisease\tD008175\n"
    "123\t13\t17\tPain\tSymptom\n"
    "123\tCID\tD1\tD2\n"
    "\n"
    "456|t|Title only\n"
)


def test_pubtator_reads_documents_and_skips_relations():
    first, second = read_pubtator(lines(PUBTATOR))
    assert (first.external_id, first.title, first.text, first.line) == (
        "123",
        "Lung cancer.",
        "Lung cancer. Pain and fever.",
        1,
    )
    assert first.mentions == [(0, 11, "Disease"), (13, 17, "Symptom")]
    assert (second.text, second.mentions, second.line) == ("Title only", [], 7)


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("13\t17\tPain", "13\t17\tPane", 'mention Symptom 13-17 is "Pain" in the text but "Pane"', 4),
        ("13\t17\tPain", "13\t99\tPain", "mention Symptom 13-99 is out of range", 4),
        ("123\t13", "124\t13", "annotation for '124' inside document 123", 4),
        ("\tSymptom\n", "\n", "expected 'PMID<TAB>start<TAB>end<TAB>mention<TAB>type'", 4),
        ("123|t|", "123|x|", "expected a 'PMID|t|title' line first", 1),
        ("123|a|Pain", "999|a|Pain", "abstract of 999 inside document 123", 2),
    ],
)
def test_pubtator_errors_name_the_line(old, new, message, line):
    with raises(message, line=line):
        read_documents("pubtator", PUBTATOR.replace(old, new, 1))


def test_pubtator_export_without_title_splits_at_the_first_line_break():
    document = ImportedDocument(
        "Chief complaint:\tpain\nHistory: lung\ncancer", mentions=[(17, 21, "SYM"), (31, 42, "DIS")]
    )
    written = "".join(write_pubtator(exported([document])))
    assert written.splitlines()[:2] == ["1|t|Chief complaint: pain", "1|a|History: lung cancer"]
    [again] = read_pubtator(lines(written))
    assert again.mentions == document.mentions
    assert len(again.text) == len(document.text)


# --- Hugging Face JSONL ------------------------------------------------------


def hf_dataset(documents, fmt="hf-dataset", labels=("DIS", "ABBR", "SYM")) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export_documents(fmt, exported(documents), labels=labels))))
    return {name: archive.read(name) for name in archive.namelist()}


def test_hf_dataset_round_trip():
    files = hf_dataset([SAMPLE_DOCUMENT])
    assert sorted(files) == ["README.md", "data.jsonl", "labels.json"]
    names = json.loads(files["labels.json"])
    assert names == ["O", "B-DIS", "I-DIS", "B-ABBR", "I-ABBR", "B-SYM", "I-SYM"]
    record = json.loads(files["data.jsonl"])
    assert record["id"] == "n1"
    assert record["tokens"][:4] == ["Lung", "cancer", "(", "NSCLC"]
    assert [names[tag] for tag in record["ner_tags"][:4]] == ["B-DIS", "I-DIS", "O", "B-ABBR"]
    with raises("integers with the tag names given", line=1):
        read_documents("hf-jsonl", files["data.jsonl"].decode())
    [document] = read_hf_jsonl(lines(files["data.jsonl"].decode()), tag_names=names)
    assert document.text.split(" ") == record["tokens"]
    assert [document.text[s:e] for s, e, _ in document.mentions] == ["Lung cancer", "NSCLC", "pain"]
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"notes-hf/{name}", data)
    fmt, [again] = read_archive(packed.getvalue(), max_bytes=10**6)
    assert fmt == "hf-jsonl" and again.mentions == document.mentions


def test_the_hf_dataset_loads_as_the_readme_shows(tmp_path, monkeypatch):
    import zipfile as zip_module

    packed = io.BytesIO()
    with zip_module.ZipFile(packed, "w") as archive:
        for name, data in hf_dataset([SAMPLE_DOCUMENT, SAMPLE_DOCUMENT]).items():
            archive.writestr(name, data)
    (tmp_path / "cardiology-finished-hf.zip").write_bytes(packed.getvalue())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    [snippet] = [
        textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_dataset" in block
    ]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(snippet, namespace)
    loaded = namespace["notes"]
    assert loaded["train"].num_rows == 2
    tags = loaded["train"].features["ner_tags"].feature
    assert tags.names[:3] == ["O", "B-DIS", "I-DIS"]
    assert [tags.int2str(tag) for tag in loaded["train"][0]["ner_tags"][:2]] == ["B-DIS", "I-DIS"]


def test_an_archive_that_is_neither_kind_is_refused_plainly():
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("notes.txt", "Just text.")
    with raises("neither a Hugging Face dataset"):
        read_archive(packed.getvalue(), max_bytes=10**6)
    with raises("unpacks to more than"):
        read_archive(packed.getvalue(), max_bytes=5)
    with raises("not a readable ZIP archive"):
        read_archive(b"PK\x03\x04 cut short", max_bytes=10**6)
    binary = io.BytesIO()
    with zipfile.ZipFile(binary, "w") as archive:
        archive.writestr("labels.json", b"\xff\xfe not UTF-8")
    with raises("not UTF-8 text", line=1):  # the member named, as the error's file
        read_archive(binary.getvalue(), max_bytes=10**6)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"tokens": ["a", "b"], "ner_tags": ["O"]}, "2 tokens but 1 tags"),
        ({"tokens": ["a"], "ner_tags": [0]}, "integers with the tag names given"),
        ({"tokens": ["a"], "ner_tags": ["X"]}, "tag 'X' is not a BIO tag"),
        ({"tokens": [" "], "ner_tags": ["O"]}, "empty token"),
    ],
)
def test_hf_jsonl_errors(record, message):
    with raises(message, line=1):
        list(read_hf_jsonl(lines(json.dumps(record))))


# --- decoding ----------------------------------------------------------------


def test_decode_strips_the_bom_and_keeps_line_endings():
    assert decode_upload("\ufeffcafé\r\n".encode(), "a.txt") == "café\r\n"


def test_decode_refuses_other_encodings_with_the_line():
    with raises("not UTF-8 text: invalid byte 0xe9 at line 2", line=2):
        decode_upload("ok\ncaf\xe9\n".encode("latin-1"), "a.txt")
    with raises("not UTF-8 text: the file is UTF-16", line=1):
        decode_upload("text".encode("utf-16"), "a.txt")


def test_decode_refuses_nul_bytes_with_the_line():
    with raises("contains a NUL byte", line=3):
        decode_upload(b"a\nb\nc\x00d", "a.txt")


def test_decode_errors_carry_the_file_name():
    with pytest.raises(FormatError, match="^notes.txt, line 1: "):
        decode_upload(b"\xff", "notes.txt")


# --- detection and dispatch --------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("notes.txt", "Patient reports chest pain.\nNo fever.\n", "text"),
        ("notes.TXT", "123|t|Title\n123|a|Abstract", "pubtator"),
        ("corpus.pubtator", "", "pubtator"),
        ("data", "\n8808605|t|Somatic-cell selection\n", "pubtator"),
        ("notes.csv", "id,text\n1,a\n", "csv"),
        ("export.json", "[{", "label-studio"),
        ("export", '  [\n  {"id": 1, "data": {}}', "label-studio"),
        ("train.conll", "", "conll"),
        ("train.bio", "", "conll"),
        ("train.tsv", "", "conll"),
        ("train.txt", "-DOCSTART- -X- O\n\nLung\tB-DIS\ncancer\tI-DIS\n.\tO\nhalf-a-li", "conll"),
        ("train", "Lung NN B-DIS\ncancer NN I-DIS\n", "conll"),
        ("data.jsonl", '{"text": "a", "label": []}\n', "doccano"),
        ("data.jsonl", '{"id": 0, "tokens": ["a"], "ner_tags": ["O"]}\n', "hf-jsonl"),
        ("data", '{"text": "a", "label": []}\n', "doccano"),
    ],
)
def test_detect_format(filename, head, expected):
    assert detect_format(filename, head) == expected


def test_detect_format_unknown_lists_the_formats():
    with raises("unknown format: cannot tell the format of 'scan.pdf'; supported formats are"):
        detect_format("scan.pdf", "%PDF-1.4\n")


def test_every_listed_format_has_a_reader():
    for fmt in FORMATS:
        with pytest.raises(FormatError) as info:
            read_documents(fmt, "")
        assert "unknown format" not in info.value.message


def test_read_documents_dispatches_and_names_the_file():
    documents = read_documents("text-lines", "a\nb\n", filename="x.txt")
    assert [d.text for d in documents] == ["a", "b"]
    assert read_documents("csv", "a,b\n1,2\n", column="b")[0].text == "2"
    with pytest.raises(FormatError, match="^x.jsonl, line 1: malformed JSON"):
        read_documents("doccano", "{", filename="x.jsonl")
    with raises("no documents found"):
        read_documents("conll", "\n\n")
    with raises("unknown format: 'docx'"):
        read_documents("docx", "")


def test_export_formats_describe_their_files():
    # The Hugging Face datasets (ZIPs) upload as they are, and read as hf-jsonl.
    assert set(EXPORT_FORMATS) - {"hf-dataset", "hf-dataset-sentences"} <= set(FORMATS)
    assert set(FORMAT_HELP) == set(FORMATS)  # the upload page describes every format it reads
    endings = [fmt.file_ending for fmt in EXPORT_FORMATS.values()]
    assert len(set(endings)) == len(endings)  # no two formats' downloads look alike
    assert EXPORT_FORMATS["hf-dataset"].file_ending == "-hf.zip"
    assert EXPORT_FORMATS["label-studio"].content_type == "application/json"
    with pytest.raises(ValueError, match="unknown export format"):
        export_documents("docx", [])


def test_hf_dataset_one_example_per_sentence_keeps_the_sentences():
    document = ImportedDocument("Lung cancer spread .\nPain eased .", mentions=[(0, 11, "DIS"), (21, 25, "SYM")])
    files = hf_dataset([document], fmt="hf-dataset-sentences", labels=["DIS", "SYM"])
    names = json.loads(files["labels.json"])
    records = [json.loads(line) for line in files["data.jsonl"].decode().splitlines()]
    assert [(r["id"], r["tokens"], [names[t] for t in r["ner_tags"]]) for r in records] == [
        ("1-1", ["Lung", "cancer", "spread", "."], ["B-DIS", "I-DIS", "O", "O"]),
        ("1-2", ["Pain", "eased", "."], ["B-SYM", "O", "O"]),
    ]
    again = read_hf_jsonl(lines(files["data.jsonl"].decode()), tag_names=names)
    assert [d.mentions for d in again] == [[(0, 11, "DIS")], [(0, 4, "SYM")]]
