import pytest
from sklearn.metrics import cohen_kappa_score

from training.agreement import cohen_kappa, disagreements, pairwise


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (["O", "D", "D", "O", "T"], ["O", "D", "O", "O", "T"]),
        (["O"] * 8 + ["D", "D"], ["O"] * 9 + ["D"]),
        (list("AABBCC"), list("ABCABC")),
    ],
)
def test_kappa_matches_scikit_learn(first, second):
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


def test_identical_annotations_agree_perfectly_and_a_hand_computed_pair():
    same = {"ann": {"1": ["B-D", "I-D", "O"]}, "bob": {"1": ["B-D", "I-D", "O"]}}
    [report] = pairwise(same, ["D"])
    assert (report["f1"], report["kappa"]) == (1.0, 1.0)

    # ann: D(0-2), T(3); bob: D(0-1) only. Exact match: no shared entity -> F1 0 for D;
    # T: ann has it, bob not -> F1 0. Tokens: O/D/T agreement on 3 of 4.
    tags = {"ann": {"1": ["B-D", "I-D", "O", "B-T"]}, "bob": {"1": ["B-D", "O", "O", "O"]}}
    [report] = pairwise(tags, ["D", "T"])
    assert report["f1"] == 0.0
    assert report["kappa"] == pytest.approx(cohen_kappa_score(["D", "D", "O", "T"], ["D", "O", "O", "O"]))
    assert report["per_label"]["T"]["support"] == 1


def test_documents_are_listed_most_disagreed_first():
    tags = {
        "ann": {"1": ["B-D", "O"], "2": ["B-D", "O"], "3": ["O", "O"]},
        "bob": {"1": ["B-D", "O"], "2": ["O", "B-D"]},
    }
    rows = disagreements(tags, ["D"])
    assert [row["doc_id"] for row in rows] == ["2", "1"]
    assert rows[0]["agreement"] == 0.0 and rows[1]["agreement"] == 1.0


def test_two_annotators_who_tagged_nothing_agree():
    tags = {"ann": {"1": ["O", "O"]}, "bob": {"1": ["O", "O"]}}
    assert pairwise(tags, ["D"])[0]["f1"] == 1.0
    assert disagreements(tags, ["D"])[0]["agreement"] == 1.0
