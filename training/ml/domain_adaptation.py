"""Domain-adaptive pretraining: a few masked-language-model epochs of the base encoder on the
project's own text before fine-tuning, so a general-domain encoder learns the words of the
notes it will tag. No Django here: token lists in, a model directory out.

Texts are cut into sentence-sized chunks as for training (`examples.build_examples`), 15% of
their word pieces are masked (`DataCollatorForLanguageModeling`: 80% [MASK], 10% a random
piece, 10% kept), and the encoder is trained with AdamW, warm-up and linear decay, in
length-grouped batches. An encoder shipped without a language-model head (the bundled
sentence-embedding model is one) starts with a new head whose output weights are tied to
the word embeddings, so it learns quickly.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from training.ml import examples as ex
from training.ml.device import Runtime
from training.ml.encoders import load_tokenizer, quiet_transformers

MASKED_SHARE = 0.15


def adapt(
    base_model: str,
    texts: Sequence[Sequence[str]],
    output_dir: Path,
    *,
    epochs: int,
    runtime: Runtime,
    max_length: int = 128,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    seed: int = 13,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train `base_model` as a masked language model on `texts` (token lists) for `epochs`
    epochs and save the encoder and tokenizer to `output_dir`. `on_step(step, total, loss)`
    follows the progress; `should_stop()` returning True raises InterruptedError.
    Returns {"steps", "chunks", "seconds", "loss"}."""
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling

    started = time.perf_counter()
    tokenizer = load_tokenizer(base_model)
    with quiet_transformers():  # "newly initialized: cls.predictions..." is expected
        model = AutoModelForMaskedLM.from_pretrained(base_model)
    model.to(runtime.device).train()
    chunks = [e.input_ids for e in ex.build_examples(tokenizer, texts, max_length) if len(e.input_ids) > 2]
    if not chunks:
        raise ValueError("no text to pretrain on")
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASKED_SHARE, return_tensors="pt")
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    lengths = [len(chunk) for chunk in chunks]
    total = math.ceil(len(chunks) / batch_size) * epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    step, loss_value = 0, float("nan")
    for _ in range(epochs):
        for indices in ex.length_grouped_batches(lengths, batch_size, rng):
            if should_stop is not None and should_stop():
                raise InterruptedError("pretraining stopped")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
                batch = collator([{"input_ids": chunks[i]} for i in indices])
            batch = {key: value.to(runtime.device) for key, value in batch.items()}
            with runtime.autocast():
                loss = model(**batch).loss
            loss.float().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = float(loss.detach())
            if on_step is not None:
                on_step(step, total, loss_value)
    with quiet_transformers():
        model.to("cpu").save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
    return {"steps": step, "chunks": len(chunks), "seconds": time.perf_counter() - started, "loss": loss_value}
