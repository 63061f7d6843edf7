"""Examples and bad input for torchfacts.interop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchfacts.interop import dtype_table, from_numpy, shares_memory, sharing_problem, to_numpy


def test_to_numpy_reasons_name_the_fix():
    cases = [
        (torch.ones(2, requires_grad=True), "requires grad; call .detach()"),
        (torch.tensor([1j]).conj(), ".resolve_conj()"),
        (torch.tensor([1j]).conj().imag, ".resolve_neg()"),
    ]
    for t, fix in cases:
        with pytest.raises(ValueError, match=fix.replace("(", r"\(").replace(")", r"\)")):
            to_numpy(t, copy=False)
        assert not shares_memory(t, to_numpy(t)), "copy=None must copy when sharing is impossible"
    with torch.no_grad():
        grad = torch.ones(2, requires_grad=True)
        assert shares_memory(grad, to_numpy(grad, copy=False)), "under no_grad torch itself shares"


def test_to_numpy_unconvertible_dtypes_and_layouts():
    with pytest.raises(TypeError, match="torch.bfloat16 has no NumPy dtype"):
        to_numpy(torch.ones(2, dtype=torch.bfloat16), copy=True)
    with pytest.raises(TypeError, match="layout torch.sparse_coo"):
        to_numpy(torch.eye(2).to_sparse())


def test_to_numpy_gpu(torch_device):
    t = torch.arange(3.0, device=torch_device)
    if torch_device.type == "cpu":
        assert shares_memory(t, to_numpy(t, copy=False))
        return
    with pytest.raises(ValueError, match=f"tensor is on {torch_device}"):
        to_numpy(t, copy=False)
    assert to_numpy(t).tolist() == [0.0, 1.0, 2.0]


def test_from_numpy_read_only_copies_silently_unless_copy_false():
    a = np.arange(3.0)
    a.setflags(write=False)
    assert not shares_memory(from_numpy(a), a)
    with pytest.raises(ValueError, match="array is read-only"):
        from_numpy(a, copy=False)


def test_from_numpy_misaligned_strides_copy():
    a = np.zeros(7, dtype=np.uint8)[1:].view(np.int16)[::1]
    odd = np.lib.stride_tricks.as_strided(np.zeros(8, dtype=np.int32), shape=(3,), strides=(6,))
    assert sharing_problem(odd) and "multiples of its itemsize" in sharing_problem(odd)
    assert from_numpy(odd).shape == (3,) and from_numpy(a).dtype == torch.int16


def test_dtype_table_is_asked_of_torch():
    rows = {t: (n, back) for t, n, back in dtype_table()}
    assert rows["torch.float64"] == ("float64", "torch.float64")
    assert rows["torch.bfloat16"] == ("-", "-")
    assert all(back in (t, "-") for t, (_, back) in rows.items()), "a NumPy dtype must come back as itself"


@pytest.mark.parametrize("func", [to_numpy, from_numpy])
@pytest.mark.parametrize("copy", ["yes", 1, 0.0])
def test_bad_copy_argument(func, copy):
    value = torch.zeros(2) if func is to_numpy else np.zeros(2)
    with pytest.raises(TypeError, match=f"copy must be None, True or False, got {copy!r}"):
        func(value, copy=copy)


def test_bad_objects():
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor, got ndarray"):
        to_numpy(np.zeros(2))
    with pytest.raises(TypeError, match="array must be a numpy.ndarray, got list"):
        from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="array must be a numpy.ndarray, got float64"):
        from_numpy(np.float64(1.0))
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor, got list"):
        shares_memory([1], np.zeros(1))
    with pytest.raises(TypeError, match="array must be a numpy.ndarray, got Tensor"):
        shares_memory(torch.zeros(1), torch.zeros(1))
    with pytest.raises(TypeError, match="obj must be a torch.Tensor or numpy.ndarray, got str"):
        sharing_problem("x")
