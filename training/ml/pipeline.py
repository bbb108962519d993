"""Fine-tune a token-classification model on BIO-tagged documents. No Django here:
plain data in (`TrainingDocument`s, labels, `Hyperparameters`), plain results out
(a model directory and a `TrainingResult`).

Steps: split documents into train/dev (stable sha1 of the document id, unless
`is_dev` says), cut them into sentence-sized word-piece examples (`examples.py`),
train with AdamW + linear warm-up/decay + gradient clipping on length-grouped,
dynamically padded batches (bf16 autocast where the hardware has it), evaluate
on dev after each epoch, keep the best epoch (early stopping with `patience`),
fit its temperature on dev (`calibration.py`), and write the artifacts to a temporary directory that is renamed to `output_dir`
only when complete. Fine-tuning can also run on several processes (`distributed.py`).

Artifacts: `config.json` + `model.safetensors` (weights), the tokenizer files,
`label_map.json`, `calibration.json` (the temperature), `hyperparameters.json`,
`metrics.json`, `data_snapshot.json`.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from training.ml import distributed
from training.ml import examples as ex
from training.ml.calibration import CALIBRATION_FILE, calibrate
from training.ml.data import (
    Hyperparameters,
    Progress,
    TrainingCancelled,
    TrainingDataError,
    TrainingDocument,
    split_documents,
)
from training.ml.decoding import decode
from training.ml.device import Runtime, select_runtime
from training.ml.encoders import declare_positions, load_tokenizer, quiet_transformers, usable_positions
from training.ml.evaluation import evaluate


@dataclass
class TrainingResult:
    model_dir: Path
    epochs_run: int
    best_epoch: int  # 1-based; the last epoch when there is no dev split
    dev_f1_per_epoch: list[float]  # micro F1 on dev after each epoch (empty without dev)
    loss_history: list[float]  # training loss of every optimiser step
    train_seconds: float  # wall time of the training loop, per-epoch dev evaluation included
    train_examples_per_second: float  # examples / time spent in training steps alone
    words_seen: int  # words of the train and dev documents times the epochs run: what the run's time scales with
    evaluation: dict | None  # evaluation.evaluate() on dev for the best epoch; None without dev
    epoch_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    runtime: dict = field(default_factory=dict)  # device, precision, threads
    calibration: dict | None = None  # calibration.calibrate() on dev for the best epoch; None without dev
    pretraining: dict | None = None  # domain_adaptation.adapt()'s summary when mlm_epochs > 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model_dir"] = str(self.model_dir)
        return data


# ---------------------------------------------------------------- data checks


def _check_documents(documents: Sequence[TrainingDocument], labels: Sequence[str]) -> None:
    if not labels:
        raise TrainingDataError("no labels to train")
    if len(set(labels)) != len(labels):
        raise TrainingDataError("labels must be unique")
    known = set(labels)
    ids = set()
    for doc in documents:
        if doc.doc_id in ids:
            raise TrainingDataError(f"document id {doc.doc_id!r} appears twice")
        ids.add(doc.doc_id)
        if len(doc.tokens) != len(doc.tags):
            raise TrainingDataError(f"document {doc.doc_id!r}: {len(doc.tokens)} tokens but {len(doc.tags)} tags")
        if doc.token_offsets is not None and len(doc.token_offsets) != len(doc.tokens):
            raise TrainingDataError(f"document {doc.doc_id!r}: token_offsets do not match the tokens")
        for position, tag in enumerate(doc.tags):
            if tag == "O":
                continue
            if tag[:2] not in ("B-", "I-") or not tag[2:]:
                raise TrainingDataError(f"document {doc.doc_id!r}, token {position}: {tag!r} is not a BIO tag")
            if tag[2:] not in known:
                raise TrainingDataError(
                    f"document {doc.doc_id!r}, token {position}: label {tag[2:]!r} is not one of {', '.join(labels)}"
                )


def _check_training_split(train_docs: Sequence[TrainingDocument], labels: Sequence[str]) -> None:
    if not any(doc.tokens for doc in train_docs):
        raise TrainingDataError("no training data: the training split has no tokens")
    counts = dict.fromkeys(labels, 0)
    for doc in train_docs:
        for tag in ex.repair_bio(doc.tags):
            if tag.startswith("B-"):
                counts[tag[2:]] += 1
    missing = [label for label, count in counts.items() if count == 0]
    if missing:
        raise TrainingDataError("no examples in the training split for label(s): " + ", ".join(missing))


def tag_list(labels: Sequence[str]) -> list[str]:
    return ["O", *(f"{prefix}-{label}" for label in labels for prefix in "BI")]


# ---------------------------------------------------------------- models


def _load_base(base_model: str, tags: list[str]):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForTokenClassification

    with quiet_transformers():
        tokenizer = load_tokenizer(base_model)
        model = AutoModelForTokenClassification.from_pretrained(
            base_model,
            num_labels=len(tags),
            id2label=dict(enumerate(tags)),
            label2id={t: i for i, t in enumerate(tags)},
            ignore_mismatched_sizes=True,  # a fine-tuned base with other labels gets a new head
        )
    declare_positions(tokenizer, model)
    return tokenizer, model


def load_model(model_dir: str | Path):
    """Load a trained model: returns (tokenizer, model in eval mode, tags in id order)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model_dir = Path(model_dir)
    tags = json.loads((model_dir / "label_map.json").read_text())["tags"]
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForTokenClassification.from_pretrained(model_dir)
    model.eval()
    return tokenizer, model, tags


# ---------------------------------------------------------------- training


_LAYER_NUMBER = re.compile(r"\.layers?\.(\d+)\.")


def layer_depth(name: str, layers: int) -> int:
    """0 for the embeddings, 1..layers for the encoder's layers, layers + 1 for the head."""
    if "embeddings" in name:
        return 0
    match = _LAYER_NUMBER.search(name)
    return int(match.group(1)) + 1 if match else layers + 1


def _optimizer(model, hp: Hyperparameters):
    """AdamW; with `layer_decay` < 1, layer-wise rates: the head learns at the full rate and
    each layer below at `layer_decay` times the rate of the one above (the lower layers hold
    general language the small data should not wash out)."""
    layers = getattr(model.config, "num_hidden_layers", 0) or 0
    grouped: dict[tuple[int, bool], list] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            depth = layer_depth(name, layers) if hp.layer_decay < 1 else layers + 1
            grouped.setdefault((depth, parameter.ndim >= 2), []).append(parameter)  # no decay: biases, LayerNorm
    groups = [
        {
            "params": parameters,
            "weight_decay": hp.weight_decay if decays else 0.0,
            "lr": hp.learning_rate * hp.layer_decay ** (layers + 1 - depth),
        }
        for (depth, decays), parameters in sorted(grouped.items())
    ]
    try:
        # The fused kernel: one pass over all parameters, ~8x faster than the default
        # per-tensor loop on CPU (12 vs 104 ms a step for the 22.6M-parameter MiniLM here).
        return torch.optim.AdamW(groups, lr=hp.learning_rate, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch or an unsupported device
        return torch.optim.AdamW(groups, lr=hp.learning_rate)


def _linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _weight_average(model, decay: float):
    """An exponential moving average of the weights (None when `decay` is 0): it sits in the
    middle of the last steps' noise, which tends to score better than the last step itself."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))


def pretraining_extra(train_docs, unlabelled: Sequence[Sequence[str]], seed: int) -> list[list[str]]:
    """Unlabelled documents, in an order the seed fixes, up to the training split's word count."""
    budget = sum(len(doc.tokens) for doc in train_docs)
    order = list(range(len(unlabelled)))
    random.Random(seed).shuffle(order)
    chosen = []
    for index in order:
        if len(unlabelled[index]) > budget:
            continue
        chosen.append(list(unlabelled[index]))
        budget -= len(unlabelled[index])
    return chosen


def _adapt_to_domain(base_model, texts, output_dir: Path, hp: Hyperparameters, runtime, on_progress, stop_requested):
    from training.ml.domain_adaptation import adapt

    started = time.perf_counter()

    def on_step(step: int, total: int, loss: float) -> None:
        if on_progress is not None:
            elapsed = time.perf_counter() - started
            eta = elapsed / step * (total - step)
            on_progress(Progress(0, hp.epochs, step, total, loss, [], elapsed, eta, phase="pretraining"))

    try:
        return adapt(
            base_model,
            texts,
            output_dir,
            epochs=hp.mlm_epochs,
            runtime=runtime,
            max_length=hp.max_length,
            batch_size=hp.batch_size,
            seed=hp.seed,
            on_step=on_step,
            should_stop=stop_requested,
        )
    except InterruptedError:
        raise TrainingCancelled("cancelled while pretraining on the project's text") from None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def train_step(
    model,
    batch: dict,
    optimizer,
    scheduler,
    runtime: Runtime,
    max_grad_norm: float,
    scaler=None,
    *,
    labelled: int | None = None,
    weight: float = 1.0,
) -> float:
    """One optimiser step on a collated batch (the body of `train`'s loop); returns the loss.

    The loss is computed in fp32 from the logits, outside autocast. Where the runtime splits
    batches into micro-batches, each adds its share of the batch's mean loss to the
    gradients, so the step is the one the whole batch would take. `scaler` (fp16) scales the
    loss and skips steps whose gradients overflowed. One of several processes passes the
    whole batch's `labelled` pieces and its share's `weight` (`distributed.Team.share`)."""
    batch = {k: v.to(runtime.device) for k, v in batch.items()}
    labels = batch.pop("labels")
    if labelled is None:
        labelled = max(1, int((labels != ex.IGNORE_INDEX).sum()))
    rows = len(labels)
    step = runtime.micro_batch_size or rows
    total = 0.0
    for first in range(0, rows, step):
        # Processes average gradients once a step, after the last micro-batch: their shares
        # may take a different number of micro-batches.
        last = first + step >= rows
        with model.no_sync() if isinstance(model, DistributedDataParallel) and not last else contextlib.nullcontext():
            with runtime.autocast():
                logits = model(**{k: v[first : first + step] for k, v in batch.items()}).logits
            loss = (
                torch.nn.functional.cross_entropy(
                    logits.float().view(-1, logits.shape[-1]),
                    labels[first : first + step].reshape(-1),
                    ignore_index=ex.IGNORE_INDEX,
                    reduction="sum",
                )
                / labelled
            )
            if weight != 1.0:
                loss = loss * weight
            (scaler.scale(loss) if scaler is not None else loss).backward()
        total += float(loss.detach())
    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def train(
    documents: Sequence[TrainingDocument],
    labels: Sequence[str],
    hyperparameters: Hyperparameters | None = None,
    *,
    base_model: str,
    output_dir: str | Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | None = None,
    unlabelled: Sequence[Sequence[str]] = (),
    processes: int = 1,
) -> TrainingResult:
    """Train, evaluate per epoch on dev, keep the best epoch, write it to `output_dir`.

    With `hp.mlm_epochs`, the base model first learns the text of the training documents and
    of `unlabelled` (token lists; never the dev documents, whose scores would flatter; at most
    as many words as the training split, so pretraining costs about two epochs at most) as a
    masked language model (`domain_adaptation.py`), reported as the "pretraining" phase.

    With `processes` > 1, fine-tuning runs on that many processes with
    DistributedDataParallel (`distributed.py`): this one and processes it starts, over gloo
    on CPU (each with its share of the cores) or nccl on GPUs (one each; only the type of
    `device` counts). Pretraining, evaluation and saving stay in this process.

    Raises TrainingDataError (a ValueError) for unusable data, ValueError for bad
    hyperparameters or processes, FileExistsError when `output_dir` exists and is not empty,
    TrainingCancelled when `should_stop()` (checked before and after every step, and
    between dev batches) returns True, and TrainingProcessFailed when another training
    process dies. On any failure nothing is left at `output_dir`.
    """
    distributed.check_processes(processes)
    hp = hyperparameters or Hyperparameters()
    hp.validate()
    labels = list(labels)
    output_dir = Path(output_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise FileExistsError(f"{output_dir} already exists and is not an empty directory")
    _check_documents(documents, labels)
    train_docs, dev_docs = split_documents(documents, hp.dev_fraction)
    _check_training_split(train_docs, labels)

    def stop_requested() -> bool:
        return should_stop is not None and bool(should_stop())

    if stop_requested():
        raise TrainingCancelled("cancelled before training started")

    runtime = select_runtime(hp.precision, device)
    distributed.check_processes(processes, runtime.device.type)
    _seed_everything(hp.seed)
    tags = tag_list(labels)
    with tempfile.TemporaryDirectory(prefix="domain-adapted-") as adapted:
        pretraining = None
        if hp.mlm_epochs:
            pretraining = _adapt_to_domain(
                base_model,
                [doc.tokens for doc in train_docs] + pretraining_extra(train_docs, unlabelled, hp.seed),
                Path(adapted),
                hp,
                runtime,
                on_progress,
                stop_requested,
            )
            base_model_dir = adapted
        else:
            base_model_dir = base_model
        if processes == 1:
            team = distributed.Alone(stop_requested)
            fitted = _fine_tune(team, train_docs, dev_docs, labels, hp, base_model_dir, runtime, on_progress)
        else:
            fitted = _fine_tune_together(
                processes, train_docs, dev_docs, labels, hp, base_model_dir, runtime, on_progress, stop_requested
            )

    model = fitted.model
    if fitted.best_state is not None:
        model.load_state_dict(fitted.best_state)
    if stop_requested():
        raise TrainingCancelled("cancelled before saving")

    result = TrainingResult(
        model_dir=output_dir,
        epochs_run=fitted.epochs_run,
        best_epoch=fitted.best_epoch,
        dev_f1_per_epoch=fitted.dev_f1,
        loss_history=fitted.loss_history,
        train_seconds=fitted.train_seconds,
        train_examples_per_second=fitted.examples_seen / fitted.step_seconds if fitted.step_seconds else 0.0,
        words_seen=sum(len(doc.tokens) for doc in (*train_docs, *dev_docs)) * fitted.epochs_run,
        evaluation=fitted.evaluation,
        epoch_loss=fitted.epoch_loss,
        runtime={**fitted.runtime.describe(), "processes": processes},
        calibration=calibrate(fitted.dev_logits, fitted.dev_gold, tags) if fitted.best_state is not None else None,
        pretraining=pretraining,
    )
    _save(
        model,
        fitted.tokenizer,
        output_dir,
        result,
        hp,
        base_model,
        labels,
        tags,
        train_docs,
        dev_docs,
        fitted.train_examples,
    )
    return result


@dataclass
class _FineTuned:
    """What fine-tuning leaves for `train` to report and save (the leader's, with several processes)."""

    tokenizer: object
    model: torch.nn.Module
    runtime: Runtime
    train_examples: list
    dev_gold: list[list[str]]
    epochs_run: int
    best_epoch: int
    best_state: dict | None  # the best epoch's weights on the CPU; None without dev
    evaluation: dict | None
    dev_logits: list | None
    dev_f1: list[float]
    loss_history: list[float]
    epoch_loss: list[float]
    train_seconds: float
    step_seconds: float
    examples_seen: int


def _fine_tune_together(
    processes, train_docs, dev_docs, labels, hp, base_model_dir, runtime, on_progress, stop_requested
) -> _FineTuned:
    """`_fine_tune` as the leader of `processes` processes."""
    job = {
        "train_docs": list(train_docs),
        "dev_docs": list(dev_docs),
        "labels": list(labels),
        "hyperparameters": hp.to_dict(),
        "base_model": str(base_model_dir),
    }
    threads = torch.get_num_threads()
    try:
        with distributed.lead_team(processes, runtime.device.type, _fine_tune_in_child, job, stop_requested) as team:
            leader_runtime = select_runtime(
                hp.precision, str(team.device), threads=distributed.threads_per_process(processes)
            )
            return _fine_tune(team, train_docs, dev_docs, labels, hp, base_model_dir, leader_runtime, on_progress)
    finally:
        torch.set_num_threads(threads)  # this process may go on to other work on all its cores


def _fine_tune_in_child(index: int, rendezvous: str, size: int, device_type: str, job: dict) -> None:
    """Rank index + 1 of `size` (started by `distributed.lead_team`): trains its shares of
    every batch; the leader evaluates, reports and saves."""
    team = distributed.join_team(index + 1, size, device_type, rendezvous)
    hp = Hyperparameters.from_dict(job["hyperparameters"])
    runtime = select_runtime(hp.precision, str(team.device), threads=distributed.threads_per_process(size))
    try:
        _fine_tune(team, job["train_docs"], job["dev_docs"], job["labels"], hp, job["base_model"], runtime, None)
    except TrainingCancelled:
        pass  # the leader decided it and reports it
    finally:
        team.leave()


def _fine_tune(team, train_docs, dev_docs, labels, hp, base_model_dir, runtime, on_progress) -> _FineTuned:
    """Load the base model and fine-tune it: alone, or as one of several processes (`team`),
    of which only the leader evaluates on dev, reports progress and keeps the best epoch."""
    tags = tag_list(labels)
    tag_to_id = {t: i for i, t in enumerate(tags)}
    tokenizer, model = _load_base(base_model_dir, tags)
    _seed_everything(hp.seed + team.rank)  # the same weights everywhere (DDP starts from the leader's), other dropout
    limit = usable_positions(model)
    if limit is not None and hp.max_length + 2 * hp.context > limit:
        raise ValueError(
            f"max_length plus twice the context must be at most {limit} for this model, "
            f"got {hp.max_length} + 2 × {hp.context}"
        )
    model.to(runtime.device)
    runtime = runtime.sized_for(model, max_length=hp.max_length, batch_size=hp.batch_size)
    scaler = runtime.grad_scaler()

    train_tags = [ex.repair_bio(doc.tags) for doc in train_docs]
    train_examples = ex.build_examples(
        tokenizer,
        [doc.tokens for doc in train_docs],
        hp.max_length,
        train_tags,
        tag_to_id,
        context=hp.context,
        pack=hp.pack_sentences,
    )
    train_examples = [e for e in train_examples if any(label != ex.IGNORE_INDEX for label in e.labels)]
    if not train_examples:
        raise TrainingDataError("no training data: the tokenizer produced no word pieces for the training split")
    dev_gold = [ex.repair_bio(doc.tags) for doc in dev_docs]
    dev_examples = (
        ex.build_examples(
            tokenizer, [doc.tokens for doc in dev_docs], hp.max_length, context=hp.context, pack=hp.pack_sentences
        )
        if team.leads
        else []
    )

    lengths = [len(e) for e in train_examples]
    steps_per_epoch = math.ceil(len(train_examples) / hp.batch_size)
    total_steps = steps_per_epoch * hp.epochs
    optimizer = _optimizer(model, hp)
    scheduler = _linear_schedule(optimizer, int(hp.warmup_ratio * total_steps), total_steps)
    batch_rng = random.Random(hp.seed)
    trained = team.wrap(model)
    averaged = _weight_average(model, hp.ema_decay) if team.leads else None
    evaluated = averaged.module if averaged is not None else model

    dev_f1: list[float] = []
    loss_history: list[float] = []
    epoch_loss: list[float] = []
    best = {"f1": -1.0, "epoch": 0, "state": None, "evaluation": None, "dev_logits": None}
    step = 0
    step_seconds = eval_seconds = 0.0
    examples_seen = 0
    started = time.perf_counter()

    def report(epoch: int, loss: float | None, phase: str) -> None:
        if on_progress is None:
            return
        elapsed = time.perf_counter() - started
        eta = None
        if step:
            remaining_steps = total_steps - step
            per_eval = eval_seconds / max(1, len(dev_f1))
            remaining_evals = hp.epochs - len(dev_f1) if dev_docs else 0
            eta = remaining_steps * step_seconds / step + remaining_evals * per_eval
        on_progress(Progress(epoch, hp.epochs, step, total_steps, loss, list(dev_f1), elapsed, eta, phase))

    model.train()
    epochs_run = 0
    for epoch in range(1, hp.epochs + 1):
        epochs_run = epoch
        losses = []
        for batch_indices in ex.length_grouped_batches(lengths, hp.batch_size, batch_rng):
            if team.stop_requested():
                raise TrainingCancelled(f"cancelled at step {step} of {total_steps}")
            t0 = time.perf_counter()
            share = team.share(batch_indices, train_examples)
            batch = ex.collate([train_examples[i] for i in share.indices], tokenizer.pad_token_id)
            value = train_step(
                trained,
                batch,
                optimizer,
                scheduler,
                runtime,
                hp.max_grad_norm,
                scaler,
                labelled=share.labelled,
                weight=share.weight,
            )
            value = team.batch_loss(value)
            if averaged is not None:
                averaged.update_parameters(model)
            step_seconds += time.perf_counter() - t0
            examples_seen += len(batch_indices)
            step += 1
            losses.append(value)
            loss_history.append(value)
            report(epoch, value, "train")
            if team.stop_requested():
                raise TrainingCancelled(f"cancelled at step {step} of {total_steps}")
        epoch_loss.append(sum(losses) / max(1, len(losses)))

        if not dev_docs:
            continue
        decision = distributed.GO_ON
        if team.leads:
            t0 = time.perf_counter()
            try:
                dev_logits = ex.word_logits(
                    evaluated,
                    tokenizer,
                    [doc.tokens for doc in dev_docs],
                    max_length=hp.max_length,
                    batch_size=runtime.predict_batch_size or max(32, hp.batch_size),
                    device=runtime.device,
                    autocast=runtime.autocast,
                    should_stop=team.asked_to_stop,
                    examples=dev_examples,
                )
            except InterruptedError:
                decision = distributed.CANCELLED
            else:
                predicted = [decode(logits, tags) for logits in dev_logits]
                evaluation = evaluate(
                    dev_gold,
                    predicted,
                    labels=labels,
                    doc_ids=[doc.doc_id for doc in dev_docs],
                    tokens=[doc.tokens for doc in dev_docs],
                    texts=[doc.text for doc in dev_docs],
                    token_offsets=[doc.token_offsets for doc in dev_docs],
                    intervals=True,
                )
                eval_seconds += time.perf_counter() - t0
                f1 = evaluation["micro"]["f1"]
                dev_f1.append(f1)
                if f1 > best["f1"]:
                    best = {
                        "f1": f1,
                        "epoch": epoch,
                        "state": {k: v.detach().to("cpu", copy=True) for k, v in evaluated.state_dict().items()},
                        "evaluation": evaluation,
                        "dev_logits": dev_logits,
                    }
                report(epoch, epoch_loss[-1], "evaluated")
                if hp.patience and epoch - best["epoch"] >= hp.patience:
                    decision = distributed.FINISHED
        decision = team.agree(decision)
        if decision == distributed.CANCELLED:
            raise TrainingCancelled(f"cancelled while evaluating epoch {epoch}")
        if decision == distributed.FINISHED:
            break

    return _FineTuned(
        tokenizer=tokenizer,
        model=model,
        runtime=runtime,
        train_examples=train_examples,
        dev_gold=dev_gold,
        epochs_run=epochs_run,
        best_epoch=best["epoch"] if best["state"] is not None else epochs_run,
        best_state=best["state"],
        evaluation=best["evaluation"],
        dev_logits=best["dev_logits"],
        dev_f1=dev_f1,
        loss_history=loss_history,
        epoch_loss=epoch_loss,
        train_seconds=time.perf_counter() - started,
        step_seconds=step_seconds,
        examples_seen=examples_seen,
    )


def _save(model, tokenizer, output_dir, result, hp, base_model, labels, tags, train_docs, dev_docs, train_examples):
    """Write everything to a sibling temporary directory, then rename it into place."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent))
    try:
        model = model.to("cpu")
        save_kwargs = {}
        if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
            save_kwargs["safe_serialization"] = True  # transformers 4; version 5 always writes safetensors
        with quiet_transformers():
            model.save_pretrained(tmp, **save_kwargs)
            tokenizer.save_pretrained(tmp)

        def write(name, data):
            (tmp / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

        write(
            "label_map.json",
            {"labels": labels, "tags": tags, "id2tag": dict(enumerate(tags)), "max_length": hp.max_length},
        )
        write(CALIBRATION_FILE, {"temperature": result.calibration["temperature"] if result.calibration else 1.0})
        write("hyperparameters.json", {**hp.to_dict(), "base_model": str(base_model), "runtime": result.runtime})
        metrics = result.to_dict()
        metrics.pop("model_dir")
        write("metrics.json", metrics)
        write(
            "data_snapshot.json",
            {
                "train": [doc.doc_id for doc in train_docs],
                "dev": [doc.doc_id for doc in dev_docs],
                "train_examples": len(train_examples),
                "dev_fraction": hp.dev_fraction,
                "split": "is_dev when given, else sha1(doc_id) < dev_fraction",
            },
        )
        if output_dir.exists():
            output_dir.rmdir()  # empty (checked at the start); rename cannot replace a non-empty dir
        os.replace(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
