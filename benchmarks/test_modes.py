"""What modes cost: dropout and BatchNorm in train vs eval, a model's forward, autograd contexts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.conftest import describe, sync
from torchfacts.models import ConvNet


def _timed(benchmark, module, x, device, context=torch.no_grad):
    def forward():
        with context():
            out = module(x)
        sync(device)
        return out

    forward()  # warm-up
    benchmark(forward)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("layer", ["Dropout(0.5)", "BatchNorm2d(64)"])
def test_layer_train_vs_eval(benchmark, bench_device, layer, mode):
    module = (nn.Dropout(0.5) if layer.startswith("Dropout") else nn.BatchNorm2d(64)).to(bench_device).train(mode == "train")
    x = torch.randn(32, 64, 32, 32, device=bench_device)
    describe(benchmark, "modes", f"{layer} train vs eval", mode, device=bench_device, baseline=mode == "train")
    _timed(benchmark, module, x, bench_device)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_model_train_vs_eval(benchmark, bench_device, mode):
    describe(benchmark, "modes", "ConvNet forward train vs eval (batch 256, 28×28)", mode, device=bench_device,
             baseline=mode == "train")
    _timed(benchmark, ConvNet(10).to(bench_device).train(mode == "train"), torch.randn(256, 1, 28, 28, device=bench_device),
           bench_device)


@pytest.mark.parametrize("context", ["grad", "no_grad", "inference_mode"])
def test_autograd_contexts(benchmark, bench_device, context):
    describe(benchmark, "modes", "ConvNet eval forward: grad vs no_grad vs inference_mode", context, device=bench_device,
             baseline=context == "grad")
    make = {"grad": torch.enable_grad, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}[context]
    _timed(benchmark, ConvNet(10).to(bench_device).eval(), torch.randn(256, 1, 28, 28, device=bench_device),
           bench_device, make)
