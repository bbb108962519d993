"""PubTator: per document a `PMID|t|title` line, a `PMID|a|abstract` line, then
`PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>ids]` lines; blank lines between
documents. Relation lines (`PMID<TAB>CID<TAB>...`) are skipped.

Offsets count into title + " " + abstract, which is therefore the document text.
"""

import re
from collections.abc import Iterable, Iterator

from annotation.text.formats.documents import (
    ExportDocument,
    ImportedDocument,
    check_mention,
    quote,
    trim_mention,
    validated,
)
from annotation.text.formats.errors import FormatError

_TEXT_LINE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")
# Keeps each field on its line; a same-length replacement keeps offsets valid.
_ONE_LINE = str.maketrans("\t\r\n", "   ")


def read_pubtator(lines: Iterable[str]) -> Iterator[ImportedDocument]:
    document: ImportedDocument | None = None
    pmid = ""
    has_abstract = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        text_line = _TEXT_LINE.match(line)
        if text_line and text_line[2] == "t":
            if document is not None:
                yield validated(document)
            pmid, has_abstract = text_line[1], False
            document = ImportedDocument(text_line[3], title=text_line[3], external_id=pmid, line=number)
            continue
        if document is None:
            raise FormatError("expected a 'PMID|t|title' line first", line=number)
        if text_line:
            if text_line[1] != pmid:
                raise FormatError(f"abstract of {text_line[1]} inside document {pmid}", line=number)
            if has_abstract or document.mentions:
                raise FormatError(f"unexpected abstract line in document {pmid}", line=number)
            document.text += " " + text_line[3]
            has_abstract = True
            continue
        columns = line.split("\t")
        if columns[0] != pmid:
            raise FormatError(f"annotation for {columns[0]!r} inside document {pmid}", line=number)
        if len(columns) >= 3 and not columns[1].isdecimal():
            continue  # a relation, such as PMID<TAB>CID<TAB>chemical<TAB>disease
        mention = _mention(document, columns, number)
        if mention is not None:
            document.mentions.append(mention)
            if len(columns) > 5 and columns[5].strip():
                document.concepts[mention] = columns[5]  # as the corpus has it, spaces and all
    if document is not None:
        yield validated(document)


def _mention(document: ImportedDocument, columns: list[str], number: int) -> tuple[int, int, str] | None:
    """The mention on this line, or None with the reason added to the document's problems."""
    if len(columns) < 5 or not columns[2].isdecimal():
        raise FormatError(
            f"expected 'PMID<TAB>start<TAB>end<TAB>mention<TAB>type', found {chr(9).join(columns)[:60]!r}",
            line=number,
        )
    text, mention = document.text, (int(columns[1]), int(columns[2]), columns[4].strip())
    start, end, label = mention
    try:
        check_mention(text, trim_mention(text, mention), line=number)
    except FormatError as error:
        document.problems.append(str(error))
        return None
    # Stray spaces around the mention occur in NCBI-disease itself; they are harmless.
    if text[start:end].strip() != columns[3].strip():
        document.problems.append(
            f"line {number}: mention {label} {start}-{end} is {quote(text, start, end)} in the text "
            f"but {quote(columns[3], 0, len(columns[3]))} in the annotation"
        )
        return None
    return mention


def write_pubtator(documents: Iterable[ExportDocument]) -> Iterator[str]:
    for document in documents:
        pmid = document.external_id or str(document.id)
        text = document.text.translate(_ONE_LINE)
        title_end, abstract_start = _split_title(document)
        parts = [f"{pmid}|t|{text[:title_end]}\n"]
        if abstract_start is not None:
            parts.append(f"{pmid}|a|{text[abstract_start:]}\n")
        for start, end, label in document.spans:
            concept = document.concepts.get((start, end), "")
            parts.append(
                f"{pmid}\t{start}\t{end}\t{text[start:end]}\t{label}" + (f"\t{concept}\n" if concept else "\n")
            )
        parts.append("\n")
        yield "".join(parts)


def _split_title(document: ExportDocument) -> tuple[int, int | None]:
    """(end of the title, start of the abstract or None); one character apart, so
    PubTator's title + " " + abstract keeps every offset."""
    text, title = document.text, document.title
    if title and text.startswith(title + " "):
        return len(title), len(title) + 1
    first_line_end = text.find("\n")
    if first_line_end == -1:
        return len(text), None
    return first_line_end, first_line_end + 1
