"""What the training loop's bookkeeping costs: one epoch of fit() vs the hand-written loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.conftest import ROUNDS, describe, sync
from torchfacts.data import digits
from torchfacts.models import ConvNet
from torchfacts.training import fit, seed_everything


def _setup(device):
    seed_everything(0)
    train, _ = digits(batch_size=64)
    model = ConvNet(10, image_size=8).to(device)
    return model, train, torch.optim.Adam(model.parameters(), 3e-3), nn.CrossEntropyLoss()


def _hand_loop(model, train, optimizer, loss_fn, device):
    model.train()
    for x, y in train:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    sync(device)


def _fit_epoch(model, train, optimizer, loss_fn, device):
    fit(model, train, None, loss_fn=loss_fn, optimizer=optimizer, epochs=1, device=device, progress=False)
    sync(device)


@pytest.mark.parametrize("loop", ["hand-written loop", "fit()"])
def test_one_epoch(benchmark, bench_device, loop):
    model, train, optimizer, loss_fn = _setup(bench_device)
    describe(benchmark, "training", "one epoch of digits (ConvNet, batch 64)", loop, device=bench_device,
             baseline=loop.startswith("hand"))
    benchmark.extra_info["steps"] = len(train)
    step = _hand_loop if loop.startswith("hand") else _fit_epoch
    benchmark.pedantic(step, args=(model, train, optimizer, loss_fn, bench_device), rounds=2 * ROUNDS, warmup_rounds=2)
