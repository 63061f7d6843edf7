"""Examples and bad input for torchfacts.padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchfacts.padding import (
    Conv1dSame,
    Conv3dSame,
    conv_output_size,
    conv_same,
    flat_features,
    is_static_same,
    pad_same,
    pool_output_size,
    same_padding,
)


def test_seed_004_net_needs_flat_features():
    features = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
    assert flat_features(features, (1, 8, 8)) == 32 * 4 == flat_features(features, [1, 9, 9])
    assert flat_features(features, (1, 28, 28)) == 4608
    assert next(features.parameters()).device.type == "cpu", "flat_features must not move the caller's module"


def test_conv_same_picks_static_or_dynamic(torch_device):
    assert type(conv_same(1, 1, 3, dims=1)) is nn.Conv1d and type(conv_same(1, 1, 4, dims=1)) is Conv1dSame
    assert type(conv_same(1, 1, (3, 3, 3), dims=3)) is nn.Conv3d and type(conv_same(1, 1, 3, 2, dims=3)) is Conv3dSame
    assert conv_same(1, 1, 3, dilation=2).padding == (2, 2)
    conv = conv_same(2, 4, 3, stride=2, bias=False).to(torch_device)
    assert conv.bias is None and conv(torch.zeros(1, 2, 7, 9, device=torch_device)).shape == (1, 4, 4, 5)


def test_pad_same_is_a_no_op_when_nothing_to_pad():
    x = torch.zeros(1, 1, 5)
    assert pad_same(x, 1) is x and pad_same(x, 3).shape == (1, 1, 7)


def test_is_static_same_per_dimension():
    assert is_static_same((3, 5), 1, (1, 2)) and not is_static_same((3, 4)) and is_static_same(4, dilation=2)


BAD = [
    (lambda: conv_output_size(8, 0), ValueError, r"kernel_size must be >= 1, got 0"),
    (lambda: conv_output_size(8, 3, stride=-1), ValueError, r"stride must be >= 1, got -1"),
    (lambda: conv_output_size(8, 3, padding=-2), ValueError, r"padding must be >= 0, got -2"),
    (lambda: conv_output_size(8, 3, dilation=0), ValueError, r"dilation must be >= 1, got 0"),
    (lambda: conv_output_size(0, 3), ValueError, r"size must be >= 1, got 0"),
    (lambda: conv_output_size(2, 3), ValueError, r"padded input size 2 is smaller than the effective kernel size 3"),
    (lambda: conv_output_size((8, 8), (3, 3, 3)), ValueError, r"same length, got size=\(8, 8\), kernel_size=\(3, 3, 3\)"),
    (lambda: conv_output_size(8, 3, padding="full"), ValueError, r"got 'full'"),
    (lambda: conv_output_size(8, 3, stride=2, padding="same"), ValueError, r"padding='same' is not supported.*stride=\(2,\)"),
    (lambda: conv_output_size((8, 8), 3, padding=((1, 1),)), ValueError, r"2 \(before, after\) pairs"),
    (lambda: conv_output_size(8, 2.5), TypeError, r"kernel_size must be an int, got 2.5"),
    (lambda: conv_output_size("8", 3), TypeError, r"size must be an int, got '8'"),
    (lambda: conv_output_size((), 3), ValueError, r"at least one spatial dimension"),
    (lambda: pool_output_size(5, 3, padding=2), ValueError, r"padding=2 must be at most half of kernel_size=3"),
    (lambda: pool_output_size(2, 5, 1), ValueError, r"output size -2 is too small for input size 2"),
    (lambda: pool_output_size(5, 3, ceil_mode="yes"), TypeError, r"ceil_mode must be a bool, got 'yes'"),
    (lambda: pool_output_size(5, 3, stride=0), ValueError, r"stride must be >= 1, got 0"),
    (lambda: same_padding(8, (3, 3), stride=(1, 1, 1)), ValueError, r"same length"),
    (lambda: same_padding(8, 3, dilation=-1), ValueError, r"dilation must be >= 1, got -1"),
    (lambda: is_static_same(0), ValueError, r"kernel_size must be >= 1, got 0"),
    (lambda: pad_same([1, 2], 3), TypeError, r"x must be a torch.Tensor, got list"),
    (lambda: pad_same(torch.zeros(5), (3, 3)), ValueError, r"spatial ones, got shape \(5,\)"),
    (lambda: conv_same(1, 1, 3, dims=4), ValueError, r"dims must be 1, 2 or 3, got 4"),
    (lambda: conv_same(1, 1, 3, padding=1), TypeError, r"do not pass padding="),
    (lambda: conv_same(1, 1, (3, 3, 3), dims=2), ValueError, r"kernel_size must be an int or 2 ints"),
    (lambda: conv_same(1, 1, 4, padding_mode="reflect"), ValueError, r"padding_mode must be 'zeros'.*'reflect'"),
    (lambda: flat_features("net", (1, 8, 8)), TypeError, r"module must be an nn.Module, got str"),
    (lambda: flat_features(nn.Identity(), (1, 0)), ValueError, r"input_shape\[1\] must be >= 1, got 0"),
    (lambda: flat_features(nn.Identity(), 8), TypeError, r"input_shape must be a sequence of ints, got 8"),
]


@pytest.mark.parametrize("call, error, message", BAD)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
