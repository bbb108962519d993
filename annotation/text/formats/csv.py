"""CSV (or TSV) with a header row: one document per row, from one text column.

The optional `title` and `id` columns become the title and external id; every
other column is kept as metadata.
"""

import csv
import itertools
from collections.abc import Iterable, Iterator

from annotation.text.formats.documents import ImportedDocument, validated
from annotation.text.formats.errors import FormatError


def read_csv(lines: Iterable[str], *, column: str | None = None) -> Iterator[ImportedDocument]:
    lines = iter(lines)
    first = next(lines, "")
    if not first:
        raise FormatError("the file is empty; expected a header row", line=1)
    rows = _rows(csv.reader(itertools.chain([first], lines), delimiter=delimiter_of(first)))
    _, header = next(rows, (1, None))
    if header is None:
        raise FormatError("the file is empty; expected a header row", line=1)
    header = [name.strip() for name in header]
    by_name = {name.lower(): index for index, name in enumerate(header)}
    if len(by_name) < len(header):
        raise FormatError("the header repeats a column name", line=1)
    text_column = _text_column(header, column)
    title_column, id_column = by_name.get("title"), by_name.get("id")

    for line, row in rows:
        if not row:
            continue
        if len(row) != len(header):
            raise FormatError(f"expected {len(header)} fields as in the header, found {len(row)}", line=line)
        yield validated(
            ImportedDocument(
                row[text_column],
                title=row[title_column] if title_column is not None else "",
                external_id=row[id_column] if id_column is not None else "",
                metadata={
                    name: value
                    for index, (name, value) in enumerate(zip(header, row))
                    if index not in (text_column, title_column, id_column)
                },
                line=line,
            )
        )


def delimiter_of(header: str) -> str:
    """A tab when the header is tab-separated: Label Studio, for one, names its TSV `.csv`."""
    return "\t" if header.count("\t") > header.count(",") else ","


def _rows(reader) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the row starts, row); quoted fields may span lines."""
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise FormatError(f"malformed CSV: {error}", line=line) from None


def _text_column(header: list[str], column: str | None) -> int:
    if column is not None:
        if column not in header:
            raise FormatError(f"no column {column!r}; the columns are {_listed(header)}", line=1)
        return header.index(column)
    lowered = [name.lower() for name in header]
    if "text" in lowered:
        return lowered.index("text")
    if len(header) == 1:
        return 0
    raise FormatError(f"no 'text' column; choose the text column among {_listed(header)}", line=1)


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
