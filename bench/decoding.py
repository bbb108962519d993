"""What constrained Viterbi decoding costs next to taking each token's most probable tag.

    python -m bench.decoding [--repeat 20]

Same seeded random log-probabilities over the 5 tags of two labels, for a 313-word abstract
(~400 tokens) and for the longest text "Try it" accepts (50,000 characters, ~10,000 tokens):

* baseline: greedy argmax per token, then the conlleval-style IOB2 repair the predictor
  used before (`examples.repair_bio`);
* Viterbi: `decoding.viterbi` (a loop over tokens, vectorised over the tags).

p50 / p95 in ms over `--repeat` calls after 5 warm-up calls, and the share of a whole
prediction it adds (against the p50 of bench.inference_latency and bench.predict_limit,
64 ms and 3.8 s on this machine, bf16 and fp32).
"""

import argparse

import numpy as np

from bench.common import p50_p95, print_table, time_calls
from training.ml.decoding import viterbi
from training.ml.examples import repair_bio

TAGS = ["O", "B-DISEASE", "I-DISEASE", "B-TREATMENT", "I-TREATMENT"]
CASES = [("313-word abstract", 400, 64.0), ("50,000 characters", 10_000, 3800.0)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    rows = []
    for name, tokens, prediction_ms in CASES:
        logits = np.random.default_rng(0).normal(0, 3, size=(tokens, len(TAGS)))
        scores = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        greedy = p50_p95(time_calls(lambda s=scores: repair_bio([TAGS[i] for i in s.argmax(axis=1)]), args.repeat))
        decoded = p50_p95(time_calls(lambda s=scores: viterbi(s, TAGS), args.repeat))
        rows.append(
            [
                name,
                f"{tokens:,}",
                f"{greedy[0]:.2f} / {greedy[1]:.2f}",
                f"{decoded[0]:.2f} / {decoded[1]:.2f}",
                f"{decoded[0] / greedy[0]:.1f}x",
                f"{decoded[0] / prediction_ms:.1%}",
            ]
        )
    print_table(
        ["text", "tokens", "greedy + repair, ms", "Viterbi, ms", "ratio", "of a whole prediction"],
        rows,
        title="Decoding",
    )


if __name__ == "__main__":
    main()
