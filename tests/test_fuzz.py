"""Fuzzing: arbitrary values into every public helper and bad flags into every CLI command.

Only ``ValueError``/``TypeError`` naming one of the function's arguments may come
out; anything a helper returns for small inputs must agree with torch. The
number of inputs tried per function is added to the run's closing counts line.
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from torchfacts import interop, modes, padding, views
from torchfacts.cli import main
from torchfacts.testing.strategies import GENERATED

FUZZ = settings(max_examples=max(50, settings.default.max_examples // 4))  # 100 per function in ci

tensors = st.builds(
    lambda shape, dtype: torch.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 3), max_size=4),
    st.sampled_from([torch.float32, torch.int64, torch.bool, torch.complex64, torch.bfloat16]),
)
arrays = st.builds(
    lambda shape, dtype: np.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 3), max_size=3),
    st.sampled_from([np.float64, np.int32, np.bool_, ">f4", "U2", object]),
)
modules = st.sampled_from([nn.Linear(2, 2), nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout()), nn.ReLU()])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 12), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.text(max_size=4), st.sampled_from(["same", "valid", "eval", "train"]),
)
anything = st.one_of(
    scalars,
    st.lists(st.integers(-3, 12), max_size=5).map(tuple),
    st.lists(st.one_of(st.integers(-3, 12), st.floats(), st.none(), st.text(max_size=2)), max_size=4),
    st.lists(st.tuples(st.integers(-2, 4), st.integers(-2, 4)), max_size=3).map(tuple),
    st.lists(st.integers(2**40, 2**62), min_size=1, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
    tensors, arrays, modules,
)

PUBLIC = [getattr(module, name) for module in (views, padding, interop, modes) for name in module.__all__
          if inspect.isfunction(getattr(module, name))]


def _draw_call(data, func) -> tuple[list, dict]:
    """Arguments for ``func``: required ones positionally, optional ones sometimes, by keyword."""
    args, kwargs = [], {}
    for p in inspect.signature(func).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            args += data.draw(st.lists(anything, max_size=3), label=p.name)
        elif p.default is p.empty and p.kind is not p.KEYWORD_ONLY:
            args.append(data.draw(anything, label=p.name))
        elif data.draw(st.booleans()):
            kwargs[p.name] = data.draw(anything, label=p.name)
    return args, kwargs


def _small(value) -> bool:
    return isinstance(value, tuple) and all(type(v) is int and 0 <= v <= 6 for v in value)


def _oracle(func, arguments: dict, result) -> None:
    """Where torch can answer cheaply, the helper's result must be torch's."""
    shape, strides = arguments.get("shape"), arguments.get("strides")
    if func is views.contiguous_strides and _small(shape):
        assert result == torch.empty(shape).stride(), shape
    elif func is views.is_contiguous and _small(shape) and _small(strides) and math.prod(shape) > 0:
        assert result == torch.empty(64 * 64).as_strided(shape, strides).is_contiguous(), (shape, strides)
    elif func is padding.conv_output_size and all(type(arguments[k]) is int for k in ("size", "kernel_size", "stride", "padding", "dilation")):
        n, k, s, p, d = (arguments[k] for k in ("size", "kernel_size", "stride", "padding", "dilation"))
        if n <= 12 and k <= 12 and d <= 3 and p <= 4:
            out = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
            assert result == out.shape[-1], arguments


@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}")
@FUZZ
@given(data=st.data())
def test_helpers_reject_bad_input_clearly(func, data):
    signature = inspect.signature(func)
    names = list(signature.parameters)
    args, kwargs = _draw_call(data, func)
    GENERATED[f"fuzzed {func.__module__.split('.')[-1]}.{func.__name__}"] += 1
    try:
        result = func(*args, **kwargs)
        if func in (modes.evaluating, modes.training):
            with result:
                pass
    except (ValueError, TypeError) as refused:
        message = str(refused)
        named = [n for n in names if re.search(rf"\b{re.escape(n)}\b", message)]
        assert named, f"{func.__name__}(*{args!r}, **{kwargs!r}) raised {type(refused).__name__} naming none of {names}: {message}"
        return
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    _oracle(func, bound.arguments, result)


# --- the command line ------------------------------------------------------------

SUBCOMMANDS = {
    "check": {"--device": ["cpu", "all"], "--format": ["table", "json", "markdown"], "--topic": ["views"]},
    "list": {"--topic": ["views"]},
    "explain": {},
    "claims": {"--seed": ["000"], "--verdict": ["holds"], "--format": ["json"]},
    "docs": {},
    "bench": {"--device": ["cpu"], "--quick": None},
    "padding": {"--stride": ["2"], "--dilation": ["1"], "--ceil-mode": None},
    "train": {"--model": ["mlp"], "--dataset": ["digits"], "--epochs": ["1"], "--batch-size": ["32"], "--lr": ["0.1"]},
}
BAD_VALUES = {  # flag -> values that must be refused
    "--device": ["gpu", "", "tpu:0"], "--format": ["xml", "JSON"], "--topic": ["nope", "view"], "--seed": ["7", "x"],
    "--verdict": ["maybe", "true"], "--stride": ["x", "1.5", "0", "-2"], "--dilation": ["0", "a,b"], "--model": ["vgg"],
    "--dataset": ["cifar"], "--epochs": ["0", "-1", "two"], "--batch-size": ["0", "1e3"], "--lr": ["-1", "fast"],
}
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)


@st.composite
def bad_argv(draw):
    command = draw(st.sampled_from(sorted(SUBCOMMANDS)))
    argv = [command]
    if command == "padding":
        argv += ["8", "3"]
    if command == "explain":
        argv.append(draw(words.map(lambda w: f"no.such-{w}")))
        return argv
    for flag, values in SUBCOMMANDS[command].items():  # some valid options first
        if draw(st.booleans()):
            argv += [flag] if values is None else [flag, draw(st.sampled_from(values))]
    mistakes = [["--x-" + draw(words)]]  # an option no command has
    mistakes += [[flag, draw(st.sampled_from(BAD_VALUES[flag]))] for flag in SUBCOMMANDS[command] if flag in BAD_VALUES]
    return argv + draw(st.sampled_from(mistakes))


@FUZZ
@given(bad_argv())
def test_cli_bad_arguments_exit_2_with_one_line(argv):
    GENERATED["fuzzed CLI argv"] += 1
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("torchfacts: error: "), (argv, code, err.getvalue())


def test_unavailable_devices_are_reported_as_skipped(capsys):
    for device in ("cuda", "mps"):
        from torchfacts.facts.registry import device_available

        if device_available(device):
            continue
        assert main(["check", "--device", device, "--topic", "views", "--format", "json"]) == 0
        assert f"{device} is not available on this machine" in capsys.readouterr().err
