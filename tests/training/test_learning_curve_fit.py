"""The learning curve's fit and its words, on hand-made points."""

import math

import pytest

from training.ml.learning_curve import PAYS_OFF, advice, fit, subset_sizes


def test_the_fit_recovers_a_known_power_law():
    truth = [(n, 0.9 - 0.8 * n**-0.5) for n in (20, 40, 60, 80, 160)]
    curve = fit(truth)
    assert (curve.a, curve.b, curve.c) == (pytest.approx(0.9, abs=1e-6), pytest.approx(0.8, abs=1e-6), 0.5)
    assert curve(320) == pytest.approx(0.9 - 0.8 * 320**-0.5, abs=1e-6)


def test_a_rising_curve_says_more_annotation_pays_off_with_the_gain_and_a_projection():
    points = [(25, 0.52), (50, 0.63), (75, 0.69), (100, 0.72)]
    said = advice(points)
    assert said.pays_off and said.gain >= PAYS_OFF
    assert said.verdict == f"F1 rose {said.gain:.2f} from the last 25% of documents: more annotation still pays off."
    assert 0.72 < said.projected_f1 < 0.85
    assert said.projection.startswith("Fitted F1 = ")
    assert f"doubling to 200 training documents would likely give F1 {said.projected_f1:.2f}." in said.projection


def test_a_flat_curve_says_to_review_instead():
    points = [(100, 0.801), (200, 0.812), (300, 0.814), (400, 0.815)]
    said = advice(points)
    assert not said.pays_off and 0 <= said.gain < PAYS_OFF
    assert said.verdict.startswith("F1 is flat over the last 25% of documents (+0.00")
    assert said.verdict.endswith(": spend effort on review instead.")
    assert said.projected_f1 == pytest.approx(0.82, abs=0.01)


def test_the_threshold_decides_between_the_two_wordings():
    just_rising = [(n, 0.5 + 0.0101 / math.log(4 / 3) * math.log(n / 30)) for n in (30, 40)]
    assert advice(just_rising).pays_off  # a gain of 0.0101 over the last quarter (30 to 40)
    just_flat = [(n, 0.5 + 0.0099 / math.log(4 / 3) * math.log(n / 30)) for n in (30, 40)]
    assert not advice(just_flat).pays_off


def test_a_falling_curve_is_flat_and_projects_within_zero_and_one():
    said = advice([(10, 0.3), (20, 0.2), (30, 0.05)])
    assert not said.pays_off
    assert 0.0 <= said.projected_f1 <= 1.0


def test_one_size_gives_no_curve():
    assert advice([(40, 0.7), (40, 0.72)]) is None
    assert advice([]) is None


def test_subset_sizes_are_quarters_of_the_training_documents():
    assert subset_sizes(40) == [10, 20, 30, 40]
    assert subset_sizes(3) == [1, 2, 2, 3]
