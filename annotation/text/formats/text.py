"""Plain text: the whole file as one document, or one document per non-blank line."""

from collections.abc import Iterable, Iterator
from pathlib import PurePath

from annotation.text.formats.documents import ImportedDocument, validated


def read_text(lines: Iterable[str], *, one_per_line: bool, filename: str = "") -> Iterator[ImportedDocument]:
    if one_per_line:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield validated(ImportedDocument(line.strip(), line=number))
        return
    # No offsets refer to plain text yet, so line endings and edges can be tidied.
    text = "".join(lines).replace("\r\n", "\n").strip()
    yield validated(ImportedDocument(text, title=PurePath(filename).stem, line=1))
