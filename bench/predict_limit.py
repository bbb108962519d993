"""The longest prediction the studio accepts, timed against the 10 s a request may take.

    nice python -m bench.predict_limit [--repeat 3]

The bundled model (with a seeded, untrained head: time does not depend on the weights)
predicts NCBI-disease abstracts joined into one text of PREDICT_MAX_CHARACTERS (the
limit for "Try it" and the predict API) and of twice that (the limit before),
as the web workers run it (bf16 where the CPU has it natively).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import print_table
from bench.inference_latency import abstracts, make_model_dir

BUDGET_SECONDS = 10.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.conf import settings

    from training.ml.inference import load_predictor

    limit = settings.PREDICT_MAX_CHARACTERS
    corpus = " ".join(abstracts())
    with tempfile.TemporaryDirectory() as directory:
        predictor = load_predictor(make_model_dir(Path(directory)))
        predictor.predict_text("Warm-up: the patient has asthma .")
        rows = []
        for characters in (limit, 2 * limit):
            text = corpus[:characters]
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                predictor.predict_text(text)
                seconds.append(time.perf_counter() - start)
            worst = max(seconds)
            rows.append(
                [
                    f"{characters:,}" + (" (the limit)" if characters == limit else ""),
                    f"{min(seconds):.1f}",
                    f"{worst:.1f}",
                    f"{worst / BUDGET_SECONDS:.2f}",
                ]
            )
    print_table(
        ["characters", "best s", "worst s", "worst / 10 s budget"],
        rows,
        f"Predicting the longest accepted text, {args.repeat} runs each, {'bf16' if predictor.bf16 else 'fp32'} on {predictor.device}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
