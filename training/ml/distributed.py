"""Training on several processes with torch.distributed and DistributedDataParallel.

The process that calls `train` is rank 0, the leader: it keeps the caller's progress
callback and stop check (closures over the worker's database heartbeat), evaluates on dev
and saves. `lead_team` starts ranks 1..N-1 with torch.multiprocessing's "spawn" (CUDA and a
threaded worker cannot fork safely), passing them only plain picklable data. The ranks
meet through a file in a temporary directory (no port to choose or to race for) and talk
over gloo on CPU, nccl on GPUs (rank r on cuda:r, one process per GPU).

Every rank builds the same batches from the same seed and trains on its share of each
batch; the shares' losses are weighted so that the gradients DistributedDataParallel
averages are the whole batch's. Before and after every step the leader broadcasts whether
to go on (the caller's stop check), and after every epoch's evaluation whether training
ends (early stopping); the others wait for that decision in the store, with no timeout,
because evaluating a large dev split can take long.

A rank that dies shows on the leader as an exited process before the next step, or as a
failed collective (gloo notices the closed connection; a rank that hangs instead is given
up after STEP_TIMEOUT); the leader then raises TrainingProcessFailed naming it. Whatever
happens, the leader destroys the process group and ends the other ranks; they also get
SIGINT if the leader's process dies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.multiprocessing.spawn import ProcessContext, ProcessException

from training.ml.data import TrainingCancelled, TrainingProcessFailed
from training.ml.device import available_cores
from training.ml.examples import IGNORE_INDEX

GO_ON, CANCELLED, FINISHED = 0, 1, 2
# One step's collectives wait this long for a rank that neither answers nor dies.
STEP_TIMEOUT = timedelta(minutes=10)
POLL_SECONDS = 1.0
# How long the leader waits for the other ranks to exit on their own before ending them.
EXIT_SECONDS = 30.0

# torch.distributed keeps one default process group per process, so runs that share a
# worker process (huey's thread workers) train as teams one after the other.
_TEAM_IN_PROCESS = threading.Lock()


def check_processes(processes, device_type: str | None = None) -> None:
    """ValueError unless `processes` is a number of training processes that can run (on
    `device_type`, when given)."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"the number of training processes must be a whole number of at least 1, got {processes!r}")
    if processes == 1 or device_type is None:
        return
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"training on several processes needs a CPU or CUDA device, not {device_type!r}")
    if device_type == "cuda" and processes > torch.cuda.device_count():
        raise ValueError(
            f"{processes} training processes need {processes} GPUs (nccl runs one process per GPU); "
            f"this machine has {torch.cuda.device_count()}"
        )


def threads_per_process(processes: int) -> int:
    return max(1, available_cores() // processes)


def rank_device(rank: int, device_type: str) -> torch.device:
    if device_type == "cuda":
        return torch.device("cuda", rank % torch.cuda.device_count())
    return torch.device(device_type)


@dataclass(frozen=True)
class Share:
    indices: list[int]  # the examples this process trains on in this step
    labelled: int | None  # labelled word pieces of the whole batch; None: count this share's
    weight: float  # multiplies this share's loss before the gradients are averaged


class Alone:
    """One process trains alone: whole batches, the caller's stop check, nothing shared."""

    rank = 0
    size = 1
    leads = True

    def __init__(self, should_stop: Callable[[], bool]):
        self.asked_to_stop = should_stop

    def stop_requested(self) -> bool:
        return self.asked_to_stop()

    def wrap(self, model):
        return model

    def share(self, batch: list[int], examples: Sequence) -> Share:
        return Share(batch, None, 1.0)

    def batch_loss(self, value: float) -> float:
        return value

    def agree(self, decision: int) -> int:
        return decision


class Team:
    """One rank of several training together; `asked_to_stop` is the caller's own stop
    check, on the leader only."""

    def __init__(
        self,
        rank: int,
        size: int,
        device: torch.device,
        store: dist.Store,
        *,
        should_stop: Callable[[], bool] | None = None,
        children: ProcessContext | None = None,
    ):
        self.rank = rank
        self.size = size
        self.leads = rank == 0
        self.device = device
        if device.type == "cuda":
            torch.cuda.set_device(device)  # before anything makes a CUDA context on another GPU
        self.asked_to_stop = should_stop or (lambda: False)
        self._store = store
        self._children = children
        self._decisions = 0

    # ------------------------------------------------------------ the leader's view of the others

    def check_children(self, wait: float = 0) -> None:
        """TrainingProcessFailed when another rank has exited with an error (leader only)."""
        if self._children is None:
            return
        try:
            self._children.join(wait, grace_period=1)
        except ProcessException as error:
            raise TrainingProcessFailed(_failure(error, self.size)) from error

    # ------------------------------------------------------------ what the training loop calls

    def wrap(self, model):
        """Meet the other ranks, then the model in DistributedDataParallel (which starts
        every rank from the leader's weights)."""
        from torch.nn.parallel import DistributedDataParallel

        self._meet()
        return DistributedDataParallel(
            model,
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            # Buffers are constants here (position ids), synced once at the start; syncing them
            # at every forward pass would also be one more collective, which ranks with a
            # different number of micro-batches would not match.
            forward_sync_buffers=False,
        )

    def stop_requested(self) -> bool:
        flag = 0
        if self.leads:
            self.check_children()
            flag = int(bool(self.asked_to_stop()))
        return bool(self._from_leader(flag))

    def share(self, batch: list[int], examples: Sequence) -> Share:
        labelled = sum(label != IGNORE_INDEX for index in batch for label in examples[index].labels)
        mine = batch[self.rank :: self.size]  # batches are sorted by length: strided shares pad alike
        if not mine:
            # Fewer examples than ranks: a stand-in example that adds nothing, so that this rank
            # still takes part in the step's gradient averaging.
            return Share(batch[:1], max(1, labelled), 0.0)
        # The average over ranks of size * (share's loss sum / batch's labelled pieces) is the
        # whole batch's mean loss, so the step is the one a single process would take.
        return Share(mine, max(1, labelled), float(self.size))

    def batch_loss(self, value: float) -> float:
        """The whole batch's loss from every rank's weighted share of it."""
        total = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return float(total.item()) / self.size

    def agree(self, decision: int) -> int:
        """The leader's decision after evaluating an epoch (GO_ON, CANCELLED or FINISHED)."""
        self._decisions += 1
        key = f"decision-{self._decisions}"
        if self.leads:
            self._store.set(key, str(decision))
            return decision
        while not _arrived(self._store, [key]):  # a dead leader's SIGINT (torch.multiprocessing.spawn) ends this
            pass
        return int(self._store.get(key))

    def leave(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    # ------------------------------------------------------------ internals

    def _meet(self) -> None:
        self._store.set(f"ready-{self.rank}", "1")
        if self.leads:
            self._await_others()
        dist.init_process_group(
            "nccl" if self.device.type == "cuda" else "gloo",
            store=self._store,
            rank=self.rank,
            world_size=self.size,
            timeout=STEP_TIMEOUT,
        )

    def _await_others(self) -> None:
        """Wait until every rank has loaded its data and model, noticing a rank that fails
        on the way (the group's own rendezvous would wait for it until its timeout)."""
        others = [f"ready-{rank}" for rank in range(1, self.size)]
        deadline = time.monotonic() + STEP_TIMEOUT.total_seconds()
        while not _arrived(self._store, others):
            self.check_children()
            if self.asked_to_stop():
                raise TrainingCancelled("cancelled while the training processes started")
            if time.monotonic() > deadline:
                raise TrainingProcessFailed(f"the other training processes were not ready within {STEP_TIMEOUT}")

    def _from_leader(self, value: int) -> int:
        tensor = torch.tensor([value], device=self.device)
        dist.broadcast(tensor, src=0)
        return int(tensor.item())


def _arrived(store: dist.Store, keys: list[str]) -> bool:
    """Whether `keys` are all set in `store`, waiting for them up to POLL_SECONDS."""
    try:
        store.wait(keys, timedelta(seconds=POLL_SECONDS))
    except RuntimeError as error:  # FileStore says "Wait timeout"
        if "timeout" not in str(error).lower():
            raise
        return False
    return True


def _failure(error: ProcessException, size: int) -> str:
    rank = error.error_index + 1
    if isinstance(error, mp.ProcessExitedException):
        how = f"was killed by {error.signal_name}" if error.signal_name else f"exited with code {error.exit_code}"
        return f"training process {rank} of {size} (pid {error.error_pid}) {how}"
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"training process {rank} of {size} (pid {error.error_pid}) failed: {lines[-1] if lines else 'no message'}"


@contextlib.contextmanager
def lead_team(
    size: int, device_type: str, child_main: Callable, job: dict, should_stop: Callable[[], bool]
) -> Iterator[Team]:
    """Start ranks 1..size-1, each running `child_main(rank - 1, rendezvous, size, device_type,
    job)` (a module-level function, as spawn needs), and yield the leader's Team. On the way
    out the process group is destroyed and the other ranks have exited or are ended."""
    with _one_team_per_process(should_stop):
        if device_type == "cuda":
            # A failed nccl collective raises here rather than ending the whole worker process.
            os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2")
        directory = tempfile.mkdtemp(prefix="training-team-")
        rendezvous = os.path.join(directory, "rendezvous")
        children = None
        finished = False
        try:
            children = mp.start_processes(
                child_main,
                args=(rendezvous, size, device_type, job),
                nprocs=size - 1,
                join=False,
                start_method="spawn",
            )
            team = Team(
                0,
                size,
                rank_device(0, device_type),
                dist.FileStore(rendezvous, size),
                should_stop=should_stop,
                children=children,
            )
            try:
                yield team
            except RuntimeError as error:
                if isinstance(error, TrainingProcessFailed):
                    raise
                # A collective that failed because another rank died: say which one. The
                # rank's exit can trail its closed connection by a moment.
                team.check_children(wait=5)
                raise
            finished = True
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
            if children is not None:
                _end(children, wait=EXIT_SECONDS if finished else 0)
            shutil.rmtree(directory, ignore_errors=True)


def join_team(rank: int, size: int, device_type: str, rendezvous: str) -> Team:
    return Team(rank, size, rank_device(rank, device_type), dist.FileStore(rendezvous, size))


@contextlib.contextmanager
def _one_team_per_process(should_stop: Callable[[], bool]) -> Iterator[None]:
    while not _TEAM_IN_PROCESS.acquire(timeout=POLL_SECONDS):
        if should_stop():
            raise TrainingCancelled("cancelled while waiting for another run's training processes")
    try:
        if dist.is_initialized():
            raise RuntimeError("torch.distributed is already in use in this process")
        yield
    finally:
        _TEAM_IN_PROCESS.release()


def _end(children: ProcessContext, wait: float) -> None:
    """Let the other ranks exit within `wait` seconds, then end those still running."""
    deadline = time.monotonic() + wait
    with contextlib.suppress(ProcessException):  # the run's outcome is decided already
        while not children.join(max(0.0, deadline - time.monotonic())) and time.monotonic() < deadline:
            pass
    for process in children.processes:
        if process.is_alive():
            process.terminate()
    for process in children.processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
