import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from annotation.text.bio import (
    SpanError,
    char_span_to_token_span,
    repair_tags,
    spans_to_tags,
    tags_to_spans,
    tags_to_token_spans,
    token_spans_to_tags,
)
from annotation.text.tokenize import tokenize

TEXT = "Patients with lung cancer (NSCLC) had pain."
TOKENS = tokenize(TEXT)  # Patients with lung cancer ( NSCLC ) had pain .
STARTS, ENDS = TOKENS.starts, TOKENS.ends


def test_spans_to_tags():
    spans = [(26, 33, "DIS"), (14, 25, "DIS")]  # any order
    assert spans_to_tags(STARTS, ENDS, spans) == [
        "O",
        "O",
        "B-DIS",
        "I-DIS",
        "B-DIS",
        "I-DIS",
        "I-DIS",
        "O",
        "O",
        "O",
    ]


def test_tags_to_spans():
    tags = ["O", "O", "B-DIS", "I-DIS", "O", "B-ABBR", "O", "O", "B-SYM", "O"]
    assert tags_to_spans(STARTS, ENDS, tags) == [(14, 25, "DIS"), (27, 32, "ABBR"), (38, 42, "SYM")]


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ((15, 25, "DIS"), "span DIS 15-25 does not start at a token boundary"),
        ((14, 24, "DIS"), "span DIS 14-24 does not end at a token boundary"),
        ((13, 25, "DIS"), "span DIS 13-25 does not start at a token boundary"),  # on a space
        ((14, 14, "DIS"), "span DIS 14-14 is empty or reversed"),
        ((25, 14, "DIS"), "span DIS 25-14 is empty or reversed"),
        ((-1, 4, "DIS"), "span DIS -1-4 is out of range"),
        ((38, 99, "DIS"), "span DIS 38-99 is out of range"),
    ],
)
def test_spans_off_the_token_grid_are_rejected(span, message):
    with pytest.raises(SpanError, match=f"^{message}$"):
        spans_to_tags(STARTS, ENDS, [span])


def test_overlap_names_both_spans():
    with pytest.raises(SpanError, match="^span SYM 19-25 overlaps DIS 14-25$"):
        spans_to_tags(STARTS, ENDS, [(14, 25, "DIS"), (19, 25, "SYM")])
    with pytest.raises(SpanError, match="overlaps DIS 14-25"):
        spans_to_tags(STARTS, ENDS, [(14, 25, "DIS"), (14, 25, "DIS")])


def test_span_error_is_a_value_error():
    assert issubclass(SpanError, ValueError)


def test_char_span_to_token_span():
    assert char_span_to_token_span(STARTS, ENDS, 14, 33) == (2, 7)
    with pytest.raises(SpanError, match="^span 14-24 does not end"):
        char_span_to_token_span(STARTS, ENDS, 14, 24)
    with pytest.raises(SpanError, match="out of range"):
        char_span_to_token_span([], [], 0, 1)


@pytest.mark.parametrize(
    ("tags", "repaired", "token_spans"),
    [
        (["O", "I-DIS", "I-DIS"], ["O", "B-DIS", "I-DIS"], [(1, 3, "DIS")]),
        (["B-A", "I-B"], ["B-A", "B-B"], [(0, 1, "A"), (1, 2, "B")]),
        (["B-A", "B-A", "I-A"], ["B-A", "B-A", "I-A"], [(0, 1, "A"), (1, 3, "A")]),
        (["I-A", "O", "I-A", "I-A"], ["B-A", "O", "B-A", "I-A"], [(0, 1, "A"), (2, 4, "A")]),
        ([], [], []),
    ],
)
def test_repair_like_conlleval(tags, repaired, token_spans):
    assert repair_tags(tags) == repaired
    assert tags_to_token_spans(tags) == token_spans


def test_labels_may_contain_dashes():
    assert tags_to_token_spans(["B-B-X", "I-B-X"]) == [(0, 2, "B-X")]


@pytest.mark.parametrize("tag", ["X", "B-", "B", "E-DIS", "o"])
def test_non_iob2_tags_are_rejected(tag):
    with pytest.raises(ValueError, match="is not an IOB2 tag"):
        tags_to_token_spans(["O", tag])


LABELS = st.sampled_from(["A", "B", "DIS"])
ANY_TAG = st.one_of(st.just("O"), st.builds(lambda p, l: f"{p}-{l}", st.sampled_from("BI"), LABELS))


@st.composite
def valid_tags(draw):
    tags = []
    for tag in draw(st.lists(ANY_TAG, max_size=40)):
        if tag.startswith("I-") and (not tags or tags[-1] == "O" or tags[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        tags.append(tag)
    return tags


@st.composite
def text_with_spans(draw):
    text = draw(st.text(alphabet=st.sampled_from("ab1 ,-(é😀\n"), max_size=60))
    tokens = tokenize(text)
    edges = sorted(draw(st.sets(st.integers(0, len(tokens.starts)), max_size=12)))
    token_spans = [(first, end, draw(LABELS)) for first, end in zip(edges[::2], edges[1::2]) if draw(st.booleans())]
    spans = [(tokens.starts[first], tokens.ends[end - 1], label) for first, end, label in token_spans]
    return tokens, spans


@given(text_with_spans())
def test_spans_tags_spans_round_trip(tokens_and_spans):
    tokens, spans = tokens_and_spans
    tags = spans_to_tags(tokens.starts, tokens.ends, spans)
    assert tags_to_spans(tokens.starts, tokens.ends, tags) == spans


@given(valid_tags())
def test_valid_tags_round_trip_and_need_no_repair(tags):
    token_spans = tags_to_token_spans(tags)
    assert token_spans_to_tags(len(tags), token_spans) == tags
    assert repair_tags(tags) == tags


@given(st.lists(ANY_TAG, max_size=40))
def test_any_tags_read_like_seqeval(tags):
    expected = [(start, end + 1, label) for label, start, end in get_entities(tags)]
    assert tags_to_token_spans(tags) == expected
    assert tags_to_token_spans(repair_tags(tags)) == expected
