"""Sharing is O(1), copying O(n): the NumPy bridge across sizes (CPU memory only)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from benchmarks.conftest import SIZES, describe
from torchfacts.interop import to_numpy

OPS = {
    "torch.from_numpy": lambda array, tensor: torch.from_numpy(array),
    "torch.as_tensor": lambda array, tensor: torch.as_tensor(array),
    "torch.tensor": lambda array, tensor: torch.tensor(array),
    "to_numpy(copy=True)": lambda array, tensor: to_numpy(tensor, copy=True),
}


@lru_cache(maxsize=1)
def source(n: int) -> tuple[np.ndarray, torch.Tensor]:
    array = np.arange(n, dtype=np.float32)
    return array, torch.from_numpy(array)


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n=1e{len(str(n)) - 1}")
@pytest.mark.parametrize("op", list(OPS))
def test_bridge(benchmark, op, n):
    array, tensor = source(n)
    copies = op in ("torch.tensor", "to_numpy(copy=True)")
    describe(benchmark, "interop", "NumPy bridge", op, size=n, nbytes=2 * array.nbytes if copies else None,
             baseline=op == "torch.from_numpy")
    result = benchmark(OPS[op], array, tensor)
    assert result.shape == (n,)
