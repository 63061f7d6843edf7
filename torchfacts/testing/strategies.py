"""Hypothesis strategies for tensor layouts, reusable in any test suite.

``strided_tensors()`` makes tensors whose memory layout is genuinely unusual —
permuted, step-sliced, narrowed, expanded (stride 0), with size-0 and size-1
dimensions, storage offsets, and ``as_strided`` windows over a larger storage.
``view_shapes(numel)`` makes target shapes for ``view``/``reshape``, and
``conv_geometries(dims)`` convolution/pooling geometries.

>>> from hypothesis import given
>>> @given(strided_tensors(), st.data())
... def test_view_keeps_numel(t, data):
...     shape = data.draw(view_shapes(t.numel()))
...     assert t.reshape(shape).numel() == t.numel()
>>> test_view_keeps_numel()
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from hypothesis import strategies as st

__all__ = ["strided_tensors", "view_shapes", "layout_snippet", "conv_geometries", "GENERATED"]

#: Counts the plugin reports at the end of a run: layouts and geometries generated here, and what tests add.
GENERATED: Counter[str] = Counter()

_OPS = ("permute", "slice", "narrow", "expand", "unsqueeze", "squeeze")


def _shapes(max_dims: int, max_side: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, max_side), max_size=max_dims)


def _apply(draw, t: torch.Tensor, op: str, max_side: int) -> torch.Tensor:
    """One layout-changing operation that returns a view; unsuitable ops return t."""
    dims = t.dim()
    if op == "permute" and dims >= 2:
        return t.permute(draw(st.permutations(range(dims))))
    if op == "unsqueeze" and dims < 6:
        return t.unsqueeze(draw(st.integers(0, dims)))
    if op == "expand" and dims < 6:
        # Insert a size-1 dimension and stretch it: its stride becomes 0.
        t = t.unsqueeze(draw(st.integers(0, dims)))
        sizes = [draw(st.integers(0, max_side)) if n == 1 else n for n in t.shape]
        return t.expand(sizes)
    if dims == 0:
        return t
    d = draw(st.integers(0, dims - 1))
    size = t.shape[d]
    if op == "slice":
        start, step = draw(st.integers(0, size)), draw(st.integers(1, 3))
        return t[(slice(None),) * d + (slice(start, None, step),)]
    if op == "narrow":
        start = draw(st.integers(0, size))
        return t.narrow(d, start, draw(st.integers(0, size - start)))
    if op == "squeeze" and size == 1:
        return t.squeeze(d)
    return t


@st.composite
def strided_tensors(draw, *, max_dims: int = 4, max_side: int = 5, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Tensors with arbitrary (often non-contiguous) layouts; element i of the base holds i."""
    if draw(st.booleans()):
        # A chain of view operations on a contiguous base.
        shape = draw(_shapes(max_dims, max_side))
        t = torch.arange(math.prod(shape), device=device).to(dtype).reshape(shape)
        for op in draw(st.lists(st.sampled_from(_OPS), max_size=4)):
            t = _apply(draw, t, op, max_side)
    else:
        # An as_strided window over a larger storage: any non-negative strides
        # (overlapping ones included) and a storage offset.
        shape = draw(_shapes(max_dims, max_side))
        strides = draw(st.lists(st.integers(0, 24), min_size=len(shape), max_size=len(shape)))
        offset = draw(st.integers(0, 8))
        last = offset + sum((n - 1) * s for n, s in zip(shape, strides)) if math.prod(shape) else offset
        storage = torch.arange(last + 1 + draw(st.integers(0, 4)), device=device).to(dtype)
        t = storage.as_strided(shape, strides, offset)
    GENERATED["layouts"] += 1
    return t


@st.composite
def view_shapes(draw, numel: int, *, max_dims: int = 5, allow_infer: bool = True) -> tuple[int, ...]:
    """Shapes with ``numel`` elements: random factorizations, extra size-1 dimensions, at most one -1."""
    if numel == 0:
        sizes = draw(st.lists(st.integers(0, 4), min_size=1, max_size=max_dims))
        sizes[draw(st.integers(0, len(sizes) - 1))] = 0
        return tuple(sizes)  # no -1: torch calls it ambiguous when there are no elements
    sizes, remaining = [], numel
    while remaining > 1 and len(sizes) < max_dims - 1 and draw(st.booleans()):
        factor = draw(st.sampled_from([d for d in range(2, remaining + 1) if remaining % d == 0]))
        sizes.append(factor)
        remaining //= factor
    if remaining > 1 or draw(st.booleans()):
        sizes.insert(draw(st.integers(0, len(sizes))), remaining)
    for _ in range(draw(st.integers(0, 2))):
        sizes.insert(draw(st.integers(0, len(sizes))), 1)
    if allow_infer and sizes and draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return tuple(sizes)


def layout_snippet(t: torch.Tensor) -> str:
    """Python that rebuilds ``t``'s layout, for copy-pasteable failure reports.

    >>> layout_snippet(torch.zeros(2, 3).t())
    'torch.arange(6.).as_strided((3, 2), (1, 3), 0)'
    """
    storage = t.untyped_storage().nbytes() // t.element_size()
    return f"torch.arange({storage}.).as_strided({tuple(t.shape)}, {t.stride()}, {t.storage_offset()})"


@st.composite
def conv_geometries(draw, dims: int, *, max_size: int = 12, max_kernel: int = 6, max_stride: int = 4,
                    max_padding: int = 4, max_dilation: int = 3) -> dict[str, tuple[int, ...]]:
    """Per-dimension ``size, kernel_size, stride, padding, dilation`` for a ``dims``-D layer.

    Impossible geometries (kernel larger than the padded input, too much
    padding for a pool) are included on purpose: helpers must refuse them
    exactly where torch does.

    >>> from hypothesis import find
    >>> find(conv_geometries(2), lambda g: g["stride"][1] > 1)["stride"]
    (1, 2)
    """
    def per_dim(low: int, high: int) -> tuple[int, ...]:
        return tuple(draw(st.lists(st.integers(low, high), min_size=dims, max_size=dims)))

    geometry = dict(size=per_dim(1, max_size), kernel_size=per_dim(1, max_kernel), stride=per_dim(1, max_stride),
                    padding=per_dim(0, max_padding), dilation=per_dim(1, max_dilation))
    GENERATED["geometries"] += 1
    return geometry
