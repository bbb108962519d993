"""Deterministic tokenisation: the grid every annotation snaps to.

A token is a maximal run of characters that are neither whitespace nor
punctuation/symbols; every punctuation or symbol character (Unicode categories
P* and S*: `(`, `-`, `,`, `%`, `+`, emoji...) is a token of its own. The same
text always yields the same tokens, so stored token offsets stay valid.
"""

import re
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass


def _punctuation_ranges(first: int, last: int) -> str:
    """Regex character-class ranges of the P* and S* code points in [first, last].

    `re` has no `\\p{P}`, so the class is computed once from unicodedata (~0.1 s).
    """
    ranges: list[list[int]] = []
    for code in range(first, last + 1):
        if unicodedata.category(chr(code))[0] in "PS":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}" for start, end in ranges)


# `re` tests a class's BMP part with a bitmap but scans its astral ranges one by
# one, for every character tested. Keeping astral ranges in separate classes,
# reached only after an astral lookahead, makes ordinary text several times faster.
_ASTRAL = "\\U00010000-\\U0010ffff"
_PUNCT_BMP = _punctuation_ranges(0, 0xFFFF)
_PUNCT_ASTRAL = _punctuation_ranges(0x10000, sys.maxunicode)
_PUNCTUATION = f"[{_PUNCT_BMP}]|(?=[{_ASTRAL}])[{_PUNCT_ASTRAL}]"
# Word characters are letters and digits (fast path), plus anything else that is
# neither whitespace nor punctuation: combining marks, ZWJ, private use...
_WORD = f"(?:[^\\W_]+|[^\\w\\s{_PUNCT_BMP}{_ASTRAL}]|(?=[{_ASTRAL}])[^{_PUNCT_ASTRAL}])+"
# The leading \s* skips whitespace in one step instead of one failed match per space.
TOKEN = re.compile(f"\\s*({_WORD}|{_PUNCTUATION})")


@dataclass(frozen=True)
class Tokens:
    starts: list[int]
    ends: list[int]  # exclusive
    forced_splits: int = 0


def tokenize(text: str, boundaries: Iterable[int] = ()) -> Tokens:
    """Tokenise `text`, also splitting at each offset in `boundaries`.

    Boundaries are the edges of imported mentions: splitting there guarantees
    every imported mention covers whole tokens (`forced_splits` counts the
    splits the rules alone would not have made).
    """
    spans = [match.span(1) for match in TOKEN.finditer(text)]
    starts = [start for start, _ in spans]
    ends = [end for _, end in spans]
    cuts = _cuts_inside_tokens(starts, ends, boundaries)
    if not cuts:
        return Tokens(starts, ends)

    split_starts: list[int] = []
    split_ends: list[int] = []
    for index, (start, end) in enumerate(spans):
        for cut in cuts.get(index, ()):
            split_starts.append(start)
            split_ends.append(cut)
            start = cut
        split_starts.append(start)
        split_ends.append(end)
    return Tokens(split_starts, split_ends, sum(map(len, cuts.values())))


def _cuts_inside_tokens(starts: list[int], ends: list[int], boundaries: Iterable[int]) -> dict[int, list[int]]:
    """Map token index -> sorted offsets strictly inside that token."""
    cuts: dict[int, list[int]] = {}
    for offset in sorted(set(boundaries)):
        index = bisect_right(starts, offset) - 1
        if index >= 0 and starts[index] < offset < ends[index]:
            cuts.setdefault(index, []).append(offset)
    return cuts
