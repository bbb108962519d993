"""From per-token tag scores to a valid IOB2 tag sequence. No torch and no Django here.

Taking each token's most probable tag on its own can give sequences no entity reading
allows: `I-X` after `O`, after another label's `B-Y` or `I-Y`, or as the first tag.
`viterbi` finds the most probable sequence among the valid ones instead (constrained
Viterbi over the BIO transitions): a transition into `I-X` is allowed only from `B-X` or
`I-X`, and a sequence starts with `O` or a `B-`.

The path it finds does not change when the scores are divided by a temperature (the
log-softmax of `z / T` differs from `z / T` by one constant per token), so calibrating a
model changes its confidences, never its tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def allowed_transitions(tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`allowed[i, j]`: tag j may follow tag i; `starts[j]`: a sequence may begin with tag j."""
    inside = np.array([tag.startswith("I-") for tag in tags])
    label = [tag[2:] for tag in tags]
    continues = np.array(
        [[label[i] == label[j] and tags[i] != "O" for j in range(len(tags))] for i in range(len(tags))]
    )
    allowed = ~inside[None, :] | continues
    return allowed, ~inside


def viterbi(scores: np.ndarray, tags: Sequence[str]) -> list[int]:
    """The tag indices of the highest-scoring valid IOB2 sequence.

    `scores`: (tokens, tags) log-probabilities (or logits: the same path), one row a token."""
    scores = np.asarray(scores, dtype=np.float64)
    n_tokens, n_tags = scores.shape if scores.ndim == 2 else (0, len(tags))
    if n_tags != len(tags):
        raise ValueError(f"{n_tags} scores per token but {len(tags)} tags")
    if n_tokens == 0:
        return []
    allowed, starts = allowed_transitions(tags)
    penalty = np.where(allowed, 0.0, -np.inf)
    best = scores[0] + np.where(starts, 0.0, -np.inf)
    back = np.zeros((n_tokens, n_tags), dtype=np.intp)
    columns = np.arange(n_tags)
    for position in range(1, n_tokens):
        candidates = best[:, None] + penalty  # from every tag (rows) to every tag (columns)
        back[position] = candidates.argmax(axis=0)
        best = candidates[back[position], columns] + scores[position]
    path = [int(best.argmax())]
    for position in range(n_tokens - 1, 0, -1):
        path.append(int(back[position, path[-1]]))
    path.reverse()
    return path


def fill_pieceless(tags: Sequence[str | None]) -> list[str]:
    """Tags for tokens without a prediction (None): `I-X` between two tokens of one `X`
    entity, else `O`."""
    following_tags: list[str] = []  # the next predicted tag after each position
    following = "O"
    for tag in reversed(tags):
        following_tags.append(following)
        if tag is not None:
            following = tag
    following_tags.reverse()
    filled: list[str] = []
    for index, tag in enumerate(tags):
        if tag is None:
            previous = filled[-1] if filled else "O"
            following = following_tags[index]
            label = previous[2:]
            tag = f"I-{label}" if previous != "O" and following == f"I-{label}" else "O"
        filled.append(tag)
    return filled


def decode(scores: np.ndarray, tags: Sequence[str]) -> list[str]:
    """One valid IOB2 tag per token: Viterbi over the tokens that have scores, then the
    tokens without word pieces (rows of NaN) filled by `fill_pieceless`."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return []
    scored = ~np.isnan(scores).any(axis=1)
    decoded: list[str | None] = [None] * len(scores)
    for position, index in zip(np.flatnonzero(scored), viterbi(scores[scored], tags)):
        decoded[position] = tags[index]
    return fill_pieceless(decoded)


def entity_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first token, last token inclusive, label) of each entity of valid IOB2 `tags`."""
    spans: list[tuple[int, int, str]] = []
    first = None
    for index, tag in enumerate(tags):
        if first is not None and not (tag.startswith("I-") and tag[2:] == tags[first][2:]):
            spans.append((first, index - 1, tags[first][2:]))
            first = None
        if tag.startswith("B-"):
            first = index
    if first is not None:
        spans.append((first, len(tags) - 1, tags[first][2:]))
    return spans


def span_confidence(confidences: Sequence[float | None], first: int, last: int) -> float:
    """An entity's confidence: the mean of its tokens' confidences, skipping None (tokens
    without word pieces); 0.0 when none has one."""
    values = [c for c in confidences[first : last + 1] if c is not None]
    return sum(values) / len(values) if values else 0.0
