"""`python -m training.evaluate_corpus`, the command behind the README's accuracy figures, on a tiny BERT."""

import json

import pytest

from training import evaluate_corpus

pytestmark = pytest.mark.slow  # trains a small model

SENTENCES = [
    [("The", "O"), ("patient", "O"), ("has", "O"), ("breast", "B-Disease"), ("cancer", "I-Disease"), (".", "O")],
    [("Asthma", "B-Disease"), ("was", "O"), ("treated", "O"), ("with", "O"), ("aspirin", "O"), (".", "O")],
    [
        ("The", "O"),
        ("patient", "O"),
        ("with", "O"),
        ("diabetes", "B-Disease"),
        ("was", "O"),
        ("given", "O"),
        (".", "O"),
    ],
]


def write_conll(path, count):
    blocks = ["\n".join(f"{token}\t{tag}" for token, tag in SENTENCES[i % len(SENTENCES)]) for i in range(count)]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_reports_dev_scores_argmax_and_pretraining_with_documents_of_grouped_sentences(tiny_bert, tmp_path, capsys):
    train = write_conll(tmp_path / "train.conll", 40)
    dev = write_conll(tmp_path / "dev.conll", 12)
    out = tmp_path / "report.json"
    common = [
        "--train",
        str(train),
        "--dev",
        str(dev),
        "--base-model",
        tiny_bert,
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--max-length",
        "64",
    ]
    assert evaluate_corpus.main([*common, "--context", "8", "--mlm-epochs", "1", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert (report["train_documents"], report["dev_documents"]) == (5, 2)  # 9 sentences a document
    assert report["dev"]["tokens"] == 12 * 6 + 4 * 1  # every dev token scored once
    assert 0 <= report["dev_argmax_micro_f1"] <= 1
    assert report["pretraining"]["steps"] >= 1
    calibration = report["calibration"]
    assert calibration["temperature"] > 0
    assert 0 <= calibration["tokens"]["after"] <= 1 and 0 <= calibration["entities"]["before"] <= 1
    assert report["hyperparameters"]["context"] == 8 and report["hyperparameters"]["mlm_epochs"] == 1
    printed = capsys.readouterr().out
    assert (
        "dev micro F1 with argmax decoding instead of Viterbi" in printed and "pretraining on the training" in printed
    )

    with pytest.raises(SystemExit):
        evaluate_corpus.main([*common, "--sentences-per-document", "0"])
    assert "--sentences-per-document must be at least 1" in capsys.readouterr().err


def test_documents_follow_the_abstracts_of_a_pubtator_file(tmp_path):
    conll = write_conll(tmp_path / "train.conll", 5)
    words = [" ".join(token for token, _ in sentence) for sentence in SENTENCES]
    (tmp_path / "train.pubtator").write_text(
        f"11|t|{words[0]}\n11|a|{words[1]} {words[2]}\n11\t4\t17\tbreast cancer\tDisease\tD001943\n\n"
        f"22|t|{words[0]}\n22|a|{words[1]}\n\n",
        encoding="utf-8",
    )
    documents = evaluate_corpus.read_conll(conll, False, pubtator=tmp_path / "train.pubtator")
    assert [(d.doc_id, len(d.tokens)) for d in documents] == [("11", 19), ("22", 12)]
    assert documents[0].tags[3:5] == ["B-Disease", "I-Disease"]

    (tmp_path / "other.pubtator").write_text(f"33|t|{words[0]}\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sentence 2 \(Asthma was treated with aspirin \. …\) is in no abstract"):
        evaluate_corpus.read_conll(conll, False, pubtator=tmp_path / "other.pubtator")
