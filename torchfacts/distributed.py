"""Data-parallel training under ``torchrun``, without changes to the user's code.

``torchrun --nproc-per-node N -m torchfacts train ...`` starts N processes and
sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``.
:func:`torchfacts.training.fit` notices (:func:`requested`), joins the process
group (gloo on CPU, NCCL on CUDA), wraps the model in
``DistributedDataParallel``, gives each rank its shard through a
``DistributedSampler`` (``set_epoch`` every epoch), averages metrics across
ranks, and lets rank 0 alone write checkpoints and progress.

>>> requested({"WORLD_SIZE": "2", "RANK": "0"}), requested({})
(True, False)
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Iterator, Mapping

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

__all__ = ["requested", "rank", "world_size", "is_main", "session", "shard", "average", "TIMEOUT"]

TIMEOUT = datetime.timedelta(seconds=float(os.environ.get("TORCHFACTS_DIST_TIMEOUT", "120")))  # a hung rank fails


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process was started as one rank of several (by torchrun or alike)."""
    return int(environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in environ


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 (or a single process): the one that writes files and prints progress."""
    return rank() == 0


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[bool]:
    """Join the process group if torchrun asked for one and none exists; leave it afterwards.

    Yields whether training is distributed. The group is destroyed on the way
    out, also when this rank raises, so the other ranks fail fast instead of
    waiting (their collectives time out after :data:`TIMEOUT` at worst).
    """
    started = False
    if requested() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=TIMEOUT)
        started = True
    try:
        yield dist.is_available() and dist.is_initialized() and world_size() > 1
    finally:
        if started:
            dist.destroy_process_group()


def shard(loader: DataLoader, *, seed: int = 0) -> DataLoader:
    """The same loader, but each rank reads its own shard (shuffled if the original shuffled)."""
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    sampler = DistributedSampler(loader.dataset, shuffle=isinstance(loader.sampler, RandomSampler), seed=seed)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last)


def average(value: float, count: int) -> float:
    """The mean over all ranks of a per-rank mean of ``count`` samples (weighted)."""
    if world_size() == 1:
        return value
    totals = torch.tensor([value * count, float(count)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        totals = totals.cuda()
    dist.all_reduce(totals)
    return (totals[0] / totals[1]).item()
