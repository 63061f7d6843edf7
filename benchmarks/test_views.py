"""Is view() free at any size? What do the copies cost next to clone(), the bandwidth ceiling?"""

from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import SIZES, describe, sync

# op -> (function of a 2-D tensor, copies?, element reads+writes per element)
OPS = {
    "view": (lambda x: x.view(-1), False),
    "reshape (viewable)": (lambda x: x.reshape(-1), False),
    "reshape (copying)": (lambda x: x.t().reshape(-1), True),
    ".contiguous() of a transpose": (lambda x: x.t().contiguous(), True),
    "clone()": (lambda x: x.clone(), True),
}


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n=1e{len(str(n)) - 1}")
@pytest.mark.parametrize("op", list(OPS))
def test_views(benchmark, bench_device, op, n):
    fn, copies = OPS[op]
    x = torch.zeros(n // 1000, 1000, device=bench_device)  # n elements, float32
    describe(benchmark, "views", "view vs copy", op, device=bench_device, size=n,
             nbytes=2 * x.nbytes if copies else None, baseline=op == "clone()")

    def run():
        out = fn(x)
        sync(bench_device)
        return out

    assert run().numel() == n
    benchmark(run)
