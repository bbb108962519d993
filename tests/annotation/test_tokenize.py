from hypothesis import given
from hypothesis import strategies as st

from annotation.text.tokenize import Tokens, tokenize


def words(text, boundaries=()):
    tokens = tokenize(text, boundaries)
    return [text[start:end] for start, end in zip(tokens.starts, tokens.ends)]


def test_words_and_punctuation():
    assert words("Lung cancer (NSCLC), 12.5% +3") == [
        "Lung",
        "cancer",
        "(",
        "NSCLC",
        ")",
        ",",
        "12",
        ".",
        "5",
        "%",
        "+",
        "3",
    ]


def test_hyphen_and_underscore_are_tokens_of_their_own():
    assert words("BRCA1-associated a_b") == ["BRCA1", "-", "associated", "a", "_", "b"]


def test_offsets_are_characters_end_exclusive():
    assert tokenize("ab, c") == Tokens(starts=[0, 2, 4], ends=[2, 3, 5], forced_splits=0)


def test_crlf_and_other_whitespace_separate_tokens():
    assert words("one\r\ntwo\tthree\u00a0four\u2003five\n") == ["one", "two", "three", "four", "five"]


def test_accents_stay_inside_words_precomposed_or_combining():
    assert words("café naïve e\u0301te\u0301") == ["café", "naïve", "e\u0301te\u0301"]


def test_cjk_run_is_one_token_and_cjk_punctuation_splits():
    assert words("肺癌。東京都") == ["肺癌", "。", "東京都"]


def test_each_emoji_is_a_token():
    text = "pain 😀😀 ok👍"
    tokens = tokenize(text)
    assert words(text) == ["pain", "😀", "😀", "ok", "👍"]
    assert tokens.starts == [0, 5, 6, 8, 10]  # offsets count code points, not UTF-16 units


def test_empty_and_blank_text():
    assert tokenize("") == Tokens([], [], 0)
    assert tokenize(" \n\t ") == Tokens([], [], 0)


def test_boundaries_split_inside_tokens_and_are_counted():
    text = "hyperparathyroidism"
    tokens = tokenize(text, [5, 5, 10])
    assert words(text, [5, 10]) == ["hyper", "parat", "hyroidism"]
    assert tokens.forced_splits == 2


def test_boundaries_on_edges_whitespace_or_ends_add_nothing():
    text = "ab, cd"
    assert tokenize(text, [0, 2, 3, 4, 6, 99, -1]) == tokenize(text)


@given(st.text(), st.lists(st.integers(min_value=-2, max_value=60)))
def test_tokens_partition_the_non_whitespace(text, boundaries):
    tokens = tokenize(text, boundaries)
    covered = set()
    previous_end = 0
    for start, end in zip(tokens.starts, tokens.ends):
        assert previous_end <= start < end
        assert not any(character.isspace() for character in text[start:end])
        covered.update(range(start, end))
        previous_end = end
    assert covered == {index for index, character in enumerate(text) if not character.isspace()}


@given(st.text(), st.lists(st.integers(min_value=0, max_value=60)))
def test_every_boundary_inside_the_text_is_a_token_edge(text, boundaries):
    tokens = tokenize(text, boundaries)
    edges = set(tokens.starts) | set(tokens.ends)
    unforced = tokenize(text)
    for offset in boundaries:
        if 0 < offset < len(text) and not text[offset - 1].isspace() and not text[offset].isspace():
            assert offset in edges
    assert tokens.forced_splits == len(tokens.starts) - len(unforced.starts)
