"""Training on several processes (`training/ml/distributed.py`) with the tiny BERT and the
synthetic documents of test_pipeline, on CPU processes talking over gloo."""

import multiprocessing
import os
import signal
import time
from types import SimpleNamespace

import pytest
import torch

from tests.training.conftest import build_tiny_bert
from tests.training.test_pipeline import PIECES, WORDS, synthetic_documents
from training.ml import distributed
from training.ml.data import Hyperparameters, Progress, TrainingCancelled, TrainingProcessFailed
from training.ml.examples import IGNORE_INDEX
from training.ml.pipeline import train

LABELS = ["Disease", "Chemical"]
# The settings test_pipeline's full run learns with; no early stopping, so both runs take
# every epoch's steps.
HP = Hyperparameters(epochs=4, learning_rate=5e-3, batch_size=8, max_length=16, patience=0, precision="fp32")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return build_tiny_bert(
        tmp_path_factory.mktemp("tiny-bert"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *PIECES]
    )


def training_children() -> list:
    return multiprocessing.active_children()  # also reaps those that have exited


@pytest.mark.slow
def test_two_processes_learn_as_well_as_one(tiny_model, tmp_path):
    documents = synthetic_documents(120)
    alone = train(documents, LABELS, HP, base_model=tiny_model, output_dir=tmp_path / "one")
    progress: list[Progress] = []
    together = train(
        documents,
        LABELS,
        HP,
        base_model=tiny_model,
        output_dir=tmp_path / "two",
        on_progress=progress.append,
        processes=2,
    )

    alone_f1, together_f1 = alone.evaluation["micro"]["f1"], together.evaluation["micro"]["f1"]
    assert alone_f1 > 0.9 and together_f1 > 0.9
    assert abs(together_f1 - alone_f1) <= 0.05
    # Every global batch is one step, whichever processes share it.
    assert len(together.loss_history) == len(alone.loss_history)
    assert sum(together.loss_history[-5:]) < sum(together.loss_history[:5]) / 5
    assert together.runtime["processes"] == 2 and alone.runtime["processes"] == 1
    assert together.runtime["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
    # The leader reports every step and every evaluation, as a single process does.
    assert [p.step for p in progress if p.phase == "train"] == list(range(1, len(together.loss_history) + 1))
    assert [p.epoch for p in progress if p.phase == "evaluated"] == [1, 2, 3, 4]
    assert (tmp_path / "two" / "model.safetensors").is_file()
    assert torch.get_num_threads() == len(os.sched_getaffinity(0))  # given back for the worker's other work
    assert training_children() == []


def train_in_two(tiny_model, output, **callbacks):
    return train(
        synthetic_documents(60), LABELS, HP, base_model=tiny_model, output_dir=output, processes=2, **callbacks
    )


@pytest.mark.slow
def test_cancelling_stops_every_process_and_leaves_nothing(tiny_model, tmp_path):
    steps: list[int] = []
    output = tmp_path / "model"
    with pytest.raises(TrainingCancelled, match="cancelled at step 3 of"):
        train_in_two(
            tiny_model,
            output,
            on_progress=lambda progress: steps.append(progress.step),
            should_stop=lambda: len(steps) >= 3,
        )
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
    assert training_children() == []


@pytest.mark.slow
def test_a_process_that_dies_fails_the_run_with_its_cause(tiny_model, tmp_path):
    killed: list[float] = []

    def kill_the_other_process(progress: Progress) -> None:
        if progress.step == 3 and not killed:
            (child,) = training_children()
            os.kill(child.pid, signal.SIGKILL)
            killed.append(time.monotonic())

    output = tmp_path / "model"
    with pytest.raises(TrainingProcessFailed, match=r"training process 1 of 2 \(pid \d+\) was killed by SIGKILL"):
        train_in_two(tiny_model, output, on_progress=kill_the_other_process)
    assert time.monotonic() - killed[0] < 30  # not the group's ten-minute timeout
    assert not output.exists()
    assert training_children() == []


@pytest.mark.parametrize("processes", [0, -1, 1.5, True, "2"])
def test_the_number_of_processes_must_be_a_whole_number_of_at_least_one(processes, tmp_path):
    with pytest.raises(ValueError, match="number of training processes must be a whole number of at least 1"):
        train(synthetic_documents(4), LABELS, base_model="unused", output_dir=tmp_path / "model", processes=processes)


def test_gpu_processes_need_a_gpu_each(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    distributed.check_processes(1, "cuda")
    with pytest.raises(ValueError, match="2 training processes need 2 GPUs .* this machine has 1"):
        distributed.check_processes(2, "cuda")


def test_shares_weigh_the_whole_batch_and_a_process_without_examples_still_steps():
    examples = [SimpleNamespace(labels=[IGNORE_INDEX, 1, 0, IGNORE_INDEX]) for _ in range(5)]
    ranks = [distributed.Team(rank, 3, torch.device("cpu"), store=None) for rank in range(3)]

    shares = [team.share([4, 0, 2, 1, 3], examples) for team in ranks]
    assert [share.indices for share in shares] == [[4, 1], [0, 3], [2]]
    assert {share.labelled for share in shares} == {10}  # the whole batch's labelled pieces
    assert {share.weight for share in shares} == {3.0}

    shares = [team.share([2, 0], examples) for team in ranks]
    assert [share.indices for share in shares] == [[2], [0], [2]]
    assert [share.weight for share in shares] == [3.0, 3.0, 0.0]
