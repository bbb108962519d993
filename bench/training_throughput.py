"""Training throughput of the pipeline against a naive loop, side by side in one process.

    nice python -m bench.training_throughput [--sentences 500] [--bf16-check N]

Same bundled model (all-MiniLM-L6-v2), same first N NCBI-disease training sentences,
same thread count, one epoch each, batch 16, the same fused AdamW, clipping and
linear schedule:

* naive: every example padded to 128 word pieces, batches in a shuffled order, fp32,
  the model's own loss;
* pipeline, fp32: the pipeline's examples, length-grouped batches and dynamic padding
  (`training.ml.examples`) and its step (`training.ml.pipeline.train_step`), in fp32;
* pipeline: the same with the pipeline's default precision (bf16 autocast where the
  CPU supports it natively).

The three loops advance in turn, one step each, and each step is timed on its own:
on a shared machine, load from other work then falls on all three alike instead of
on whichever loop happened to be running. Throughput is examples per second over the
steps (collation, forward, backward, clipping, optimiser, scheduler), as
`TrainingResult.train_examples_per_second` reports it; a few untimed warm-up steps
come first.

`--bf16-check N` also trains (`train`) on N sentences for 3 epochs in fp32 and in bf16
and scores both on the NCBI-disease devel set, to check bf16 does not cost accuracy.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from annotation.text.formats.conll import parse_conll
from training.ml import examples as ex
from training.ml.base_model import default_base_model
from training.ml.data import Hyperparameters, TrainingDocument
from training.ml.device import select_runtime
from training.ml.pipeline import (
    _linear_schedule,
    _load_base,
    _optimizer,
    tag_list,
    train,
    train_step,
)

DATA = Path("/work/shared/data/ncbi-disease")
WARMUP_STEPS = 3


def read(path: Path, limit: int | None, is_dev: bool) -> list[TrainingDocument]:
    sentences = [s for doc in parse_conll(path.read_text().splitlines()) for s in doc]
    if limit is not None:
        sentences = sentences[:limit]
    return [
        TrainingDocument(f"{path.stem}-{i}", [t for t, _ in s], [g for _, g in s], is_dev=is_dev)
        for i, s in enumerate(sentences)
    ]


class Loop:
    """One training loop over an epoch, advanced a step at a time."""

    def __init__(self, name, model, batches, step):
        self.name, self.model, self.batches, self.step_fn = name, model, batches, step
        self.position = 0
        self.seconds = 0.0
        self.examples = 0

    def done(self) -> bool:
        return self.position >= len(self.batches)

    def step(self, timed: bool = True) -> None:
        batch = self.batches[self.position % len(self.batches)]
        started = time.perf_counter()
        self.step_fn(batch)
        if timed:
            self.seconds += time.perf_counter() - started
            self.examples += batch["input_ids"].shape[0]
            self.position += 1

    @property
    def rate(self) -> float:
        return self.examples / self.seconds


def naive_loop(documents, base_model: str, hp: Hyperparameters) -> Loop:
    """Pad to 128, shuffled batches of 16, fp32: the loop a first attempt would write."""
    tags = tag_list(["Disease"])
    tag_to_id = {t: i for i, t in enumerate(tags)}
    torch.manual_seed(hp.seed)
    tokenizer, model = _load_base(base_model, tags)
    encoded = tokenizer(
        [d.tokens for d in documents],
        is_split_into_words=True,
        truncation=True,
        max_length=128,
        padding="max_length",
        return_tensors="pt",
    )
    labels = torch.full(encoded["input_ids"].shape, -100, dtype=torch.long)
    for row, doc in enumerate(documents):
        word_labels = [tag_to_id[t] for t in ex.repair_bio(doc.tags)]
        labels[row] = torch.tensor(ex.align_labels(encoded.word_ids(row), word_labels))
    order = list(range(len(documents)))
    random.Random(hp.seed).shuffle(order)
    batches = [
        {
            "input_ids": encoded["input_ids"][order[i : i + 16]],
            "attention_mask": encoded["attention_mask"][order[i : i + 16]],
            "labels": labels[order[i : i + 16]],
        }
        for i in range(0, len(order), 16)
    ]
    optimizer = _optimizer(model, hp)
    scheduler = _linear_schedule(optimizer, 0, 10_000)
    model.train()

    def step(batch):
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    return Loop("naive: pad to 128, shuffled, fp32", model, batches, step)


def pipeline_loop(documents, base_model: str, hp: Hyperparameters, precision: str, name: str) -> Loop:
    runtime = select_runtime(precision)
    tags = tag_list(["Disease"])
    tag_to_id = {t: i for i, t in enumerate(tags)}
    torch.manual_seed(hp.seed)
    tokenizer, model = _load_base(base_model, tags)
    examples = ex.build_examples(
        tokenizer, [d.tokens for d in documents], hp.max_length, [ex.repair_bio(d.tags) for d in documents], tag_to_id
    )
    order = ex.length_grouped_batches([len(e) for e in examples], hp.batch_size, random.Random(hp.seed))
    batches = [ex.collate([examples[i] for i in indices], tokenizer.pad_token_id) for indices in order]
    optimizer = _optimizer(model, hp)
    scheduler = _linear_schedule(optimizer, 0, 10_000)
    model.train()

    def step(batch):
        train_step(model, batch, optimizer, scheduler, runtime, hp.max_grad_norm)

    return Loop(f"{name} ({runtime.precision})", model, batches, step)


def throughput(sentences: int, base_model: str) -> bool:
    documents = read(DATA / "train.conll", sentences, False)
    hp = Hyperparameters(batch_size=16)  # examples are sentences here, as in the figures before
    loops = [
        naive_loop(documents, base_model, hp),
        pipeline_loop(
            documents,
            base_model,
            Hyperparameters(batch_size=16, precision="fp32"),
            "fp32",
            "pipeline, dynamic padding, length-grouped",
        ),
        pipeline_loop(documents, base_model, hp, hp.precision, "pipeline, defaults"),
    ]
    select_runtime("auto")  # the thread count every loop runs with
    for _ in range(WARMUP_STEPS):
        for loop in loops:
            loop.step(timed=False)
    while not all(loop.done() for loop in loops):
        for loop in loops:
            if not loop.done():
                loop.step()
    baseline = loops[0].rate
    print(
        f"\nTraining throughput: {len(documents)} NCBI-disease train sentences, batch 16, one epoch, "
        f"steps interleaved, {torch.get_num_threads()} threads"
    )
    print("| loop | steps | examples/s | vs naive |")
    print("|---|---|---|---|")
    for loop in loops:
        print(f"| {loop.name} | {loop.position} | {loop.rate:.1f} | {loop.rate / baseline:.2f}x |")
    ratio = loops[-1].rate / baseline
    print(f"\npipeline / naive = {ratio:.2f}x (target >= 2.5x): {'PASS' if ratio >= 2.5 else 'FAIL'}", flush=True)
    return ratio >= 2.5


def bf16_check(sentences: int, base_model: str) -> None:
    documents = read(DATA / "train.conll", sentences, False) + read(DATA / "devel.conll", None, True)
    print(f"\nbf16 vs fp32 accuracy: {sentences} NCBI-disease train sentences, 3 epochs, full devel set")
    print("| precision | devel F1 per epoch | best devel F1 | train s | ex/s |")
    print("|---|---|---|---|---|")
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
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    base_model = default_base_model()
    runtime = select_runtime("auto")
    print(f"threads {runtime.threads}, bf16 supported: {runtime.bf16}", flush=True)
    ok = True
    if not args.skip_throughput:
        ok = throughput(args.sentences, base_model)
    if args.bf16_check:
        bf16_check(args.bf16_check, base_model)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
