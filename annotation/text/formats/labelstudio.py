"""Label Studio exports, every one it offers for text spans.

JSON (full): a JSON array of tasks, each with its data and every annotator's annotation.

    [{"id": 1, "data": {"text": "..."},
      "annotations": [{"completed_by": 2, "result": [{"type": "labels",
                       "value": {"start": 0, "end": 4, "text": "...", "labels": ["X"]}}]}]}]

JSON-MIN: a record per annotation, the data fields at the top level beside the task `id`,
the regions under the labelling tag's name (`label`), and `annotator`, `annotation_id`,
`created_at`, `updated_at` and `lead_time`; an annotation with an empty result has no
regions key. CSV and TSV: the same records as rows (columns sorted by name, the regions as
JSON in a cell), a TSV file named `.csv` like the CSV.

Each annotation that was not cancelled becomes one person's annotation, an empty one a
decision that the text holds nothing to tag. A task without annotations imports as text,
with the first prediction's regions as the importer's mentions if it has predictions.
Results other than text labels are ignored.
"""

import csv
import io
import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from annotation.text.formats.csv import delimiter_of
from annotation.text.formats.documents import (
    NOT_STARTED,
    ExportDocument,
    ImportedAnnotation,
    ImportedDocument,
    Mention,
    quote,
    validated,
)
from annotation.text.formats.errors import FormatError
from annotation.text.formats.jsonl import id_string, unclaimed
from studio import safe_json

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


def read_label_studio(text: str) -> Iterator[ImportedDocument]:
    items = list(_array_items(text))
    if items and isinstance(items[0][2], dict) and "data" not in items[0][2]:
        yield from _min_documents(items)
        return
    for line, position, task in items:
        where = _where(position, task)
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise FormatError(f'{where}: expected a task object with a "data" object', line=line)
        data = task["data"]
        text_key = _text_key(data, where, line)
        document = ImportedDocument(
            data[text_key],
            title=data["title"] if isinstance(data.get("title"), str) else "",
            external_id=id_string(data.get("external_id", task.get("id"))),
            metadata=unclaimed(data, (text_key, "title", "external_id")),
            line=line,
            where=where,
        )
        annotations = [
            annotation
            for annotation in _list(task, "annotations", where, line)
            if isinstance(annotation, dict) and not (annotation.get("was_cancelled") or annotation.get("skipped"))
        ]
        for annotation in annotations:
            regions = _regions(_list(annotation, "result", where, line), where, line)
            document.annotations.append(
                ImportedAnnotation(
                    _mentions(document.text, regions, where, line), _annotator(annotation.get("completed_by"))
                )
            )
        document.annotated = bool(annotations)
        if not annotations:
            predictions = [p for p in _list(task, "predictions", where, line) if isinstance(p, dict)]
            if predictions:
                regions = _regions(_list(predictions[0], "result", where, line), where, line)
                document.mentions = _mentions(document.text, regions, where, line)
                document.annotated = None
        yield validated(document)


def _min_documents(items: list[tuple[int, int, object]]) -> Iterator[ImportedDocument]:
    """JSON-MIN records, a record per annotation, grouped into their tasks."""
    yield from _grouped(_min_record(line, position, record) for line, position, record in items)


def read_label_studio_csv(text: str) -> Iterator[ImportedDocument]:
    """Label Studio's CSV or TSV export: JSON-MIN records as rows."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text.split("\n", 1)[0]))
    try:
        header = next(rows, None)
        if header is None:
            raise FormatError("the file is empty; expected a header row", line=1)
        records = [(number, dict(zip(header, row))) for number, row in enumerate(rows, start=2) if row]
    except csv.Error as error:
        raise FormatError(f"malformed CSV: {error}") from None
    for number, record in records:
        if len(record) != len(header):
            raise FormatError(f"expected {len(header)} fields as in the header", line=number)
    regions_key = _regions_column(header, [record for _, record in records])
    yield from _grouped(_csv_record(number, record, regions_key) for number, record in records)


_MIN_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement")


@dataclass
class _Record:
    """One JSON-MIN record: a task's data and one annotation of it (or none)."""

    line: int
    where: str
    task_id: object
    data: dict
    regions: list | None  # None: the record carries no annotation
    annotator: str


def _min_record(line: int, position: int, record) -> _Record:
    where = _where(position, record)
    if not isinstance(record, dict):
        raise FormatError(f"{where}: expected a JSON-MIN record (an object)", line=line)
    region_keys = [key for key, value in record.items() if key not in _MIN_KEYS and _is_regions(value)]
    if len(region_keys) > 1:
        raise FormatError(f"{where}: cannot tell which field holds the regions: {', '.join(region_keys)}", line=line)
    regions = record[region_keys[0]] if region_keys else None
    data = {key: value for key, value in record.items() if key not in (*_MIN_KEYS, *region_keys)}
    annotated = regions is not None or record.get("annotation_id") is not None
    return _Record(
        line, where, record.get("id"), data, (regions or []) if annotated else None, _annotator(record.get("annotator"))
    )


def _csv_record(number: int, row: dict, regions_key: str | None) -> _Record:
    where = f"row {number - 1}" + (f" (task id {row['id']})" if row.get("id") else "")
    regions = None
    if regions_key and row.get(regions_key, "").strip():
        try:
            regions = safe_json.loads(row[regions_key])
        except safe_json.UnsafeJSON as error:
            raise FormatError(f"{where}: the {regions_key!r} column is not JSON: {error}", line=number) from None
        if not _is_regions(regions):
            raise FormatError(f"{where}: the {regions_key!r} column must hold a list of regions", line=number)
    annotated = regions is not None or bool(row.get("annotation_id", "").strip())
    data = {key: value for key, value in row.items() if key not in (*_MIN_KEYS, regions_key)}
    return _Record(
        number, where, row.get("id") or None, data, (regions or []) if annotated else None, row.get("annotator", "")
    )


def _grouped(records: Iterable[_Record]) -> Iterator[ImportedDocument]:
    """One document per task, with one annotation per record that carries one."""
    tasks: dict[object, ImportedDocument] = {}
    for record in records:
        key = record.task_id if record.task_id is not None else ("row", record.line)
        document = tasks.get(key)
        if document is None:
            text_key = _text_key(record.data, record.where, record.line)
            document = tasks[key] = ImportedDocument(
                record.data[text_key],
                title=record.data["title"] if isinstance(record.data.get("title"), str) else "",
                external_id=id_string(record.task_id),
                metadata=unclaimed(record.data, (text_key, "title")),
                annotated=False,
                line=record.line,
                where=record.where,
            )
        elif record.data.get(_text_key(record.data, record.where, record.line)) != document.text:
            raise FormatError(
                f"{record.where}: the same task id as {document.where}, with another text", line=record.line
            )
        if record.regions is not None:
            regions = [{"type": "labels", "value": region} for region in record.regions]
            mentions = _mentions(document.text, regions, record.where, record.line)
            document.annotations.append(ImportedAnnotation(mentions, record.annotator))
            document.annotated = True
    for document in tasks.values():
        yield validated(document)


def _regions_column(header: list[str], rows: list[dict]) -> str | None:
    """The column holding the regions: `label` if there is one, else the one whose cells are
    lists of regions."""
    if "label" in header:
        return "label"
    for name in header:
        if name in _MIN_KEYS:
            continue
        cells = [row[name] for row in rows if row.get(name, "").strip()]
        if cells and all(cell.lstrip().startswith("[") for cell in cells):
            try:
                if all(_is_regions(safe_json.loads(cell)) for cell in cells):
                    return name
            except safe_json.UnsafeJSON:
                continue
    return None


def _is_regions(value) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) and "start" in r and "end" in r for r in value)


def _annotator(value) -> str:
    """Who made an annotation: an e-mail, or Label Studio's user id (the quick export's)."""
    if isinstance(value, dict):
        value = value.get("email") or value.get("id")
    return "" if value is None else str(value)


def _where(position: int, task) -> str:
    task_id = task.get("id") if isinstance(task, dict) else None
    return f"task {position}" + (f" (id {task_id})" if task_id is not None else "")


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
    # Each annotator's own annotation (an e-mail, or the user name of someone without one);
    # a document nobody has started gets none, so that it reads back as unannotated.
    started = document.spans or document.status not in ("", NOT_STARTED)
    people = document.annotations or ([("", document.spans)] if started else [])
    annotations = []
    for person, spans in people:
        result = [
            {
                "id": f"{document.id}-{len(annotations) + 1}-{number}",
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
            for number, (start, end, label) in enumerate(spans, start=1)
        ]
        annotations.append({"completed_by": {"email": person}, "result": result} if person else {"result": result})
    return {
        "id": document.id,
        "data": data | unclaimed(document.metadata, data),
        "annotations": annotations,
    }


def _array_items(text: str) -> Iterator[tuple[int, object]]:
    """Yield (line where the item starts, its position from 1, item) for each item of a
    top-level JSON array. Decoding item by item is what lets errors name the task.
    """
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_at(position: int) -> int:
        return bisect_left(newlines, position) + 1

    position = _skip_whitespace(text, 0)
    if not text.startswith("[", position):
        raise FormatError("expected a JSON array of tasks", line=line_at(position))
    position = _skip_whitespace(text, position + 1)
    closed = text.startswith("]", position)
    count = 0
    while not closed:
        try:
            item, end = safe_json.decode(text, position)
        except safe_json.UnsafeJSON as error:
            raise FormatError(f"task {count + 1}: {error}", line=line_at(position)) from None
        count += 1
        yield line_at(position), count, item
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


def _text_key(data: dict, where: str, line: int) -> str:
    if isinstance(data.get("text"), str):
        return "text"
    strings = [key for key, value in data.items() if isinstance(value, str)]
    if len(strings) != 1:
        raise FormatError(
            f'{where}: cannot tell which field is the text: no "text" field, and '
            f"{len(strings)} string fields ({', '.join(strings)})",
            line=line,
        )
    return strings[0]


def _list(holder: dict, key: str, where: str, line: int) -> list:
    value = holder.get(key) or []
    if not isinstance(value, list):
        raise FormatError(f'{where}: "{key}" must be a list', line=line)
    return value


def _regions(results: list, where: str, line: int) -> list:
    if not all(isinstance(result, dict) for result in results):
        raise FormatError(f'{where}: "result" must be a list of objects', line=line)
    return results


def _mentions(text: str, results: list, where: str, line: int) -> list[Mention]:
    mentions = []
    for result in results:
        if result.get("type") != "labels":
            continue
        value = result.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        if not isinstance(labels, list) or len(labels) != 1:
            raise FormatError(f"{where}: region {start}-{end} must have exactly one label, found {labels!r}", line=line)
        mention = (start, end, labels[0])
        if type(start) is int and type(end) is int and 0 <= start < end <= len(text):
            # Older Label Studio versions counted UTF-16 units, which shifts offsets after an emoji.
            exported = value.get("text", text[start:end])
            if exported != text[start:end]:
                exported = str(exported)
                raise FormatError(
                    f"{where}: region {labels[0]} {start}-{end} is {quote(exported, 0, len(exported))} in the "
                    f"export but {quote(text, start, end)} in the text",
                    line=line,
                )
        mentions.append(mention)
    return mentions
