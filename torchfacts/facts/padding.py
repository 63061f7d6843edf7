"""Facts about output sizes and SAME padding: what the seed formulas get right, and where they stop."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from torchfacts.facts.registry import detects, expect, fact, raises
from torchfacts.padding import flat_features, same_padding


def conv_size(size: int, kernel: int, device, stride: int = 1, pads: tuple[int, int] = (0, 0)) -> int:
    """Output length torch gives for a 1-D conv after padding (before, after)."""
    x = F.pad(torch.zeros(1, 1, size, device=device), pads)
    return F.conv1d(x, torch.zeros(1, 1, kernel, device=device), stride=stride).shape[-1]


def _disagreements(rule, cases, device) -> list[str]:
    """Cases (size, kernel, stride, (before, after)) where ``rule`` differs from torch."""
    wrong = []
    for size, kernel, stride, pads in cases:
        observed, predicted = conv_size(size, kernel, device, stride, pads), rule(size, kernel, stride, pads)
        if observed != predicted:
            wrong.append(f"size {size}, kernel {kernel}, stride {stride}, padding {pads}: torch {observed}, rule {predicted}")
    return wrong


def _seed_formula(size, kernel, stride, pads):
    return size + 2 * pads[0] - kernel + 1


def _formula_agrees(stride: int, device) -> str:
    cases = [(n, k, stride, (p, p)) for n in range(5, 10) for k in range(1, 6) for p in range(3)]
    wrong = _disagreements(_seed_formula, cases, device)
    return expect(not wrong, f"size + 2*padding - kernel_size + 1 at stride {stride}: "
                  f"{len(cases) - len(wrong)}/{len(cases)} cases agree with torch" + (f"; e.g. {wrong[0]}" if wrong else ""))


@fact("padding.seed-size-formula-stride-1-only", seeds=("S001-11",),
      claim="`new_size = size + 2*padding - kernel_size + 1` equals torch's conv output at stride 1 (dilation 1) but not at stride 2.")
def seed_size_formula(device):
    return _formula_agrees(stride=1, device=device)


@seed_size_formula.control
def _(device):
    return detects(lambda: _formula_agrees(stride=2, device=device))


def _half_padding_keeps_size(kernels, device) -> str:
    cases = [(n, k, 1, ((k - 1) // 2,) * 2) for n in range(5, 10) for k in kernels]
    wrong = _disagreements(lambda size, kernel, stride, pads: size, cases, device)
    return expect(not wrong, f"padding=(k-1)//2 with kernels {kernels}: size kept in {len(cases) - len(wrong)}/{len(cases)} cases"
                  + (f"; e.g. {wrong[0]}" if wrong else ""))


@fact("padding.half-padding-same-for-odd-kernels", seeds=("S001-12",),
      claim="`padding=(kernel_size-1)//2` keeps the size for odd kernels at stride 1, and not for even ones.")
def half_padding_odd(device):
    return _half_padding_keeps_size((1, 3, 5, 7), device)


@half_padding_odd.control
def _(device):
    return detects(lambda: _half_padding_keeps_size((2, 4, 6), device))


def _same_refused(stride: int, device) -> str:
    return raises(ValueError, lambda: nn.Conv2d(1, 1, 3, stride=stride, padding="same", device=device),
                  f"nn.Conv2d(1, 1, 3, stride={stride}, padding='same')")


@fact("padding.same-string-refuses-stride", seeds=("S001-12",),
      claim="`padding='same'` raises ValueError for strided convolutions: torch has no SAME for stride > 1.")
def same_refuses_stride(device):
    return _same_refused(2, device)


@same_refuses_stride.control
def _(device):
    return detects(lambda: _same_refused(1, device))


def _same_pads_as(pads: tuple[int, int], device) -> str:
    torch.manual_seed(0)
    conv = nn.Conv1d(1, 1, 4, padding="same", bias=False, device=device)
    x = torch.randn(1, 1, 9, device=device)
    manual = F.conv1d(F.pad(x, pads), conv.weight)
    return expect(torch.allclose(conv(x), manual), f"Conv1d(kernel 4, padding='same') equals F.pad(x, {pads}) + conv: "
                  f"{torch.allclose(conv(x), manual)}")


@fact("padding.torch-same-extra-after",
      claim="With an even kernel, torch's `padding='same'` puts the extra pixel after (right/bottom), like TensorFlow.")
def torch_same_extra_after(device):
    return _same_pads_as((1, 2), device)


@torch_same_extra_after.control
def _(device):
    return detects(lambda: _same_pads_as((2, 1), device))


def _output_is_ceil(pad_rule, name: str, device) -> str:
    cases = [(n, k, s) for n in range(5, 13) for k in (2, 3, 4) for s in (2, 3)]
    wrong = [(n, k, s) for n, k, s in cases if conv_size(n, k, device, s, pad_rule(n, k, s)) != math.ceil(n / s)]
    return expect(not wrong, f"{name}: output == ceil(size/stride) in {len(cases) - len(wrong)}/{len(cases)} strided cases")


@fact("padding.same-output-is-ceil",
      claim="TensorFlow-style SAME padding gives output `ceil(size / stride)` at every stride (asymmetric when needed).")
def same_output_is_ceil(device):
    return _output_is_ceil(lambda n, k, s: same_padding(n, k, s), "torchfacts.padding.same_padding", device)


@same_output_is_ceil.control
def _(device):
    return detects(lambda: _output_is_ceil(lambda n, k, s: ((k - 1) // 2,) * 2, "padding=(k-1)//2", device))


def _pool_not_same(size: int, device) -> str:
    pooled = nn.MaxPool2d(3, 2, ceil_mode=True)(torch.zeros(1, 1, size, size, device=device)).shape[-1]
    same = math.ceil(size / 2)
    return expect(pooled != same, f"MaxPool2d(3, 2, ceil_mode=True) on {size}×{size}: {pooled}; SAME gives {same}")


@fact("padding.ceil-mode-is-not-same",
      claim="`ceil_mode=True` is not SAME: `MaxPool2d(3, 2, ceil_mode=True)` maps 5 to 2, SAME to 3.")
def ceil_mode_not_same(device):
    return _pool_not_same(5, device)


@ceil_mode_not_same.control
def _(device):
    return detects(lambda: _pool_not_same(6, device))


def _seed_004_features(device):
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2)).to(device)


def _linear_fits(size: int, in_features: int, device) -> str:
    features = _seed_004_features(device)
    needed = flat_features(features, (1, size, size))
    x = features(torch.zeros(2, 1, size, size, device=device)).flatten(1)
    try:
        nn.Linear(in_features, 10, device=device)(x)
    except RuntimeError:
        return expect(False, f"{size}×{size} input: {needed} flat features, Linear({in_features}, ...) raised RuntimeError")
    return expect(needed == in_features, f"{size}×{size} input: {needed} flat features, Linear({in_features}, ...) works")


@fact("padding.seed-004-flat-features", seeds=("S004-01",),
      claim="Seed 004's `Linear(32*4, ...)` fits only 8×8 (or 9×9) inputs; 28×28 needs 4608 features, which `flat_features` computes.")
def seed_004_flat_features(device):
    return f"{_linear_fits(8, 32 * 4, device)}; {_linear_fits(28, 4608, device)}"


@seed_004_flat_features.control
def _(device):
    return detects(lambda: _linear_fits(28, 32 * 4, device))
