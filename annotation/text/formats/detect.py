"""The one place that knows every format: detection, and dispatch to readers and writers."""

import functools
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from annotation.text.formats.conll import BIO_TAG, SENTENCES_PER_DOCUMENT, read_conll, write_conll_documents
from annotation.text.formats.csv import read_csv
from annotation.text.formats.decode import decode_upload
from annotation.text.formats.documents import ExportDocument, ImportedDocument, problems_of
from annotation.text.formats.errors import FormatError
from annotation.text.formats.huggingface import read_hf_dataset, read_hf_jsonl, write_hf_dataset
from annotation.text.formats.jsonl import read_doccano_jsonl, write_doccano_jsonl
from annotation.text.formats.labelstudio import read_label_studio, read_label_studio_csv, write_label_studio
from annotation.text.formats.pubtator import read_pubtator, write_pubtator
from annotation.text.formats.text import read_text
from annotation.text.formats.webanno import read_webanno_tsv, write_webanno_zip
from annotation.text.redact import Redaction, redact_document

FORMATS = {
    "text": "Plain text (one document)",
    "text-lines": "Plain text (one document per line)",
    "csv": "CSV with a text column",
    "doccano": "doccano JSONL",
    "label-studio": "Label Studio JSON or JSON-MIN",
    "label-studio-csv": "Label Studio CSV or TSV",
    "conll": "CoNLL / BIO",
    "pubtator": "PubTator",
    "hf-jsonl": "Hugging Face JSONL (tokens + ner_tags)",
    "webanno-tsv": "WebAnno TSV 3 (INCEpTION, WebAnno)",
}

# What the upload page says of each format; a test keeps it in step with FORMATS.
FORMAT_HELP = {
    "text": "One document per file; its name becomes the title.",
    "text-lines": "One document per line.",
    "csv": "A header row, then a document per row: the text from the column you name (default text); "
    "title and id are used too, other columns kept. Tab-separated files too, whatever their name.",
    "doccano": 'doccano JSONL: {"text": ..., "label": [[start, end, "LABEL"], ...]} per line, or doccano '
    "1.8's entities. Upload each annotator's file with their name to keep one annotation each.",
    "label-studio": "Label Studio's JSON export (tasks with every annotator's annotation) or its JSON-MIN "
    "export (a record per annotation).",
    "label-studio-csv": "Label Studio's CSV or TSV export (the TSV comes named .csv).",
    "conll": "token<TAB>tag, blank lines between sentences, -DOCSTART- between documents; a file without "
    "-DOCSTART- is cut into documents of the number of sentences you choose.",
    "pubtator": "PMID|t|title and PMID|a|abstract lines, then PMID<TAB>start<TAB>end<TAB>mention<TAB>type lines.",
    "hf-jsonl": 'Hugging Face JSONL: {"tokens": [...], "ner_tags": ["B-X", ...]} per line; integer tags come '
    "with their names in the ZIP the studio's dataset export makes (JSON lines and labels.json), "
    "which uploads as it is.",
    "webanno-tsv": "WebAnno TSV 3.x, as INCEpTION and WebAnno export a document: the named-entity layer's "
    "values become the spans. Upload each annotator's file with their name to keep one annotation each; "
    "a ZIP of such files (the studio's WebAnno export) uploads as it is, a document a file.",
}

_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".csv": "csv",
    ".json": "label-studio",
    ".conll": "conll",
    ".conllu": "conll",
    ".bio": "conll",
    ".iob": "conll",
    ".iob2": "conll",
    ".tsv": "conll",
    ".pubtator": "pubtator",
}
_PUBTATOR = re.compile(r"^\d+\|t\|")
_LABEL_STUDIO_COLUMNS = {"annotation_id", "annotator", "lead_time"}
_SAMPLE_LINES = 20


def detect_format(filename: str, head: str) -> str:
    """Guess the format from the file name and the first few KB of its text.

    Content wins over a generic extension: PubTator and CoNLL files are often `.txt`.
    """
    extension = PurePath(filename).suffix.lower()
    lines = [line for line in head.splitlines() if line.strip()][:_SAMPLE_LINES]
    if lines and _LABEL_STUDIO_COLUMNS <= set(re.split(r'[\t,"]+', lines[0])):
        return "label-studio-csv"
    if lines and lines[0].startswith("#FORMAT=WebAnno TSV"):
        return "webanno-tsv"
    if extension in (".jsonl", ".ndjson") or (lines and lines[0].lstrip().startswith("{")):
        first = lines[0] if lines else ""
        return "hf-jsonl" if '"tokens"' in first and '"ner_tags"' in first else "doccano"
    if extension in _EXTENSIONS and extension not in (".txt", ".text"):
        return _EXTENSIONS[extension]
    if lines and _PUBTATOR.match(lines[0]):
        return "pubtator"
    if lines and head.lstrip().startswith("["):
        return "label-studio"
    if lines and all(_looks_like_conll(line) for line in _complete(lines, head)):
        return "conll"
    if extension in (".txt", ".text"):
        return "text"
    raise FormatError(
        f"unknown format: cannot tell the format of {filename or 'the file'!r}; "
        f"supported formats are {', '.join(FORMATS.values())}"
    )


def _complete(lines: list[str], head: str) -> list[str]:
    """The sample lines, less a last one that `head` may have cut short."""
    return lines[:-1] if len(lines) > 1 and not head.endswith("\n") else lines


def _looks_like_conll(line: str) -> bool:
    columns = line.split("\t") if "\t" in line else line.split()
    return columns[0].startswith("-DOCSTART-") or (len(columns) >= 2 and bool(BIO_TAG.match(columns[-1].strip())))


def read_documents(
    fmt: str,
    text: str,
    *,
    filename: str = "",
    column: str | None = None,
    sentences_per_document: int | None = None,
) -> list[ImportedDocument]:
    """All documents of a decoded upload. Raises FormatError at the first problem in the
    file's structure, or else listing every problem in its documents.

    `column` picks the text column of a CSV file. A CoNLL file without `-DOCSTART-` lines
    is cut every `sentences_per_document` sentences (0: it is one document; None: the
    default); one with them is cut at them, and refuses a sentence count.
    """
    if fmt == "conll" and "-DOCSTART-" in text:
        if sentences_per_document is not None:
            raise FormatError(
                "the file marks its documents with -DOCSTART- lines; leave the number of sentences per "
                "document empty to keep them, or remove those lines to cut it by sentence count",
                filename=filename,
            )
        sentences_per_document = 0
    elif sentences_per_document is None:
        sentences_per_document = SENTENCES_PER_DOCUMENT
    try:
        documents = list(
            _read(fmt, text, filename=filename, column=column, sentences_per_document=sentences_per_document)
        )
    except FormatError as error:
        error.filename = error.filename or filename
        raise
    if not documents:
        raise FormatError("no documents found", filename=filename)
    _refuse_problems(documents, filename)
    return documents


def _refuse_problems(documents: list[ImportedDocument], filename: str) -> None:
    problems = problems_of(documents)
    if problems:
        count = sum(len(document.problems) for document in documents)
        raise FormatError(
            f"nothing was imported; {count} problem{'s' if count != 1 else ''} to fix first:\n{problems}",
            filename=filename,
        )


def is_archive(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def read_archive(data: bytes, *, filename: str = "", max_bytes: int) -> tuple[str, list[ImportedDocument]]:
    """(format, documents) of a ZIP upload: a Hugging Face dataset (JSON lines and their
    labels.json, as the studio exports it) or WebAnno TSV files (a document each)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")
        ]
        if sum(info.file_size for info in members) > max_bytes:
            raise FormatError(f"the archive unpacks to more than {max_bytes / 1e6:.0f} MB", filename=filename)
        files = {info.filename: decode_upload(archive.read(info), info.filename) for info in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as error:
        raise FormatError(f"not a readable ZIP archive: {error}", filename=filename) from None
    short = {PurePath(name).name: text for name, text in files.items()}
    if "labels.json" in short and any(name.endswith(".jsonl") for name in short):
        fmt, documents = "hf-jsonl", list(read_hf_dataset(short))
    else:
        tsv = sorted(name for name, text in files.items() if text.startswith("#FORMAT=WebAnno TSV"))
        if not tsv:
            raise FormatError(
                "the archive holds neither a Hugging Face dataset (JSON lines with labels.json) nor WebAnno TSV files",
                filename=filename,
            )
        fmt, documents = "webanno-tsv", []
        for name in tsv:
            try:
                [document] = read_webanno_tsv(io.StringIO(files[name]))
            except FormatError as error:
                error.filename = name
                raise
            document.external_id = PurePath(name).stem
            document.where = name
            documents.append(document)
    if not documents:
        raise FormatError("no documents found", filename=filename)
    _refuse_problems(documents, filename)
    return fmt, documents


def _read(
    fmt: str, text: str, *, filename: str, column: str | None, sentences_per_document: int
) -> Iterable[ImportedDocument]:
    lines = io.StringIO(text)
    match fmt:
        case "text" | "text-lines":
            return read_text(lines, one_per_line=fmt == "text-lines", filename=filename)
        case "csv":
            return read_csv(lines, column=column)
        case "doccano":
            return read_doccano_jsonl(lines)
        case "label-studio":
            return read_label_studio(text)
        case "label-studio-csv":
            return read_label_studio_csv(text)
        case "conll":
            return read_conll(lines, sentences_per_document)
        case "pubtator":
            return read_pubtator(lines)
        case "hf-jsonl":
            return read_hf_jsonl(lines)
        case "webanno-tsv":
            return read_webanno_tsv(lines)
    raise FormatError(f"unknown format: {fmt!r}; supported formats are {', '.join(FORMATS)}")


@dataclass(frozen=True)
class ExportFormat:
    label: str
    file_ending: str  # what a download's name ends with: no two formats share one
    content_type: str
    write: Callable[..., Iterable[str] | Iterable[bytes]]  # bytes: a binary format
    takes_labels: bool = False  # the writer wants the project's label names, in order


_JSON, _JSONL, _TEXT = "application/json", "application/jsonl", "text/plain; charset=utf-8"
_ZIP = "application/zip"
EXPORT_FORMATS = {
    "doccano": ExportFormat("doccano JSONL", "-doccano.jsonl", _JSONL, write_doccano_jsonl),
    "label-studio": ExportFormat("Label Studio JSON", "-label-studio.json", _JSON, write_label_studio),
    "conll": ExportFormat("CoNLL / BIO", ".conll", _TEXT, write_conll_documents),
    "pubtator": ExportFormat("PubTator", ".pubtator", _TEXT, write_pubtator),
    "webanno-tsv": ExportFormat(
        "WebAnno TSV 3.3 (a ZIP, a file per document)", "-webanno.zip", _ZIP, write_webanno_zip
    ),
    "hf-dataset": ExportFormat(
        "Hugging Face dataset (a ZIP: JSON lines with integer tags, their names, a dataset card)",
        "-hf.zip",
        _ZIP,
        functools.partial(write_hf_dataset, sentences=False),
        takes_labels=True,
    ),
    "hf-dataset-sentences": ExportFormat(
        "Hugging Face dataset, one example per sentence (a ZIP)",
        "-hf-sentences.zip",
        _ZIP,
        functools.partial(write_hf_dataset, sentences=True),
        takes_labels=True,
    ),
}


def export_documents(
    fmt: str, documents: Iterable[ExportDocument], *, labels: Iterable[str] = (), redaction: Redaction | None = None
) -> Iterable[str] | Iterable[bytes]:
    """Stream the documents in an export format, chunk by chunk; `labels`, the project's
    label names, fix the tag ids of the formats that number them. A redaction hides its
    labels' text here, before any writer sees a document."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    export = EXPORT_FORMATS[fmt]
    if redaction is not None:
        documents = (redact_document(document, redaction.labels, redaction.mode) for document in documents)
    return export.write(documents, labels=labels) if export.takes_labels else export.write(documents)
