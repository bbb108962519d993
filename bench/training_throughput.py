"""Training throughput of the pipeline against a naive loop, side by side in one process.

    nice python -m bench.training_throughput [--sentences 500] [--bf16-check N]

Same bundled model (all-MiniLM-L6-v2), same first N NCBI-disease training sentences,
same thread count, one epoch each, batch 16, AdamW:

* naive: every example padded to 128 word pieces, batches in a shuffled order, fp32;
* pipeline, fp32: `training.pipeline.train` with precision="fp32" (dynamic padding,
  length-grouped batches);
* pipeline: `train` with its defaults (plus bf16 autocast where the CPU has it).

Throughput is examples per second over the training steps (collation, forward,
backward, clipping, optimiser and scheduler), as `TrainingResult.train_examples_per_second`
reports it. Each loop first runs a short untimed warm-up; all three use the same fused
AdamW. The loops run in alternating rounds (--rounds, default 2) and the best round
of each is reported, which keeps load from other work on a shared machine from
favouring one side.

`--bf16-check N` also trains on N sentences for 3 epochs in fp32 and in bf16 and
scores both on the NCBI-disease devel set, to check bf16 does not cost accuracy.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from annotation.formats.conll import parse_conll
from training import examples as ex
from training.base_model import default_base_model
from training.device import select_runtime
from training.pipeline import Hyperparameters, TrainingDocument, _load_base, tag_list, train

DATA = Path("/work/shared/data/ncbi-disease")


def read(path: Path, limit: int | None, is_dev: bool) -> list[TrainingDocument]:
    sentences = [s for doc in parse_conll(path.read_text().splitlines()) for s in doc]
    if limit is not None:
        sentences = sentences[:limit]
    return [
        TrainingDocument(f"{path.stem}-{i}", [t for t, _ in s], [g for _, g in s], is_dev=is_dev)
        for i, s in enumerate(sentences)
    ]


def naive_examples_per_second(documents, base_model: str, warmup_steps: int = 2) -> float:
    """Pad to 128, shuffled batches of 16, fp32, AdamW: the loop a first attempt would write."""
    tags = tag_list(["Disease"])
    tag_to_id = {t: i for i, t in enumerate(tags)}
    torch.manual_seed(13)
    tokenizer, model = _load_base(base_model, tags)
    encoded = tokenizer(
        [d.tokens for d in documents], is_split_into_words=True, truncation=True,
        max_length=128, padding="max_length", return_tensors="pt",
    )
    labels = torch.full(encoded["input_ids"].shape, -100, dtype=torch.long)
    for row, doc in enumerate(documents):
        word_labels = [tag_to_id[t] for t in ex.repair_bio(doc.tags)]
        labels[row] = torch.tensor(ex.align_labels(encoded.word_ids(row), word_labels))
    # The same fused AdamW as the pipeline, so the ratio measures padding, grouping and bf16 only.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
    order = list(range(len(documents)))
    random.Random(13).shuffle(order)
    batches = [order[i : i + 16] for i in range(0, len(order), 16)]
    model.train()

    def step(batch):
        out = model(
            input_ids=encoded["input_ids"][batch],
            attention_mask=encoded["attention_mask"][batch],
            labels=labels[batch],
        )
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for batch in batches[:warmup_steps]:
        step(batch)
    started = time.perf_counter()
    for batch in batches:
        step(batch)
    return len(documents) / (time.perf_counter() - started)


def pipeline_examples_per_second(documents, base_model: str, precision: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as scratch:
        warm = Hyperparameters(epochs=1, precision=precision)
        train(documents[:32], ["Disease"], warm, base_model=base_model, output_dir=Path(scratch) / "warm")
        hp = Hyperparameters(epochs=1, precision=precision)
        result = train(documents, ["Disease"], hp, base_model=base_model, output_dir=Path(scratch) / "model")
    return result.train_examples_per_second, result.runtime["precision"]


def bf16_check(sentences: int, base_model: str) -> None:
    documents = read(DATA / "train.conll", sentences, False) + read(DATA / "devel.conll", None, True)
    print(f"\nbf16 vs fp32 accuracy: {sentences} NCBI-disease train sentences, 3 epochs, full devel set")
    print(f"| precision | devel F1 per epoch | best devel F1 | train s | ex/s |")
    print(f"|---|---|---|---|---|")
    for precision in ("fp32", "bf16"):
        with tempfile.TemporaryDirectory() as scratch:
            hp = Hyperparameters(epochs=3, precision=precision)
            result = train(documents, ["Disease"], hp, base_model=base_model, output_dir=Path(scratch) / "m")
        per_epoch = ", ".join(f"{f:.3f}" for f in result.dev_f1_per_epoch)
        print(
            f"| {result.runtime['precision']} | {per_epoch} | {max(result.dev_f1_per_epoch):.3f} | "
            f"{result.train_seconds:.0f} | {result.train_examples_per_second:.1f} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--bf16-check", type=int, metavar="N", help="also compare fp32/bf16 F1 training on N sentences")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the three loops")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    base_model = default_base_model()
    runtime = select_runtime("auto")  # sets the thread count both loops use
    print(f"threads {runtime.threads}, bf16 supported: {runtime.bf16}", flush=True)

    if not args.skip_throughput:
        documents = read(DATA / "train.conll", args.sentences, False)
        names = ["naive: pad to 128, shuffled, fp32", "pipeline, fp32 (dynamic padding, length-grouped)", ""]
        runs: list[list[float]] = [[], [], []]
        precision = "?"
        # Rounds alternate the loops, so load from other work on a shared machine hits all
        # of them alike; the best round of each loop is its least disturbed figure.
        for round_number in range(1, args.rounds + 1):
            runs[0].append(naive_examples_per_second(documents, base_model))
            runs[1].append(pipeline_examples_per_second(documents, base_model, "fp32")[0])
            rate, precision = pipeline_examples_per_second(documents, base_model, "auto")
            runs[2].append(rate)
            print(
                f"round {round_number}: " + ", ".join(f"{r[-1]:.1f}" for r in runs) + " ex/s",
                file=sys.stderr,
                flush=True,
            )
        names[2] = f"pipeline, defaults ({precision})"
        baseline = max(runs[0])
        print(
            f"\nTraining throughput, {len(documents)} NCBI-disease train sentences, batch 16, one epoch, "
            f"best of {args.rounds} alternating rounds"
        )
        print("| loop | examples/s (best) | each round | vs naive |")
        print("|---|---|---|---|")
        for name, rates in zip(names, runs):
            each = " / ".join(f"{r:.1f}" for r in rates)
            print(f"| {name} | {max(rates):.1f} | {each} | {max(rates) / baseline:.2f}x |")
        ratio = max(runs[2]) / baseline
        print(f"\npipeline / naive = {ratio:.2f}x (target >= 2.5x): {'PASS' if ratio >= 2.5 else 'FAIL'}", flush=True)

    if args.bf16_check:
        bf16_check(args.bf16_check, base_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
