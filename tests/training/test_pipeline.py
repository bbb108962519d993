"""Pipeline tests on a tiny BERT built from a config (no download, a few seconds)."""

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.training.conftest import build_tiny_bert
from training.ml import examples as ex
from training.ml.data import (
    Hyperparameters,
    Progress,
    TrainingCancelled,
    TrainingDataError,
    TrainingDocument,
    is_dev_document,
    split_documents,
)
from training.ml.pipeline import load_model, tag_list, train

pytestmark = pytest.mark.slow  # trains small models

ROOT = Path(__file__).resolve().parents[2]
WORDS = [
    "the",
    "patient",
    "has",
    "a",
    "of",
    "and",
    "with",
    "no",
    "in",
    "was",
    "found",
    "family",
    "cancer",
    "breast",
    "colon",
    "tumor",
    "syndrome",
    "disease",
    "deficiency",
    "gene",
    "protein",
    "mutation",
    "un",
    "aspirin",
    "dose",
    "history",
    ".",
    ",",
    "(",
    ")",
    "-",
    "!",
    "?",
]
PIECES = ["##s", "##known", "##ary", "##ic"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer, 32-wide BERT and a WordPiece tokenizer over a small vocabulary."""
    from transformers import AutoTokenizer

    directory = build_tiny_bert(
        tmp_path_factory.mktemp("tiny-bert"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *PIECES]
    )
    assert AutoTokenizer.from_pretrained(directory).tokenize("tumors") == ["tumor", "##s"]
    return directory


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def synthetic_documents(count: int, seed: int = 0) -> list[TrainingDocument]:
    """Sentences where 'X cancer' / 'X syndrome' are Disease and 'aspirin' is Chemical."""
    rng = random.Random(seed)
    fillers = ["the", "patient", "has", "a", "history", "of", "with", "no", "gene", "mutation", "was", "found"]
    documents = []
    for index in range(count):
        tokens, tags = [], []
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(2, 5)):
                tokens.append(rng.choice(fillers))
                tags.append("O")
            kind = rng.random()
            if kind < 0.45:
                tokens += [rng.choice(["breast", "colon"]), "cancer"]
                tags += ["B-Disease", "I-Disease"]
            elif kind < 0.7:
                tokens += ["family", rng.choice(["syndrome", "tumors"])]
                tags += ["B-Disease", "I-Disease"]
            else:
                tokens.append("aspirin")
                tags.append("B-Chemical")
            tokens.append(rng.choice([".", ".", "!"]))
            tags.append("O")
        documents.append(TrainingDocument(f"doc-{index}", tokens, tags))
    return documents


# ------------------------------------------------------------ alignment


def test_first_piece_carries_the_label_other_pieces_ignored(tokenizer):
    tokens = ["family", "tumors", "of", "unknown", "aspirin"]
    tags = ["B-Disease", "I-Disease", "O", "O", "B-Chemical"]
    tag_to_id = {t: i for i, t in enumerate(tag_list(["Disease", "Chemical"]))}
    [example] = ex.build_examples(tokenizer, [tokens], 32, [tags], tag_to_id)
    pieces = tokenizer.convert_ids_to_tokens(example.input_ids)
    assert pieces == ["[CLS]", "family", "tumor", "##s", "of", "un", "##known", "aspirin", "[SEP]"]
    B, I, O, C = tag_to_id["B-Disease"], tag_to_id["I-Disease"], tag_to_id["O"], tag_to_id["B-Chemical"]
    assert example.labels == [-100, B, I, -100, O, O, -100, C, -100]


def test_align_labels_handles_specials_and_repeats():
    assert ex.align_labels([None, 0, 0, 0, 1, None], [5, 7]) == [-100, 5, -100, -100, 7, -100]


# ------------------------------------------------------------ chunking


def test_sentences_end_at_punctuation_but_not_inside_an_entity():
    tokens = ["a", "cancer", ".", "B", "St", ".", "Anne", "syndrome", "!", "C", "?"]
    tags = ["O", "B-Disease", "O", "O", "B-Disease", "I-Disease", "I-Disease", "I-Disease", "O", "O", "O"]
    assert ex.sentence_spans(tokens, tags) == [(0, 3), (3, 9), (9, 11)]
    # Without tags (prediction) the cut happens at every sentence-ending token.
    assert ex.sentence_spans(tokens) == [(0, 3), (3, 6), (6, 9), (9, 11)]
    # Punctuation only counts as a whole token.
    assert ex.sentence_spans(["e.g.", "x", "..."]) == [(0, 3)]
    # Decimals and abbreviations split into tokens do not end a sentence.
    text = "risk ( p < 0 . 01 ) given i . p . ( 5 mg ) vs . 72 by J . N . Feder . Then".split()
    assert ex.sentence_spans(text) == [(0, len(text) - 1), (len(text) - 1, len(text))]


def entities_of(tags):
    spans, start = [], None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not tag.startswith("I-"):
            spans.append((start, i))
            start = None
        if tag.startswith("B-"):
            start = i
    return spans


def test_sliding_window_keeps_every_entity_whole():
    # One 60-token sentence (no full stop), 2 pieces per word, windows of 10 pieces.
    tags = ["O"] * 60
    for start, length in [(3, 2), (8, 4), (14, 3), (29, 2), (33, 5), (57, 3)]:
        tags[start] = "B-Disease"
        for i in range(start + 1, start + length):
            tags[i] = "I-Disease"
    counts = [2] * 60
    windows = ex.window_spans(0, 60, counts, 10, tags)
    assert windows[0][0] == 0 and windows[-1][1] == 60
    for s, e in windows:
        assert sum(counts[s:e]) <= 10
    for a, b in entities_of(tags):
        assert any(s <= a and b <= e for s, e in windows), (a, b, windows)
    # consecutive windows overlap or touch: no token is left out
    for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
        assert s1 < s2 <= e1 < e2


@st.composite
def tagged_documents(draw):
    n = draw(st.integers(1, 80))
    tokens = draw(st.lists(st.sampled_from(["w", "X", ".", "!", "?"]), min_size=n, max_size=n))
    counts = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    tags, _i = [], 0
    while len(tags) < n:
        if draw(st.booleans()):
            length = min(n - len(tags), draw(st.integers(1, 5)))
            tags += ["B-X"] + ["I-X"] * (length - 1)
        else:
            tags.append("O")
    return tokens, counts, tags


@settings(max_examples=300, deadline=None)
@given(tagged_documents(), st.integers(3, 20))
def test_chunks_cover_the_document_fit_and_never_split_an_entity(document, max_pieces):
    tokens, counts, tags = document
    chunks = ex.chunk_spans(tokens, counts, max_pieces, tags)
    covered = set()
    for s, e in chunks:
        assert s < e
        assert sum(counts[s:e]) <= max_pieces or e - s == 1
        covered.update(range(s, e))
    assert covered == set(range(len(tokens)))
    assert [c[0] for c in chunks] == sorted(c[0] for c in chunks)
    for a, b in entities_of(tags):
        if sum(counts[a:b]) <= max_pieces:
            assert any(s <= a and b <= e for s, e in chunks), (a, b, chunks)


# ------------------------------------------------------------ batching


def test_length_grouped_batches_cover_all_group_by_length_and_shuffle():
    rng = random.Random(1)
    lengths = [rng.randint(5, 120) for _ in range(1000)]
    batches = ex.length_grouped_batches(lengths, 16, random.Random(7), megabatch=50)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000))
    assert all(len(b) <= 16 for b in batches)
    padded = sum(16 * max(lengths[i] for i in b) for b in batches)
    random_order = list(range(1000))
    random.Random(3).shuffle(random_order)
    padded_random = sum(16 * max(lengths[i] for i in random_order[j : j + 16]) for j in range(0, 1000, 16))
    assert padded < 0.75 * padded_random  # grouping pads much less
    firsts = [max(lengths[i] for i in b) for b in batches]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)  # order shuffled
    again = ex.length_grouped_batches(lengths, 16, random.Random(7), megabatch=50)
    assert again == batches  # seeded


def test_collate_pads_to_the_longest_in_the_batch():
    a = ex.Example(0, 0, 2, [2, 10, 11, 3], [None, 0, 1, None], [-100, 0, 1, -100])
    b = ex.Example(1, 0, 1, [2, 12, 3], [None, 0, None], [-100, 2, -100])
    batch = ex.collate([a, b], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[2, 10, 11, 3], [2, 12, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 0, 1, -100], [-100, 2, -100, -100]]


def test_repair_bio():
    assert ex.repair_bio(["O", "I-X", "I-X", "I-Y", "B-X", "I-X"]) == ["O", "B-X", "I-X", "B-Y", "B-X", "I-X"]


# ------------------------------------------------------------ split


def test_split_is_a_stable_sha1_of_the_document_id():
    ids = [f"pmid-{i}" for i in range(2000)]
    expected = [int(hashlib.sha1(i.encode()).hexdigest()[:16], 16) / 2**64 < 0.2 for i in ids]
    assert [is_dev_document(i, 0.2) for i in ids] == expected
    assert 0.17 < sum(expected) / len(ids) < 0.23
    # Same split in another interpreter with another hash seed (Python's hash() would differ).
    code = (
        "import json; from training.ml.data import is_dev_document as d;"
        "print(json.dumps([d('pmid-' + str(i), 0.2) for i in range(2000)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == expected


def test_is_dev_overrides_the_hash():
    docs = [TrainingDocument(f"d{i}", ["a"], ["O"]) for i in range(200)]
    train_docs, dev_docs = split_documents(docs, 0.2)
    assert 20 < len(dev_docs) < 60
    forced = [TrainingDocument(d.doc_id, d.tokens, d.tags, is_dev=False) for d in dev_docs]
    forced += [TrainingDocument(d.doc_id, d.tokens, d.tags, is_dev=True) for d in train_docs]
    train2, dev2 = split_documents(forced, 0.2)
    assert {d.doc_id for d in train2} == {d.doc_id for d in dev_docs}
    assert split_documents(docs, 0.0)[1] == []


# ------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be between 1 and 1000, got 0"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"learning_rate": 0}, "learning_rate must be greater than 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"batch_size": True}, "batch_size must be an integer"),
        ({"max_length": 4}, "max_length must be between 8 and 8192, got 4"),
        ({"warmup_ratio": 1.0}, "warmup_ratio must be at least 0 and less than 1"),
        ({"weight_decay": -0.1}, "weight_decay must be at least 0"),
        ({"patience": -1}, "patience must be at least 0"),
        ({"dev_fraction": 1}, "dev_fraction must be at least 0 and less than 1"),
        ({"max_grad_norm": 0}, "max_grad_norm must be greater than 0"),
        ({"precision": "fp16"}, "precision must be one of auto, bf16, fp32"),
        ({"seed": -3}, "seed must be at least 0"),
        ({"context": -1}, "context must be between 0 and 4096"),
        ({"pack_sentences": 1}, "pack_sentences must be true or false"),
        ({"layer_decay": 0}, "layer_decay must be greater than 0 and at most 1"),
        ({"ema_decay": 1}, "ema_decay must be at least 0 and less than 1"),
        ({"mlm_epochs": 0.5}, "mlm_epochs must be an integer"),
    ],
)
def test_hyperparameters_refuse_bad_values(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Hyperparameters(**changes).validate()
    Hyperparameters().validate()


def test_hyperparameters_from_dict_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        Hyperparameters.from_dict({"epoch": 3})
    assert Hyperparameters.from_dict({"epochs": 3}).epochs == 3


def test_refuses_no_data_and_labels_without_examples(tiny_model, tmp_path):
    with pytest.raises(TrainingDataError, match="no training data"):
        train([], ["Disease"], base_model=tiny_model, output_dir=tmp_path / "m")
    docs = synthetic_documents(20)
    with pytest.raises(TrainingDataError, match="no examples in the training split for label\\(s\\): Gene"):
        train(docs, ["Disease", "Chemical", "Gene"], base_model=tiny_model, output_dir=tmp_path / "m")
    with pytest.raises(TrainingDataError, match="label 'Chemical' is not one of Disease"):
        train(docs, ["Disease"], base_model=tiny_model, output_dir=tmp_path / "m")
    # A label seen only in dev documents has no training examples either.
    only_dev = [
        TrainingDocument("a", ["aspirin"], ["B-Chemical"], is_dev=True),
        TrainingDocument("b", ["cancer"], ["B-Disease"], is_dev=False),
    ]
    with pytest.raises(TrainingDataError, match="Chemical"):
        train(only_dev, ["Disease", "Chemical"], base_model=tiny_model, output_dir=tmp_path / "m")
    bad = [TrainingDocument("a", ["x", "y"], ["O"])]
    with pytest.raises(TrainingDataError, match="2 tokens but 1 tags"):
        train(bad, ["Disease"], base_model=tiny_model, output_dir=tmp_path / "m")
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------ runs


def test_cancelled_run_raises_and_leaves_nothing(tiny_model, tmp_path):
    calls = {"n": 0}
    seen_steps = []

    def should_stop():
        calls["n"] += 1
        return len(seen_steps) >= 3

    output = tmp_path / "runs" / "model"
    with pytest.raises(TrainingCancelled):
        train(
            synthetic_documents(60),
            ["Disease", "Chemical"],
            Hyperparameters(epochs=3, batch_size=4),
            base_model=tiny_model,
            output_dir=output,
            on_progress=lambda p: seen_steps.append(p.step),
            should_stop=should_stop,
        )
    assert seen_steps == [1, 2, 3]  # stopped within one step of the request
    assert not output.exists()
    assert not list((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else True


def test_failed_save_leaves_no_partial_directory(tiny_model, tmp_path, monkeypatch):
    import training.ml.pipeline as pipeline

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        train(
            synthetic_documents(10),
            ["Disease", "Chemical"],
            Hyperparameters(epochs=1),
            base_model=tiny_model,
            output_dir=tmp_path / "model",
        )
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_a_non_empty_output_dir(tiny_model, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        train(synthetic_documents(10), ["Disease", "Chemical"], base_model=tiny_model, output_dir=tmp_path / "model")
    assert (tmp_path / "model" / "keep.txt").read_text() == "x"


def test_full_tiny_run_learns_writes_artifacts_and_loads_back(tiny_model, tmp_path):
    docs = synthetic_documents(120)
    progress: list[Progress] = []
    hp = Hyperparameters(epochs=8, learning_rate=5e-3, batch_size=8, max_length=16, patience=3, precision="fp32")
    output = tmp_path / "model"
    result = train(
        docs, ["Disease", "Chemical"], hp, base_model=tiny_model, output_dir=output, on_progress=progress.append
    )

    names = {p.name for p in output.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "label_map.json",
        "calibration.json",
        "hyperparameters.json",
        "metrics.json",
        "data_snapshot.json",
    } <= names
    assert not any(n.endswith(".bin") for n in names)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary directory left

    assert 1 <= result.best_epoch <= result.epochs_run <= 8
    assert len(result.dev_f1_per_epoch) == result.epochs_run
    assert result.evaluation["micro"]["f1"] == max(result.dev_f1_per_epoch)
    assert result.evaluation["micro"]["f1"] > 0.9  # the pattern is trivially learnable
    assert sum(result.loss_history[-5:]) < sum(result.loss_history[:5]) / 5
    assert result.train_examples_per_second > 0

    snapshot = json.loads((output / "data_snapshot.json").read_text())
    expected_dev = sorted(d.doc_id for d in docs if is_dev_document(d.doc_id, 0.2))
    assert sorted(snapshot["dev"]) == expected_dev
    assert sorted(snapshot["train"] + snapshot["dev"]) == sorted(d.doc_id for d in docs)
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["best_epoch"] == result.best_epoch
    assert metrics["evaluation"]["per_label"]["Disease"]["support"] > 0
    low, high = metrics["evaluation"]["f1_intervals"]["micro"]  # a small dev split gets intervals
    assert 0 <= low <= high <= 1
    assert json.loads((output / "hyperparameters.json").read_text())["learning_rate"] == 5e-3
    assert json.loads((output / "label_map.json").read_text())["tags"] == tag_list(["Disease", "Chemical"])
    calibration = metrics["calibration"]
    assert json.loads((output / "calibration.json").read_text()) == {"temperature": calibration["temperature"]}
    assert calibration["temperature"] > 0 and calibration["temperature"] != 1.0
    for kind in ("tokens", "entities"):
        assert calibration[kind]["after"]["ece"] <= calibration[kind]["before"]["ece"] + 0.02
    assert calibration["tokens"]["after"]["count"] == metrics["evaluation"]["tokens"]
    assert set(calibration["precision_curves"]) == {"Disease", "Chemical"}
    assert calibration["precision_curves"]["Disease"][-1][2] > 0  # every predicted Disease entity counted

    steps = [p.step for p in progress if p.phase == "train"]
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] == len(result.loss_history)
    assert progress[-1].phase == "evaluated" and progress[-1].dev_f1_per_epoch == result.dev_f1_per_epoch
    assert all(p.total_steps == progress[0].total_steps for p in progress)

    tokenizer, model, tags = load_model(output)
    assert tags == ["O", "B-Disease", "I-Disease", "B-Chemical", "I-Chemical"]
    # A document longer than max_length (16 pieces) goes through sliding windows.
    words = ["the", "patient", "has", "breast", "cancer", "and", "aspirin", "with", "no", "mutation"] * 3
    [predicted] = ex.predict_tags(model, tokenizer, [words], tags, max_length=16)
    assert len(predicted) == len(words)
    assert predicted[3:5] == ["B-Disease", "I-Disease"] and predicted[6] == "B-Chemical"
    assert predicted[23:25] == ["B-Disease", "I-Disease"] and predicted[26] == "B-Chemical"


def test_same_seed_same_model(tiny_model, tmp_path):
    docs = synthetic_documents(30)
    hp = Hyperparameters(epochs=1, batch_size=8, precision="fp32")
    a = train(docs, ["Disease", "Chemical"], hp, base_model=tiny_model, output_dir=tmp_path / "a")
    b = train(docs, ["Disease", "Chemical"], hp, base_model=tiny_model, output_dir=tmp_path / "b")
    assert a.loss_history == b.loss_history
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


# ------------------------------------------------------------ context, layer-wise rates, averaging, pretraining


def test_context_shows_the_neighbours_but_labels_and_predicts_only_the_centre(tiny_model, tokenizer):
    import numpy as np
    import torch
    from transformers import AutoModelForTokenClassification

    tokens = ["the", "patient", "has", "breast", "cancer", "."]
    tokens += ["Family", "tumors", "with", "no", "aspirin", "!", "The", "gene", "mutation", "was", "found", "."]
    tags = ["O"] * len(tokens)
    tags[3:5] = ["B-Disease", "I-Disease"]
    tags[6:8] = ["B-Disease", "I-Disease"]
    tags[10] = "B-Chemical"
    tag_to_id = {t: i for i, t in enumerate(tag_list(["Disease", "Chemical"]))}
    plain = ex.build_examples(tokenizer, [tokens], 32, [tags], tag_to_id)
    widened = ex.build_examples(tokenizer, [tokens], 32, [tags], tag_to_id, context=4)

    assert [e.centre_range for e in widened] == [(e.start, e.end) for e in plain] == [(0, 6), (6, 12), (12, 18)]
    middle = widened[1]
    assert (middle.start, middle.end) == (2, 16)  # 4 pieces a side: "has breast cancer ." / "The gene mutation was"
    for example in widened:
        labelled = {example.start + w for w, label in zip(example.word_ids, example.labels) if label != -100}
        first_pieces = {example.start + w for w in example.word_ids if w is not None}
        assert labelled == {t for t in first_pieces if example.centre_range[0] <= t < example.centre_range[1]}
        assert labelled == set(range(*example.centre_range))

    # Each word's logits come from the example whose centre holds it, not from a neighbour's context.
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        tiny_model, num_labels=len(tag_to_id), ignore_mismatched_sizes=True
    )
    model.eval()
    got = ex.word_logits(model, tokenizer, [tokens], max_length=32, context=4)[0]
    for example in widened:
        with torch.inference_mode():
            row = model(input_ids=torch.tensor([example.input_ids])).logits[0].numpy()
        first_positions = {}
        for position, word in enumerate(example.word_ids):
            if word is not None:
                first_positions.setdefault(example.start + word, position)
        for token, position in first_positions.items():
            if example.centre_range[0] <= token < example.centre_range[1]:
                np.testing.assert_allclose(got[token], row[position], rtol=1e-5, atol=1e-5)


def test_layer_wise_rates_fall_from_the_head_to_the_embeddings(tiny_model):
    from transformers import AutoModelForTokenClassification

    from training.ml.pipeline import _optimizer, layer_depth

    assert layer_depth("bert.embeddings.word_embeddings.weight", 6) == 0
    assert layer_depth("bert.encoder.layer.0.attention.self.query.weight", 6) == 1
    assert layer_depth("roberta.encoder.layer.5.output.dense.bias", 6) == 6
    assert layer_depth("classifier.weight", 6) == 7
    model = AutoModelForTokenClassification.from_pretrained(tiny_model, num_labels=3, ignore_mismatched_sizes=True)
    rates = {}
    for group in _optimizer(model, Hyperparameters(learning_rate=1e-3, layer_decay=0.5)).param_groups:
        for parameter in group["params"]:
            rates[parameter.data_ptr()] = group["lr"]
    named = dict(model.named_parameters())
    assert rates[named["classifier.weight"].data_ptr()] == pytest.approx(1e-3)
    assert rates[named["bert.encoder.layer.1.output.dense.weight"].data_ptr()] == pytest.approx(5e-4)
    assert rates[named["bert.encoder.layer.0.output.dense.weight"].data_ptr()] == pytest.approx(2.5e-4)
    assert rates[named["bert.embeddings.word_embeddings.weight"].data_ptr()] == pytest.approx(1.25e-4)
    flat = {g["lr"] for g in _optimizer(model, Hyperparameters(learning_rate=1e-3)).param_groups}
    assert flat == {1e-3}


def test_context_layer_decay_and_weight_averaging_train_and_predict(tiny_model, tmp_path):
    docs = synthetic_documents(120)
    base = dict(epochs=6, learning_rate=5e-3, batch_size=8, max_length=16, patience=0, precision="fp32")
    plain = train(
        docs, ["Disease", "Chemical"], Hyperparameters(**base), base_model=tiny_model, output_dir=tmp_path / "a"
    )
    hp = Hyperparameters(**base, ema_decay=0.9)
    averaged = train(docs, ["Disease", "Chemical"], hp, base_model=tiny_model, output_dir=tmp_path / "b")
    # Averaging changes what is kept, never the steps taken.
    assert averaged.loss_history == plain.loss_history
    assert (tmp_path / "a" / "model.safetensors").read_bytes() != (tmp_path / "b" / "model.safetensors").read_bytes()
    assert averaged.evaluation["micro"]["f1"] > 0.9

    hp = Hyperparameters(**base, context=12, layer_decay=0.8)
    result = train(docs, ["Disease", "Chemical"], hp, base_model=tiny_model, output_dir=tmp_path / "c")
    assert result.evaluation["micro"]["f1"] > 0.9
    assert json.loads((tmp_path / "c" / "hyperparameters.json").read_text())["context"] == 12
    with pytest.raises(ValueError, match="max_length plus twice the context must be at most 128"):
        train(
            docs,
            ["Disease", "Chemical"],
            Hyperparameters(max_length=64, context=40),
            base_model=tiny_model,
            output_dir=tmp_path / "d",
        )


def test_pretraining_on_the_project_text_runs_first_and_leaves_no_files(tiny_model, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    docs = synthetic_documents(40)
    unlabelled = [d.tokens for d in synthetic_documents(20, seed=5)]
    progress: list[Progress] = []
    hp = Hyperparameters(epochs=1, batch_size=8, max_length=16, precision="fp32", mlm_epochs=2)
    result = train(
        docs,
        ["Disease", "Chemical"],
        hp,
        base_model=tiny_model,
        output_dir=tmp_path / "model",
        on_progress=progress.append,
        unlabelled=unlabelled,
    )
    pretraining = [p for p in progress if p.phase == "pretraining"]
    assert pretraining and pretraining[-1].step == pretraining[-1].total_steps == result.pretraining["steps"]
    assert progress.index(pretraining[-1]) < min(i for i, p in enumerate(progress) if p.phase == "train")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    train_docs, _dev = split_documents(docs, hp.dev_fraction)
    expected = ex.build_examples(tokenizer, [d.tokens for d in train_docs] + unlabelled, 16)
    assert result.pretraining["chunks"] == len(expected)  # the dev documents' text is never learnt
    assert result.pretraining["seconds"] > 0
    assert list((tmp_path / "scratch").iterdir()) == []  # the adapted encoder is not left behind
    without = train(
        docs,
        ["Disease", "Chemical"],
        Hyperparameters(epochs=1, batch_size=8, max_length=16, precision="fp32"),
        base_model=tiny_model,
        output_dir=tmp_path / "plain",
    )
    assert without.pretraining is None and without.loss_history != result.loss_history


@given(document=tagged_documents(), max_pieces=st.integers(min_value=1, max_value=12))
@settings(max_examples=200, deadline=None)
def test_packed_chunks_are_runs_of_whole_sentences_that_fit(document, max_pieces):
    tokens, counts, tags = document
    single = ex.chunk_spans(tokens, counts, max_pieces, tags)
    packed = ex.chunk_spans(tokens, counts, max_pieces, tags, pack=True)
    sentence_at = {start: end for start, end in ex.sentence_spans(tokens, tags)}
    windows = {span for span in single if sentence_at.get(span[0]) != span[1]}
    assert len(packed) <= len(single)
    covered = set()
    for start, end in packed:
        assert (start, end) in single or start in sentence_at and sum(counts[start:end]) <= max_pieces
        covered.update(range(start, end))
    assert covered == set(range(len(tokens)))
    for first, second in zip(packed, packed[1:]):
        if first not in windows and second[0] in sentence_at and first[1] == second[0]:
            # Greedy: the next sentence did not fit, or it would have joined.
            assert sum(counts[first[0] : sentence_at[second[0]]]) > max_pieces
