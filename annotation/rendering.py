"""The labelling page's text as HTML: tokens the selection snaps to, spans as marks.

The text is cut into blocks of about BLOCK_TOKENS tokens (at line ends or sentence ends
where possible), so a save redraws only the blocks it touched. Built with string joins:
a 5,000-token document renders in milliseconds, where a template loop would not.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from html import escape

BLOCK_TOKENS = 120
SENTENCE_END = {".", "!", "?"}


@dataclass(frozen=True)
class Block:
    index: int
    first_token: int
    end_token: int  # exclusive
    start: int  # character range the block draws, gaps included
    end: int
    line: int = 1  # of its first token: a block never spans a line break between tokens


@dataclass(frozen=True)
class SpanView:
    """A mark on the text: an annotator's span, or a model suggestion (dashed, with confidence)."""

    id: int
    start: int
    end: int
    label: str
    color: str
    confidence: float | None = None  # set for suggestions

    @property
    def is_suggestion(self) -> bool:
        return self.confidence is not None


def blocks(text: str, starts: list[int], ends: list[int]) -> list[Block]:
    cuts = [0]
    lines = [1 + text.count("\n", 0, starts[0]) if starts else 1]
    count = 0
    for index in range(len(starts) - 1):
        count += 1
        gap = text[ends[index] : starts[index + 1]]
        sentence_end = text[starts[index] : ends[index]] in SENTENCE_END
        breaks = gap.count("\n")
        if breaks or (count >= BLOCK_TOKENS and sentence_end) or count >= 2 * BLOCK_TOKENS:
            cuts.append(index + 1)
            lines.append(lines[-1] + breaks)
            count = 0
    cuts.append(len(starts))
    result = []
    for number, (first, end) in enumerate(zip(cuts, cuts[1:])):
        char_start = 0 if first == 0 else starts[first]
        char_end = len(text) if end == len(starts) else starts[end]
        result.append(Block(number, first, end, char_start, char_end, lines[number]))
    return result or [Block(0, 0, 0, 0, len(text))]


def touched_blocks(all_blocks: list[Block], ranges: list[tuple[int, int]]) -> list[Block]:
    return [b for b in all_blocks if any(start < b.end and b.start < end for start, end in ranges)]


def render_block(
    block: Block, text: str, starts: list[int], ends: list[int], spans: list[SpanView], *, oob=False
) -> str:
    span_starts = [span.start for span in spans]
    # Spans that reach into this block, in order.
    lo = max(0, bisect_right(span_starts, block.start) - 1)
    hi = bisect_left(span_starts, block.end)
    inside = [s for s in spans[lo:hi] if s.end > block.start and s.start < block.end]

    swap = ' hx-swap-oob="outerHTML"' if oob else ""
    out = [f'<span class="block" id="b-{block.index}" data-line="{block.line}"{swap}>']
    position = block.start
    open_span = None
    pending = iter(inside)
    upcoming = next(pending, None)
    for index in range(block.first_token, block.end_token):
        token_start, token_end = starts[index], ends[index]
        if open_span is None and upcoming is not None and upcoming.start < token_end:
            out.append(escape(text[position:token_start]))
            position = token_start
            open_span, upcoming = upcoming, next(pending, None)
            out.append(_open_mark(open_span, text))
        out.append(escape(text[position:token_start]))
        out.append(f'<span class="t" data-i="{index}">{escape(text[token_start:token_end])}</span>')
        position = token_end
        if open_span is not None and open_span.end <= token_end:
            out.append(_close_mark(open_span))
            open_span = None
    if open_span is not None:  # continues in the next block
        out.append("</mark>")
    out.append(escape(text[position : block.end]))
    out.append("</span>")
    return "".join(out)


def render_text(text: str, starts: list[int], ends: list[int], spans: list[SpanView]) -> str:
    """The blocks, grouped into one element per paragraph (up to a line break): the browser
    lays out a paragraph on its own, so an edit redraws one paragraph, not a whole long note."""
    out = ['<div class="para">']
    for block in blocks(text, starts, ends):
        out.append(render_block(block, text, starts, ends, spans))
        if text[block.start : block.end].endswith("\n") and block.end < len(text):
            out.append('</div><div class="para">')
    out.append("</div>")
    return "".join(out)


def _open_mark(span: SpanView, text: str) -> str:
    mention = escape(" ".join(text[span.start : span.end].split()), quote=True)
    label = escape(span.label)
    if span.is_suggestion:
        return (
            f'<mark class="suggestion {colour_class(span.color)}" data-suggestion="{span.id}" data-label="{label}" '
            f'tabindex="-1" aria-label="Suggestion {label} {span.confidence:.0%}: {mention}">'
        )
    return (
        f'<mark class="span {colour_class(span.color)}" data-span="{span.id}" data-label="{label}" '
        f'tabindex="-1" aria-label="{label}: {mention}">'
    )


def colour_class(color: str) -> str:
    """The class that gives an element a label's colour (`--label-color`). The page's head
    defines one per colour in use: the Content-Security-Policy allows no style attributes."""
    return "c-" + escape(color.lstrip("#").lower())


def _close_mark(span: SpanView) -> str:
    if span.is_suggestion:
        return (
            f'<span class="span-tag suggestion-tag" aria-hidden="true">'
            f"{escape(span.label)} {span.confidence:.2f}</span></mark>"
        )
    return f'<span class="span-tag" aria-hidden="true">{escape(span.label)}</span></mark>'
