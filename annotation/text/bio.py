"""Conversions between character spans, token spans and IOB2 tags.

Character spans are `(start, end, label)` with `end` exclusive; token spans are
`(first_token, end_token, label)`, also end exclusive. Invalid IOB2 sequences
are read the way conlleval (and seqeval) read them, so scores computed
elsewhere agree with what is stored here.
"""

from bisect import bisect_left
from collections.abc import Iterable, Sequence

Span = tuple[int, int, str]


class SpanError(ValueError):
    """A span that cannot be placed on the token grid."""


def _describe(span: Span) -> str:
    start, end, label = span
    return f"{label} {start}-{end}" if label else f"{start}-{end}"


def char_span_to_token_span(
    starts: Sequence[int], ends: Sequence[int], start: int, end: int, label: str = ""
) -> tuple[int, int]:
    """Return (first token, end token exclusive) of the tokens exactly covering start-end."""
    where = _describe((start, end, label))
    if start >= end:
        raise SpanError(f"span {where} is empty or reversed")
    if start < 0 or not ends or end > ends[-1]:
        raise SpanError(f"span {where} is out of range")
    first = bisect_left(starts, start)
    if first == len(starts) or starts[first] != start:
        raise SpanError(f"span {where} does not start at a token boundary")
    last = bisect_left(ends, end)
    if ends[last] != end:
        raise SpanError(f"span {where} does not end at a token boundary")
    return first, last + 1


def spans_to_tags(starts: Sequence[int], ends: Sequence[int], spans: Iterable[Span]) -> list[str]:
    """IOB2 tags for the tokens, from non-overlapping character spans on token edges."""
    token_spans = []
    previous: Span | None = None
    for span in sorted(spans):
        start, end, label = span
        if previous is not None and start < previous[1]:
            raise SpanError(f"span {_describe(span)} overlaps {_describe(previous)}")
        first, end_token = char_span_to_token_span(starts, ends, start, end, label)
        token_spans.append((first, end_token, label))
        previous = span
    return token_spans_to_tags(len(starts), token_spans)


def token_spans_to_tags(n_tokens: int, token_spans: Iterable[Span]) -> list[str]:
    tags = ["O"] * n_tokens
    for first, end, label in token_spans:
        tags[first] = f"B-{label}"
        tags[first + 1 : end] = [f"I-{label}"] * (end - first - 1)
    return tags


def tags_to_token_spans(tags: Iterable[str]) -> list[Span]:
    """Entities as (first token, end token exclusive, label), repairing like conlleval.

    `B-X` always starts an entity; `I-X` continues an entity of type X and
    otherwise starts a new one; `O` ends the current entity.
    """
    spans: list[Span] = []
    first, label = 0, None  # the open entity, if label is not None
    index = -1
    for index, tag in enumerate(tags):
        prefix, tag_label = _split_tag(tag)
        if label is not None and (prefix != "I" or tag_label != label):
            spans.append((first, index, label))
            label = None
        if prefix != "O" and label is None:
            first, label = index, tag_label
    if label is not None:
        spans.append((first, index + 1, label))
    return spans


def _split_tag(tag: str) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    prefix, dash, label = tag.partition("-")
    if prefix not in ("B", "I") or not dash or not label:
        raise ValueError(f"{tag!r} is not an IOB2 tag (expected O, B-LABEL or I-LABEL)")
    return prefix, label


def repair_tags(tags: Sequence[str]) -> list[str]:
    """The valid IOB2 sequence with the entities conlleval would read from `tags`."""
    return token_spans_to_tags(len(tags), tags_to_token_spans(tags))


def tags_to_spans(starts: Sequence[int], ends: Sequence[int], tags: Iterable[str]) -> list[Span]:
    """Character spans of the entities in `tags` (repaired like conlleval)."""
    return [(starts[first], ends[end - 1], label) for first, end, label in tags_to_token_spans(tags)]
