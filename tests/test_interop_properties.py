"""The NumPy bridge over every dtype and layout: shares exactly when it says so.

Sharing is proved by a write, never assumed; each property has a negative
control showing the same check catches a bridge that copies behind your back.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from torchfacts.interop import from_numpy, shares_memory, sharing_problem, to_numpy
from torchfacts.testing.strategies import layout_snippet, strided_tensors

# Every NumPy dtype torch accepts, in both byte orders.
SUPPORTED = [np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32,
                                   np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128)]
DTYPES = SUPPORTED + [d.newbyteorder(">" if d.byteorder != ">" else "<") for d in SUPPORTED if d.itemsize > 1]
UNSUPPORTED = [np.dtype("U3"), np.dtype(object), np.dtype("datetime64[s]"), np.dtype(np.longdouble), np.dtype("V4")]
CONTROL = settings(max_examples=1000, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


@st.composite
def layouts(draw, dtypes=DTYPES):
    """Arrays as users meet them: views of larger arrays, transposes, step slices (negative too)."""
    array = draw(hnp.arrays(st.sampled_from(dtypes), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
    if array.ndim and draw(st.booleans()):
        array = array.T
    if array.ndim:
        steps = draw(st.lists(st.sampled_from([1, 2, -1, -2]), min_size=array.ndim, max_size=array.ndim))
        starts = [draw(st.integers(0, max(n - 1, 0))) for n in array.shape]
        index = tuple(slice(s, None, step) if step > 0 else slice(None, None, step) for s, step in zip(starts, steps))
        array = array[index]
    if draw(st.booleans()):
        array = array.copy()  # and sometimes a plain contiguous array
    if draw(st.booleans()):
        array.setflags(write=False)
    return array


def _other_value(array: np.ndarray, index):
    return not array[index] if array.dtype == bool else (0 if array[index] != 0 else 1)


def write_shows(tensor: torch.Tensor, array: np.ndarray) -> bool:
    """Write through the tensor; does the array see it?"""
    if array.size == 0 or not array.flags.writeable:
        return False
    index = (0,) * array.ndim
    value = _other_value(array, index)
    tensor[index] = value
    return bool(array[index] == value)


@pytest.mark.parametrize("copy", [None, True, False])
@given(layouts())
def test_from_numpy_shares_exactly_when_it_can(copy, array):
    problem = sharing_problem(array)
    if copy is False and problem:
        with pytest.raises(ValueError, match="pass copy=None or copy=True"):
            from_numpy(array, copy=False)
        return
    original = array.copy()
    t = from_numpy(array, copy=copy)
    assert np.array_equal(t.numpy(), original, equal_nan=array.dtype.kind in "fc"), f"values differ for {array.dtype}"
    expect_shared = copy is not True and problem is None and array.size > 0
    assert shares_memory(t, array) == expect_shared, f"copy={copy}, problem={problem}, strides={array.strides}"
    assert write_shows(t, array) == expect_shared, "a write through the tensor must reach the array iff shared"
    if expect_shared:
        assert t.stride() == tuple(s // array.itemsize for s in array.strides)
        assert from_numpy(to_numpy(t, copy=False), copy=False).data_ptr() == t.data_ptr()


def test_negative_control_a_silently_copying_bridge_is_caught():
    # torch.tensor always copies; the write proof above must notice on some layout.
    def caught(array):
        return sharing_problem(array) is None and array.size > 0 and not write_shows(torch.tensor(array), array)

    assert caught(find(layouts(SUPPORTED), caught, settings=CONTROL))


@pytest.mark.parametrize("dtype", UNSUPPORTED, ids=str)
@pytest.mark.parametrize("copy", [None, True, False])
def test_unsupported_numpy_dtypes_raise_type_error(dtype, copy):
    with pytest.raises(TypeError, match=re.escape(f"NumPy dtype {dtype} has no torch dtype")):
        from_numpy(np.zeros(3, dtype=dtype), copy=copy)


def test_big_endian_and_negative_strides_copy_or_raise():
    big = np.arange(4, dtype=">i4")
    assert from_numpy(big).tolist() == [0, 1, 2, 3] and not shares_memory(from_numpy(big), big)
    with pytest.raises(ValueError, match="non-native byte order"):
        from_numpy(big, copy=False)
    backwards = np.arange(4.0)[::-1]
    assert from_numpy(backwards).tolist() == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="negative strides"):
        from_numpy(backwards, copy=False)


TORCH_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
                torch.float32, torch.float64, torch.complex64, torch.bfloat16]


@pytest.mark.parametrize("copy", [None, True, False])
@given(st.sampled_from(TORCH_DTYPES).flatmap(lambda d: strided_tensors(dtype=d)), st.sampled_from(["plain", "grad", "conj"]))
def test_to_numpy_shares_exactly_when_it_can(copy, t, twist):
    if twist == "grad" and t.is_floating_point():
        t = t.requires_grad_()
    if twist == "conj" and t.is_complex():
        t = t.conj()
    if t.dtype == torch.bfloat16:
        with pytest.raises(TypeError, match="has no NumPy dtype"):
            to_numpy(t, copy=copy)
        return
    problem = sharing_problem(t)
    if copy is False and problem:
        with pytest.raises(ValueError, match="cannot share memory with NumPy"):
            to_numpy(t, copy=False)
        return
    array = to_numpy(t, copy=copy)
    assert np.array_equal(array, t.detach().resolve_conj().numpy()), layout_snippet(t)
    expect_shared = copy is not True and problem is None and t.numel() > 0
    assert shares_memory(t, array) == expect_shared, f"copy={copy}, problem={problem}: {layout_snippet(t)}"
    if expect_shared:
        assert array.strides == tuple(s * t.element_size() for s in t.stride())
        assert array.__array_interface__["data"][0] == t.data_ptr()
