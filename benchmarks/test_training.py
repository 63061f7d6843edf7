"""What the training loop's bookkeeping costs, and what eval/no_grad/inference_mode save.

Baselines in each group: the hand-written loop, the train-mode forward, the
forward with autograd on.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.conftest import sync
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
    benchmark.group = f"training one epoch of digits [{bench_device.type}]"
    model, train, optimizer, loss_fn = _setup(bench_device)
    step = _hand_loop if loop.startswith("hand") else _fit_epoch
    benchmark.extra_info["steps"] = len(train)
    benchmark.pedantic(step, args=(model, train, optimizer, loss_fn, bench_device), rounds=30, warmup_rounds=3)


def _forward_input(device):
    torch.manual_seed(0)
    return torch.randn(256, 1, 28, 28, device=device)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_forward_train_vs_eval(benchmark, bench_device, mode):
    benchmark.group = f"modes forward train vs eval [{bench_device.type}]"
    model = ConvNet(10).to(bench_device).train(mode == "train")
    x = _forward_input(bench_device)

    def forward():
        with torch.no_grad():
            out = model(x)
        sync(bench_device)
        return out

    benchmark(forward)


@pytest.mark.parametrize("context", ["grad", "no_grad", "inference_mode"])
def test_forward_autograd_contexts(benchmark, bench_device, context):
    benchmark.group = f"modes forward grad vs no_grad vs inference_mode [{bench_device.type}]"
    model = ConvNet(10).to(bench_device).eval()
    x = _forward_input(bench_device)
    make = {"grad": torch.enable_grad, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}[context]

    def forward():
        with make():
            out = model(x)
        sync(bench_device)
        return out

    benchmark(forward)
