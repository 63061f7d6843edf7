"""check_model: every finding passes on a correct model and fails on a buggy one (the zoo)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchfacts.checks import assert_model_ok, check_model
from torchfacts.models import MLP, ConvNet, TinyResNet
from torchfacts.modes import freeze, mode_map

X = torch.randn(12, 1, 8, 8)
Y = torch.randint(0, 10, (12,))


def _flat(out_features: int = 10) -> nn.Linear:
    return nn.Linear(64, out_features)


class StatefulForward(nn.Module):
    """Bug: forward changes the module's own state, so two eval calls differ."""

    def __init__(self):
        super().__init__()
        self.fc = _flat()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.fc(x.flatten(1)) + self.calls


class FunctionalDropout(nn.Module):
    """Bug: F.dropout without training=self.training keeps dropping in eval."""

    def __init__(self):
        super().__init__()
        self.fc = _flat()

    def forward(self, x):
        return self.fc(F.dropout(x.flatten(1), 0.5))


class BatchStatsInEval(nn.Module):
    """Bug: normalizes with batch statistics whatever the mode (samples mix in eval)."""

    def __init__(self):
        super().__init__()
        self.fc = _flat()

    def forward(self, x):
        return self.fc(F.batch_norm(x.flatten(1), None, None, training=True))


class HiddenModeBranch(nn.Module):
    """Mode-dependent code in forward without dropout/BN modules: must differ, and does."""

    def __init__(self):
        super().__init__()
        self.fc = _flat()

    def forward(self, x):
        out = self.fc(x.flatten(1))
        return out * 2 if self.training else out


class DeadBranch(nn.Module):
    """Bug: a parameter that never gets a gradient."""

    def __init__(self):
        super().__init__()
        self.fc, self.unused = _flat(), nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


class UnusedBatchNorm(nn.Module):
    """Bug: a BatchNorm layer that forward never calls, so its statistics never move."""

    def __init__(self):
        super().__init__()
        self.fc, self.bn = _flat(), nn.BatchNorm1d(10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class ForwardCallsEval(nn.Module):
    """Bug: forward switches the mode itself."""

    def __init__(self):
        super().__init__()
        self.fc = _flat()

    def forward(self, x):
        self.eval()
        return self.fc(x.flatten(1))


def _relu_logits():
    return nn.Sequential(nn.Flatten(), _flat(), nn.ReLU())


def _softmax_logits():
    return nn.Sequential(nn.Flatten(), _flat(), nn.Softmax(dim=1))


def _log_softmax_logits():
    return nn.Sequential(nn.Flatten(), _flat(), nn.LogSoftmax(dim=1))


def _batchnorm_without_running_stats():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, track_running_stats=False), nn.Flatten(),
                         nn.Linear(4 * 36, 10))


def _nan_model():
    model = nn.Sequential(nn.Flatten(), _flat())
    with torch.no_grad():
        model[1].bias[0] = float("nan")
    return model


def _stale_grad_after_freeze():
    model = nn.Sequential(nn.Flatten(), _flat(32), nn.ReLU(), nn.Linear(32, 10))
    model(X).sum().backward()
    model[1].weight.requires_grad_(False)  # frozen by hand: the old .grad stays
    return model


def _drifting_frozen_bn():
    model = TinyResNet(10)
    for p in model.stem.parameters():
        p.requires_grad_(False)  # frozen by hand: BatchNorm statistics still update in train
    return model


def _pinned_frozen_bn():
    model = TinyResNet(10)
    freeze(model.stem)
    return model


@pytest.mark.parametrize("make", [lambda: MLP(64, (32,), 10), lambda: ConvNet(10, image_size=8), lambda: TinyResNet(10),
                                  _pinned_frozen_bn, HiddenModeBranch],
                         ids=["MLP", "ConvNet", "TinyResNet", "TinyResNet-frozen-stem", "hidden-mode-branch"])
def test_correct_models_pass_every_finding(make):
    report = assert_model_ok(make(), X, Y)
    assert len(report.findings) == 9 and report.ok, str(report)


ZOO = [
    (StatefulForward, "eval-deterministic", "forward changes state"),
    (BatchStatsInEval, "eval-batch-independent", "batch statistics used in eval"),
    (_batchnorm_without_running_stats, "eval-batch-independent", "samples influence each other"),
    (FunctionalDropout, "dropout-off-in-eval", "F.dropout without training=self.training"),
    (UnusedBatchNorm, "batchnorm-statistics", "left running stats of ['bn'] unchanged"),
    (DeadBranch, "optimizer-step", "received no gradient: ['unused.bias', 'unused.weight']"),
    (_stale_grad_after_freeze, "optimizer-step", "frozen parameters changed (stale .grad"),
    (_drifting_frozen_bn, "frozen-batchnorm", "frozen BatchNorm ['stem.1'] still updates"),
    (_softmax_logits, "outputs-and-loss", "outputs are probabilities (softmax)"),
    (_log_softmax_logits, "outputs-and-loss", "log-probabilities"),
    (_relu_logits, "outputs-and-loss", "ReLU on the output layer"),
    (_nan_model, "outputs-and-loss", "outputs are not finite"),
    (ForwardCallsEval, "modes-restored", "forward changes the mode"),
]


@pytest.mark.parametrize("make, finding, evidence", ZOO, ids=[f"{m.__name__}-{f}" for m, f, _ in ZOO])
def test_buggy_models_fail_the_right_finding(make, finding, evidence):
    report = check_model(make(), X, Y)
    assert report[finding].status == "fail" and evidence in report[finding].evidence, str(report)
    with pytest.raises(AssertionError, match=finding):
        assert_model_ok(make(), X, Y)


def test_train_eval_differ_fails_when_dropout_does_nothing():
    class DeadDropout(nn.Module):  # mode-sensitive module whose effect never reaches the output
        def __init__(self):
            super().__init__()
            self.fc, self.drop = _flat(), nn.Dropout(0.5)

        def forward(self, x):
            self.drop(x)
            return self.fc(x.flatten(1))

    report = check_model(DeadDropout(), X, Y)
    assert report["train-eval-differ"].status == "fail" and "['drop']" in report["train-eval-differ"].evidence


def test_optimizer_step_with_given_optimizers_and_missing_params():
    for make in (lambda p: torch.optim.Adam(p, weight_decay=0.1), lambda p: torch.optim.AdamW(p),
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)):
        model = TinyResNet(10)
        freeze(model.blocks)
        assert check_model(model, X, Y, optimizer=make(model.parameters()))["optimizer-step"].status == "pass"
    model = MLP(64, (32,), 10)
    partial = torch.optim.SGD(list(model.parameters())[:2], lr=0.1)
    assert "not in the optimizer" in check_model(model, X, Y, optimizer=partial)["optimizer-step"].evidence


def test_check_model_never_touches_the_callers_model():
    model = _stale_grad_after_freeze()
    model[3].eval()
    modes, state = mode_map(model), {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    check_model(model, X, Y)
    assert mode_map(model) == modes
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for (n, p), g in
               zip(model.named_parameters(), grads.values()))


def test_batchnorm_finding_skips_without_batchnorm():
    assert check_model(MLP(64, (32,), 10), X, Y)["batchnorm-statistics"].status == "skip"


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (("model", X), {}, TypeError, "model must be a torch.nn.Module, got str"),
        ((nn.Linear(2, 2), [[1.0, 2.0]]), {}, TypeError, "inputs must be a torch.Tensor batch, got list"),
        ((nn.Linear(2, 2), torch.zeros(0, 2)), {}, ValueError, "non-empty batch dimension"),
        ((nn.Linear(2, 2), torch.zeros(3, 2), [0, 1, 2]), {}, TypeError, "targets must be a torch.Tensor or None"),
        ((nn.Linear(2, 2), torch.zeros(3, 2), torch.zeros(2)), {}, ValueError, r"one entry per input \(3\)"),
        ((nn.Linear(2, 2), torch.zeros(3, 2)), {"loss_fn": "mse"}, TypeError, "loss_fn must be callable, got str"),
        ((nn.Linear(2, 2), torch.zeros(3, 2)), {"optimizer": "sgd"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
    ],
)
def test_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_model(*args, **kwargs)
