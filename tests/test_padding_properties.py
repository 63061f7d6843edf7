"""Torch is the oracle for output sizes and SAME padding in 1-D, 2-D and 3-D.

Negative controls show that the same generators catch the rules people
actually use and that are wrong: the seed formula, ceil mode without the
"last window starts inside" rule, and symmetric (k-1)//2 padding as SAME.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from torch import nn

from torchfacts.padding import (
    AvgPool2dSame,
    MaxPool2dSame,
    conv_output_size,
    conv_same,
    is_static_same,
    pad_same,
    pool_output_size,
    same_padding,
)
from torchfacts.testing.strategies import conv_geometries

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
MAXPOOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
PLAIN = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
DIMS = pytest.mark.parametrize("dims", [1, 2, 3])
CONTROL = settings(max_examples=2000, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))


def snippet(g: dict, call: str) -> str:
    return f"{call}(torch.zeros(1, 1, *{g['size']}), ...) with {g}"


def torch_conv_size(g: dict, pads=None):
    """Output size torch gives, or None when it refuses. ``pads``: (before, after) per dim."""
    dims = len(g["size"])
    x = torch.zeros(1, 1, *g["size"])
    padding = g["padding"]
    if pads is not None:
        x = F.pad(x, [p for pair in reversed(pads) for p in pair])
        padding = 0
    try:
        out = CONV[dims](x, torch.zeros(1, 1, *g["kernel_size"]), stride=g["stride"], padding=padding,
                         dilation=g["dilation"])
    except RuntimeError:
        return None
    return tuple(out.shape[2:])


def ours(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except ValueError:
        return None


@DIMS
@given(data=st.data())
def test_conv_output_size_equals_torch(dims, data):
    g = data.draw(conv_geometries(dims))
    if data.draw(st.booleans()):  # asymmetric (before, after) pairs, applied with F.pad
        pads = tuple(data.draw(st.tuples(st.integers(0, 3), st.integers(0, 3))) for _ in range(dims))
        expected = torch_conv_size(g, pads)
        got = ours(conv_output_size, g["size"], g["kernel_size"], g["stride"], pads, g["dilation"])
    else:
        expected = torch_conv_size(g)
        got = ours(conv_output_size, g["size"], g["kernel_size"], g["stride"], g["padding"], g["dilation"])
    assert got == expected, snippet(g, f"F.conv{dims}d")


def seed_formula(g: dict) -> tuple[int, ...]:
    """The seed notes' rule: size + 2*padding - kernel_size + 1."""
    return tuple(n + 2 * p - k + 1 for n, p, k in zip(g["size"], g["padding"], g["kernel_size"]))


def test_negative_control_seed_formula_is_caught():
    g = find(conv_geometries(2), lambda g: torch_conv_size(g) not in (None, seed_formula(g)), settings=CONTROL)
    assert max(g["stride"]) > 1 or max(g["dilation"]) > 1, "the seed formula is right at stride 1, dilation 1"


def torch_pool_size(g: dict, ceil_mode: bool):
    dims = len(g["size"])
    try:
        out = MAXPOOL[dims](torch.zeros(1, 1, *g["size"]), g["kernel_size"], g["stride"], g["padding"],
                            g["dilation"], ceil_mode=ceil_mode)
    except RuntimeError:
        return None
    return tuple(out.shape[2:])


@DIMS
@given(data=st.data())
def test_pool_output_size_equals_torch(dims, data):
    g = data.draw(conv_geometries(dims, max_padding=3))
    ceil_mode = data.draw(st.booleans())
    got = ours(pool_output_size, g["size"], g["kernel_size"], g["stride"], g["padding"], g["dilation"], ceil_mode)
    assert got == torch_pool_size(g, ceil_mode), snippet(g, f"F.max_pool{dims}d") + f", ceil_mode={ceil_mode}"


def test_negative_control_ceil_mode_without_last_window_rule_is_caught():
    def naive(g):  # plain rounding up, forgetting that the last window must start inside
        return tuple(math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1
                     for n, k, s, p, d in zip(g["size"], g["kernel_size"], g["stride"], g["padding"], g["dilation"]))

    g = find(conv_geometries(1, max_padding=1), lambda g: torch_pool_size(g, True) not in (None, naive(g)),
             settings=CONTROL)
    assert torch_pool_size(g, True) != naive(g)


@DIMS
@given(data=st.data())
def test_conv_same_output_is_ceil_size_over_stride(dims, data):
    g = data.draw(conv_geometries(dims))
    conv = conv_same(1, 1, g["kernel_size"], g["stride"], g["dilation"], dims=dims)
    out = conv(torch.zeros(1, 1, *g["size"]))
    assert tuple(out.shape[2:]) == tuple(math.ceil(n / s) for n, s in zip(g["size"], g["stride"])), snippet(g, "conv_same")
    pads = same_padding(g["size"], g["kernel_size"], g["stride"], g["dilation"])
    assert torch_conv_size(g, pads) == tuple(out.shape[2:]), "same_padding + VALID conv must agree"
    if is_static_same(g["kernel_size"], g["stride"], g["dilation"]):
        # Static path: a plain layer whose own padding does the work; no F.pad copy.
        assert type(conv) is PLAIN[dims] and all(a == b for a, b in pads)


def test_negative_control_symmetric_half_padding_is_not_same():
    def half_padding_size(g):
        pads = tuple(((k - 1) // 2,) * 2 for k in g["kernel_size"])
        return torch_conv_size(g, pads)

    g = find(conv_geometries(1, max_dilation=1), lambda g: half_padding_size(g) != (math.ceil(g["size"][0] / g["stride"][0]),),
             settings=CONTROL)
    assert g["kernel_size"][0] % 2 == 0 or g["stride"][0] > 1


@DIMS
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own even-kernel copy, see the facts
@given(data=st.data())
def test_conv_same_stride_1_equals_torch_padding_same(dims, data):
    g = data.draw(conv_geometries(dims, max_stride=1))
    torch.manual_seed(0)
    ours_conv = conv_same(2, 3, g["kernel_size"], 1, g["dilation"], dims=dims).double()
    theirs = PLAIN[dims](2, 3, g["kernel_size"], padding="same", dilation=g["dilation"]).double()
    theirs.load_state_dict(ours_conv.state_dict())
    x = torch.randn(1, 2, *g["size"], dtype=torch.float64)
    assert torch.equal(ours_conv(x), theirs(x)), snippet(g, "conv_same vs padding='same'")


@given(conv_geometries(2, max_kernel=5, max_dilation=1))
def test_same_pools_equal_torch_at_stride_1_and_keep_ceil_size(g):
    x = torch.randn(1, 2, *g["size"])
    k, s = g["kernel_size"], g["stride"]
    expected = tuple(math.ceil(n / st_) for n, st_ in zip(g["size"], s))
    for pool in (MaxPool2dSame(k, s), AvgPool2dSame(k, s), AvgPool2dSame(k, s, count_include_pad=True)):
        assert tuple(pool(x).shape[2:]) == expected, f"{pool} on {tuple(x.shape)}"
    if all(n % 2 for n in k):  # odd kernels at stride 1: torch's symmetric padding is SAME
        pad = tuple(n // 2 for n in k)
        assert torch.equal(MaxPool2dSame(k, 1)(x), F.max_pool2d(x, k, 1, pad))
        for include in (False, True):
            assert torch.allclose(AvgPool2dSame(k, 1, count_include_pad=include)(x),
                                  F.avg_pool2d(x, k, 1, pad, count_include_pad=include), atol=1e-6)


def test_max_pool_same_pads_with_minus_infinity():
    x = -torch.ones(1, 1, 4, 4)  # all negative: zero padding would win the max
    assert MaxPool2dSame(3, 2)(x).max().item() == -1.0
    assert F.max_pool2d(pad_same(x, (3, 3), (2, 2)), 3, 2).max().item() == 0.0  # the trap it avoids
