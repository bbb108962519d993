"""Hiding the text of identifying spans, for exports and for the people who may not read it.

Two ways: `mask` keeps every offset (each character but whitespace becomes MASK), and
`redact_document(..., TAG)` writes the label's tag ("[PHI]") in its place, shifting every later
offset, token and span so that each other span still covers exactly its own words.
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace

from annotation.text.formats.documents import ExportDocument, Mention

MASK = "█"
SAME_LENGTH, TAG = "mask", "tag"
MODES = {SAME_LENGTH: "a placeholder of the same length (offsets kept)", TAG: "the label's tag, e.g. [PHI]"}


@dataclass(frozen=True)
class Redaction:
    """Which labels' text an export hides, and how."""

    labels: frozenset[str]
    mode: str = SAME_LENGTH


def merged(ranges: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping (start, end, label) ranges as one each, in order; the first label names it."""
    out: list[tuple[int, int, str]] = []
    for start, end, label in sorted(ranges):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end), out[-1][2])
        else:
            out.append((start, end, label))
    return out


def mask(text: str, ranges: Iterable[tuple[int, int]]) -> str:
    """The text with every character but whitespace inside the ranges replaced by MASK: the
    length, the line breaks and so every offset and token stay as they were."""
    pieces, position = [], 0
    for start, end, _ in merged((start, end, "") for start, end in ranges):
        pieces.append(text[position:start])
        pieces.append("".join(c if c.isspace() else MASK for c in text[start:end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_document(document: ExportDocument, labels: set[str], mode: str) -> ExportDocument:
    """The document with the text of every span of `labels` hidden, in any annotation it
    carries (the exported one and each annotator's), and everything else where it belongs."""
    hidden = merged(
        (start, end, label)
        for start, end, label in [*document.spans, *(m for _, mentions in document.annotations for m in mentions)]
        if label in labels
    )
    if not hidden:
        return document
    if mode == SAME_LENGTH:
        return replace(document, text=mask(document.text, [(start, end) for start, end, _ in hidden]))
    if mode != TAG:
        raise ValueError(f"unknown redaction {mode!r}; expected one of {', '.join(MODES)}")
    return _tagged(document, hidden)


def _tagged(document: ExportDocument, hidden: list[tuple[int, int, str]]) -> ExportDocument:
    pieces, position, shifts = [], 0, []  # shifts: (old end of a hidden range, its new end)
    new_length = 0
    tagged_tokens = []
    for start, end, label in hidden:
        pieces.append(document.text[position:start])
        new_length += start - position
        tag = f"[{label}]"
        tagged_tokens.append((new_length, new_length + len(tag)))
        pieces.append(tag)
        new_length += len(tag)
        shifts.append((start, end, new_length))
        position = end
    pieces.append(document.text[position:])
    starts = [start for start, _, _ in shifts]

    def moved(offset: int, *, is_end: bool) -> int:
        """Where an offset lands: shifted past the tags before it; inside a hidden range, at
        the tag's edge (its start for a span's start, its end for a span's end)."""
        index = bisect_right(starts, offset - 1 if is_end else offset) - 1
        if index < 0:
            return offset
        start, end, new_end = shifts[index]
        if offset < end or (is_end and offset == end):
            return new_end if is_end else new_end - len(f"[{hidden[index][2]}]")
        return offset - end + new_end

    def spans(mentions: list[Mention]) -> list[Mention]:
        return [(moved(s, is_end=False), moved(e, is_end=True), label) for s, e, label in mentions]

    def is_hidden(token_start: int, token_end: int) -> bool:
        # Only the range starting last at or before the token, and the next, can overlap it.
        index = bisect_right(starts, token_start)
        return any(start < token_end and token_start < end for start, end, _ in hidden[max(0, index - 1) : index + 1])

    tokens = [
        (moved(s, is_end=False), moved(e, is_end=True))
        for s, e in zip(document.token_starts, document.token_ends)
        if not is_hidden(s, e)
    ]
    tokens = sorted(tokens + tagged_tokens)
    return replace(
        document,
        text="".join(pieces),
        token_starts=[s for s, _ in tokens],
        token_ends=[e for _, e in tokens],
        spans=spans(document.spans),
        concepts={
            (moved(s, is_end=False), moved(e, is_end=True)): concept for (s, e), concept in document.concepts.items()
        },
        annotations=[(person, spans(mentions)) for person, mentions in document.annotations],
    )
