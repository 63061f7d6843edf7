"""The training loop, property-tested: freezing, equality with a hand-written loop, exact resume.

Whole training runs are expensive, so these tests take 1/40 of the profile's
examples (10 in `ci`, 100 in `thorough`).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import TensorDataset

import torchfacts.training as training
from torchfacts.data import split_loaders
from torchfacts.training import BEST, fit, load_checkpoint, seed_everything

EXPENSIVE = settings(max_examples=max(5, settings.default.max_examples // 40), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

OPTIMIZERS = {
    "SGD": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd),
    "SGD-momentum": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd),
    "Adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd),
    "AdamW": lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd),
    "RMSprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, weight_decay=wd),
}

setups = st.fixed_dictionaries({
    "widths": st.lists(st.integers(2, 6), min_size=1, max_size=3),
    "frozen": st.lists(st.booleans(), min_size=4, max_size=4),
    "optimizer": st.sampled_from(sorted(OPTIMIZERS)),
    "lr": st.sampled_from([1e-3, 1e-2, 1e-1]),
    "weight_decay": st.sampled_from([0.0, 1e-2]),
    "steps": st.integers(1, 4),
    "seed": st.integers(0, 1000),
})


def build(setup):
    torch.manual_seed(setup["seed"])
    layers, width = [], 3
    for w in setup["widths"]:
        layers += [nn.Linear(width, w), nn.Tanh()]
        width = w
    return nn.Sequential(*layers, nn.Linear(width, 1))


def train_steps(setup, freeze_late=False):
    """Freeze the chosen linear layers, train, and return (model, weights before, frozen names)."""
    model = build(setup)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    chosen = [m for m, f in zip(linears, setup["frozen"]) if f]
    optimizer = OPTIMIZERS[setup["optimizer"]](model.parameters(), setup["lr"], setup["weight_decay"])
    x = torch.randn(8, 3)
    if freeze_late:  # the bug: a first step, then freezing without clearing .grad
        model(x).pow(2).sum().backward()
        optimizer.step()
    for layer in chosen:
        layer.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(setup["steps"]):
        if not freeze_late:
            optimizer.zero_grad()
        model(x).pow(2).sum().backward() if any(p.requires_grad for p in model.parameters()) else None
        optimizer.step()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return model, before, frozen


@EXPENSIVE
@given(setups)
def test_frozen_parameters_bitwise_unchanged_and_trainable_ones_move(setup):
    model, before, frozen = train_steps(setup)
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(before[name], p), f"frozen {name} moved under {setup}"
        elif p.grad is not None and p.grad.any():
            assert not torch.equal(before[name], p), f"trainable {name} with a gradient did not move under {setup}"


# The negative controls below use one fixed case each: searching with whole training runs costs too much.
LATE = {"widths": [4], "frozen": [True, False, False, False], "optimizer": "SGD-momentum", "lr": 0.1,
        "weight_decay": 0.01, "steps": 2, "seed": 0}


def test_negative_control_freezing_without_clearing_grad_is_caught():
    model, before, frozen = train_steps(LATE, freeze_late=True)
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in frozen)


def data(seed: int, n: int = 48):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=generator)
    return split_loaders(TensorDataset(x, (x.sum(1) > 0).long()), batch_size=8, seed=seed)


def net(seed: int):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))


runs = st.fixed_dictionaries({"seed": st.integers(0, 1000), "epochs": st.integers(1, 5), "lr": st.sampled_from([0.05, 0.2])})


def hand_loop(run, zero_grad=True):
    """The loop every seed note ends with, written out by hand."""
    seed_everything(run["seed"])
    train, _ = data(run["seed"])
    model = net(run["seed"])
    optimizer = torch.optim.SGD(model.parameters(), lr=run["lr"], momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(run["epochs"]):
        model.train()
        for x, y in train:
            if zero_grad:
                optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
    return model


def fit_run(run, epochs=None, folder=None, resume=False, reseed=None):
    seed_everything(reseed if reseed is not None else run["seed"])
    train, val = data(run["seed"])
    model = net(run["seed"] if reseed is None else reseed)
    optimizer = torch.optim.SGD(model.parameters(), lr=run["lr"], momentum=0.9)
    history = fit(model, train, None if folder is None and not resume else val, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optimizer, epochs=epochs or run["epochs"], checkpoint_dir=folder, resume=resume, progress=False)
    return model, history


def same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@EXPENSIVE
@given(runs)
def test_fit_equals_the_hand_written_loop_bitwise(run):
    assert same_weights(fit_run(run)[0], hand_loop(run)), f"{run}"


def test_negative_control_loop_without_zero_grad_is_caught():
    run = {"seed": 0, "epochs": 1, "lr": 0.05}
    assert same_weights(fit_run(run)[0], hand_loop(run)) and not same_weights(fit_run(run)[0], hand_loop(run, zero_grad=False))


def interrupted(run, stop, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    fit_run(run, epochs=stop, folder=folder)
    # A new process would start with other random state and a fresh model: resume must restore it all.
    return fit_run(run, folder=folder, resume=True, reseed=run["seed"] + 12345)


@EXPENSIVE
@given(runs, st.data())
def test_resume_after_interruption_equals_uninterrupted(tmp_path_factory, run, data_):
    stop = data_.draw(st.integers(1, run["epochs"]))
    uninterrupted, history = fit_run(run, folder=tmp_path_factory.mktemp("full"))
    resumed, resumed_history = interrupted(run, stop, tmp_path_factory)
    assert same_weights(uninterrupted, resumed), f"{run}, interrupted after epoch {stop}"
    assert [r.val_loss for r in history.epochs] == [r.val_loss for r in resumed_history.epochs]


def test_negative_control_resume_without_rng_restore_is_caught(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(training, "_restore_rng", lambda state, loader: None)
    run = {"seed": 1, "epochs": 4, "lr": 0.2}
    uninterrupted, _ = fit_run(run, folder=tmp_path_factory.mktemp("full"))
    assert not same_weights(uninterrupted, interrupted(run, 2, tmp_path_factory)[0])


@EXPENSIVE
@given(runs)
def test_best_checkpoint_is_the_argmin_of_validation_loss(tmp_path_factory, run):
    folder = tmp_path_factory.mktemp("best")
    _, history = fit_run(run, folder=folder)
    losses = [r.val_loss for r in history.epochs]
    first_min = losses.index(min(losses)) + 1  # ties go to the earlier epoch: a tie is no improvement
    assert history.best_epoch == first_min == load_checkpoint(folder / BEST)["epoch"], f"{losses}"


@pytest.mark.parametrize("rule", ["last epoch", "lowest train loss"])
def test_negative_control_other_best_rules_are_caught(tmp_path_factory, rule):
    _, history = fit_run({"seed": 3, "epochs": 12, "lr": 0.2}, folder=tmp_path_factory.mktemp("rule"))
    key = (lambda r: r.epoch) if rule == "last epoch" else (lambda r: -r.train_loss)
    assert max(history.epochs, key=key).epoch != history.best_epoch, [(r.train_loss, r.val_loss) for r in history.epochs]
