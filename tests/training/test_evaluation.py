"""Evaluation against values computed by hand (seqeval strict IOB2)."""

import json

import pytest

from training.ml.evaluation import evaluate

# doc 0: gold  Disease [0,2), Chemical [3,4)       pred  Disease [0,2)
# doc 1: gold  Disease [1,2)                       pred  I-Disease alone (no entity in strict mode),
#                                                        Chemical [3,4)
GOLD = [
    ["B-Disease", "I-Disease", "O", "B-Chemical", "O"],
    ["O", "B-Disease", "O", "O"],
]
PRED = [
    ["B-Disease", "I-Disease", "O", "O", "O"],
    ["O", "I-Disease", "O", "B-Chemical"],
]
TOKENS = [
    ["Breast", "cancer", "after", "tamoxifen", "."],
    ["No", "ataxia", "with", "lithium"],
]


def approx(value):
    return pytest.approx(value, abs=1e-9)


def test_scores_match_hand_computed_values():
    result = evaluate(GOLD, PRED, labels=["Disease", "Chemical"], doc_ids=["a", "b"], tokens=TOKENS)
    # Gold: 2 Disease, 1 Chemical. Predicted (strict): 1 Disease (correct), 1 Chemical (wrong place).
    disease = result["per_label"]["Disease"]
    assert disease == {"precision": approx(1.0), "recall": approx(0.5), "f1": approx(2 / 3), "support": 2}
    chemical = result["per_label"]["Chemical"]
    assert chemical == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # micro: 1 true positive, 2 predicted, 3 gold
    assert result["micro"] == {"precision": approx(0.5), "recall": approx(1 / 3), "f1": approx(0.4), "support": 3}
    # macro: mean over the two labels
    assert result["macro"]["precision"] == approx(0.5)
    assert result["macro"]["recall"] == approx(0.25)
    assert result["macro"]["f1"] == approx(1 / 3)
    # weighted by support (2 Disease, 1 Chemical)
    assert result["weighted"]["precision"] == approx(2 / 3)
    assert result["weighted"]["recall"] == approx(1 / 3)
    assert result["weighted"]["f1"] == approx(4 / 9)
    assert result["token_accuracy"] == approx(6 / 9)
    json.dumps(result)  # plain, JSON-serialisable


def test_strict_mode_ignores_an_inside_tag_without_a_beginning():
    # conlleval's default mode would count doc 1's lone I-Disease as a correct Disease.
    result = evaluate(GOLD, PRED)
    assert result["per_label"]["Disease"]["precision"] == approx(1.0)
    assert result["per_label"]["Disease"]["recall"] == approx(0.5)
    only_inside = evaluate([["B-Disease", "O"]], [["I-Disease", "O"]])
    assert only_inside["micro"]["f1"] == 0.0
    [error] = only_inside["errors"]
    assert error["kind"] == "missed" and error["predicted"] == []


def test_confusion_matrix_is_token_level_over_types_plus_o():
    result = evaluate(GOLD, PRED, labels=["Disease", "Chemical"])
    confusion = result["confusion"]
    assert confusion["labels"] == ["O", "Disease", "Chemical"]
    assert confusion["rows"] == "gold" and confusion["columns"] == "predicted"
    assert confusion["matrix"] == [
        [4, 0, 1],  # gold O: 4 right, 1 predicted Chemical
        [0, 3, 0],  # gold Disease tokens all typed Disease (the lone I- too, at token level)
        [1, 0, 0],  # gold Chemical token predicted O
    ]


def test_errors_list_document_offsets_text_and_context():
    result = evaluate(GOLD, PRED, labels=["Disease", "Chemical"], doc_ids=["a", "b"], tokens=TOKENS)
    missed_chemical, missed_disease, spurious = result["errors"]  # in document order
    assert spurious["doc_id"] == "b" and spurious["kind"] == "spurious" and spurious["gold"] == []
    assert spurious["predicted"] == [{"label": "Chemical", "token_start": 3, "token_end": 4, "text": "lithium"}]
    assert (spurious["context_left"], spurious["text"], spurious["context_right"]) == ("No ataxia with ", "lithium", "")
    assert "start" not in spurious  # no character offsets without token_offsets
    assert (missed_chemical["doc_id"], missed_chemical["kind"], missed_chemical["text"]) == ("a", "missed", "tamoxifen")
    assert [g["label"] for g in missed_chemical["gold"]] == ["Chemical"] and missed_chemical["predicted"] == []
    assert (missed_disease["doc_id"], missed_disease["kind"], missed_disease["text"]) == ("b", "missed", "ataxia")
    assert (result["false_negatives_count"], result["false_positives_count"]) == (2, 1)


def test_an_overlapping_gold_and_predicted_span_are_one_boundary_row():
    text = "Patients with breast cancer were treated."
    tokens = ["Patients", "with", "breast", "cancer", "were", "treated", "."]
    offsets = [(0, 8), (9, 13), (14, 20), (21, 27), (28, 32), (33, 40), (40, 41)]
    gold = [["O", "O", "B-Disease", "I-Disease", "O", "O", "O"]]
    pred = [["O", "O", "O", "B-Disease", "O", "O", "O"]]
    result = evaluate(gold, pred, doc_ids=["pmid-1"], tokens=[tokens], texts=[text], token_offsets=[offsets])
    [row] = result["errors"]
    assert row["kind"] == "boundary"
    assert row["gold"] == [
        {"label": "Disease", "token_start": 2, "token_end": 4, "start": 14, "end": 27, "text": "breast cancer"}
    ]
    assert row["predicted"] == [
        {"label": "Disease", "token_start": 3, "token_end": 4, "start": 21, "end": 27, "text": "cancer"}
    ]
    assert (row["start"], row["end"], row["text"]) == (14, 27, "breast cancer")  # what either side covers
    assert row["context_left"] == "Patients with " and row["context_right"] == " were treated."
    assert (result["false_negatives_count"], result["false_positives_count"]) == (1, 1)


KIND_CASES = {
    # name: (gold, predicted, kinds of the rows)
    "same edges, other label": (["B-Disease", "I-Disease", "O"], ["B-Chemical", "I-Chemical", "O"], ["label"]),
    "other edges and label": (["B-Disease", "I-Disease", "O"], ["O", "B-Chemical", "I-Chemical"], ["boundary+label"]),
    "one gold split in two": (["B-Disease", "I-Disease", "O"], ["B-Disease", "B-Disease", "O"], ["boundary"]),
    "two golds joined": (["B-Disease", "B-Disease", "O"], ["B-Disease", "I-Disease", "O"], ["boundary"]),
    "missed then spurious": (["B-Disease", "O", "O"], ["O", "O", "B-Disease"], ["missed", "spurious"]),
    "adjacent, not overlapping": (["B-Disease", "O", "O"], ["O", "B-Disease", "O"], ["missed", "spurious"]),
}


@pytest.mark.parametrize("case", KIND_CASES)
def test_each_error_has_its_kind_and_overlapping_spans_share_a_row(case):
    gold, pred, kinds = KIND_CASES[case]
    result = evaluate([gold], [pred])
    assert [row["kind"] for row in result["errors"]] == kinds
    paired = sum(len(row["gold"]) + len(row["predicted"]) for row in result["errors"])
    assert paired == result["false_negatives_count"] + result["false_positives_count"]


def test_a_chain_of_overlaps_is_one_row_listing_every_span():
    # gold [0,2) [2,4); predicted [1,3) [3,5): each overlaps the next, so one row.
    gold = ["B-Disease", "I-Disease", "B-Disease", "I-Disease", "O", "O", "B-Disease"]
    pred = ["O", "B-Disease", "I-Disease", "B-Disease", "I-Disease", "O", "O"]
    first, last = evaluate([gold], [pred], tokens=[list("abcdefg")])["errors"]
    assert [(g["token_start"], g["token_end"]) for g in first["gold"]] == [(0, 2), (2, 4)]
    assert [(p["token_start"], p["token_end"]) for p in first["predicted"]] == [(1, 3), (3, 5)]
    assert (first["kind"], first["text"]) == ("boundary", "a b c d e")
    assert (last["kind"], last["text"], last["context_left"]) == ("missed", "g", "a b c d e f ")


WORDS = "Twenty patients with severe metastatic melanoma received interleukin therapy alongside standard chemotherapy regimens"


@pytest.mark.parametrize("position", range(0, len(WORDS), 7))
def test_snippets_never_cut_a_word(position):
    text = f"{WORDS} {WORDS}. {WORDS} again and again."
    tokens, offsets, cursor = [], [], 0
    for word in text.split(" "):
        tokens.append(word)
        offsets.append((cursor, cursor + len(word)))
        cursor += len(word) + 1
    # The error sits on the token nearest `position` in the middle copy of WORDS.
    target = next(i for i, (a, _) in enumerate(offsets) if a >= len(WORDS) + 1 + position)
    gold = [["B-Disease" if i == target else "O" for i in range(len(tokens))]]
    [row] = evaluate(gold, [["O"] * len(tokens)], tokens=[tokens], texts=[text], token_offsets=[offsets])["errors"]
    words = set(text.replace(".", " ").split())
    left, right = row["context_left"], row["context_right"]
    assert left.startswith("…") and right.endswith("…")
    assert set(left.strip("…").replace(".", " ").split()) <= words
    assert set(right.strip("…").replace(".", " ").split()) <= words
    assert text[: row["start"]].endswith(left.strip("…")) and text[row["end"] :].startswith(right.strip("…"))
    assert 30 <= len(left) <= 62 and 30 <= len(right) <= 62  # about CONTEXT_CHARS, less the cut word


def test_snippet_at_the_edges_of_a_document_has_no_ellipsis():
    text = "Melanoma recurred."
    result = evaluate(
        [["B-Disease", "O"]],
        [["O", "O"]],
        tokens=[["Melanoma", "recurred."]],
        texts=[text],
        token_offsets=[[(0, 8), (9, 18)]],
    )
    [row] = result["errors"]
    assert (row["context_left"], row["text"], row["context_right"]) == ("", "Melanoma", " recurred.")


def test_wrong_label_kind_and_labels_without_entities_are_listed():
    result = evaluate([["B-Disease", "O"]], [["B-Chemical", "O"]], labels=["Disease", "Chemical", "Gene"])
    [row] = result["errors"]
    assert row["kind"] == "label"
    assert [g["label"] for g in row["gold"]] == ["Disease"] and [p["label"] for p in row["predicted"]] == ["Chemical"]
    assert result["per_label"]["Gene"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_perfect_and_empty():
    perfect = evaluate(GOLD, GOLD)
    assert perfect["micro"]["f1"] == 1.0 and perfect["errors"] == []
    nothing = evaluate([["O", "O"]], [["O", "O"]], labels=["Disease"])
    assert nothing["micro"]["f1"] == 0.0 and nothing["per_label"]["Disease"]["support"] == 0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted"):
        evaluate(GOLD, PRED[:1])
    with pytest.raises(ValueError, match="document 0: 5 gold tags but 4 predicted"):
        evaluate(GOLD, [PRED[0][:4], PRED[1]])


# Six documents, one to three Disease mentions each: some found, one cut short, one missed.
SMALL_GOLD = [
    ["B-Disease", "I-Disease", "O", "B-Disease"],
    ["O", "B-Disease", "O", "O"],
    ["B-Disease", "O", "B-Disease", "O"],
    ["O", "O", "B-Disease", "I-Disease"],
    ["B-Disease", "O", "O", "O"],
    ["O", "B-Disease", "I-Disease", "O"],
]
SMALL_PRED = [
    ["B-Disease", "I-Disease", "O", "O"],
    ["O", "B-Disease", "O", "O"],
    ["B-Disease", "O", "B-Disease", "O"],
    ["O", "O", "B-Disease", "O"],
    ["O", "O", "O", "B-Disease"],
    ["O", "B-Disease", "I-Disease", "O"],
]


def test_a_small_dev_split_gets_seeded_bootstrap_intervals_that_match_rescoring_each_resample():
    import numpy as np

    from training.ml import evaluation

    result = evaluate(SMALL_GOLD, SMALL_PRED, labels=["Disease"], intervals=True)
    intervals = result["f1_intervals"]
    assert (intervals["confidence"], intervals["resamples"]) == (0.95, 1000)
    assert evaluate(SMALL_GOLD, SMALL_PRED, labels=["Disease"], intervals=True)["f1_intervals"] == intervals

    # The same draws, each resample scored afresh by seqeval: the 2.5th and 97.5th percentiles.
    rng = np.random.default_rng(intervals["seed"])
    scores = []
    for _ in range(1000):
        drawn = rng.integers(0, 6, 6)
        scores.append(evaluate([SMALL_GOLD[i] for i in drawn], [SMALL_PRED[i] for i in drawn])["micro"]["f1"])
    scores.sort()
    expected = [scores[round(0.025 * 999)], scores[round(0.975 * 999)]]
    assert intervals["micro"] == approx(expected)
    assert intervals["per_label"]["Disease"] == approx(expected)  # one label: the same
    low, high = intervals["micro"]
    assert 0 <= low < result["micro"]["f1"] < high <= 1
    assert evaluation.small_dev_reasons(6, {"Disease": 8}) == ["only 6 dev documents", "Disease has 8 dev entities"]


def test_intervals_by_hand_and_only_for_a_small_split():
    # One document right, one missed: resamples score 1 (both right), 0 (both missed) or 2/3.
    two = evaluate([["B-Disease"], ["B-Disease"]], [["B-Disease"], ["O"]], intervals=True)
    assert two["f1_intervals"]["micro"] == [0.0, 1.0]
    perfect = evaluate(SMALL_GOLD, SMALL_GOLD, intervals=True)
    assert perfect["f1_intervals"]["micro"] == [1.0, 1.0]
    assert "f1_intervals" not in evaluate(SMALL_GOLD, SMALL_PRED)  # not asked for

    large_gold = [["B-Disease", "O", "B-Treatment", "B-Disease", "B-Treatment"]] * 25  # 50 of each
    large_pred = [["B-Disease", "O", "O", "B-Disease", "B-Treatment"]] * 25
    assert "f1_intervals" not in evaluate(large_gold, large_pred, intervals=True)
    rare = [tags[:4] + ["O"] for tags in large_gold]  # 25 Treatment entities: small again
    small = evaluate(rare, large_pred, intervals=True)
    assert set(small["f1_intervals"]["per_label"]) == {"Disease", "Treatment"}


def test_small_dev_reasons_name_each_condition():
    from training.ml.evaluation import small_dev_reasons

    assert small_dev_reasons(20, {"DISEASE": 50, "TREATMENT": 50}) == []
    assert small_dev_reasons(1, {"DISEASE": 1, "TREATMENT": 0, "GENE": 60}) == [
        "only 1 dev document",
        "DISEASE has 1 dev entity",
        "TREATMENT has no dev entities",
    ]
