"""Dropout, BatchNorm and mode restoration, property-tested; each with a negative control."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from torch import nn

from torchfacts.modes import evaluating, mode_map, set_modes, training

CONTROL = settings(max_examples=500, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))
shapes = st.lists(st.integers(1, 6), min_size=1, max_size=4)
probabilities = st.floats(0.05, 0.95)


def dropout_ok(x: torch.Tensor, y: torch.Tensor, p: float) -> bool:
    """Every output is 0 or the input scaled by 1/(1-p)."""
    return bool(((y == 0) | torch.isclose(y, x / (1 - p))).all())


@given(shapes, probabilities, st.integers(0, 2**16))
def test_dropout_train_outputs_are_zero_or_scaled_and_eval_is_identity(shape, p, seed):
    torch.manual_seed(seed)
    x = torch.rand(shape) + 0.5
    layer = nn.Dropout(p)
    assert dropout_ok(x, layer.train()(x), p), f"Dropout({p}) on shape {shape}, seed {seed}"
    assert torch.equal(layer.eval()(x), x)


def test_negative_control_unscaled_dropout_is_caught():
    # Dropping without rescaling (a common hand-written mistake) must fail the property.
    def unscaled_fails(case):
        shape, p = case
        torch.manual_seed(0)  # the same draw when hypothesis replays the case
        x = torch.rand(shape) + 0.5
        mask = torch.rand(shape) > p
        return mask.any() and not dropout_ok(x, x * mask, p)

    assert unscaled_fails(find(st.tuples(shapes, probabilities), unscaled_fails, settings=CONTROL))


def hand_running_stats(batches, momentum):
    mean, var = torch.zeros(batches[0].shape[1], dtype=torch.float64), torch.ones(batches[0].shape[1], dtype=torch.float64)
    for i, x in enumerate(batches):
        m = momentum if momentum is not None else 1 / (i + 1)  # None: cumulative average
        mean = (1 - m) * mean + m * x.mean(0)
        var = (1 - m) * var + m * x.var(0, unbiased=True)
    return mean, var


batch_runs = st.tuples(st.integers(2, 8), st.integers(1, 4), st.integers(1, 4),
                       st.one_of(st.none(), st.floats(0.01, 1.0)), st.integers(0, 2**16))


@given(batch_runs)
def test_batchnorm_running_stats_equal_hand_computation(run):
    batch, features, steps, momentum, seed = run
    torch.manual_seed(seed)
    batches = [torch.randn(batch, features, dtype=torch.float64) * 3 + 1 for _ in range(steps)]
    bn = nn.BatchNorm1d(features, momentum=momentum, dtype=torch.float64).train()
    for x in batches:
        bn(x)
    mean, var = hand_running_stats(batches, momentum)
    assert torch.allclose(bn.running_mean, mean) and torch.allclose(bn.running_var, var), f"{run}"


def test_negative_control_biased_variance_is_caught():
    def biased_differs(run):
        batch, features, _, momentum, seed = run
        torch.manual_seed(seed)
        x = torch.randn(batch, features, dtype=torch.float64)
        bn = nn.BatchNorm1d(features, momentum=momentum, dtype=torch.float64).train()
        bn(x)
        m = 1.0 if momentum is None else momentum
        return not torch.allclose(bn.running_var, (1 - m) + m * x.var(0, unbiased=False))

    assert biased_differs(find(batch_runs, biased_differs, settings=CONTROL))


LEAVES = [lambda: nn.Linear(3, 3), lambda: nn.Dropout(0.2), lambda: nn.BatchNorm1d(3), lambda: nn.ReLU()]


@st.composite
def models_with_modes(draw, depth=0):
    """A random nesting of Sequentials over leaves, with a random flag on every module."""
    children = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            children.append(draw(models_with_modes(depth=depth + 1))[0])
        else:
            children.append(draw(st.sampled_from(LEAVES))())
    model = nn.Sequential(*children)
    modes = {name: draw(st.booleans()) for name, _ in model.named_modules()}
    return model, modes


@pytest.mark.parametrize("context", [evaluating, training])
@given(models_with_modes())
def test_context_managers_restore_every_modules_own_flag(context, case):
    model, modes = case
    set_modes(model, modes)
    with context(model):
        model(torch.randn(4, 3))
    assert mode_map(model) == modes


def test_negative_control_blanket_train_is_caught():
    # What people write instead: model.eval() ... model.train(). It loses per-module flags.
    def blanket_loses_flags(case):
        model, modes = case
        set_modes(model, modes)
        model.eval()
        model.train()
        return mode_map(model) != modes

    assert blanket_loses_flags(find(models_with_modes(), blanket_loses_flags, settings=CONTROL))
