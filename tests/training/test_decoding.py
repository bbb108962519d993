"""Constrained Viterbi decoding over the BIO transitions, on hand-made probability matrices
where each token's most probable tag alone gives a sequence no entity reading allows."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from training.ml.decoding import allowed_transitions, decode, entity_spans, viterbi
from training.ml.examples import repair_bio

TAGS = ["O", "B-DISEASE", "I-DISEASE", "B-TREATMENT", "I-TREATMENT"]


def tags_of(probabilities) -> list[str]:
    return [TAGS[i] for i in viterbi(np.log(np.clip(probabilities, 1e-9, None)), TAGS)]


def greedy(probabilities) -> list[str]:
    return [TAGS[i] for i in np.array(probabilities).argmax(axis=1)]


def is_valid(tags) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


@pytest.mark.parametrize(
    "probabilities, greedy_tags, decoded",
    [
        pytest.param(
            # I-DISEASE first: the best valid reading begins the entity one token earlier
            [[0.05, 0.35, 0.55, 0.03, 0.02], [0.05, 0.05, 0.85, 0.03, 0.02]],
            ["I-DISEASE", "I-DISEASE"],
            ["B-DISEASE", "I-DISEASE"],
            id="inside-at-the-start",
        ),
        pytest.param(
            # I-DISEASE after B-TREATMENT: the treatment goes on instead
            [[0.1, 0.1, 0.05, 0.7, 0.05], [0.2, 0.0, 0.5, 0.0, 0.3]],
            ["B-TREATMENT", "I-DISEASE"],
            ["B-TREATMENT", "I-TREATMENT"],
            id="inside-after-another-label",
        ),
        pytest.param(
            # I-DISEASE after a sure O: no entity at all (repairing I- to B- would invent one)
            [[0.9, 0.05, 0.02, 0.02, 0.01], [0.3, 0.1, 0.6, 0.0, 0.0]],
            ["O", "I-DISEASE"],
            ["O", "O"],
            id="inside-after-outside",
        ),
        pytest.param(
            # I-TREATMENT after I-DISEASE, mid-entity
            [[0.1, 0.8, 0.05, 0.03, 0.02], [0.1, 0.0, 0.6, 0.0, 0.3], [0.1, 0.0, 0.35, 0.0, 0.55]],
            ["B-DISEASE", "I-DISEASE", "I-TREATMENT"],
            ["B-DISEASE", "I-DISEASE", "I-DISEASE"],
            id="inside-after-inside-of-another-label",
        ),
    ],
)
def test_viterbi_finds_the_best_valid_sequence_where_greedy_is_invalid(probabilities, greedy_tags, decoded):
    assert greedy(probabilities) == greedy_tags and not is_valid(greedy_tags)
    assert tags_of(probabilities) == decoded
    assert is_valid(decoded)


def test_viterbi_differs_from_repairing_the_greedy_tags():
    probabilities = [[0.9, 0.05, 0.02, 0.02, 0.01], [0.3, 0.1, 0.6, 0.0, 0.0]]
    assert repair_bio(greedy(probabilities)) == ["O", "B-DISEASE"]
    assert tags_of(probabilities) == ["O", "O"]


def test_a_valid_greedy_sequence_is_kept():
    probabilities = [[0.1, 0.8, 0.05, 0.03, 0.02], [0.1, 0.0, 0.9, 0.0, 0.0], [0.9, 0.0, 0.1, 0.0, 0.0]]
    assert tags_of(probabilities) == greedy(probabilities) == ["B-DISEASE", "I-DISEASE", "O"]


def test_the_transitions_allow_inside_only_after_its_own_label():
    allowed, starts = allowed_transitions(TAGS)
    into = {TAGS[j]: sorted(TAGS[i] for i in range(len(TAGS)) if allowed[i, j]) for j in range(len(TAGS))}
    assert into["I-DISEASE"] == ["B-DISEASE", "I-DISEASE"]
    assert into["I-TREATMENT"] == ["B-TREATMENT", "I-TREATMENT"]
    assert into["O"] == into["B-DISEASE"] == into["B-TREATMENT"] == sorted(TAGS)
    assert [tag for tag, start in zip(TAGS, starts) if start] == ["O", "B-DISEASE", "B-TREATMENT"]


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.just(len(TAGS))), elements=st.floats(-8, 8)))
def test_viterbi_is_the_highest_scoring_valid_sequence_by_brute_force(scores):
    path = viterbi(scores, TAGS)
    valid = [p for p in itertools.product(range(len(TAGS)), repeat=len(scores)) if is_valid([TAGS[i] for i in p])]
    best = max(sum(scores[t, i] for t, i in enumerate(p)) for p in valid)
    assert is_valid([TAGS[i] for i in path])
    assert sum(scores[t, i] for t, i in enumerate(path)) == pytest.approx(best)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.floats(0.1, 10))
def test_a_temperature_never_changes_the_path(seed, length, temperature):
    logits = np.random.default_rng(seed).normal(0, 3, size=(length, len(TAGS)))  # no ties
    scaled = logits / temperature
    log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
    assert viterbi(log_probabilities, TAGS) == viterbi(logits, TAGS)


def test_decode_skips_tokens_without_word_pieces_and_fills_them():
    nan = [np.nan] * len(TAGS)
    scores = np.log(
        np.array([[0.1, 0.8, 0.05, 0.03, 0.02], nan, [0.1, 0.01, 0.87, 0.01, 0.01], nan, [0.9, 0.01, 0.07, 0.01, 0.01]])
    )
    assert decode(scores, TAGS) == ["B-DISEASE", "I-DISEASE", "I-DISEASE", "O", "O"]
    assert decode(np.zeros((0, len(TAGS))), TAGS) == []


def test_viterbi_refuses_scores_that_do_not_match_the_tags():
    with pytest.raises(ValueError, match="3 scores per token but 5 tags"):
        viterbi(np.zeros((2, 3)), TAGS)


def test_entity_spans():
    tags = ["B-DISEASE", "I-DISEASE", "O", "B-TREATMENT", "B-DISEASE"]
    assert entity_spans(tags) == [(0, 1, "DISEASE"), (3, 3, "TREATMENT"), (4, 4, "DISEASE")]
