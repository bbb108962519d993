"""How dev F1 grows with the number of training documents, and what that says to do next.

A point is (training documents, F1). `fit` fits F1(n) = a - b·n^-c, the usual shape of a
learning curve, by least squares: for each exponent c on a grid, a and b have a closed form
(a straight line in n^-c), and the c with the smallest squared error wins; no scipy needed.
With two sizes only, it fits F1(n) = a + b·ln n through them. `advice` reads the fitted curve:
the gain over the last quarter of the documents decides the wording, against `PAYS_OFF`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# A gain of at least one F1 point from the last quarter of the documents counts as a rise.
PAYS_OFF = 0.01
LAST_SHARE = 0.25
EXPONENTS = [step / 20 for step in range(1, 41)]  # c from 0.05 to 2.0
FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # of the training documents, for a learning-curve run


@dataclass(frozen=True)
class Fit:
    a: float
    b: float
    c: float | None  # None: the logarithmic curve a + b·ln n

    def __call__(self, documents: float) -> float:
        if self.c is None:
            return self.a + self.b * math.log(documents)
        return self.a - self.b * documents**-self.c

    def formula(self) -> str:
        if self.c is None:
            return f"F1 = {self.a:.2f} {'+' if self.b >= 0 else '−'} {abs(self.b):.3f}·ln n"
        return f"F1 = {self.a:.2f} {'−' if self.b >= 0 else '+'} {abs(self.b):.2f}·n^−{self.c:.2f}"


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares intercept, slope and squared error of ys on xs."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    intercept = mean_y - slope * mean_x
    error = sum((intercept + slope * x - y) ** 2 for x, y in zip(xs, ys))
    return intercept, slope, error


def fit(points: Sequence[tuple[float, float]]) -> Fit | None:
    """The curve through `points` (documents, F1); None with fewer than two sizes."""
    points = [(n, f1) for n, f1 in points if n > 0]
    if len({n for n, _ in points}) < 2:
        return None
    ys = [f1 for _, f1 in points]
    if len({n for n, _ in points}) == 2:
        intercept, slope, _ = _line([math.log(n) for n, _ in points], ys)
        return Fit(intercept, slope, None)
    best = None
    for c in EXPONENTS:
        intercept, slope, error = _line([n**-c for n, _ in points], ys)
        if best is None or error < best[0]:
            best = (error, Fit(intercept, -slope, c))
    return best[1]


@dataclass(frozen=True)
class Advice:
    gain: float  # fitted F1 at all documents minus at three quarters of them
    pays_off: bool
    documents: int
    projected_documents: int
    projected_f1: float
    fitted: Fit

    @property
    def verdict(self) -> str:
        if self.pays_off:
            return f"F1 rose {self.gain:.2f} from the last 25% of documents: more annotation still pays off."
        return f"F1 is flat over the last 25% of documents ({self.gain:+.3f}): spend effort on review instead."

    @property
    def projection(self) -> str:
        return (
            f"Fitted {self.fitted.formula()}: doubling to {self.projected_documents} training documents would "
            f"likely give F1 {self.projected_f1:.2f}."
        )


def advice(points: Sequence[tuple[float, float]]) -> Advice | None:
    """What the curve through `points` says, or None when no curve can be fitted."""
    fitted = fit(points)
    if fitted is None:
        return None
    documents = max(n for n, _ in points)
    gain = fitted(documents) - fitted(documents * (1 - LAST_SHARE))
    projected = min(1.0, max(0.0, fitted(2 * documents)))
    return Advice(gain, gain >= PAYS_OFF, int(documents), int(2 * documents), projected, fitted)


def subset_sizes(documents: int, fractions: Sequence[float] = FRACTIONS) -> list[int]:
    """How many training documents each point of a learning-curve run trains on (at least one)."""
    return [max(1, round(documents * fraction)) for fraction in fractions]
