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
    assert only_inside["false_negatives"][0]["kind"] == "missed"
    assert only_inside["false_positives"] == []


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
    [fp] = result["false_positives"]
    assert fp["doc_id"] == "b" and fp["label"] == "Chemical" and fp["kind"] == "spurious"
    assert (fp["token_start"], fp["token_end"]) == (3, 4)
    assert fp["text"] == "lithium"
    assert fp["context"] == "No ataxia with lithium"
    assert "start" not in fp  # no character offsets without token_offsets
    fns = {(e["doc_id"], e["label"]): e for e in result["false_negatives"]}
    assert set(fns) == {("a", "Chemical"), ("b", "Disease")}
    assert fns[("a", "Chemical")]["text"] == "tamoxifen"
    assert fns[("b", "Disease")]["kind"] == "missed"


def test_character_offsets_and_text_context_when_offsets_are_given():
    text = "Patients with breast cancer were treated."
    tokens = ["Patients", "with", "breast", "cancer", "were", "treated", "."]
    offsets = [(0, 8), (9, 13), (14, 20), (21, 27), (28, 32), (33, 40), (40, 41)]
    gold = [["O", "O", "B-Disease", "I-Disease", "O", "O", "O"]]
    pred = [["O", "O", "O", "B-Disease", "O", "O", "O"]]
    result = evaluate(gold, pred, doc_ids=["pmid-1"], tokens=[tokens], texts=[text], token_offsets=[offsets])
    [fp], [fn] = result["false_positives"], result["false_negatives"]
    assert (fn["start"], fn["end"], fn["text"]) == (14, 27, "breast cancer")
    assert (fp["start"], fp["end"], fp["text"]) == (21, 27, "cancer")
    assert fp["kind"] == "boundary" and fn["kind"] == "boundary"
    assert fn["context"] == text and fn["context_left"] == "Patients with "


def test_wrong_label_kind_and_labels_without_entities_are_listed():
    result = evaluate([["B-Disease", "O"]], [["B-Chemical", "O"]], labels=["Disease", "Chemical", "Gene"])
    assert result["false_positives"][0]["kind"] == "label"
    assert result["false_negatives"][0]["kind"] == "label"
    assert result["per_label"]["Gene"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_perfect_and_empty():
    perfect = evaluate(GOLD, GOLD)
    assert perfect["micro"]["f1"] == 1.0 and perfect["false_positives"] == perfect["false_negatives"] == []
    nothing = evaluate([["O", "O"]], [["O", "O"]], labels=["Disease"])
    assert nothing["micro"]["f1"] == 0.0 and nothing["per_label"]["Disease"]["support"] == 0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted"):
        evaluate(GOLD, PRED[:1])
    with pytest.raises(ValueError, match="document 0: 5 gold tags but 4 predicted"):
        evaluate(GOLD, [PRED[0][:4], PRED[1]])
