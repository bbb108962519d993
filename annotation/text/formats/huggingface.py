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


def write_hf_jsonl_sentences(documents: Iterable[ExportDocument]) -> Iterator[str]:
    """One example per sentence (a line of the text, as CoNLL sentences are imported), each
    with its document's id and its number: `{"id": "1234-2", ...}`."""
    for document in documents:
        text, starts, ends = document.text, document.token_starts, document.token_ends
        tags = spans_to_tags(starts, ends, document.spans)
        sentences: list[list[int]] = []
        for index, start in enumerate(starts):
            if not index or "\n" in text[ends[index - 1] : start]:
                sentences.append([])
            sentences[-1].append(index)
        name = document.external_id or str(document.id)
        yield "".join(
            json_line(
                {
                    "id": f"{name}-{number}",
                    "tokens": [text[starts[i] : ends[i]] for i in sentence],
                    "ner_tags": [_sentence_tag(tags, i, sentence[0]) for i in sentence],
                }
            )
            for number, sentence in enumerate(sentences, start=1)
        )


def _sentence_tag(tags: list[str], index: int, first: int) -> str:
    """A mention across a line break starts again in the next sentence, as B-."""
    tag = tags[index]
    return "B-" + tag[2:] if index == first and tag.startswith("I-") else tag


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
