"""Inference on a tiny BERT trained for a few seconds (once per module): exact offsets on
tricky texts, sliding windows, the predictor cache, uncertainty. No database."""

import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from annotation.text.tokenize import tokenize
from training.ml import inference
from training.ml.data import Hyperparameters, TrainingDocument
from training.ml.decoding import fill_pieceless
from training.ml.inference import (
    DocumentPrediction,
    Predictor,
    Suggestion,
    aggregate,
    clear_predictor_cache,
    load_predictor,
    piece_windows,
    predictor_cache_info,
    rare_label_first,
)
from training.ml.pipeline import train

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["TREATMENT", "DISEASE"]
TAGS = ["O", "B-TREATMENT", "I-TREATMENT", "B-DISEASE", "I-DISEASE"]
FILLERS = ["the", "patient", "has", "a", "of", "and", "with", "was", "given", "for", "after", "treated", ",", "."]
# Words outside the tiny vocabulary: they all become [UNK] (tagged O in training).
UNKNOWN = ["🙂", "café", "Zürich", "ασθενής", "患者", "المريض", "xyz", "é"]
ENTITIES = [
    (["aspirin"], "TREATMENT"),
    (["insulin"], "TREATMENT"),
    (["chemotherapy"], "TREATMENT"),
    (["asthma"], "DISEASE"),
    (["diabetes"], "DISEASE"),
    (["lung", "cancer"], "DISEASE"),
    (["breast", "cancer"], "DISEASE"),
]


def synthetic_documents(count: int, seed: int = 0) -> list[TrainingDocument]:
    """Long runs of filler (no sentence breaks, so examples fill whole 64-piece windows)
    with entities. 'surgery' is TREATMENT half the time and O otherwise, at random: the
    model cannot be sure about it."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        tokens, tags = [], []
        while len(tokens) < 70:
            for _ in range(rng.randint(1, 6)):
                tokens.append(rng.choice(FILLERS) if rng.random() < 0.8 else rng.choice(UNKNOWN))
                tags.append("O")
            roll = rng.random()
            if roll < 0.15:
                tokens.append("surgery")
                tags.append("B-TREATMENT" if rng.random() < 0.5 else "O")
            else:
                words, label = rng.choice(ENTITIES)
                tokens += words
                tags += [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
        documents.append(TrainingDocument(f"doc-{index}", tokens, tags, is_dev=False))
    return documents


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module: on a busy 2-core machine the tiny model's many
    small ops run 10-20x slower with two threads waiting on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tiny_bert, tmp_path_factory, one_thread) -> Path:
    from training.ml import pipeline

    output = tmp_path_factory.mktemp("inference") / "model"
    hp = Hyperparameters(
        epochs=4,
        learning_rate=1e-2,
        batch_size=16,
        max_length=64,
        precision="fp32",
        dev_fraction=0.0,
        warmup_ratio=0.05,
    )
    real_select_runtime = pipeline.select_runtime

    def single_threaded(*args, **kwargs):  # train() sets one thread per core; keep one
        runtime = real_select_runtime(*args, **kwargs)
        torch.set_num_threads(1)
        return runtime

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "select_runtime", single_threaded)
        train(synthetic_documents(80), LABELS, hp, base_model=tiny_bert, output_dir=output)
    return output


@pytest.fixture(scope="module")
def predictor(model_dir) -> Predictor:
    return Predictor.from_dir(model_dir, device="cpu")


def predict(predictor: Predictor, text: str) -> DocumentPrediction:
    tokens = tokenize(text)
    return predictor.predict(text, tokens.starts, tokens.ends)


def found(text: str, prediction: DocumentPrediction) -> list[tuple[str, str]]:
    return [(text[s.start : s.end].lower(), s.label) for s in prediction.suggestions]


def assert_on_token_edges(text: str, prediction: DocumentPrediction) -> None:
    tokens = tokenize(text)
    for s in prediction.suggestions:
        assert s.start == tokens.starts[s.first_token] and s.end == tokens.ends[s.last_token]
        assert 0 <= s.first_token <= s.last_token < len(tokens.starts)
        assert s.start < s.end and text[s.start : s.end].strip() == text[s.start : s.end]
        assert 0 < s.confidence <= 1
        assert all(tag.startswith("I-") for tag in prediction.tags[s.first_token + 1 : s.last_token + 1])


# ------------------------------------------------------------ offsets on tricky texts

TRICKY = {
    "emoji": ("🙂 The patient 🙂 was given 🙂aspirin🙂 for asthma 🙂.", ["aspirin", "asthma"]),
    # ZWJ sequences: the joiners are tokens of their own that the tokenizer drops (no pieces).
    "emoji-zwj": ("👨\u200d👩\u200d👧 \u200d aspirin \u200d👍🏽 asthma", ["aspirin", "asthma"]),
    "crlf": (
        "The patient has asthma.\r\nShe was given aspirin.\r\n\r\nAfter lung\r\ncancer, insulin.\r\n",
        ["asthma", "aspirin", "lung\r\ncancer", "insulin"],
    ),
    # Precomposed and combining accents; a lone combining mark is a token without word pieces.
    "accents": (
        "Le patient, traité à Zürich: aspirin (naïve e\u0301te\u0301) \u0301 asthma; crème \u0308 insulin",
        ["aspirin", "asthma", "insulin"],
    ),
    "greek": ("Ο ασθενής έχει asthma και πήρε aspirin.", ["asthma", "aspirin"]),
    "cjk": ("患者有 asthma，服用 aspirin。乳腺 breast cancer。", ["asthma", "aspirin", "breast cancer"]),
    "arabic": ("المريض لديه asthma وأعطي aspirin.", ["asthma", "aspirin"]),
    "mixed": ("Ünïcödé 🙂\u200d🙂 αβγ 中文 عربي\r\ndiabetes\tand\u00a0chemotherapy …", ["diabetes", "chemotherapy"]),
}
EXPECTED_LABEL = {
    "aspirin": "TREATMENT",
    "insulin": "TREATMENT",
    "chemotherapy": "TREATMENT",
    "asthma": "DISEASE",
    "diabetes": "DISEASE",
    "lung\r\ncancer": "DISEASE",
    "breast cancer": "DISEASE",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_offsets_are_exact_on_tricky_texts(predictor, name):
    text, entities = TRICKY[name]
    prediction = predict(predictor, text)
    assert found(text, prediction) == [(entity, EXPECTED_LABEL[entity]) for entity in entities]
    assert_on_token_edges(text, prediction)
    assert len(prediction.tags) == len(prediction.token_confidences) == len(tokenize(text).starts)


def test_tokens_without_word_pieces_keep_the_alignment(predictor):
    text = "\u200d \u0301 \u200d aspirin \u0301 \u0301 asthma \u200d"
    tokens = tokenize(text)
    words = [text[s:e] for s, e in zip(tokens.starts, tokens.ends)]
    assert words == ["\u200d", "\u0301", "\u200d", "aspirin", "\u0301", "\u0301", "asthma", "\u200d"]
    prediction = predictor.predict(text, tokens.starts, tokens.ends)
    assert prediction.tags == ["O", "O", "O", "B-TREATMENT", "O", "O", "B-DISEASE", "O"]
    assert prediction.token_confidences[3] > 0.5 and prediction.token_confidences[6] > 0.5
    assert [c is None for c in prediction.token_confidences] == [True, True, True, False, True, True, False, True]


def test_a_joiner_inside_an_entity_does_not_cut_it(predictor):
    text = "given lung \u200d cancer ."
    prediction = predict(predictor, text)
    assert found(text, prediction) == [("lung \u200d cancer", "DISEASE")]
    [s] = prediction.suggestions
    assert (s.first_token, s.last_token) == (1, 3)


def test_arbitrary_token_grids_are_respected(predictor):
    # Not the studio's tokenizer: offsets the caller chose, with gaps and a multi-word token.
    text = "xx aspirin yy  breast cancer zz"
    starts, ends = [0, 3, 11, 15], [2, 10, 13, 28]
    prediction = predictor.predict(text, starts, ends)
    assert [(s.start, s.end, s.label) for s in prediction.suggestions] == [(3, 10, "TREATMENT"), (15, 28, "DISEASE")]


def test_empty_and_invalid_input(predictor):
    empty = predictor.predict("", [], [])
    assert empty.suggestions == [] and empty.tags == [] and empty.windows == 0
    assert empty.min_max_probability == 1.0 and empty.mean_entropy == 0.0
    assert empty.expected_counts == {"TREATMENT": 0.0, "DISEASE": 0.0}
    blank = predictor.predict("\u200d", [0], [1])
    assert blank.tags == ["O"] and blank.token_confidences == [None]
    with pytest.raises(ValueError, match="2 token starts but 1 token ends"):
        predictor.predict("ab cd", [0, 3], [2])
    with pytest.raises(ValueError, match="not within the text"):
        predictor.predict("ab", [0], [3])


def test_predict_text_uses_the_studio_tokenizer_and_the_cache(model_dir):
    clear_predictor_cache()
    text = "Given aspirin for asthma."
    prediction = load_predictor(model_dir).predict_text(text)
    assert found(text, prediction) == [("aspirin", "TREATMENT"), ("asthma", "DISEASE")]
    assert load_predictor(model_dir) is load_predictor(model_dir)
    assert predictor_cache_info().currsize == 1
    clear_predictor_cache()


def test_predict_many_matches_one_by_one(predictor):
    texts = [TRICKY[name][0] for name in sorted(TRICKY)] + [" ".join(["the patient"] * 90 + ["aspirin"]), ""]
    grids = [tokenize(text) for text in texts]
    together = predictor.predict_many([(t, g.starts, g.ends) for t, g in zip(texts, grids)])
    for text, grid, batched in zip(texts, grids, together):
        alone = predictor.predict(text, grid.starts, grid.ends)
        assert batched.tags == alone.tags
        assert [(s.start, s.end, s.label) for s in batched.suggestions] == [
            (s.start, s.end, s.label) for s in alone.suggestions
        ]
        for a, b in zip(batched.token_confidences, alone.token_confidences):
            assert (a is None and b is None) or abs(a - b) < (1e-2 if predictor.bf16 else 1e-4)


# ------------------------------------------------------------ long documents, sliding windows


def test_window_limit_comes_from_the_model(predictor):
    assert predictor.max_pieces == 126  # 128 positions minus [CLS] and [SEP]
    assert predictor.overlap == 63  # 128 asked, at most half a window
    one = predict(predictor, " ".join(["the"] * 126))
    two = predict(predictor, " ".join(["the"] * 127))
    assert (one.windows, two.windows) == (1, 2)


def test_entities_beyond_512_pieces_are_found(predictor):
    words = []
    expected = []
    for index in range(900):
        if index % 37 == 5 or index == 897:
            entity = "aspirin" if len(expected) % 2 == 0 else "asthma"
            expected.append((index, EXPECTED_LABEL[entity]))
            words.append(entity)
        else:
            words.append(FILLERS[index % len(FILLERS)])
    text = " ".join(words)
    assert len(predictor.tokenizer(words, is_split_into_words=True)["input_ids"]) > 512

    widths = []
    hook = predictor.model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        prediction = predict(predictor, text)
    finally:
        hook.remove()
    assert max(widths) <= 128 and prediction.windows > 10
    assert [(s.first_token, s.label) for s in prediction.suggestions] == expected
    assert prediction.suggestions[-1].first_token == 897  # the last part of the document
    assert_on_token_edges(text, prediction)

    # Many small windows (16 pieces, overlap 8) find the same entities.
    small = Predictor(predictor.tokenizer, predictor.model, predictor.tags, max_pieces=16, overlap=8, device="cpu")
    assert [(s.first_token, s.label) for s in predict(small, text).suggestions] == expected


def test_long_document_with_the_default_window(predictor):
    text = "🙂 " + " ".join(["the patient was given"] * 200) + " aspirin for asthma"
    prediction = predict(predictor, text)
    assert found(text, prediction)[-2:] == [("aspirin", "TREATMENT"), ("asthma", "DISEASE")]
    assert prediction.windows >= 800 // 63
    assert_on_token_edges(text, prediction)


def test_piece_windows_cover_everything_with_the_overlap():
    assert piece_windows(0, 10, 4) == []
    assert piece_windows(7, 10, 4) == [(0, 7)]
    assert piece_windows(10, 10, 4) == [(0, 10)]
    assert piece_windows(23, 10, 4) == [(0, 10), (6, 16), (12, 22), (13, 23)]
    for n in range(1, 300, 7):
        for size, overlap in [(10, 4), (126, 63), (510, 128), (5, 0), (1, 0)]:
            windows = piece_windows(n, size, overlap)
            assert windows[0][0] == 0 and windows[-1][1] == n
            assert all(0 < end - start <= size for start, end in windows)
            for (s1, e1), (s2, e2) in itertools.pairwise(windows):
                assert s1 < s2 and e1 < e2 and e1 - s2 >= overlap


class EdgeModel(torch.nn.Module):
    """A stand-in model whose answer depends on where a piece sits in its window: B-X
    when it is at least 2 pieces from a window edge that cuts the document, else O.
    Piece ids are document positions + 10."""

    def __init__(self, n_pieces: int):
        super().__init__()
        self.n = n_pieces
        self.config = SimpleNamespace(num_labels=3, max_position_embeddings=12)

    def forward(self, input_ids, attention_mask):
        logits = torch.zeros(input_ids.shape + (3,))
        for row, (ids, mask) in enumerate(zip(input_ids.tolist(), attention_mask.tolist())):
            content = ids[1 : sum(mask) - 1]
            first, last = content[0] - 10, content[-1] - 10
            for k, _piece in enumerate(content):
                before = k if first > 0 else math.inf
                after = len(content) - 1 - k if last < self.n - 1 else math.inf
                logits[row, k + 1, 1 if min(before, after) >= 2 else 0] = 5.0
        return SimpleNamespace(logits=logits)


class Encoding(dict):
    def __init__(self, rows, word_ids):
        super().__init__(input_ids=rows)
        self._word_ids = word_ids

    def word_ids(self, index=0):
        return self._word_ids[index]


class PositionTokenizer:
    """Word 'wN' is the single piece N + 10; [CLS] = 1, [SEP] = 2, 12 positions."""

    is_fast = True
    pad_token_id = 0
    model_max_length = 12

    def __call__(self, word_lists, is_split_into_words, add_special_tokens=True, verbose=False):
        assert is_split_into_words
        single = all(isinstance(word, str) for word in word_lists)
        rows = [[int(w[1:] or 0) + 10 for w in words] for words in ([word_lists] if single else word_lists)]
        if add_special_tokens:
            encoding = Encoding([[1, *row, 2] for row in rows], [[None, *range(len(row)), None] for row in rows])
        else:
            encoding = Encoding(rows, [list(range(len(row))) for row in rows])
        if single:  # like a real tokenizer: one unbatched sequence
            encoding["input_ids"] = encoding["input_ids"][0]
        return encoding


def test_each_word_takes_the_window_where_it_is_furthest_from_an_edge():
    n = 40
    predictor = Predictor(PositionTokenizer(), EdgeModel(n), ["O", "B-X", "I-X"], overlap=4, device="cpu")
    assert predictor.max_pieces == 10  # 12 positions minus 2 specials
    text = " ".join(f"w{i}" for i in range(n))
    prediction = predict(predictor, text)
    # With windows overlapping by 4, every word lies >= 2 pieces from a cutting edge in some
    # window; taking the first (or last) window that holds a word would tag some words O.
    assert prediction.windows == 6
    assert prediction.tags == ["B-X"] * n


# ------------------------------------------------------------ tags to spans


def test_aggregate_repairs_iob2_and_averages_confidence():
    tags = ["I-A", "I-A", "O", "B-A", "I-B", "I-B", "B-B", "O", "I-A"]
    confidences = [0.9, 0.7, 0.99, 0.6, 0.5, None, 0.8, 0.9, 0.4]
    starts = [0, 3, 6, 9, 12, 15, 18, 21, 24]
    ends = [2, 5, 8, 11, 14, 17, 20, 23, 26]
    assert aggregate(tags, confidences, starts, ends) == [
        Suggestion(0, 5, "A", pytest.approx(0.8), 0, 1),
        Suggestion(9, 11, "A", 0.6, 3, 3),
        Suggestion(12, 17, "B", 0.5, 4, 5),  # None (no word pieces) does not count
        Suggestion(18, 20, "B", 0.8, 6, 6),
        Suggestion(24, 26, "A", 0.4, 8, 8),
    ]
    assert aggregate([], [], [], []) == []


def test_fill_pieceless():
    assert fill_pieceless([None, "B-A", None, None, "I-A", None, "I-A", None]) == [
        "O",
        "B-A",
        "I-A",
        "I-A",
        "I-A",
        "I-A",
        "I-A",
        "O",
    ]
    assert fill_pieceless(["B-A", None, "I-B", None, "B-A", None, "O"]) == ["B-A", "O", "I-B", "O", "B-A", "O", "O"]


# ------------------------------------------------------------ uncertainty


def test_uncertainty_is_in_range_and_tells_documents_apart(predictor):
    sure = predict(predictor, "the patient was given aspirin for asthma .")
    unsure = predict(predictor, "the patient was given surgery for asthma .")
    n_tags = len(predictor.tags)
    for prediction in (sure, unsure):
        assert 1 / n_tags <= prediction.min_max_probability <= 1
        assert 0 <= prediction.mean_entropy <= math.log(n_tags)
        confidences = [c for c in prediction.token_confidences if c is not None]
        assert prediction.min_max_probability == pytest.approx(min(confidences))
    assert sure.min_max_probability > 0.85
    assert sure.min_max_probability > unsure.min_max_probability + 0.15
    assert unsure.mean_entropy > sure.mean_entropy
    assert unsure.token_confidences[4] == pytest.approx(unsure.min_max_probability)


def test_expected_counts_and_rare_label_first(predictor):
    texts = [
        "the patient was given aspirin , insulin and aspirin .",
        "the patient has asthma and was given aspirin .",
        "the patient was treated .",
    ]
    predictions = [predict(predictor, text) for text in texts]
    counts = [p.expected_counts for p in predictions]
    assert counts[0]["TREATMENT"] == pytest.approx(3, abs=0.4) and counts[0]["DISEASE"] < 0.3
    assert counts[1]["TREATMENT"] == pytest.approx(1, abs=0.3) and counts[1]["DISEASE"] == pytest.approx(1, abs=0.3)
    assert counts[2]["TREATMENT"] < 0.3 and counts[2]["DISEASE"] < 0.3
    assert rare_label_first(predictions, {"TREATMENT": 120, "DISEASE": 4}) == [1, 0, 2]
    assert rare_label_first(predictions, {"TREATMENT": 4, "DISEASE": 120})[0] == 0
    assert rare_label_first(predictions, {"TREATMENT": 4})[0] == 1  # DISEASE never annotated: rarest


# ------------------------------------------------------------ the cache


@pytest.fixture
def counted_loads(monkeypatch):
    from training.ml import pipeline

    calls = []
    real = pipeline.load_model

    def slow_load(model_dir):
        calls.append(str(model_dir))
        time.sleep(0.1)  # widen the window two unguarded threads would both load in
        return real(model_dir)

    monkeypatch.setattr(pipeline, "load_model", slow_load)
    clear_predictor_cache()
    yield calls
    clear_predictor_cache()


def test_cache_returns_the_same_predictor_and_loads_once(model_dir, counted_loads):
    first = load_predictor(model_dir)
    assert load_predictor(str(model_dir)) is first
    assert load_predictor(Path(str(model_dir) + "/.")) is first
    assert len(counted_loads) == 1
    assert first.model.training is False
    assert all(not module.training for module in first.model.modules())
    clear_predictor_cache()
    assert load_predictor(model_dir) is not first
    assert len(counted_loads) == 2


def test_concurrent_threads_load_a_model_once(model_dir, counted_loads):
    barrier = threading.Barrier(6)

    def load(_):
        barrier.wait()
        return load_predictor(model_dir)

    with ThreadPoolExecutor(6) as pool:
        predictors = list(pool.map(load, range(6)))
    assert all(p is predictors[0] for p in predictors)
    assert len(counted_loads) == 1


def test_cache_keeps_the_four_most_recent_and_reloads_a_replaced_directory(model_dir, counted_loads, tmp_path):
    copies = []
    for index in range(5):
        copies.append(tmp_path / f"m{index}")
        shutil.copytree(model_dir, copies[-1])
    loaded = [load_predictor(path) for path in copies]  # m0 is evicted by m4
    assert load_predictor(copies[4]) is loaded[4]
    assert len(counted_loads) == 5
    assert load_predictor(copies[0]) is not loaded[0]
    assert len(counted_loads) == 6
    stat = os.stat(copies[4] / "label_map.json")
    os.utime(copies[4] / "label_map.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_predictor(copies[4]) is not loaded[4]  # a new model version in the same place


def test_threads_can_share_one_predictor(predictor):
    texts = [TRICKY[name][0] for name in sorted(TRICKY)] * 2
    expected = [predict(predictor, text).tags for text in texts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda text: predict(predictor, text).tags, texts))
    assert results == expected


def test_importing_inference_does_not_import_django():
    code = (
        "import sys, training.ml.inference, annotation.text.tokenize; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)


def test_loaded_predictor_is_eval_mode_and_knows_its_labels(predictor, model_dir):
    assert predictor.labels == LABELS and predictor.tags == TAGS
    assert predictor.model_dir == Path(model_dir)
    assert not predictor.model.training
    assert isinstance(inference.CACHE_SIZE, int) and inference.CACHE_SIZE == 4


def test_the_stored_temperature_softens_confidences_and_keeps_the_tags(predictor, model_dir, tmp_path):
    stored = json.loads((Path(model_dir) / "calibration.json").read_text())["temperature"]
    assert predictor.temperature == stored
    copy = tmp_path / "hotter"
    shutil.copytree(model_dir, copy)
    (copy / "calibration.json").write_text(json.dumps({"temperature": stored * 4}))
    hotter = load_predictor(copy)
    assert hotter.temperature == stored * 4
    text = "The patient has asthma and was given aspirin ."
    cool, hot = predict(predictor, text), predict(hotter, text)
    assert hot.tags == cool.tags and [s.label for s in hot.suggestions] == [s.label for s in cool.suggestions]
    assert all(h.confidence < c.confidence for h, c in zip(hot.suggestions, cool.suggestions))
    (copy / "calibration.json").unlink()
    os.utime(copy / "label_map.json")  # a replaced directory: reloaded
    assert load_predictor(copy).temperature == 1.0  # a model trained before calibration


def test_a_bad_temperature_is_refused(model_dir):
    with pytest.raises(ValueError, match="temperature must be a positive number, got 0"):
        Predictor.from_dir(model_dir, temperature=0)
