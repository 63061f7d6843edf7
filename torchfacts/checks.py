"""``check_model``: one call that catches the mode and freezing bugs people ship.

It works on deep copies — the caller's model, its modes, parameters and
gradients are never touched — and reports each finding with evidence:

=========================  ===========================================================
finding                    what it checks
=========================  ===========================================================
eval-deterministic         two eval forwards with the same seed agree
eval-batch-independent     each sample's eval output equals its output in a batch of one
train-eval-differ          train and eval differ iff some module is mode-sensitive
dropout-off-in-eval        eval outputs do not depend on the random seed
batchnorm-statistics       running stats change in a train forward, never in eval
optimizer-step             one step moves every trainable parameter that got a gradient,
                           leaves frozen ones bitwise unchanged, lists gradient-less ones
frozen-batchnorm           frozen BatchNorm does not keep updating its statistics in train
outputs-and-loss           outputs and loss are finite; CrossEntropyLoss gets raw logits
modes-restored             forward leaves every module's mode as it found it
=========================  ===========================================================

>>> import torch
>>> from torchfacts.models import MLP
>>> report = check_model(MLP(64, (32,), 10), torch.randn(16, 64), torch.randint(0, 10, (16,)))
>>> report.ok, report["dropout-off-in-eval"].status
(True, 'pass')
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from torchfacts.modes import evaluating, is_frozen_batchnorm, mode_map, mode_sensitive_modules, training

__all__ = ["Finding", "ModelReport", "check_model", "assert_model_ok"]

SAMPLES_CHECKED = 8  # batch-independence probes this many samples one by one


@dataclass
class Finding:
    name: str
    status: str  # pass | fail | skip
    evidence: str


@dataclass
class ModelReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != "fail" for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    def __getitem__(self, name: str) -> Finding:
        for f in self.findings:
            if f.name == name:
                return f
        raise KeyError(f"no finding named {name!r}; findings: {[f.name for f in self.findings]}")

    def __str__(self) -> str:
        width = max(len(f.name) for f in self.findings)
        lines = [f"check_model: {len(self.failures)} of {len(self.findings)} findings failed"]
        lines += [f"  {f.status.upper():4}  {f.name:<{width}}  {f.evidence}" for f in self.findings]
        return "\n".join(lines)


def _add(report: ModelReport, name: str, passed: bool | None, evidence: str) -> None:
    report.findings.append(Finding(name, "skip" if passed is None else ("pass" if passed else "fail"), evidence))


def _forward(model: nn.Module, inputs: torch.Tensor, *, train: bool, seed: int = 0) -> torch.Tensor:
    """One forward in the given mode (modes restored after), with a fixed random seed."""
    with (training if train else evaluating)(model), torch.no_grad():
        torch.manual_seed(seed)
        return model(inputs)


def _bn_stats(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: m.running_mean.clone() for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.running_mean is not None}


def _changed(before: dict[str, torch.Tensor], model: nn.Module) -> list[str]:
    after = _bn_stats(model)
    return [name for name in before if not torch.equal(before[name], after[name])]


def _copy_with_grads(model: nn.Module) -> nn.Module:
    """A deep copy that keeps each parameter's ``.grad`` (deepcopy drops them)."""
    clone = copy.deepcopy(model)
    for (_, p), (_, q) in zip(model.named_parameters(), clone.named_parameters()):
        q.grad = None if p.grad is None else p.grad.detach().clone()
    return clone


def _optimizer_for(clone: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer | None):
    """The caller's optimizer rebuilt over the copy's parameters (same groups and settings)."""
    if optimizer is None:  # momentum and weight decay: the settings that move stale-gradient parameters
        return torch.optim.SGD(clone.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    params = dict(clone.named_parameters())
    groups = []
    for group in optimizer.param_groups:
        missing = [p for p in group["params"] if id(p) not in names]
        if missing:
            raise ValueError("optimizer holds parameters that are not the model's own")
        groups.append({**{k: v for k, v in group.items() if k != "params"},
                       "params": [params[names[id(p)]] for p in group["params"]]})
    return type(optimizer)(groups)


def _default_loss(targets: torch.Tensor | None) -> Callable | None:
    if targets is None:
        return None
    return nn.CrossEntropyLoss() if not targets.is_floating_point() else nn.MSELoss()


def _loss(output: torch.Tensor, targets, loss_fn) -> torch.Tensor:
    return output.float().sum() if loss_fn is None else loss_fn(output, targets)


def _check_optimizer_step(report, model, inputs, targets, loss_fn, optimizer) -> None:
    clone = _copy_with_grads(model)
    opt = _optimizer_for(clone, model, optimizer)
    params = dict(clone.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    for name in trainable:
        params[name].grad = None  # a fresh gradient; frozen ones keep whatever they had
    stale = [n for n, p in params.items() if n not in trainable and p.grad is not None]
    with training(clone):
        torch.manual_seed(0)
        loss = _loss(clone(inputs), targets, loss_fn)
        if loss.requires_grad:
            loss.backward()
    before = {n: p.detach().clone() for n, p in params.items()}
    opt.step()
    moved = {n for n, p in params.items() if not torch.equal(before[n], p.detach())}
    no_grad = sorted(n for n in trainable if params[n].grad is None)
    stuck = sorted(n for n in trainable if n not in no_grad and params[n].grad.any() and n not in moved)
    frozen_moved = sorted(n for n in params if n not in trainable and n in moved)
    problems = []
    if frozen_moved:
        why = " (stale .grad: clear it when freezing)" if set(frozen_moved) & set(stale) else ""
        problems.append(f"frozen parameters changed{why}: {frozen_moved[:5]}")
    if no_grad:
        problems.append(f"trainable parameters received no gradient: {no_grad[:5]}")
    if stuck:
        problems.append(f"parameters with a gradient did not change (not in the optimizer?): {stuck[:5]}")
    frozen = len(params) - len(trainable)
    _add(report, "optimizer-step", not problems, "; ".join(problems) or
         f"{type(opt).__name__} step: {len(moved)} trainable parameters changed, {frozen} frozen unchanged")


def _check_outputs(report, targets, loss_fn, out_eval, out_train) -> None:
    problems = [f"{mode} outputs are not finite" for mode, out in (("eval", out_eval), ("train", out_train))
                if not torch.isfinite(out).all()]
    loss = _loss(out_eval, targets, loss_fn) if targets is not None or loss_fn is None else None
    if loss is not None and not torch.isfinite(loss).all():
        problems.append(f"loss is {loss.item()}")
    if isinstance(loss_fn, nn.CrossEntropyLoss) and out_eval.dim() == 2 and out_eval.shape[1] > 1:
        rows_sum_one = torch.allclose(out_eval.sum(1), torch.ones(1), atol=1e-4)
        if out_eval.min() >= 0 and rows_sum_one:
            problems.append("outputs are probabilities (softmax) but CrossEntropyLoss applies log_softmax itself: "
                            "return raw logits")
        elif out_eval.max() <= 0 and torch.allclose(out_eval.exp().sum(1), torch.ones(1), atol=1e-4):
            problems.append("outputs are log-probabilities (log_softmax); use NLLLoss or return raw logits")
        elif out_eval.min() >= 0 and (out_eval == 0).any():
            problems.append("logits are never negative and some are exactly 0: ReLU on the output layer?")
    evidence = f"finite outputs and loss{' ' + format(loss.item(), '.4g') if loss is not None and loss.numel() == 1 else ''}"
    _add(report, "outputs-and-loss", not problems, "; ".join(problems) or evidence)


def _check_batch_independence(report, model, inputs, out_eval) -> None:
    n = min(SAMPLES_CHECKED, inputs.shape[0])
    try:
        worst = max((_forward(model, inputs[i:i + 1], train=False)[0] - out_eval[i]).abs().max().item()
                    for i in range(n))
    except (ValueError, RuntimeError) as refused:
        _add(report, "eval-batch-independent", False, f"a batch of one sample raised {type(refused).__name__} in eval: "
             f"{refused} (batch statistics used in eval?)")
        return
    tolerance = 1e-4 * (1 + out_eval.abs().max().item())
    _add(report, "eval-batch-independent", worst <= tolerance,
         f"{n} samples alone vs in the batch: max difference {worst:.3g} (tolerance {tolerance:.3g})"
         + ("" if worst <= tolerance else ": samples influence each other in eval (BatchNorm stuck in train?)"))


def _validate(model, inputs, targets, loss_fn, optimizer) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor batch, got {type(inputs).__name__}")
    if inputs.dim() == 0 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must have a non-empty batch dimension, got shape {tuple(inputs.shape)}")
    if targets is not None and not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor or None, got {type(targets).__name__}")
    if targets is not None and (targets.dim() == 0 or targets.shape[0] != inputs.shape[0]):
        raise ValueError(f"targets must have one entry per input ({inputs.shape[0]}), got shape {tuple(targets.shape)}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")


def check_model(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *,
                loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None) -> ModelReport:
    """Run every finding on copies of ``model``; see the module doc for the list.

    ``loss_fn`` defaults to ``CrossEntropyLoss`` for integer targets, ``MSELoss``
    for float targets, and the output's sum without targets. ``optimizer``
    defaults to SGD with momentum and weight decay; a given optimizer is
    rebuilt, with its settings, over the copy's parameters.
    """
    _validate(model, inputs, targets, loss_fn, optimizer)
    loss_fn = loss_fn if loss_fn is not None else _default_loss(targets)
    caller_modes = mode_map(model)
    report = ModelReport()
    work = copy.deepcopy(model)

    out_eval = _forward(work, inputs, train=False)
    again = _forward(work, inputs, train=False)
    _add(report, "eval-deterministic", torch.equal(out_eval, again),
         "two eval forwards with seed 0 agree" if torch.equal(out_eval, again)
         else f"two eval forwards differ by up to {(out_eval - again).abs().max().item():.3g}: forward changes state?")

    _check_batch_independence(report, work, inputs, out_eval)

    sensitive = mode_sensitive_modules(work, inputs)
    out_train = _forward(copy.deepcopy(work), inputs, train=True)
    differ = not torch.equal(out_train, out_eval)
    _add(report, "train-eval-differ", differ == bool(sensitive),
         f"mode-sensitive modules {sensitive[:5] or 'none'}; train and eval outputs {'differ' if differ else 'agree'}")

    other_seed = _forward(work, inputs, train=False, seed=1)
    seeded = torch.equal(out_eval, other_seed)
    _add(report, "dropout-off-in-eval", seeded,
         "eval outputs do not depend on the random seed" if seeded
         else "eval outputs change with the random seed: dropout still active in eval (F.dropout without training=self.training?)")

    probe = copy.deepcopy(work)
    live_bn = _bn_stats(probe)
    if not live_bn:
        _add(report, "batchnorm-statistics", None, "no BatchNorm layers with running statistics")
    else:
        _forward(probe, inputs, train=False)
        changed_in_eval = _changed(live_bn, probe)
        pinned = {name for name, m in probe.named_modules() if is_frozen_batchnorm(m)}
        before_train = _bn_stats(probe)
        _forward(probe, inputs, train=True)
        unchanged_in_train = sorted(set(before_train) - set(_changed(before_train, probe)) - pinned)
        problems = ([f"eval forward changed running stats of {changed_in_eval[:5]}"] if changed_in_eval else []) + \
                   ([f"train forward left running stats of {unchanged_in_train[:5]} unchanged"] if unchanged_in_train else [])
        _add(report, "batchnorm-statistics", not problems, "; ".join(problems) or
             f"{len(live_bn) - len(pinned)} BatchNorm layers update in train and not in eval ({len(pinned)} pinned by freeze)")

    _check_optimizer_step(report, model, inputs, targets, loss_fn, optimizer)  # the caller's, for its grads

    drifting = []
    probe = copy.deepcopy(work)
    frozen_bn = {name for name, m in probe.named_modules() if isinstance(m, _BatchNorm) and m.running_mean is not None
                 and any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters())}
    if frozen_bn:
        before = _bn_stats(probe)
        _forward(probe, inputs, train=True)
        drifting = sorted(set(_changed(before, probe)) & frozen_bn)
    _add(report, "frozen-batchnorm", not drifting,
         f"frozen BatchNorm {drifting[:5]} still updates its running statistics in train mode; "
         "pin it with torchfacts.modes.freeze(..., batchnorm='eval')" if drifting
         else f"{len(frozen_bn)} frozen BatchNorm layers keep their statistics")

    _check_outputs(report, targets, loss_fn, out_eval, out_train)

    changed_modes = []
    for train in (True, False):
        work.train(train)
        expected = mode_map(work)
        with torch.no_grad():
            work(inputs)
        changed_modes += [name or "(model)" for name, flag in mode_map(work).items() if flag != expected[name]]
    untouched = mode_map(model) == caller_modes
    _add(report, "modes-restored", not changed_modes and untouched,
         f"forward changes the mode of {sorted(set(changed_modes))[:5]} (forward calls train()/eval()?)" if changed_modes
         else "forward leaves every module's mode as it was; the caller's model is untouched")
    return report


def assert_model_ok(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, **kwargs: Any) -> ModelReport:
    """:func:`check_model`, raising ``AssertionError`` with the report when a finding fails."""
    report = check_model(model, inputs, targets, **kwargs)
    if not report.ok:
        raise AssertionError(str(report))
    return report
