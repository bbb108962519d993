"""Inference latency of `training.ml.inference` against the naive baseline, side by side.

    nice python -m bench.inference_latency [--repeat 30] [--batch 16] [--threads N]

Same bundled model (all-MiniLM-L6-v2 with a seeded, untrained 3-tag head: latency does
not depend on the weights), same thread count, same texts (NCBI-disease abstracts,
title + abstract, the one closest to 313 words first):

* baseline: the `transformers` pipeline, `aggregation_strategy="simple"`, on the raw text
  (for the long document, with `stride=128` so it also windows);
* predictor: `Predictor.predict_text` (the studio tokeniser, one encode, windows of up
  to 510 pieces, `inference_mode`, per-token probabilities, IOB2 repair, spans and the
  uncertainty figures), in fp32 and under bf16 autocast where the CPU has it natively.

Rows: one abstract; a long document (three abstracts, > 512 pieces, so several
windows); and `--batch` abstracts, as ms per document, one call each (pipeline) against
one `predict_many` call. p50 / p95 over `--repeat` calls after 3 warm-up calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from bench.common import corpus_blocks, p50_p95, print_table, time_calls


def abstracts() -> list[str]:
    texts = []
    for block in corpus_blocks():
        parts = {}
        for line in block:
            fields = line.split("|", 2)
            if len(fields) == 3 and fields[1] in ("t", "a"):
                parts[fields[1]] = fields[2]
        if "t" in parts and "a" in parts:
            texts.append(parts["t"] + " " + parts["a"])
    texts.sort(key=lambda text: abs(len(text.split()) - 313))
    return texts


def make_model_dir(directory: Path, labels: tuple[str, ...] = ("Disease",)) -> Path:
    from training.ml.base_model import default_base_model
    from training.ml.pipeline import _load_base, tag_list

    tags = tag_list(list(labels))
    torch.manual_seed(13)
    tokenizer, model = _load_base(default_base_model(), tags)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "label_map.json").write_text(
        json.dumps({"labels": list(labels), "tags": tags, "id2tag": dict(enumerate(tags)), "max_length": 128})
    )
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: one per core; 1 is steadier on a busy machine)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from transformers import pipeline

    from annotation.text.tokenize import tokenize
    from training.ml.device import available_cores, cpu_supports_bf16
    from training.ml.encoders import quiet_transformers
    from training.ml.inference import Predictor

    torch.set_num_threads(args.threads or available_cores())
    texts = abstracts()
    one, batch = texts[0], texts[: args.batch]
    long_text = " ".join(texts[:3])

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_model_dir(Path(tmp))
        fp32 = Predictor.from_dir(model_dir, device="cpu", precision="fp32")
        bf16 = (
            Predictor(fp32.tokenizer, fp32.model, fp32.tags, device="cpu", precision="bf16")
            if cpu_supports_bf16()
            else None
        )
        with quiet_transformers():
            naive = pipeline(
                "token-classification",
                model=fp32.model,
                tokenizer=fp32.tokenizer,
                aggregation_strategy="simple",
                device="cpu",
            )

        def pieces(text):
            return len(fp32.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

        print(
            f"{torch.get_num_threads()} threads; one abstract: {len(one.split())} words, {pieces(one)} pieces; "
            f"long document: {pieces(long_text)} pieces, {fp32.predict_text(long_text).windows} windows; "
            f"bf16 {'on' if bf16 else 'not supported natively, skipped'}",
            flush=True,
        )

        rows = []

        def row(name: str, call, per: int = 1) -> tuple[float, float]:
            p50, p95 = p50_p95([ms / per for ms in time_calls(call, args.repeat, warmup=3)])
            rows.append([name, f"{p50:.1f}", f"{p95:.1f}"])
            print(f"{name}: {p50:.1f} / {p95:.1f} ms", flush=True)
            return p50, p95

        base_one = row("one abstract: pipeline, simple", lambda: naive(one))
        ours_one = row("one abstract: predictor fp32", lambda: fp32.predict_text(one))
        bf16_one = row("one abstract: predictor bf16", lambda: bf16.predict_text(one)) if bf16 else None
        row("long document: pipeline, simple, stride 128", lambda: naive(long_text, stride=128))
        row("long document: predictor fp32", lambda: fp32.predict_text(long_text))
        if bf16:
            row("long document: predictor bf16", lambda: bf16.predict_text(long_text))
        grids = [tokenize(text) for text in batch]
        documents = [(text, grid.starts, grid.ends) for text, grid in zip(batch, grids)]
        row(
            f"{len(batch)} abstracts, per document: pipeline, one call each",
            lambda: [naive(text) for text in batch],
            per=len(batch),
        )
        row(
            f"{len(batch)} abstracts, per document: predictor fp32 predict_many",
            lambda: fp32.predict_many(documents),
            per=len(batch),
        )
        if bf16:
            row(
                f"{len(batch)} abstracts, per document: predictor bf16 predict_many",
                lambda: bf16.predict_many(documents),
                per=len(batch),
            )

        agree = sum(a == b for a, b in zip(fp32.predict_text(one).tags, bf16.predict_text(one).tags)) if bf16 else None
        print_table(["inference", "p50 ms", "p95 ms"], rows, "Inference latency (all-MiniLM-L6-v2, CPU)")
        for name, ours in (("fp32", ours_one), ("bf16", bf16_one)):
            if ours:
                print(
                    f"\npredictor {name} vs pipeline, one abstract: p50 {base_one[0] / ours[0]:.2f}x, "
                    f"p95 {base_one[1] / ours[1]:.2f}x faster",
                    end="",
                )
        print()
        if agree is not None:
            print(f"bf16 tags equal to fp32 on {agree} of {len(fp32.predict_text(one).tags)} tokens (untrained head)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
