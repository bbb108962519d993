"""Hugging Face token classification JSON lines: `{"id", "tokens": [...], "ner_tags": [...]}`
with string IOB2 tags, one document per line."""

from collections.abc import Iterable, Iterator

from annotation.text.bio import spans_to_tags
from annotation.text.formats.conll import check_token_and_tag
from annotation.text.formats.documents import ExportDocument, ImportedDocument, from_tagged_sentences
from annotation.text.formats.errors import FormatError
from annotation.text.formats.jsonl import id_string, iter_json_lines, json_line, unclaimed


def read_hf_jsonl(lines: Iterable[str]) -> Iterator[ImportedDocument]:
    for number, record in iter_json_lines(lines):
        tokens, tags = record.get("tokens"), record.get("ner_tags")
        if not _strings(tokens) or not _strings(tags):
            raise FormatError(
                '"tokens" and "ner_tags" must be lists of strings '
                "(integer tags cannot be read without their label names)",
                line=number,
            )
        if len(tokens) != len(tags):
            raise FormatError(f"{len(tokens)} tokens but {len(tags)} tags", line=number)
        sentence = [(token.strip(), tag) for token, tag in zip(tokens, tags)]
        for token, tag in sentence:
            check_token_and_tag(token, tag, line=number)
        yield from_tagged_sentences(
            [sentence],
            external_id=id_string(record.get("id")),
            metadata=unclaimed(record, ("id", "tokens", "ner_tags")),
            line=number,
        )


def write_hf_jsonl(documents: Iterable[ExportDocument]) -> Iterator[str]:
    for document in documents:
        text, starts, ends = document.text, document.token_starts, document.token_ends
        yield json_line(
            {
                "id": document.external_id or str(document.id),
                "tokens": [text[start:end] for start, end in zip(starts, ends)],
                "ner_tags": spans_to_tags(starts, ends, document.spans),
            }
        )


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
