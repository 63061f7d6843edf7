"""Benchmark set-up shared by every group.

Each benchmark calls :func:`describe` so the report (``torchfacts bench``) can
compute ratios to the group's baseline — measured in the same run — and GB/s.

Environment switches (set by ``torchfacts bench``):
``TORCHFACTS_BENCH_QUICK=1`` trims sizes and rounds; ``TORCHFACTS_BENCH_DEVICE``
keeps one device. Run with ``python -m pytest benchmarks -n 0`` (one process).
"""

from __future__ import annotations

import os

import pytest
import torch

from torchfacts.facts.registry import device_available

QUICK = os.environ.get("TORCHFACTS_BENCH_QUICK") == "1"
SIZES = [10**k for k in ((3, 6) if QUICK else (3, 5, 6, 7, 8))]
ROUNDS = 3 if QUICK else 15  # for the benchmarks that fix their rounds (whole epochs, check_model)
DEVICES = [d for d in ("cpu", "cuda") if os.environ.get("TORCHFACTS_BENCH_DEVICE", d) == d]


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timed function measures the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def describe(benchmark, family: str, title: str, op: str, *, device: torch.device | str = "cpu",
             size: int | None = None, nbytes: int | None = None, baseline: bool = False) -> None:
    """Group and label a benchmark for the report."""
    device = torch.device(device).type
    where = f"n=1e{len(str(size)) - 1}" if size else title
    benchmark.group = f"{family}: {where} [{device}]"
    benchmark.extra_info.update(family=family, title=title, op=op, device=device, size=size, bytes=nbytes,
                                baseline=baseline)


@pytest.fixture(params=[pytest.param(d, marks=pytest.mark.skipif(not device_available(d), reason=f"{d} is not available"))
                        for d in DEVICES])
def bench_device(request) -> torch.device:
    return torch.device(request.param)
