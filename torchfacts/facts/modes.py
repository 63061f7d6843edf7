"""Facts about train/eval modes, dropout, BatchNorm, autograd and the module/functional split."""

from __future__ import annotations

from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from torchfacts.facts.registry import detects, expect, fact, raises


def _net(device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(8))).to(device)


def _all_flags(model: nn.Module, expected: bool, how: str) -> str:
    flags = {name or "(model)": m.training for name, m in model.named_modules()}
    return expect(all(flag == expected for flag in flags.values()), f"after {how}: training flags {flags}")


@fact("modes.eval-is-train-false", seeds=("S001-13", "S002-04"),
      claim="`model.eval()` is `model.train(False)`: it sets `training=False` on every submodule and returns the model.")
def eval_is_train_false(device):
    model = _net(device)
    expect(model.eval() is model, "model.eval() did not return the model")
    eval_flags = _all_flags(model, False, "model.eval()")
    return f"{eval_flags}; {_all_flags(_net(device).train(False), False, 'model.train(False)')}"


@eval_is_train_false.control
def _(device):
    return detects(lambda: _all_flags(_net(device).train(True), False, "model.train(True)"))


@fact("modes.flag-reaches-every-submodule", seeds=("S001-13",),
      claim="`eval()`/`train()` recurse into nested submodules; assigning `model.training = False` does not.")
def flag_reaches_every_submodule(device):
    return _all_flags(_net(device).eval(), False, "model.eval() (nested Sequential)")


@flag_reaches_every_submodule.control
def _(device):
    model = _net(device)
    model.training = False
    return detects(lambda: _all_flags(model, False, "model.training = False"))


def _yields(iterator, expected: int, what: str) -> str:
    found = len(list(iterator))
    return expect(found == expected, f"{what} yields {found} modules, expected {expected}")


@fact("modes.children-vs-modules", seeds=("S001-03",),
      claim="`children()` yields only the direct submodules; `modules()` recurses (and includes the model itself).")
def children_vs_modules(device):
    model = _net(device)
    return f"{_yields(model.children(), 3, 'children()')}; {_yields(model.modules(), 6, 'modules()')}"


@children_vs_modules.control
def _(device):
    return detects(lambda: _yields(_net(device).modules(), 3, "modules()"))


@fact("modes.dropout-not-trainable", seeds=("S000-10",), claim="`nn.Dropout` has no parameters: nothing in it is trained.")
def dropout_not_trainable(device):
    count = len(list(nn.Dropout(0.5).parameters()))
    return expect(count == 0, f"nn.Dropout(0.5) has {count} parameters")


@dropout_not_trainable.control
def _(device):
    return detects(lambda: expect(len(list(nn.Linear(2, 2).parameters())) == 0, "nn.Linear(2, 2) has parameters"))


def _identity(layer: nn.Module, device, what: str) -> str:
    torch.manual_seed(0)
    x = torch.randn(1000, device=device) + 3  # no zeros in x, so a dropped element shows
    y = layer(x)
    return expect(torch.equal(y, x), f"{what}: output equals input {torch.equal(y, x)}, zeros {int((y == 0).sum())}/1000")


@fact("modes.dropout-eval-is-identity", seeds=("S000-11", "S003-16", "S003-22"),
      claim="`nn.Dropout` in eval returns its input unchanged.")
def dropout_eval_identity(device):
    return _identity(nn.Dropout(0.5).eval(), device, "Dropout(0.5) in eval")


@dropout_eval_identity.control
def _(device):
    return detects(lambda: _identity(nn.Dropout(0.5).train(), device, "Dropout(0.5) in train"))


def _drops_and_scales(layer: nn.Module, p: float, device, what: str) -> str:
    torch.manual_seed(0)
    x = torch.rand(100_000, device=device) + 1
    y = layer(x)
    kept = y != 0
    scaled = torch.allclose(y[kept], x[kept] / (1 - p))
    share = 1 - kept.float().mean().item()
    return expect(scaled and abs(share - p) < 0.01,
                  f"{what}: {share:.3f} zeroed (p={p}), survivors scaled by 1/(1-p): {scaled}")


@fact("modes.dropout-train-zeroes-and-scales", seeds=("S000-11",),
      claim="`nn.Dropout(p)` in train zeroes each element with probability p and scales survivors by 1/(1-p).")
def dropout_train_scales(device):
    return _drops_and_scales(nn.Dropout(0.3).train(), 0.3, device, "Dropout(0.3) in train")


@dropout_train_scales.control
def _(device):
    return detects(lambda: _drops_and_scales(nn.Dropout(0.3).eval(), 0.3, device, "Dropout(0.3) in eval"))


def _drops_in_eval(dropout, device, what: str) -> str:
    model = nn.Module().eval()
    torch.manual_seed(0)
    x = torch.randn(1000, device=device) + 3
    zeros = int((dropout(x, model) == 0).sum())
    return expect(zeros > 0, f"{what} with model.training={model.training}: {zeros}/1000 elements dropped")


@fact("modes.functional-dropout-ignores-eval",
      claim="`F.dropout` defaults to `training=True`: called inside a model in eval it still drops, unless passed `training=self.training`.")
def functional_dropout_default(device):
    return _drops_in_eval(lambda x, model: F.dropout(x, 0.5), device, "F.dropout(x, 0.5)")


@functional_dropout_default.control
def _(device):
    return detects(lambda: _drops_in_eval(lambda x, model: F.dropout(x, 0.5, training=model.training), device,
                                          "F.dropout(x, 0.5, training=self.training)"))


def _batch(device) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(16, 3, device=device) * 2 + 5


def _uses_batch_stats(bn: nn.BatchNorm1d, x: torch.Tensor, what: str) -> str:
    mean, biased_var = x.mean(0), x.var(0, unbiased=False)
    expected = (x - mean) / torch.sqrt(biased_var + bn.eps)
    out = bn(x)
    normalized = torch.allclose(out, expected, atol=1e-5)
    stats = torch.allclose(bn.running_mean, 0.1 * mean, atol=1e-5) and \
        torch.allclose(bn.running_var, 0.9 + 0.1 * x.var(0, unbiased=True), atol=1e-5)
    return expect(normalized and stats, f"{what}: output = (x - batch mean) / sqrt(biased batch var + eps): {normalized}; "
                  f"running stats = 0.9·old + 0.1·(batch mean, unbiased batch var): {stats}")


@fact("modes.batchnorm-train-uses-batch-statistics", seeds=("S002-04", "S001-09"),
      claim="BatchNorm in train normalizes with the batch's mean and biased variance, and updates running mean/variance "
            "with momentum using the unbiased variance.")
def batchnorm_train(device):
    return _uses_batch_stats(nn.BatchNorm1d(3, affine=False).to(device).train(), _batch(device), "BatchNorm1d(3) in train")


@batchnorm_train.control
def _(device):
    bn = nn.BatchNorm1d(3, affine=False).to(device).eval()
    return detects(lambda: _uses_batch_stats(bn, _batch(device), "BatchNorm1d(3) in eval"))


def _uses_running_stats(bn: nn.BatchNorm1d, x: torch.Tensor, what: str) -> str:
    bn.running_mean.fill_(1.0)
    bn.running_var.fill_(4.0)
    out = bn(x)
    normalized = torch.allclose(out, (x - 1.0) / torch.sqrt(torch.tensor(4.0 + bn.eps)), atol=1e-5)
    untouched = bool((bn.running_mean == 1.0).all() and (bn.running_var == 4.0).all())
    return expect(normalized and untouched, f"{what}: output = (x - running mean) / sqrt(running var + eps): "
                  f"{normalized}; running stats unchanged: {untouched}")


@fact("modes.batchnorm-eval-uses-running-statistics", seeds=("S001-10", "S002-04"),
      claim="BatchNorm in eval normalizes with its running statistics and updates nothing.")
def batchnorm_eval(device):
    return _uses_running_stats(nn.BatchNorm1d(3, affine=False).to(device).eval(), _batch(device), "BatchNorm1d(3) in eval")


@batchnorm_eval.control
def _(device):
    bn = nn.BatchNorm1d(3, affine=False).to(device).train()
    return detects(lambda: _uses_running_stats(bn, _batch(device), "BatchNorm1d(3) in train"))


def _cumulative(momentum, device) -> str:
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(1, momentum=momentum).to(device).train()
    means = []
    for shift in (0.0, 10.0, 20.0):
        x = torch.randn(8, 1, device=device) + shift
        means.append(x.mean())
        bn(x)
    average = torch.stack(means).mean()
    same = torch.allclose(bn.running_mean[0], average, atol=1e-5)
    return expect(same, f"BatchNorm1d(momentum={momentum}) after 3 batches: running_mean "
                  f"{bn.running_mean.item():.4f}, plain average of batch means {average.item():.4f}")


@fact("modes.batchnorm-momentum-none-is-cumulative",
      claim="BatchNorm with `momentum=None` keeps a cumulative (plain) average of the batch statistics.")
def batchnorm_cumulative(device):
    return _cumulative(None, device)


@batchnorm_cumulative.control
def _(device):
    return detects(lambda: _cumulative(0.1, device))


def _one_value_refused(batch: int, device) -> str:
    bn = nn.BatchNorm1d(3).to(device).train()
    return raises(ValueError, lambda: bn(torch.randn(batch, 3, device=device)), f"BatchNorm1d in train on a batch of {batch}")


@fact("modes.batchnorm-one-value-per-channel-raises",
      claim="BatchNorm in train with one value per channel (batch of 1, no spatial size) raises ValueError.")
def batchnorm_one_value(device):
    return _one_value_refused(1, device)


@batchnorm_one_value.control
def _(device):
    return detects(lambda: _one_value_refused(2, device))


def _output_requires_grad(model: nn.Module, x: torch.Tensor, what: str, no_grad: bool) -> str:
    with torch.set_grad_enabled(not no_grad):
        out = model(x)
    return expect(out.requires_grad, f"{what}: output.requires_grad = {out.requires_grad}")


@fact("modes.eval-keeps-autograd", seeds=("S003-16", "S003-15"),
      claim="`model.eval()` does not turn off autograd: outputs still require grad (use `torch.no_grad()` for that).")
def eval_keeps_autograd(device):
    return _output_requires_grad(_net(device).eval(), torch.randn(4, 4, device=device), "after model.eval()", no_grad=False)


@eval_keeps_autograd.control
def _(device):
    return detects(lambda: _output_requires_grad(_net(device).eval(), torch.randn(4, 4, device=device),
                                                 "under torch.no_grad()", no_grad=True))


def _mode_kept(model: nn.Module, context, what: str) -> str:
    with context(model):
        flag = model.training
    return expect(flag, f"inside {what}: model.training = {flag}")


@fact("modes.no-grad-keeps-mode", seeds=("S003-15",),
      claim="`torch.no_grad()` does not change the mode: dropout and BatchNorm still behave as in train.")
def no_grad_keeps_mode(device):
    return _mode_kept(_net(device).train(), lambda m: torch.no_grad(), "torch.no_grad()")


@no_grad_keeps_mode.control
def _(device):
    from torchfacts.modes import evaluating

    return detects(lambda: _mode_kept(_net(device).train(), evaluating, "torchfacts.modes.evaluating(model)"))


def _mode_independent(layer: nn.Module, device, what: str) -> str:
    torch.manual_seed(0)
    x = torch.randn(64, 4, device=device)
    torch.manual_seed(1)
    train_out = layer.train()(x)
    torch.manual_seed(1)
    eval_out = layer.eval()(x)
    return expect(torch.equal(train_out, eval_out), f"{what}: train and eval outputs equal {torch.equal(train_out, eval_out)}")


@fact("modes.relu-and-linear-mode-independent", seeds=("S000-12",),
      claim="ReLU and Linear compute the same in train and eval mode.")
def relu_linear_independent(device):
    layer = nn.Sequential(nn.Linear(4, 4), nn.ReLU()).to(device)
    return _mode_independent(layer, device, "Linear → ReLU")


@relu_linear_independent.control
def _(device):
    return detects(lambda: _mode_independent(nn.Dropout(0.5).to(device), device, "Dropout(0.5)"))


def _hook_runs(call: str, device) -> str:
    model = nn.Linear(2, 2).to(device)
    calls = []
    model.register_forward_hook(lambda module, args, output: calls.append(1))
    x = torch.randn(1, 2, device=device)
    model(x) if call == "model(x)" else model.forward(x)
    return expect(calls, f"{call}: forward hooks ran {len(calls)} time(s)")


@fact("modes.call-runs-hooks-forward-does-not", seeds=("S002-01",),
      claim="`model(x)` runs forward hooks; calling `model.forward(x)` directly skips them — so call the model.")
def call_runs_hooks(device):
    return f"{_hook_runs('model(x)', device)}; {detects(lambda: _hook_runs('model.forward(x)', device))}"


@call_runs_hooks.control
def _(device):
    return detects(lambda: _hook_runs("model.forward(x)", device))


def _module_equals_functional(conv: nn.Conv2d, linear: nn.Linear, weights_from, device) -> str:
    x = torch.randn(2, 3, 8, 8, device=device)
    conv_same = torch.allclose(conv(x), F.conv2d(x, weights_from[0].weight, weights_from[0].bias))
    v = torch.randn(2, 5, device=device)
    linear_same = torch.allclose(linear(v), F.linear(v, weights_from[1].weight, weights_from[1].bias))
    return expect(conv_same and linear_same, f"nn.Conv2d == F.conv2d: {conv_same}; nn.Linear == F.linear: {linear_same}")


@fact("modes.module-equals-functional", seeds=("S000-02",),
      claim="`nn.Conv2d`/`nn.Linear` hold their own parameters; `F.conv2d`/`F.linear` given those tensors compute the same.")
def module_equals_functional(device):
    conv, linear = nn.Conv2d(3, 4, 3).to(device), nn.Linear(5, 2).to(device)
    return _module_equals_functional(conv, linear, (conv, linear), device)


@module_equals_functional.control
def _(device):
    conv, linear = nn.Conv2d(3, 4, 3).to(device), nn.Linear(5, 2).to(device)
    others = (nn.Conv2d(3, 4, 3).to(device), nn.Linear(5, 2).to(device))
    return detects(lambda: _module_equals_functional(conv, linear, others, device))


def _calls_functional(layer: nn.Module, x: torch.Tensor, what: str) -> str:
    with mock.patch.object(F, "linear", wraps=F.linear) as spy:
        layer(x)
    return expect(spy.call_count == 1, f"{what} called F.linear {spy.call_count} time(s)")


@fact("modes.nn-modules-call-functional", seeds=("S000-03",),
      claim="`nn` modules call the functional API in `forward`: `nn.Linear` calls `F.linear`.")
def nn_calls_functional(device):
    return _calls_functional(nn.Linear(3, 2).to(device), torch.randn(1, 3, device=device), "nn.Linear(3, 2)(x)")


@nn_calls_functional.control
def _(device):
    class MatMul(nn.Module):  # a hand-written linear layer that never touches F
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(3, 2, device=device))

        def forward(self, x):
            return x @ self.weight

    return detects(lambda: _calls_functional(MatMul(), torch.randn(1, 3, device=device), "x @ weight"))
