"""Torch is the oracle: the view helpers agree with torch on generated layouts.

Each property has a negative control: a plausible but wrong rule, which
hypothesis must be able to catch with the same generators. If a generator ever
stopped producing the layouts that tell the rules apart, the control fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from torchfacts.testing.strategies import layout_snippet, strided_tensors, view_shapes
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

# Settings for negative controls: search until a counterexample turns up.
CONTROL = settings(max_examples=2000, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))


def torch_view_strides(t: torch.Tensor, shape) -> tuple[int, ...] | None:
    try:
        return t.view(shape).stride()
    except RuntimeError as refused:
        assert "view size is not compatible" in str(refused), f"unexpected refusal: {refused}"
        return None


layouts_and_shapes = strided_tensors().flatmap(lambda t: st.tuples(st.just(t), view_shapes(t.numel())))


@given(layouts_and_shapes)
def test_view_strides_equal_torch(case):
    t, shape = case
    ours, theirs = view_strides(t.shape, t.stride(), shape), torch_view_strides(t, shape)
    assert ours == theirs, (
        f"view_strides disagrees with torch: ours {ours}, torch {theirs}\n"
        f"  x = {layout_snippet(t)}; x.view({shape})"
    )


@given(layouts_and_shapes)
def test_can_view_matches_trying(case):
    t, shape = case
    assert can_view(t, shape) == (torch_view_strides(t, shape) is not None), f"x = {layout_snippet(t)}; x.view({shape})"


def _contiguous_only(t: torch.Tensor, shape):
    """Wrong rule: 'view works only on contiguous tensors'."""
    return view_strides(t.shape, t.stride(), shape) if t.is_contiguous() else None


def _size_one_breaks_chunks(t: torch.Tensor, shape):
    """Wrong rule: treats size-1 dimensions like any other when splitting chunks."""
    shape = infer_shape(shape, t.numel())
    if not t.dim() or t.numel() == 0:
        return view_strides(t.shape, t.stride(), shape)
    kept = [(n, s) for n, s in zip(t.shape, t.stride())]
    for d in range(len(kept) - 1):
        if kept[d][0] == 1 and kept[d][1] != kept[d + 1][0] * kept[d + 1][1]:
            return None  # claims a size-1 dimension with an odd stride breaks the view
    return view_strides(t.shape, t.stride(), shape)


@pytest.mark.parametrize("wrong_rule", [_contiguous_only, _size_one_breaks_chunks])
def test_negative_control_wrong_view_rules_are_caught(wrong_rule):
    t, shape = find(layouts_and_shapes, lambda c: wrong_rule(*c) != torch_view_strides(*c), settings=CONTROL)
    assert wrong_rule(t, shape) != torch_view_strides(t, shape)


@given(strided_tensors())
def test_is_contiguous_equals_torch(t):
    assert is_contiguous(t.shape, t.stride()) == t.is_contiguous(), f"x = {layout_snippet(t)}"


def test_negative_control_naive_contiguity_is_caught():
    # Naive rule: "contiguous means strides equal the C-contiguous strides".
    t = find(strided_tensors(), lambda t: (t.stride() == contiguous_strides(t.shape)) != t.is_contiguous(),
             settings=CONTROL)
    assert (t.stride() == contiguous_strides(t.shape)) != t.is_contiguous()


shapes = st.lists(st.integers(0, 6), max_size=5)


@given(shapes)
def test_contiguous_strides_equal_torch(shape):
    assert contiguous_strides(shape) == torch.empty(shape).stride(), f"torch.empty({shape}).stride()"


def test_negative_control_contiguous_strides_without_zero_rule_is_caught():
    def naive(shape):  # multiplies by the size even when it is 0
        return tuple(math.prod(shape[d + 1:]) for d in range(len(shape)))

    shape = find(shapes, lambda s: naive(s) != torch.empty(s).stride(), settings=CONTROL)
    assert 0 in shape[1:]


def torch_infer(shape, numel):
    try:
        return tuple(torch.empty(numel).view(shape).shape)
    except RuntimeError:
        return None


def ours_infer(shape, numel, infer=infer_shape):
    try:
        return infer(shape, numel)
    except ValueError:
        return None


infer_cases = st.tuples(st.lists(st.integers(-3, 6), max_size=4), st.integers(0, 60))


@given(infer_cases)
def test_infer_shape_accepts_and_refuses_like_torch(case):
    shape, numel = case
    assert ours_infer(shape, numel) == torch_infer(shape, numel), f"torch.empty({numel}).view({shape})"


def test_negative_control_infer_shape_without_ambiguity_rule_is_caught():
    def lenient(shape, numel):  # forgets that -1 next to a 0 is ambiguous
        known = math.prod(s for s in shape if s != -1)
        if shape.count(-1) == 1 and known == 0 and numel == 0:
            return tuple(0 if s == -1 else s for s in shape)
        return infer_shape(shape, numel)

    shape, numel = find(infer_cases, lambda c: ours_infer(*c, infer=lenient) != torch_infer(*c), settings=CONTROL)
    assert numel == 0 and -1 in shape


# --- memory: shares_storage and overlaps against NumPy ---------------------------


@st.composite
def two_windows(draw):
    """Two as_strided layouts over one storage, plus the tensor holding that storage."""
    base = draw(strided_tensors())
    size = base.untyped_storage().nbytes() // base.element_size()

    def window():
        ndim = draw(st.integers(1, 3))
        shape = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
        strides = draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim))
        span = sum((n - 1) * s for n, s in zip(shape, strides)) if math.prod(shape) else 0
        offset = draw(st.integers(0, max(size - 1 - span, 0)))
        if size == 0 or offset + span >= size:
            shape = [0] * ndim  # nothing fits: an empty window
        return torch.as_strided(base, shape, strides, offset)

    return base, window(), window()


@given(two_windows())
def test_overlaps_equals_numpy_shares_memory(case):
    _, a, b = case
    expected = np.shares_memory(a.numpy(), b.numpy())
    assert overlaps(a, b) == expected, f"a = x.as_strided{(tuple(a.shape), a.stride(), a.storage_offset())}, b = ..."
    assert overlaps(a, b.numpy()) == expected and overlaps(a.numpy(), b) == expected


@given(two_windows())
def test_shares_storage_for_views_of_one_storage(case):
    base, a, b = case
    has_memory = base.untyped_storage().nbytes() > 0
    assert shares_storage(a, b) == has_memory
    assert shares_storage(a.numpy(), b) == has_memory  # a NumPy view of a tensor is backed by its storage
    if overlaps(a, b):
        assert shares_storage(a, b), "overlapping tensors must share storage"
    assert not shares_storage(a, a.clone())
    assert not overlaps(a, a.clone())


def test_negative_control_bounds_check_is_not_exact():
    # np.may_share_memory only compares address ranges; the property above
    # must be able to tell it apart from exact overlap.
    _, a, b = find(two_windows(), lambda c: np.may_share_memory(c[1].numpy(), c[2].numpy())
                   != np.shares_memory(c[1].numpy(), c[2].numpy()), settings=CONTROL)
    assert not overlaps(a, b) and np.may_share_memory(a.numpy(), b.numpy())


# --- the generators really produce unusual layouts --------------------------------


@pytest.mark.parametrize(
    "feature",
    [
        pytest.param(lambda t: not t.is_contiguous(), id="non-contiguous"),
        pytest.param(lambda t: 0 in t.stride() and t.numel() > 1, id="zero-stride"),
        pytest.param(lambda t: t.numel() == 0 and t.dim() >= 2, id="zero-size"),
        pytest.param(lambda t: t.storage_offset() > 0, id="storage-offset"),
        pytest.param(lambda t: 1 in t.shape and not t.is_contiguous(), id="size-1-dim"),
        pytest.param(lambda t: t.dim() == 0, id="0-d"),
        pytest.param(lambda t: t.untyped_storage().nbytes() > t.numel() * t.element_size() > 0, id="window"),
    ],
)
def test_strided_tensors_cover(feature):
    assert feature(find(strided_tensors(), feature, settings=CONTROL))


@given(strided_tensors(max_dims=3, max_side=4))
def test_describe_diagram_is_what_each_index_reads(t):
    # Element i of every generated storage holds i, so t's values ARE storage positions.
    if t.numel() > 64:
        assert "storage position" not in describe(t)
        return
    diagram = describe(t).split("storage position read by each index:\n")[1]
    assert "".join(diagram.split()) == str(t.long().tolist()).replace(" ", ""), layout_snippet(t)
