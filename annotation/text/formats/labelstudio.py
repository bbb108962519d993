"""Label Studio JSON export: a JSON array of tasks.

    [{"id": 1, "data": {"text": "..."},
      "annotations": [{"result": [{"type": "labels",
                                   "value": {"start": 0, "end": 4, "text": "...",
                                             "labels": ["X"]}}]}]}]

The first annotation that was not cancelled is read (predictions if there is
none); results other than text labels are ignored.
"""

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from annotation.text.formats.documents import (
    ExportDocument,
    ImportedDocument,
    Mention,
    check_mention,
    quote,
    validated,
)
from annotation.text.formats.errors import FormatError
from annotation.text.formats.jsonl import id_string, unclaimed
from studio import safe_json

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


def read_label_studio(text: str) -> Iterator[ImportedDocument]:
    for line, task in _array_items(text):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise FormatError('expected a task object with a "data" object', line=line)
        data = task["data"]
        text_key = _text_key(data, line)
        document_text = data[text_key]
        yield validated(
            ImportedDocument(
                document_text,
                title=data["title"] if isinstance(data.get("title"), str) else "",
                external_id=id_string(data.get("external_id", task.get("id"))),
                metadata=unclaimed(data, (text_key, "title", "external_id")),
                mentions=_mentions(document_text, _results(task, line), line),
                line=line,
            )
        )


def write_label_studio(documents: Iterable[ExportDocument]) -> Iterator[str]:
    separator = "[\n"
    for document in documents:
        yield separator + json.dumps(_task(document), ensure_ascii=False)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def _task(document: ExportDocument) -> dict:
    data = {"text": document.text, "title": document.title, "external_id": document.external_id}
    if document.status:
        data["status"] = document.status
    result = [
        {
            "id": f"{document.id}-{number}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {
                "start": start,
                "end": end,
                "text": document.text[start:end],
                "labels": [label],
            },
        }
        for number, (start, end, label) in enumerate(document.spans, start=1)
    ]
    return {
        "id": document.id,
        "data": data | unclaimed(document.metadata, data),
        "annotations": [{"result": result}],
    }


def _array_items(text: str) -> Iterator[tuple[int, object]]:
    """Yield (line where the item starts, item) for each item of a top-level JSON array.

    Decoding item by item is what lets errors about a task name its line.
    """
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_at(position: int) -> int:
        return bisect_left(newlines, position) + 1

    position = _skip_whitespace(text, 0)
    if not text.startswith("[", position):
        raise FormatError("expected a JSON array of tasks", line=line_at(position))
    position = _skip_whitespace(text, position + 1)
    closed = text.startswith("]", position)
    while not closed:
        try:
            item, end = safe_json.decode(text, position)
        except safe_json.UnsafeJSON as error:
            raise FormatError(str(error), line=line_at(position)) from None
        yield line_at(position), item
        position = _skip_whitespace(text, end)
        closed = text.startswith("]", position)
        if not closed:
            if not text.startswith(",", position):
                raise FormatError("malformed JSON: expected ',' or ']'", line=line_at(position))
            position = _skip_whitespace(text, position + 1)
    position = _skip_whitespace(text, position + 1)
    if position < len(text):
        raise FormatError("malformed JSON: extra data after the array", line=line_at(position))


def _skip_whitespace(text: str, position: int) -> int:
    return _JSON_WHITESPACE.match(text, position).end()


def _text_key(data: dict, line: int) -> str:
    if isinstance(data.get("text"), str):
        return "text"
    strings = [key for key, value in data.items() if isinstance(value, str)]
    if len(strings) != 1:
        raise FormatError(
            f'cannot tell which "data" field is the text: no "text" field, and '
            f"{len(strings)} string fields ({', '.join(strings)})",
            line=line,
        )
    return strings[0]


def _results(task: dict, line: int) -> list:
    annotations = [
        annotation
        for annotation in task.get("annotations") or []
        if isinstance(annotation, dict) and not annotation.get("was_cancelled")
    ]
    chosen = annotations or [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    results = chosen[0].get("result", []) if chosen else []
    if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
        raise FormatError('"result" must be a list of objects', line=line)
    return results


def _mentions(text: str, results: list, line: int) -> list[Mention]:
    mentions = []
    for result in results:
        if result.get("type") != "labels":
            continue
        value = result.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        if not isinstance(labels, list) or len(labels) != 1:
            raise FormatError(f"region {start}-{end} must have exactly one label, found {labels!r}", line=line)
        mention = (start, end, labels[0])
        check_mention(text, mention, line=line)
        # Older Label Studio versions counted UTF-16 units, which shifts offsets after an emoji.
        exported = value.get("text", text[start:end])
        if exported != text[start:end]:
            exported = str(exported)
            raise FormatError(
                f"region {labels[0]} {start}-{end} is {quote(exported, 0, len(exported))} in the "
                f"export but {quote(text, start, end)} in the text",
                line=line,
            )
        mentions.append(mention)
    return mentions
