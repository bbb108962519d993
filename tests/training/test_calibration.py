"""Temperature scaling, expected calibration error and per-label suggestion thresholds, on
hand-made numbers and a synthetic over-confident model."""

import numpy as np
import pytest

from training.ml.calibration import calibrate, fit_temperature, reliability, softmax
from training.ml.evaluation import precision_curve, threshold_for

TAGS = ["O", "B-DISEASE", "I-DISEASE", "B-TREATMENT", "I-TREATMENT"]


def test_ece_on_hand_made_bins():
    # 0.9 four times, three right: gap 0.15 on 4/6; 0.3 twice, one right: gap 0.2 on 2/6.
    measured = reliability([0.9, 0.9, 0.9, 0.9, 0.3, 0.3], [1, 1, 1, 0, 0, 1])
    assert measured["ece"] == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.2)
    assert measured["count"] == 6
    assert [(b["count"], b["confidence"], b["accuracy"]) for b in measured["bins"]] == [
        (2, pytest.approx(0.3), 0.5),
        (4, pytest.approx(0.9), 0.75),
    ]
    assert measured["bins"][0]["low"] == pytest.approx(4 / 15)


def test_ece_puts_certainty_in_the_last_bin_and_is_zero_when_calibrated():
    measured = reliability([1.0, 1.0, 0.0], [1, 1, 0])
    assert measured["ece"] == 0.0
    assert [(b["low"], b["high"], b["count"]) for b in measured["bins"]] == [(0.0, 1 / 15, 1), (14 / 15, 1.0, 2)]
    assert reliability([], []) == {"ece": 0.0, "count": 0, "bins": []}


def over_confident(n=20000, factor=3.0, seed=0):
    """Labels drawn from softmax(z); the model says 3 z: right as often, far surer."""
    rng = np.random.default_rng(seed)
    calibrated = rng.normal(0, 1.5, size=(n, len(TAGS)))
    probabilities = softmax(calibrated)
    gold = np.array([rng.choice(len(TAGS), p=row) for row in probabilities])
    return factor * calibrated, gold


def test_an_over_confident_model_gets_a_temperature_above_one_and_a_lower_ece():
    logits, gold = over_confident()
    temperature = fit_temperature(logits, gold)
    assert temperature == pytest.approx(3.0, rel=0.1)

    def ece(t):
        probabilities = softmax(logits, t)
        return reliability(probabilities.max(axis=1), probabilities.argmax(axis=1) == gold)["ece"]

    assert ece(1.0) > 0.15 and ece(temperature) < 0.02


def test_an_under_confident_model_gets_a_temperature_below_one():
    logits, gold = over_confident(factor=0.5)
    assert fit_temperature(logits, gold) == pytest.approx(0.5, rel=0.1)
    assert fit_temperature(np.zeros((0, 5)), np.zeros(0, dtype=int)) == 1.0


def test_precision_curve_and_the_lowest_threshold_reaching_a_target():
    confidences = [0.6, 0.95, 0.7, 0.9, 0.5, 0.8]
    correct = [False, True, True, True, False, False]
    curve = precision_curve(confidences, correct)
    assert curve == [
        [0.95, 1.0, 1],
        [0.9, 1.0, 2],
        [0.8, pytest.approx(2 / 3), 3],
        [0.7, 0.75, 4],
        [0.6, 0.6, 5],
        [0.5, 0.5, 6],
    ]
    assert threshold_for(curve, 0.8) == 0.9
    # Precision is not monotone: 0.8 alone falls short of 0.7, yet from 0.7 down it is 0.75.
    assert threshold_for(curve, 0.7) == 0.7
    assert threshold_for(curve, 0.5) == 0.5
    assert threshold_for(precision_curve([0.9, 0.4], [False, True]), 0.8) is None
    assert threshold_for([], 0.8) is None


def test_equal_confidences_are_one_point():
    assert precision_curve([0.9, 0.9, 0.3], [True, False, True]) == [[0.9, 0.5, 2], [0.3, pytest.approx(2 / 3), 3]]


def test_calibrate_measures_tokens_and_entities_before_and_after():
    def row(*probabilities):
        return np.log(np.array(probabilities)) * 4  # an over-confident model's logits

    nan = [np.nan] * len(TAGS)
    dev_logits = [
        np.array(
            [
                row(0.1, 0.6, 0.1, 0.1, 0.1),  # B-DISEASE, right
                row(0.2, 0.1, 0.5, 0.1, 0.1),  # I-DISEASE, right
                nan,  # no word pieces
                row(0.7, 0.1, 0.1, 0.05, 0.05),  # O, right
            ]
        ),
        np.array([row(0.2, 0.1, 0.1, 0.5, 0.1), row(0.6, 0.1, 0.1, 0.1, 0.1)]),  # B-TREATMENT, wrong
    ]
    gold = [["B-DISEASE", "I-DISEASE", "O", "O"], ["O", "O"]]
    measured = calibrate(dev_logits, gold, TAGS)
    assert measured["temperature"] > 1
    assert measured["tokens"]["before"]["count"] == measured["tokens"]["after"]["count"] == 5
    assert measured["entities"]["before"]["count"] == 2
    assert measured["entities"]["after"]["ece"] < measured["entities"]["before"]["ece"]
    assert measured["tokens"]["after"]["ece"] < measured["tokens"]["before"]["ece"]
    disease, treatment = measured["precision_curves"]["DISEASE"], measured["precision_curves"]["TREATMENT"]
    assert [point[1:] for point in disease] == [[1.0, 1]] and [point[1:] for point in treatment] == [[0.0, 1]]
    t = measured["temperature"]
    expected = (softmax(dev_logits[0][0], t)[1] + softmax(dev_logits[0][1], t)[2]) / 2
    assert disease[0][0] == pytest.approx(expected)


def test_a_dev_split_the_model_gets_entirely_right_keeps_the_temperature_near_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, size=(60, len(TAGS)))
    gold = logits.argmax(axis=1)
    logits[np.arange(60), gold] += 9  # every token right, and sure of it
    assert 0.8 < fit_temperature(logits, gold) <= 1.0
