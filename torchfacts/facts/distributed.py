"""Facts of data-parallel training, observed with two real CPU processes (gloo, loopback only).

One experiment (:func:`two_rank_run`) starts 2 ranks that train small float64
models with ``DistributedDataParallel`` and report what they see; the facts
read from it. It runs once per process and is bounded by a timeout.
"""

from __future__ import annotations

import functools
import multiprocessing
import socket
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from torchfacts.facts.registry import detects, expect, fact

CPU_ONLY = ("cpu",)  # the experiment uses gloo on CPU; the claims are the same for NCCL
RANKS, BATCH, STEPS = 2, 4, 3
TIMEOUT_S = 120


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(STEPS * RANKS * BATCH, 5, generator=generator, dtype=torch.float64)
    return x, x.sum(1, keepdim=True).sin()


def _mlp(frozen_first: bool = False) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    if frozen_first:
        model[0].requires_grad_(False)
    return model


def train_steps(model: nn.Module, batches) -> list[list[float]]:
    """SGD steps (mean squared error); the flattened parameters after each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    after = []
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        after.append(torch.cat([p.detach().flatten() for p in model.parameters()]).tolist())
    return after


def _rank_batches(rank: int):
    x, y = _data()
    size = RANKS * BATCH
    return [(x[s * size + rank * BATCH: s * size + (rank + 1) * BATCH], y[s * size + rank * BATCH: s * size + (rank + 1) * BATCH])
            for s in range(STEPS)]


def _bn_running_mean(rank: int, same_data: bool) -> list[float]:
    torch.manual_seed(0)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)).double())
    x, _ = _rank_batches(0 if same_data else rank)[0]
    model(x)
    return model.module[1].running_mean.tolist()


def _rank_main(rank: int, port: int, results) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=RANKS)
        observed: dict[str, Any] = {"rank": rank}
        observed["ddp"] = train_steps(DistributedDataParallel(_mlp()), _rank_batches(rank))
        observed["local"] = train_steps(_mlp(), _rank_batches(rank))  # no DDP: the control
        frozen = DistributedDataParallel(_mlp(frozen_first=True))
        first_before = frozen.module[0].weight.detach().clone()
        observed["frozen"] = train_steps(frozen, _rank_batches(rank))
        observed["frozen_unchanged"] = torch.equal(first_before, frozen.module[0].weight)
        observed["bn_own_data"] = _bn_running_mean(rank, same_data=False)
        observed["bn_same_data"] = _bn_running_mean(rank, same_data=True)
        try:
            nn.SyncBatchNorm(3).double()(torch.randn(4, 3, dtype=torch.float64))
            observed["syncbn"] = "SyncBatchNorm ran on CPU"
        except (ValueError, RuntimeError) as refused:
            observed["syncbn"] = f"SyncBatchNorm on CPU raised {type(refused).__name__}: {refused}"
        dist.destroy_process_group()
        results.put(observed)
    except Exception as crash:  # report instead of leaving the parent waiting
        results.put({"rank": rank, "error": f"{type(crash).__name__}: {crash}"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.lru_cache(maxsize=1)
def two_rank_run() -> tuple[dict, dict]:
    """Run the experiment on 2 ranks; (rank 0's observations, rank 1's). Raises on failure or timeout."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    results, port = context.Queue(), _free_port()
    ranks = [context.Process(target=_rank_main, args=(r, port, results), daemon=True) for r in range(RANKS)]
    for p in ranks:
        p.start()
    try:
        observed = sorted((results.get(timeout=TIMEOUT_S) for _ in ranks), key=lambda o: o["rank"])
    except Exception:
        raise TimeoutError(f"the 2-rank experiment gave no answer within {TIMEOUT_S} s") from None
    finally:
        for p in ranks:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = [o["error"] for o in observed if "error" in o]
    if errors:
        raise RuntimeError(f"a rank failed: {errors[0]}")
    return observed[0], observed[1]


def _identical_across_ranks(key: str, what: str) -> str:
    rank0, rank1 = two_rank_run()
    same = [a == b for a, b in zip(rank0[key], rank1[key])]
    return expect(all(same), f"{what}: parameters identical on both ranks after each of {STEPS} steps: {same}")


@fact("distributed.parameters-identical-across-ranks", devices=CPU_ONLY,
      claim="With DistributedDataParallel, parameters are identical on all ranks after every step, though each rank sees other data.")
def parameters_identical(device):
    return _identical_across_ranks("ddp", "DDP on 2 ranks")


@parameters_identical.control
def _(device):
    return detects(lambda: _identical_across_ranks("local", "plain SGD on each rank's shard (no DDP)"))


def _equals_single_process(batch_rows: int) -> str:
    rank0, _ = two_rank_run()
    x, y = _data()
    size = RANKS * BATCH
    batches = [(x[s * size: s * size + batch_rows], y[s * size: s * size + batch_rows]) for s in range(STEPS)]
    single = train_steps(_mlp(), batches)[-1]
    gap = max(abs(a - b) for a, b in zip(single, rank0["ddp"][-1]))
    return expect(gap < 1e-12, f"2 ranks × batch {BATCH} vs 1 process × batch {batch_rows} (float64, SGD, no BatchNorm): "
                  f"largest parameter difference {gap:.2e}")


@fact("distributed.two-ranks-equal-one-process-double-batch", devices=CPU_ONLY,
      claim="2 ranks with per-rank batch B make the same update as 1 process with batch 2B (no BatchNorm, equal batches).")
def two_ranks_equal_double_batch(device):
    return _equals_single_process(RANKS * BATCH)


@two_ranks_equal_double_batch.control
def _(device):
    return detects(lambda: _equals_single_process(BATCH))


def _shards(n: int, ranks: tuple[int, int]) -> str:
    first, second = (list(DistributedSampler(range(n), num_replicas=2, rank=r, shuffle=True, seed=0)) for r in ranks)
    overlap = sorted(set(first) & set(second))
    covered = set(first) | set(second) == set(range(n))
    padded = len(first) + len(second) - n
    # Disjoint except for the repeats that pad the last shard, and every sample somewhere.
    ok = covered and len(first) == len(second) and len(overlap) <= padded
    return expect(ok, f"{n} samples, ranks {ranks}: shards of {len(first)} and {len(second)}, cover all {covered}, "
                      f"shared {overlap}, {padded} padding repeat(s)")


@fact("distributed.sampler-shards-disjoint-and-padded", devices=CPU_ONLY,
      claim="`DistributedSampler` gives each rank a disjoint shard covering the dataset; when the size does not divide, "
            "it pads with repeats so every rank gets as many samples.")
def sampler_shards(device):
    return f"{_shards(10, (0, 1))}; {_shards(11, (0, 1))}"


@sampler_shards.control
def _(device):
    return detects(lambda: _shards(10, (0, 0)))


def _same_order(set_epoch: bool) -> str:
    sampler = DistributedSampler(range(12), num_replicas=2, rank=0, shuffle=True, seed=0)
    orders = []
    for epoch in range(2):
        if set_epoch:
            sampler.set_epoch(epoch)
        orders.append(list(sampler))
    return expect(orders[0] == orders[1], f"two epochs {'with' if set_epoch else 'without'} set_epoch: orders {orders}")


@fact("distributed.no-set-epoch-same-order", devices=CPU_ONLY,
      claim="Without `sampler.set_epoch(epoch)`, a shuffling `DistributedSampler` gives every epoch the same order.")
def no_set_epoch(device):
    return _same_order(set_epoch=False)


@no_set_epoch.control
def _(device):
    return detects(lambda: _same_order(set_epoch=True))


def _bn_differs(key: str, what: str) -> str:
    rank0, rank1 = two_rank_run()
    differ = rank0[key] != rank1[key]
    return expect(differ, f"{what}: running means differ between ranks: {differ}; {rank0['syncbn']}")


@fact("distributed.batchnorm-statistics-per-rank", devices=CPU_ONLY,
      claim="Plain BatchNorm under DDP normalizes with each rank's own batch and keeps per-rank running statistics "
            "(DDP only copies rank 0's buffers at the start of a forward); SyncBatchNorm shares statistics but needs a GPU.")
def batchnorm_per_rank(device):
    return _bn_differs("bn_own_data", "DDP, each rank on its own data")


@batchnorm_per_rank.control
def _(device):
    return detects(lambda: _bn_differs("bn_same_data", "DDP, both ranks on the same data"))


def _first_layer_unchanged(key: str, what: str) -> str:
    rank0, _ = two_rank_run()
    if key == "frozen":
        return expect(rank0["frozen_unchanged"], f"{what}: the frozen layer is bitwise unchanged: {rank0['frozen_unchanged']}")
    first = 5 * 8  # the first layer's weights lead the flattened parameters
    start, end = _mlp().state_dict()["0.weight"].flatten().tolist(), rank0[key][-1][:first]
    return expect(start == end, f"{what}: first layer unchanged after {STEPS} steps: {start == end}")


@fact("distributed.frozen-parameters-unchanged-under-ddp", devices=CPU_ONLY,
      claim="Parameters with `requires_grad=False` stay unchanged under DistributedDataParallel.")
def frozen_under_ddp(device):
    return _first_layer_unchanged("frozen", "DDP with the first layer frozen")


@frozen_under_ddp.control
def _(device):
    return detects(lambda: _first_layer_unchanged("ddp", "DDP with nothing frozen"))
