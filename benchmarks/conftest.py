"""Benchmark set-up: sizes shared by the groups, and a bench_device parameter.

Run with ``python -m pytest benchmarks`` (full) or add ``--benchmark-disable``
to run every benchmark once as a smoke test.
"""

from __future__ import annotations

import pytest
import torch

from torchfacts.facts.registry import KNOWN_DEVICES, device_available

SIZES = [10**k for k in (2, 4, 6, 8)]


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timed function measures the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@pytest.fixture(
    params=[
        pytest.param(d, marks=pytest.mark.skipif(not device_available(d), reason=f"{d} is not available here"))
        for d in KNOWN_DEVICES
        if d != "mps"
    ]
)
def bench_device(request) -> torch.device:
    return torch.device(request.param)
