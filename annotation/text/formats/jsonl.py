"""doccano JSON lines: `{"text": ..., "label": [[start, end, "LABEL"], ...]}` per line.

Also reads the `"labels"` key and doccano 1.8's `"entities"` list of
`{"start_offset", "end_offset", "label"}`. `id` becomes the external id,
`title` the title, and every other key is kept as metadata.
"""

import json
from collections.abc import Iterable, Iterator

from annotation.text.formats.documents import NOT_STARTED, ExportDocument, ImportedDocument, Mention, validated
from annotation.text.formats.errors import FormatError
from studio import safe_json

_SPAN_KEYS = ("label", "labels", "entities")


def read_doccano_jsonl(lines: Iterable[str]) -> Iterator[ImportedDocument]:
    for number, record in iter_json_lines(lines):
        text = record.get("text")
        if not isinstance(text, str):
            raise FormatError('expected a "text" string', line=number)
        status = record.get("status")
        yield validated(
            ImportedDocument(
                text,
                title=id_string(record.get("title")),
                external_id=id_string(record.get("id")),
                metadata=unclaimed(record, ("text", "title", "id", "status", *_SPAN_KEYS)),
                mentions=_mentions(record, number),
                # The studio's own export says whether anyone had started the document; a
                # record without any list of spans was not annotated (an empty list was).
                annotated=False if status == NOT_STARTED or not any(key in record for key in _SPAN_KEYS) else None,
                line=number,
            )
        )


def write_doccano_jsonl(documents: Iterable[ExportDocument]) -> Iterator[str]:
    for document in documents:
        record = {"id": document.external_id or document.id}
        if document.title:
            record["title"] = document.title
        record["text"] = document.text
        record["label"] = [list(span) for span in document.spans]
        if document.status:
            record["status"] = document.status
        yield json_line(record | unclaimed(document.metadata, record))


def iter_json_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = safe_json.loads(line.rstrip("\r\n"))
        except safe_json.UnsafeJSON as error:
            raise FormatError(str(error), line=number) from None
        if not isinstance(record, dict):
            raise FormatError(f"expected a JSON object, found {type(record).__name__}", line=number)
        yield number, record


def json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def unclaimed(record: dict, claimed: Iterable[str]) -> dict:
    """The record's entries whose keys are not claimed, to keep as metadata."""
    claimed = set(claimed)
    return {key: value for key, value in record.items() if key not in claimed}


def id_string(value) -> str:
    """A JSON id (number or string) as text; absent is empty."""
    return "" if value is None else str(value)


def _mentions(record: dict, number: int) -> list[Mention]:
    if "entities" in record:
        entities = _list(record, "entities", number)
        if not all(isinstance(entity, dict) for entity in entities):
            raise FormatError('"entities" must be a list of objects', line=number)
        return [(entity.get("start_offset"), entity.get("end_offset"), entity.get("label")) for entity in entities]
    key = "label" if "label" in record else "labels"
    spans = _list(record, key, number)
    if not all(isinstance(span, list) and len(span) == 3 for span in spans):
        raise FormatError(f'"{key}" must be a list of [start, end, "LABEL"] triples', line=number)
    return [tuple(span) for span in spans]


def _list(record: dict, key: str, number: int) -> list:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise FormatError(f'"{key}" must be a list', line=number)
    return value
