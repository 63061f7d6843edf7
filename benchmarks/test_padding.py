"""What SAME padding costs: static vs torch's 'same', dynamic vs manual F.pad, stride 2 vs plain.

Each group has a baseline (plain torch) so the report's ratios come from one run.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.conftest import describe, sync
from torchfacts.padding import conv_same, same_padding


def _run(benchmark, module, x, device):
    def step():
        with torch.no_grad():
            out = module(x)
        sync(device)
        return out

    step()  # warm-up outside the figures (allocations, cuDNN algorithm choice)
    return benchmark(step)


def _conv_input(device):
    torch.manual_seed(0)
    return torch.randn(8, 32, 56, 56, device=device)


@pytest.mark.parametrize("which", ["nn.Conv2d(padding='same')", "conv_same (static)"])
def test_static_same(benchmark, bench_device, which):
    describe(benchmark, "padding", "static SAME, k=3 s=1", which, device=bench_device, baseline=which.startswith("nn."))
    layer = nn.Conv2d(32, 32, 3, padding="same") if which.startswith("nn.") else conv_same(32, 32, 3)
    _run(benchmark, layer.to(bench_device), _conv_input(bench_device), bench_device)


class _ManualPad(nn.Module):
    """The hand-written alternative: F.pad with precomputed amounts, then a VALID conv."""

    def __init__(self, conv: nn.Conv2d, pads):
        super().__init__()
        self.conv, self.pads = conv, [p for pair in reversed(pads) for p in pair]

    def forward(self, x):
        return self.conv(F.pad(x, self.pads))


@pytest.mark.parametrize("which", ["manual F.pad + conv", "conv_same (dynamic)"])
def test_dynamic_same(benchmark, bench_device, which):
    describe(benchmark, "padding", "dynamic SAME, k=4 s=1", which, device=bench_device, baseline=which.startswith("manual"))
    layer = conv_same(32, 32, 4)  # even kernel: asymmetric padding, dynamic path
    if which.startswith("manual"):
        plain = nn.Conv2d(32, 32, 4)
        plain.load_state_dict(layer.state_dict())
        layer = _ManualPad(plain, same_padding((56, 56), 4))
    _run(benchmark, layer.to(bench_device), _conv_input(bench_device), bench_device)


@pytest.mark.parametrize("which", ["nn.Conv2d(stride=2, padding=1)", "conv_same stride 2"])
def test_stride_2_same(benchmark, bench_device, which):
    describe(benchmark, "padding", "stride-2 SAME, k=3", which, device=bench_device, baseline=which.startswith("nn."))
    layer = nn.Conv2d(32, 32, 3, stride=2, padding=1) if which.startswith("nn.") else conv_same(32, 32, 3, stride=2)
    out = _run(benchmark, layer.to(bench_device), _conv_input(bench_device), bench_device)
    assert out.shape[-1] == 28
