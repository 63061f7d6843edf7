"""What check_model costs on a realistic model: a ~1M-parameter CNN, batch of 32."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.conftest import ROUNDS, describe
from torchfacts.checks import check_model


def cnn_1m() -> nn.Sequential:
    """About 0.96M parameters: four 3×3 conv layers with BatchNorm, dropout, a linear head."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*block(3, 64), *block(64, 128), nn.MaxPool2d(2), *block(128, 256), nn.MaxPool2d(2),
                         *block(256, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(256, 10))


def test_check_model_1m_cnn(benchmark):
    torch.manual_seed(0)
    model = cnn_1m()
    inputs, targets = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    describe(benchmark, "checks", "check_model, ~1M-parameter CNN, batch 32", "check_model", baseline=True)
    benchmark.extra_info["parameters"] = sum(p.numel() for p in model.parameters())
    report = benchmark.pedantic(check_model, args=(model, inputs, targets), rounds=max(2, ROUNDS // 5), warmup_rounds=1)
    assert report.ok, str(report)
