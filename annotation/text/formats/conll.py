"""CoNLL/BIO: `token<TAB or space>tag` per line, blank lines between sentences,
`-DOCSTART-` lines between documents.

Corpora often come without `-DOCSTART-` (NCBI-disease and BC5CDR as distributed here): read
whole, such a file would be one document of a hundred thousand tokens, so it is cut every
`SENTENCES_PER_DOCUMENT` sentences instead, about an abstract's worth."""

import re
from collections.abc import Iterable, Iterator

from annotation.text.bio import spans_to_tags
from annotation.text.formats.documents import ExportDocument, ImportedDocument, from_tagged_sentences, sentences_of
from annotation.text.formats.errors import FormatError

BIO_TAG = re.compile(r"^(O|[BI]-\S+)$")
SENTENCES_PER_DOCUMENT = 10


def parse_conll(lines: Iterable[str]) -> list[list[list[tuple[str, str]]]]:
    """Return documents, each a list of sentences, each a list of (token, tag).

    The tag is the last column, so files with extra middle columns (POS, chunk) read too.
    """
    return [sentences for _, _, sentences in iter_conll(lines)]


def iter_conll(
    lines: Iterable[str], sentences_per_document: int = 0
) -> Iterator[tuple[int, str, list[list[tuple[str, str]]]]]:
    """Yield (line of the document's first token, its id, its sentences) for each document:
    at each `-DOCSTART-` (whose id, if any, follows it: `-DOCSTART- 1234`), and also every
    `sentences_per_document` sentences when that is above 0."""
    sentences: list[list[tuple[str, str]]] = []
    sentence: list[tuple[str, str]] = []
    first_line, document_id, next_id = 0, "", ""

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        docstart = False
        if line.strip():
            columns = line.split("\t") if "\t" in line else line.split()
            docstart = columns[0].startswith("-DOCSTART-")
            if not docstart:
                if not sentence and not sentences:
                    first_line, document_id = number, next_id
                sentence.append(_token_and_tag(columns, line, number))
                continue
        # A blank line ends the sentence; -DOCSTART- ends the document too.
        if sentence:
            sentences.append(sentence)
            sentence = []
        if sentences and (docstart or len(sentences) == sentences_per_document):
            yield first_line, document_id, sentences
            sentences = []
        if docstart:
            next_id = _docstart_id(line)
    if sentence:
        sentences.append(sentence)
    if sentences:
        yield first_line, document_id, sentences


def _docstart_id(line: str) -> str:
    """The id after -DOCSTART-: `-DOCSTART- 1234<TAB>O` (as the studio writes it), or a
    CoNLL-2003 style `-DOCSTART- -X- O O`, which names none."""
    head = line.split("\t", 1)[0].strip()
    rest = head.removeprefix("-DOCSTART-").split()
    return rest[0] if rest and rest[0] not in ("-X-", "O") else ""


def _token_and_tag(columns: list[str], line: str, number: int) -> tuple[str, str]:
    if len(columns) < 2:
        raise FormatError(f"expected 'token<TAB>tag', found {line[:60]!r}", line=number)
    token, tag = columns[0].strip(), columns[-1].strip()
    check_token_and_tag(token, tag, line=number)
    return token, tag


def check_token_and_tag(token: str, tag: str, *, line: int) -> None:
    if not token:
        raise FormatError("empty token", line=line)
    if not BIO_TAG.match(tag):
        raise FormatError(f"tag {tag!r} is not a BIO tag (expected O, B-LABEL or I-LABEL)", line=line)


def write_conll(documents: Iterable[tuple[str, list[list[tuple[str, str]]]]]) -> Iterable[str]:
    """Yield CoNLL text, a chunk per (id, sentences) document: -DOCSTART- separates them and
    names each that has an id (`-DOCSTART- 1234`)."""
    for index, (document_id, sentences) in enumerate(documents):
        parts = []
        document_id = "_".join(document_id.split())  # one field, whatever the id holds
        if document_id:
            parts.append(f"-DOCSTART- {document_id}\tO\n\n")
        elif index:
            parts.append("-DOCSTART-\tO\n\n")
        for sentence in sentences:
            parts.extend(f"{token}\t{tag}\n" for token, tag in sentence)
            parts.append("\n")
        yield "".join(parts)


def read_conll(lines: Iterable[str], sentences_per_document: int = 0) -> Iterator[ImportedDocument]:
    """Documents keeping the file's tokens: the tokens joined by spaces, a sentence a line."""
    for first_line, document_id, sentences in iter_conll(lines, sentences_per_document):
        yield from_tagged_sentences(sentences, line=first_line, external_id=document_id)


def write_conll_documents(documents: Iterable[ExportDocument]) -> Iterable[str]:
    """CoNLL text of the documents, a sentence break wherever the text has a line break."""
    return write_conll((document.external_id, _tagged_sentences(document)) for document in documents)


def _tagged_sentences(document: ExportDocument) -> list[list[tuple[str, str]]]:
    text, starts, ends = document.text, document.token_starts, document.token_ends
    tags = spans_to_tags(starts, ends, document.spans)
    return [[(text[starts[i] : ends[i]], tags[i]) for i in sentence] for sentence in sentences_of(document)]
