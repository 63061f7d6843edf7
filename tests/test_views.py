"""Examples and bad input for every public function of torchfacts.views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchfacts.views import (
    can_view,
    contiguous_strides,
    describe,
    infer_shape,
    is_contiguous,
    overlaps,
    shares_storage,
    view_strides,
)


def test_view_strides_examples_match_torch(torch_device):
    x = torch.zeros(2, 3, 4, device=torch_device)
    cases = [(x, (6, 4)), (x.permute(1, 0, 2), (3, 2, 2, 2)), (x[:, :, ::2], (6, 2)), (x[0, 0, 0], (1, 1))]
    for t, shape in cases:
        assert view_strides(t.shape, t.stride(), shape) == t.view(shape).stride()
    t = x.transpose(0, 2)
    with pytest.raises(RuntimeError, match="reshape"):
        t.view(24)
    assert view_strides(t.shape, t.stride(), (24,)) is None


def test_view_strides_zero_size_and_zero_dim():
    assert view_strides((0, 3), (3, 1), (0, 3)) == (3, 1)  # same shape keeps strides
    assert view_strides((0, 3), (1, 5), (3, 0)) == torch.empty(0, 3).as_strided((0, 3), (1, 5)).view(3, 0).stride()
    assert view_strides((), (), (1, 1)) == (1, 1)
    assert view_strides((1,), (7,), ()) == ()


def test_can_view_accepts_shape_as_tuple_or_varargs():
    x = torch.zeros(4, 6)
    assert can_view(x, 2, 12) and can_view(x, (2, 12)) and can_view(x, [24]) and can_view(x, -1)
    assert not can_view(x.t(), 24)


def test_shares_storage_and_overlaps_disjoint_slices():
    x = torch.arange(10.0)
    a, b = x[:5], x[5:]
    assert shares_storage(a, b) and not overlaps(a, b)
    assert overlaps(x[2:6], x[5:]) and not overlaps(x[::2], x[1::2])
    arr = x.numpy()
    assert shares_storage(x, arr) and overlaps(x[3:4], arr[3:])
    assert not shares_storage(torch.from_numpy(np.arange(3.0)), x)


def test_shares_storage_empty_storage_shares_nothing():
    e = torch.empty(0)
    assert not shares_storage(e, e.view(0, 5)) and not overlaps(e, e)


def test_overlaps_works_for_dtypes_numpy_lacks():
    x = torch.arange(8, dtype=torch.bfloat16)
    assert overlaps(x[:4], x[3:]) and not overlaps(x[:4], x[4:])


def test_describe_mentions_layout_and_view():
    x = torch.arange(12).reshape(3, 4)
    text = describe(x[:, 1::2])
    assert "strides:        (4, 2)" in text and "storage offset: 1" in text and "view:           yes" in text
    assert "[[1, 3],\n [5, 7],\n [9, 11]]" in text
    assert "view:           no" in describe(torch.zeros(3)) and "storage position" not in describe(torch.zeros(100))


# --- bad input: TypeError/ValueError naming the argument and the value --------------

BAD_SHAPES = [
    ((2, -3), ValueError, r"shape\[1\] must be >= 0, got -3"),
    ((2, 2.5), TypeError, r"shape\[1\] must be an int, got 2.5"),
    ("23", TypeError, r"shape must be a sequence of ints, got '23'"),
    (None, TypeError, r"shape must be a sequence of ints, got None"),
    ((True, 2), TypeError, r"shape\[0\] must be an int, got the bool True"),
]


@pytest.mark.parametrize("shape, error, message", BAD_SHAPES)
def test_contiguous_strides_bad_shape(shape, error, message):
    with pytest.raises(error, match=message):
        contiguous_strides(shape)


@pytest.mark.parametrize("shape, error, message", BAD_SHAPES)
def test_is_contiguous_bad_shape(shape, error, message):
    with pytest.raises(error, match=message):
        is_contiguous(shape, (1, 1))


@pytest.mark.parametrize(
    "strides, error, message",
    [
        ((1,), ValueError, r"strides must have one entry per dimension of shape \(2, 3\).*got \(1,\)"),
        ((3, -1), ValueError, r"strides\[1\] must be >= 0, got -1"),
        ((3, "1"), TypeError, r"strides\[1\] must be an int, got '1'"),
    ],
)
def test_is_contiguous_and_view_strides_bad_strides(strides, error, message):
    with pytest.raises(error, match=message):
        is_contiguous((2, 3), strides)
    with pytest.raises(error, match=message):
        view_strides((2, 3), strides, (6,))


@pytest.mark.parametrize(
    "shape, numel, error, message",
    [
        ((-1, -1), 4, ValueError, r"shape \(-1, -1\): only one dimension can be inferred"),
        ((2, -2), 4, ValueError, r"shape \(2, -2\): invalid shape dimension -2"),
        ((3, 5), 12, ValueError, r"shape \(3, 5\) is invalid for input of size 12"),
        ((0, -1), 0, ValueError, r"cannot reshape tensor of 0 elements into shape \(0, -1\).*ambiguous"),
        ((2, -1), -4, ValueError, r"numel must be >= 0, got -4"),
        ((2, -1), 4.0, TypeError, r"numel must be an int, got 4.0"),
        ((2, None), 4, TypeError, r"shape\[1\] must be an int, got None"),
    ],
)
def test_infer_shape_bad_input(shape, numel, error, message):
    with pytest.raises(error, match=message):
        infer_shape(shape, numel)


def test_view_strides_bad_new_shape_is_value_error_not_none():
    with pytest.raises(ValueError, match=r"shape \(5,\) is invalid for input of size 6"):
        view_strides((2, 3), (3, 1), (5,))
    with pytest.raises(TypeError, match=r"shape\[0\] must be an int, got 'a'"):
        view_strides((2, 3), (3, 1), ("a",))


def test_can_view_bad_input():
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor, got ndarray"):
        can_view(np.zeros(3), 3)
    with pytest.raises(ValueError, match=r"shape \(4,\) is invalid for input of size 3"):
        can_view(torch.zeros(3), 4)
    with pytest.raises(TypeError, match=r"shape\[0\] must be an int, got 1.5"):
        can_view(torch.zeros(3), 1.5)


@pytest.mark.parametrize("func", [shares_storage, overlaps])
def test_memory_helpers_bad_input(func):
    with pytest.raises(TypeError, match="a must be a torch.Tensor or numpy.ndarray, got list"):
        func([1, 2], torch.zeros(2))
    with pytest.raises(TypeError, match="b must be a torch.Tensor or numpy.ndarray, got NoneType"):
        func(torch.zeros(2), None)


def test_describe_bad_input():
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor, got list"):
        describe([1, 2])
    with pytest.raises(ValueError, match="max_diagram must be >= 0, got -1"):
        describe(torch.zeros(2), max_diagram=-1)
