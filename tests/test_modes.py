"""Mode maps, context managers, probing and freezing; the models."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchfacts.models import MLP, ConvBNBlock, ConvNet, TinyResNet
from torchfacts.modes import (
    evaluating,
    freeze,
    frozen_parameters,
    is_frozen_batchnorm,
    mode_map,
    mode_sensitive_modules,
    set_modes,
    trainable_parameters,
    training,
    unfreeze,
)


def test_context_managers_restore_each_flag_even_on_error():
    model = TinyResNet(10)
    model.blocks[0].eval()
    before = mode_map(model)
    with pytest.raises(RuntimeError, match="boom"):
        with training(model):
            assert model.blocks[0].training
            raise RuntimeError("boom")
    assert mode_map(model) == before
    with evaluating(model) as same:
        assert same is model and not any(mode_map(model).values())
    assert mode_map(model) == before


def test_mode_sensitive_modules_finds_hidden_branches():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return F.dropout(self.fc(x), 0.5, training=self.training)

    model = nn.Sequential(Custom(), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert mode_sensitive_modules(model, torch.randn(8, 4)) == ["0", "2"]
    assert mode_sensitive_modules(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), torch.randn(8, 4)) == []


def test_freeze_clears_grads_and_pins_batchnorm(torch_device):
    model = TinyResNet(10).to(torch_device)
    model(torch.randn(4, 1, 8, 8, device=torch_device)).sum().backward()
    freeze(model.stem)
    assert all(p.grad is None and not p.requires_grad for p in model.stem.parameters())
    model.train()
    assert not model.stem[1].training and is_frozen_batchnorm(model.stem[1]) and model.blocks[0].training
    stats = model.stem[1].running_mean.clone()
    model(torch.randn(4, 1, 8, 8, device=torch_device))
    assert torch.equal(stats, model.stem[1].running_mean), "a frozen BatchNorm must not update"
    assert set(frozen_parameters(model)) == {n for n, _ in model.named_parameters() if n.startswith("stem.")}
    clone = copy.deepcopy(model).train()
    assert not clone.stem[1].training, "the pin survives deepcopy"
    unfreeze(model.stem)
    assert model.train().stem[1].training and not frozen_parameters(model)


def test_freeze_batchnorm_train_keeps_bn_learning():
    block = ConvBNBlock(1, 4)
    freeze(block, batchnorm="train")
    assert set(trainable_parameters(block)) == {"1.weight", "1.bias"} and block.train()[1].training


def test_set_modes_sets_own_flag_only():
    model = nn.Sequential(nn.Sequential(nn.Dropout()), nn.Linear(2, 2))
    set_modes(model, {"0": False})
    assert mode_map(model) == {"": True, "0": False, "0.0": True, "1": True}


def test_models_are_mode_aware_and_return_logits():
    x = torch.randn(8, 1, 28, 28)
    for model in (MLP(), ConvNet(10), TinyResNet(10)):
        assert model(x).shape == (8, 10)
        assert mode_sensitive_modules(model, x), f"{type(model).__name__} has no mode-sensitive module"
    assert ConvNet(10, image_size=8).fc.in_features == 128 and ConvNet(10).fc.in_features == 4608


BAD = [
    (lambda: mode_map("model"), TypeError, "model must be a torch.nn.Module, got str"),
    (lambda: set_modes(nn.Linear(1, 1), {"nope": True}), ValueError, r"does not have: \['nope'\]"),
    (lambda: set_modes(nn.Linear(1, 1), {"": 1}), TypeError, r"modes\[''\] must be a bool, got 1"),
    (lambda: set_modes(nn.Linear(1, 1), [True]), TypeError, "modes must be a mapping"),
    (lambda: freeze(nn.Linear(1, 1), batchnorm="frozen"), ValueError, r"batchnorm must be one of \('eval', 'train'\), got 'frozen'"),
    (lambda: freeze([1]), TypeError, "module must be a torch.nn.Module, got list"),
    (lambda: unfreeze(None), TypeError, "module must be a torch.nn.Module, got NoneType"),
    (lambda: evaluating(3).__enter__(), TypeError, "model must be a torch.nn.Module, got int"),
    (lambda: trainable_parameters("x"), TypeError, "model must be a torch.nn.Module"),
    (lambda: frozen_parameters(1.0), TypeError, "model must be a torch.nn.Module"),
    (lambda: mode_sensitive_modules(object(), torch.zeros(1)), TypeError, "model must be a torch.nn.Module"),
]


@pytest.mark.parametrize("call, error, message", BAD)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
