"""Output sizes and SAME padding for convolutions and pooling, exact for every geometry.

The seed notes' ``size + 2*padding - kernel_size + 1`` is right only at stride 1
and dilation 1. The general rule, per spatial dimension, is::

    effective_kernel = dilation * (kernel_size - 1) + 1
    output = (size + pad_before + pad_after - effective_kernel) // stride + 1

"SAME" (TensorFlow's meaning) asks for ``output = ceil(size / stride)`` and pads
whatever that needs, the odd pixel after (right/bottom). PyTorch's own
``padding='same'`` only exists for stride 1. Where the padding is symmetric and
independent of the input size, a plain layer's ``padding=`` does it for free
(:func:`is_static_same`); otherwise the input is padded on the fly.

Every function takes an int or a per-dimension tuple (ints broadcast).

>>> conv_output_size(28, 5)                    # seed 004's conv on MNIST
24
>>> conv_output_size((7, 8), 3, stride=2, padding=1)
(4, 4)
>>> same_padding(7, 3, stride=2)               # out = ceil(7/2) = 4
(1, 1)
>>> same_padding(8, 3, stride=2)               # the odd pixel goes after
(0, 1)
"""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from torchfacts._validate import as_int

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "same_padding",
    "is_static_same",
    "pad_same",
    "conv_same",
    "Conv1dSame",
    "Conv2dSame",
    "Conv3dSame",
    "MaxPool2dSame",
    "AvgPool2dSame",
    "flat_features",
]

IntOrTuple = Union[int, Sequence[int]]
MAX_ELEMENTS = 2**33  # refuse to build tensors (padded inputs, weights) beyond this: 32 GiB of float32


def _per_dim(values: dict[str, Any], minimum: dict[str, int]) -> tuple[int, dict[str, tuple[int, ...]]]:
    """Broadcast int-or-tuple arguments to one tuple each, all of the same length.

    Returns (number of dimensions, {name: tuple}). Ints stand for every dimension.
    """
    lengths = {name: len(v) for name, v in values.items() if isinstance(v, (tuple, list, torch.Size))}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"per-dimension arguments must have the same length, got "
                         + ", ".join(f"{name}={values[name]!r}" for name in lengths))
    ndim = next(iter(lengths.values()), 1)
    if ndim == 0:
        raise ValueError(f"need at least one spatial dimension, got {next(iter(lengths))}=()")
    out = {}
    for name, value in values.items():
        items = value if name in lengths else [value] * ndim
        out[name] = tuple(as_int(v, name if name not in lengths else f"{name}[{i}]", minimum=minimum[name])
                          for i, v in enumerate(items))
    return ndim, out


def _result(values: tuple, scalar: bool):
    return values[0] if scalar else values


def _is_scalar(*args: Any) -> bool:
    return not any(isinstance(a, (tuple, list, torch.Size)) for a in args)


def _padding_pairs(padding: Any, ndim: int, stride: tuple[int, ...], dilation: tuple[int, ...],
                   kernel: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(before, after) per dimension from any accepted ``padding`` form."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding != "same":
            raise ValueError(f"padding must be an int, a tuple, (before, after) pairs, 'same' or 'valid', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' is not supported by torch for strided convolutions (stride={stride}); "
                             "use same_padding() or conv_same() for TensorFlow-style SAME")
        # torch's 'same': total d*(k-1), the odd pixel after
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    if isinstance(padding, (tuple, list)) and padding and all(isinstance(p, (tuple, list)) for p in padding):
        if len(padding) != ndim or any(len(p) != 2 for p in padding):
            raise ValueError(f"padding pairs must be {ndim} (before, after) pairs, got {padding!r}")
        return tuple((as_int(b, "padding", minimum=0), as_int(a, "padding", minimum=0)) for b, a in padding)
    _, checked = _per_dim({"padding": padding, "kernel_size": kernel}, {"padding": 0, "kernel_size": 1})
    if len(checked["padding"]) != ndim:
        raise ValueError(f"padding must have {ndim} entries, got {padding!r}")
    return tuple((p, p) for p in checked["padding"])


def conv_output_size(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                     padding: Any = 0, dilation: IntOrTuple = 1) -> IntOrTuple:
    """Spatial output size of ``nn.Conv{1,2,3}d``; ``ValueError`` wherever torch refuses.

    ``padding``: an int, a per-dimension tuple, per-dimension ``(before, after)``
    pairs (as applied with ``F.pad``), ``'same'`` (stride 1 only, like torch) or ``'valid'``.

    >>> conv_output_size(32, 3, padding="same"), conv_output_size(32, 4, padding=((1, 2),))
    (32, (32,))
    >>> conv_output_size(2, 3)
    Traceback (most recent call last):
    ...
    ValueError: padded input size 2 is smaller than the effective kernel size 3 (kernel_size=3, dilation=1) in dimension 0
    """
    ndim, a = _per_dim({"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation},
                       {"size": 1, "kernel_size": 1, "stride": 1, "dilation": 1})
    pads = _padding_pairs(padding, ndim, a["stride"], a["dilation"], a["kernel_size"])
    out = []
    for d, (n, k, s, dil, (before, after)) in enumerate(zip(a["size"], a["kernel_size"], a["stride"], a["dilation"], pads)):
        padded, effective = n + before + after, dil * (k - 1) + 1
        if padded < effective:
            raise ValueError(f"padded input size {padded} is smaller than the effective kernel size {effective} "
                             f"(kernel_size={k}, dilation={dil}) in dimension {d}")
        out.append((padded - effective) // s + 1)
    return _result(tuple(out), _is_scalar(size, kernel_size, stride, padding, dilation))


def pool_output_size(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                     padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False) -> IntOrTuple:
    """Spatial output size of ``nn.MaxPool{1,2,3}d`` (stride defaults to the kernel size).

    Torch's rules: padding at most half the kernel size (``padding <= kernel_size // 2``);
    with ``ceil_mode`` the output rounds up, except that the last window must start
    inside the input or the left padding; an output below 1 is refused.

    >>> pool_output_size(5, 3, 2, ceil_mode=True), pool_output_size(6, 3, 2, ceil_mode=True)
    (2, 3)
    >>> pool_output_size(5, 3, padding=2)
    Traceback (most recent call last):
    ...
    ValueError: padding=2 must be at most half of kernel_size=3 in dimension 0
    """
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be a bool, got {ceil_mode!r}")
    stride = kernel_size if stride is None else stride
    ndim, a = _per_dim({"size": size, "kernel_size": kernel_size, "stride": stride, "padding": padding,
                        "dilation": dilation}, {"size": 1, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1})
    out = []
    for d, (n, k, s, p, dil) in enumerate(zip(a["size"], a["kernel_size"], a["stride"], a["padding"], a["dilation"])):
        if p > k // 2 or p > (dil * (k - 1) + 1) // 2:
            raise ValueError(f"padding={p} must be at most half of kernel_size={k} in dimension {d}")
        span = n + 2 * p - dil * (k - 1) - 1
        size_out = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (size_out - 1) * s >= n + p:
            size_out -= 1  # the last window would start in the right padding
        if size_out < 1:
            raise ValueError(f"output size {size_out} is too small for input size {n} with kernel_size={k}, "
                             f"stride={s}, padding={p}, dilation={dil} in dimension {d}")
        out.append(size_out)
    return _result(tuple(out), _is_scalar(size, kernel_size, stride, padding, dilation))


def same_padding(size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                 dilation: IntOrTuple = 1) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """TensorFlow SAME padding ``(before, after)`` per dimension: output ``ceil(size / stride)``.

    >>> same_padding((224, 224), 7, stride=2)
    ((2, 3), (2, 3))
    """
    _, a = _per_dim({"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation},
                    {"size": 1, "kernel_size": 1, "stride": 1, "dilation": 1})
    pads = []
    for n, k, s, d in zip(a["size"], a["kernel_size"], a["stride"], a["dilation"]):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return _result(tuple(pads), _is_scalar(size, kernel_size, stride, dilation))


def is_static_same(kernel_size: IntOrTuple, stride: IntOrTuple = 1, dilation: IntOrTuple = 1) -> bool:
    """Whether SAME padding is symmetric and the same for every input size.

    True at stride 1 with an even ``dilation * (kernel_size - 1)`` (e.g. odd kernels):
    then ``padding=dilation * (kernel_size - 1) // 2`` on a plain layer is SAME.

    >>> is_static_same(3), is_static_same(4), is_static_same(3, stride=2)
    (True, False, False)
    """
    _, a = _per_dim({"kernel_size": kernel_size, "stride": stride, "dilation": dilation},
                    {"kernel_size": 1, "stride": 1, "dilation": 1})
    return all(s == 1 and d * (k - 1) % 2 == 0 for k, s, d in zip(a["kernel_size"], a["stride"], a["dilation"]))


def pad_same(x: torch.Tensor, kernel_size: IntOrTuple, stride: IntOrTuple = 1, dilation: IntOrTuple = 1,
             value: float = 0.0) -> torch.Tensor:
    """Pad ``x`` (batch, channels, *spatial) so a VALID conv/pool gives SAME output.

    >>> pad_same(torch.zeros(1, 1, 8, 8), 3, stride=2).shape
    torch.Size([1, 1, 9, 9])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number, got {value!r}")
    spatial = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else x.dim() - 2
    if spatial < 1 or x.dim() < spatial + 1:
        raise ValueError(f"x must have batch/channel dimensions plus {max(spatial, 1)} spatial ones, got shape {tuple(x.shape)}")
    if 0 in x.shape[-spatial:]:
        raise ValueError(f"x must have spatial sizes >= 1, got shape {tuple(x.shape)}")
    pads = same_padding(tuple(x.shape[-spatial:]), kernel_size, stride, dilation)
    padded = math.prod(x.shape[:-spatial]) * math.prod(n + b + a for n, (b, a) in zip(x.shape[-spatial:], pads))
    if padded > MAX_ELEMENTS:
        raise ValueError(f"kernel_size={kernel_size!r} with dilation={dilation!r} would pad x to {padded} elements "
                         f"(more than {MAX_ELEMENTS}); is the kernel meant to be larger than the input?")
    # F.pad lists the last dimension first.
    flat = [p for pair in reversed(pads) for p in pair]
    return F.pad(x, flat, value=value) if any(flat) else x


class _DynamicSame:
    """Pads each input for SAME before the convolution (TensorFlow semantics, any stride)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, **kwargs):
        if kwargs.get("padding_mode", "zeros") != "zeros":
            raise ValueError(f"padding_mode must be 'zeros' for dynamic SAME padding, got {kwargs['padding_mode']!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, dilation=dilation, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(pad_same(x, self.kernel_size, self.stride, self.dilation), self.weight, self.bias)


class Conv1dSame(_DynamicSame, nn.Conv1d):
    """``nn.Conv1d`` with TensorFlow SAME padding computed per input."""


class Conv2dSame(_DynamicSame, nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow SAME padding computed per input."""


class Conv3dSame(_DynamicSame, nn.Conv3d):
    """``nn.Conv3d`` with TensorFlow SAME padding computed per input."""


_CONV = {1: (nn.Conv1d, Conv1dSame), 2: (nn.Conv2d, Conv2dSame), 3: (nn.Conv3d, Conv3dSame)}


def conv_same(in_channels: int, out_channels: int, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
              dilation: IntOrTuple = 1, *, dims: int = 2, **conv_kwargs: Any) -> nn.Module:
    """A SAME convolution: a plain ``nn.Conv{dims}d`` when static, else ``Conv{dims}dSame``.

    >>> conv_same(3, 8, 3)                      # static: no padding copy at run time
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv_same(3, 8, 3, stride=2).__class__.__name__
    'Conv2dSame'
    """
    if not isinstance(dims, int) or isinstance(dims, bool) or dims not in _CONV:
        raise ValueError(f"dims must be 1, 2 or 3, got {dims!r}")
    in_channels = as_int(in_channels, "in_channels", minimum=1)
    out_channels = as_int(out_channels, "out_channels", minimum=1)
    if "padding" in conv_kwargs:
        raise TypeError("conv_same() chooses the padding itself; do not pass padding=")
    _, a = _per_dim({"kernel_size": kernel_size, "stride": stride, "dilation": dilation},
                    {"kernel_size": 1, "stride": 1, "dilation": 1})
    if len(a["kernel_size"]) not in (1, dims):
        raise ValueError(f"kernel_size must be an int or {dims} ints for dims={dims}, got {kernel_size!r}")
    weights = in_channels * out_channels * math.prod(a["kernel_size"]) ** (dims if len(a["kernel_size"]) == 1 else 1)
    if weights > MAX_ELEMENTS:
        raise ValueError(f"in_channels={in_channels}, out_channels={out_channels}, kernel_size={kernel_size!r} "
                         f"need {weights} weights (more than {MAX_ELEMENTS})")
    plain, dynamic = _CONV[dims]
    if is_static_same(kernel_size, stride, dilation):
        padding = tuple(d * (k - 1) // 2 for k, d in zip(a["kernel_size"], a["dilation"]))
        return plain(in_channels, out_channels, kernel_size, stride=stride, padding=padding if len(padding) > 1 else padding[0],
                     dilation=dilation, **conv_kwargs)
    return dynamic(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, **conv_kwargs)


class MaxPool2dSame(nn.MaxPool2d):
    """``nn.MaxPool2d`` with SAME padding of ``-inf``, so a padded value never wins."""

    def __init__(self, kernel_size, stride=None, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride=stride, padding=0, dilation=dilation, ceil_mode=ceil_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, _pair(self.kernel_size), _pair(self.stride), _pair(self.dilation), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride, 0, self.dilation, self.ceil_mode)


class AvgPool2dSame(nn.AvgPool2d):
    """``nn.AvgPool2d`` with SAME padding.

    ``count_include_pad=False`` (the default here, as in TensorFlow) averages
    over the real input values only; ``True`` counts the padded zeros, which
    pulls border outputs towards 0 (timm's ``AvgPool2dSame`` behaves so).
    """

    def __init__(self, kernel_size, stride=None, ceil_mode=False, count_include_pad=False):
        super().__init__(kernel_size, stride=stride, padding=0, ceil_mode=ceil_mode, count_include_pad=count_include_pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = _pair(self.kernel_size), _pair(self.stride)
        total = F.avg_pool2d(pad_same(x, k, s), k, s, 0, self.ceil_mode)
        if self.count_include_pad:
            return total
        # Divide by the share of real values under each window instead.
        real = F.avg_pool2d(pad_same(torch.ones_like(x[:1, :1]), k, s), k, s, 0, self.ceil_mode)
        return total / real


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def flat_features(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Features per sample after ``module`` for inputs of ``input_shape`` (no batch dim).

    Runs on the meta device: shapes only, no data, no compute.

    >>> features = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
    >>> flat_features(features, (1, 8, 8)), flat_features(features, (1, 28, 28))
    (128, 4608)
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a sequence of ints, got {input_shape!r}")
    shape = tuple(as_int(n, f"input_shape[{i}]", minimum=1) for i, n in enumerate(input_shape))
    probe = copy.deepcopy(module).to("meta")
    try:
        with torch.no_grad():
            out = probe(torch.empty((1, *shape), device="meta"))
    except (RuntimeError, ValueError, TypeError, IndexError) as refused:
        raise ValueError(f"input_shape={shape} does not fit the module: {type(refused).__name__}: "
                         f"{' '.join(str(refused).split())[:200]}") from None
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"module must return a tensor, got {type(out).__name__}")
    return out[0].numel()
