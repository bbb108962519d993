"""What the pipeline chooses on a GPU, from given device facts (no GPU needed), and that a
batch split into micro-batches takes the step the whole batch would take."""

import pytest
import torch

from training.ml import examples as ex
from training.ml.device import ModelShape, Runtime, cuda_batches, cuda_precision
from training.ml.pipeline import train_step

GiB = 1024**3
BERT_BASE = ModelShape(parameters=110_000_000, layers=12, hidden=768, heads=12)
DEBERTA_V3_LARGE = ModelShape(parameters=435_000_000, layers=24, hidden=1024, heads=16)
MINILM = ModelShape(parameters=22_700_000, layers=6, hidden=384, heads=12)


@pytest.mark.parametrize(
    ("precision", "bf16_supported", "chosen"),
    [
        ("auto", True, "bf16"),  # A100, H100, L4
        ("auto", False, "fp16"),  # V100, T4: fp16 autocast with a loss scaler
        ("bf16", False, "fp32"),  # forced bf16 where there is none falls back, as on CPU
        ("bf16", True, "bf16"),
        ("fp32", True, "fp32"),
    ],
)
def test_precision_follows_what_the_gpu_supports(precision, bf16_supported, chosen):
    assert cuda_precision(precision, bf16_supported) == chosen


def test_a_large_gpu_keeps_the_requested_batch_whole_and_evaluates_in_big_batches():
    sizes = cuda_batches(80 * GiB, BERT_BASE, max_length=128, batch_size=16, precision="bf16")
    assert sizes.micro_batch_size == 16
    assert sizes.predict_batch_size == 1024


def test_a_small_gpu_splits_a_large_model_into_micro_batches_that_fit():
    sizes = cuda_batches(15 * GiB, DEBERTA_V3_LARGE, max_length=512, batch_size=32, precision="fp16")
    assert 1 <= sizes.micro_batch_size < 32
    assert sizes.micro_batch_size & (sizes.micro_batch_size - 1) == 0  # a power of two
    # Larger on a larger card, never more than requested.
    bigger = cuda_batches(40 * GiB, DEBERTA_V3_LARGE, max_length=512, batch_size=32, precision="fp16")
    assert sizes.micro_batch_size < bigger.micro_batch_size <= 32
    assert bigger.predict_batch_size >= bigger.micro_batch_size


def test_fp32_and_longer_examples_take_more_memory_per_example():
    half = cuda_batches(8 * GiB, MINILM, max_length=256, batch_size=4096, precision="bf16")
    full = cuda_batches(8 * GiB, MINILM, max_length=256, batch_size=4096, precision="fp32")
    longer = cuda_batches(8 * GiB, MINILM, max_length=512, batch_size=4096, precision="bf16")
    assert full.micro_batch_size < half.micro_batch_size
    assert longer.micro_batch_size < half.micro_batch_size


def test_a_gpu_without_room_for_the_weights_still_tries_one_example():
    sizes = cuda_batches(1 * GiB, DEBERTA_V3_LARGE, max_length=512, batch_size=16, precision="fp16")
    assert (sizes.micro_batch_size, sizes.predict_batch_size) == (1, 1)


def test_the_cpu_runtime_is_not_resized():
    runtime = Runtime(torch.device("cpu"), bf16=False, threads=1)
    assert runtime.sized_for(object(), max_length=128, batch_size=16) is runtime
    assert runtime.grad_scaler() is None
    assert runtime.describe() == {"device": "cpu", "precision": "fp32", "threads": 1}


def test_micro_batches_take_the_same_step_as_the_whole_batch(tiny_bert):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    words = [["the", "patient", "has", "breast", "cancer"], ["aspirin"], ["lung", "cancer", "was", "treated"]] * 2
    tags = [[0, 0, 0, 1, 2], [3], [1, 2, 0, 0]] * 2
    examples = ex.build_examples(
        tokenizer, words, 32, [["O", "O", "O", "B-D", "I-D"], ["B-T"], ["B-D", "I-D", "O", "O"]] * 2, None
    )
    for example, word_tags in zip(examples, tags):
        example.labels = ex.align_labels(example.word_ids, word_tags)
    batch = ex.collate(examples, tokenizer.pad_token_id)

    def step(micro_batch_size):
        torch.manual_seed(0)
        model = AutoModelForTokenClassification.from_pretrained(tiny_bert, num_labels=4, ignore_mismatched_sizes=True)
        model.eval()  # no dropout: both runs see the same network
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        runtime = Runtime(torch.device("cpu"), bf16=False, threads=None, micro_batch_size=micro_batch_size)
        loss = train_step(model, dict(batch), optimizer, scheduler, runtime, max_grad_norm=1.0)
        return loss, model.state_dict()

    whole_loss, whole = step(None)
    split_loss, split = step(2)
    assert split_loss == pytest.approx(whole_loss, rel=1e-5)
    for name, value in whole.items():
        torch.testing.assert_close(split[name], value, rtol=1e-5, atol=1e-6)
