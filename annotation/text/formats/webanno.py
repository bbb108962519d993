"""WebAnno TSV 3.x: INCEpTION's and WebAnno's default export, one document per file.

    #FORMAT=WebAnno TSV 3.3
    #T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|identifier|value


    #Text=Aspirin eased the migraine headache.
    1-1<TAB>0-7<TAB>Aspirin<TAB>*<TAB>TREATMENT<TAB>
    1-4<TAB>18-26<TAB>migraine<TAB>*[1]<TAB>DISEASE[1]<TAB>
    1-5<TAB>27-35<TAB>headache<TAB>*[1]<TAB>DISEASE[1]<TAB>

Each layer of the header adds columns after the token's id, offsets and text, one per
feature. Mentions come from the named-entity layer's `value` column: `_` is no entity, a
value names a one-token entity, `VALUE[n]` marks every token of entity n, and `|` stacks
entities. Offsets count UTF-16 code units, as Java does; the text is rebuilt from the
`#Text=` lines at those offsets. Each annotator's work is a file of its own.
"""

import re
import zipfile
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from annotation.text.formats.documents import ExportDocument, ImportedDocument, sentences_of, validated
from annotation.text.formats.errors import FormatError
from annotation.text.formats.zipstream import ZipSink

NAMED_ENTITY = "de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity"
_HEADER = re.compile(r"^#FORMAT=WebAnno TSV 3(\.\d+)?\s*$")
_OFFSETS = re.compile(r"^(\d+)-(\d+)$")
_TEXT_ESCAPES = {"\\": "\\", "t": "\t", "r": "\r", "f": "\f", "b": "\b", "n": "\n"}
_VALUE_ESCAPES = {"\\": "\\", "[": "[", "]": "]", "|": "|", "_": "_", ";": ";", "t": "\t", "n": "\n", "*": "*"}


def read_webanno_tsv(lines: Iterable[str]) -> Iterator[ImportedDocument]:
    lines = [line.rstrip("\r\n") for line in lines]
    if not lines or not _HEADER.match(lines[0]):
        raise FormatError("expected '#FORMAT=WebAnno TSV 3.x' on the first line", line=1)
    value_column, columns = _value_column(lines)
    sentences: list[dict] = []  # each: its #Text parts and its first token's offset
    tokens: list[tuple[int, int, int, str]] = []  # (line, begin, end, value cell), UTF-16 offsets
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("#Text="):
            if sentences and sentences[-1]["first"] is None:
                sentences[-1]["texts"].append(_unescape(line[6:], _TEXT_ESCAPES))  # a line break inside
            else:
                sentences.append({"texts": [_unescape(line[6:], _TEXT_ESCAPES)], "first": None})
        elif line and not line.startswith("#"):
            fields = line.split("\t")
            offsets = _OFFSETS.match(fields[1]) if len(fields) > 1 else None
            if not offsets or not sentences:
                raise FormatError(
                    f"expected a token line 'N-M<TAB>begin-end<TAB>token…', found {line[:60]!r}", line=number
                )
            if len(fields) < 3 + columns:
                raise FormatError(f"expected {3 + columns} tab-separated fields, found {len(fields)}", line=number)
            begin, end = int(offsets[1]), int(offsets[2])
            if sentences[-1]["first"] is None:
                sentences[-1]["first"] = begin
            tokens.append((number, begin, end, fields[3 + value_column]))
    sentences = [sentence for sentence in sentences if sentence["first"] is not None]
    if not sentences:
        raise FormatError("no sentences with tokens: the file holds no text", line=len(lines))
    text, to_index = _text(sentences)
    document = ImportedDocument(text, line=1, annotated=True)
    for begin, end, label, number in _entities(tokens, document):
        if begin not in to_index or end not in to_index:
            document.problems.append(f"line {number}: entity {label} {begin}-{end} falls outside the text")
        else:
            document.mentions.append((to_index[begin], to_index[end], label))
    yield validated(document)


def _value_column(lines: list[str]) -> tuple[int, int]:
    """(index among the feature columns of the named-entity value, number of feature columns)."""
    columns, found = 0, None
    for line in lines[1:]:
        if not line.startswith("#T_"):
            if line.startswith("#Text=") or (line and not line.startswith("#")):
                break
            continue
        layer, *features = line.split("=", 1)[1].split("|")
        if line.startswith("#T_SP=") and found is None and layer == NAMED_ENTITY and "value" in features:
            found = columns + features.index("value")
        columns += len(features)
    if found is None:
        raise FormatError(f"no named-entity layer with a value ('#T_SP={NAMED_ENTITY}|…|value') in the header")
    return found, columns


def _text(sentences: list[dict]) -> tuple[str, dict[int, int]]:
    """The document text, each sentence at its first token's offset (a line break before
    it, as INCEpTION reads it back), and a map from UTF-16 offsets to positions in it."""
    parts, length = [], 0
    for sentence in sentences:
        gap = sentence["first"] - length
        if gap > 0:
            parts.append(("\n" + " " * (gap - 1)) if parts else " " * gap)
            length += gap
        joined = "\n".join(sentence["texts"])
        parts.append(joined)
        length += _utf16_length(joined)
    text = "".join(parts)
    to_index, units = {}, 0
    for index, character in enumerate(text):
        to_index[units] = index
        units += _utf16_length(character)
    to_index[units] = len(text)
    return text, to_index


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(tokens, document) -> list[tuple[int, int, str, int]]:
    """(begin, end, label, line) of each entity, in UTF-16 offsets."""
    single, multi = [], {}
    for number, begin, end, cell in tokens:
        for item in _split_stack(cell):
            if item == "_":
                continue
            value, key = _value_and_id(item)
            if value == "*":
                document.problems.append(f"line {number}: an entity without a value")
                continue
            if key is None:
                single.append((begin, end, value, number))
            elif key in multi:
                first_begin, _, label, line = multi[key]
                multi[key] = (min(first_begin, begin), max(multi[key][1], end), label, line)
            else:
                multi[key] = (begin, end, value, number)
    return single + list(multi.values())


def _split_stack(cell: str) -> list[str]:
    return re.split(r"(?<!\\)\|", cell)


def _value_and_id(item: str) -> tuple[str, str | None]:
    match = re.match(r"^(.*?)(?<!\\)\[(\d+)\]$", item)
    raw, key = (match[1], match[2]) if match else (item, None)
    return (raw if raw == "*" else _unescape(raw, _VALUE_ESCAPES)), key


def _unescape(text: str, escapes: dict[str, str]) -> str:
    return re.sub(r"\\(->|.)", lambda m: escapes.get(m[1], m[1]), text)


def write_webanno_zip(documents: Iterable[ExportDocument]) -> Iterator[bytes]:
    """A ZIP archive with a WebAnno TSV file per document (the format holds one document),
    named by its id, streamed as it is written."""
    sink = ZipSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        names: set[str] = set()
        for document in documents:
            name = re.sub(r"[^\w.-]+", "_", document.external_id or str(document.id))
            if name in names:
                name = f"{name}-{document.id}"
            names.add(name)
            archive.writestr(f"{name}.tsv", write_webanno_tsv(document))
            yield sink.take()
    yield sink.take()


def write_webanno_tsv(document: ExportDocument) -> str:
    """One document as WebAnno TSV 3.3, a sentence a line of its text."""
    text, starts, ends = document.text, document.token_starts, document.token_ends
    units = [0]
    for character in text:
        units.append(units[-1] + _utf16_length(character))
    cells = [[] for _ in starts]
    for number, (start, end, label) in enumerate(sorted(document.spans), start=1):
        covered = range(bisect_left(starts, start), bisect_left(ends, end) + 1)
        mark = f"[{number}]" if len(covered) > 1 else ""
        for index in covered:
            cells[index].append((f"*{mark}", _escape(label) + mark))
    lines = ["#FORMAT=WebAnno TSV 3.3", f"#T_SP={NAMED_ENTITY}|identifier|value", ""]
    for number, sentence in enumerate(sentences_of(document), start=1):
        begin = starts[sentence[0]]
        line_end = text.find("\n", begin)
        lines += ["", "#Text=" + _escape_text(text[begin : line_end if line_end != -1 else len(text)])]
        for position, index in enumerate(sentence, start=1):
            start, end = starts[index], ends[index]
            identifiers = "|".join(c[0] for c in cells[index]) or "_"
            values = "|".join(c[1] for c in cells[index]) or "_"
            lines.append(
                f"{number}-{position}\t{units[start]}-{units[end]}\t{text[start:end]}\t{identifiers}\t{values}\t"
            )
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    for plain, escaped in (
        ("\\", "\\\\"),
        ("[", "\\["),
        ("]", "\\]"),
        ("|", "\\|"),
        ("_", "\\_"),
        ("->", "\\->"),
        (";", "\\;"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("*", "\\*"),
    ):
        value = value.replace(plain, escaped)
    return value


def _escape_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
