"""Facts about gradients, optimizers, freezing, checkpoints, losses and loaders."""

from __future__ import annotations

import io
import pickle

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchfacts.facts.registry import detects, expect, fact, raises


def _linear(device, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(3, 2).to(device)


def _grad_after(backwards: int, device, zero_between: bool) -> tuple[torch.Tensor, torch.Tensor]:
    layer = _linear(device)
    x = torch.ones(1, 3, device=device)
    for _ in range(backwards):
        if zero_between:
            layer.zero_grad()
        layer(x).sum().backward()
    return layer.weight.grad, torch.ones_like(layer.weight)  # one backward of sum() gives ones


def _accumulates(backwards: int, device, zero_between: bool) -> str:
    grad, once = _grad_after(backwards, device, zero_between)
    return expect(torch.equal(grad, backwards * once),
                  f"after {backwards} backward() calls{' with zero_grad between' if zero_between else ''}: "
                  f"grad = {grad[0, 0].item()} × one backward's")


@fact("training.backward-accumulates", seeds=("S001-05", "S002-03"),
      claim="`backward()` adds to `.grad`: without `zero_grad()` each step's gradient includes all earlier ones.")
def backward_accumulates(device):
    return _accumulates(3, device, zero_between=False)


@backward_accumulates.control
def _(device):
    return detects(lambda: _accumulates(3, device, zero_between=True))


def _grad_is_none(set_to_none: bool | None, device) -> str:
    layer = _linear(device)
    layer(torch.ones(1, 3, device=device)).sum().backward()
    optimizer = torch.optim.SGD(layer.parameters())
    optimizer.zero_grad() if set_to_none is None else optimizer.zero_grad(set_to_none=set_to_none)
    call = "zero_grad()" if set_to_none is None else f"zero_grad(set_to_none={set_to_none})"
    return expect(layer.weight.grad is None, f"after {call}: weight.grad is {layer.weight.grad if layer.weight.grad is None else 'a zero tensor'}")


@fact("training.zero-grad-sets-none", seeds=("S001-06", "S003-17"),
      claim="`optimizer.zero_grad()` sets gradients to `None` by default (not to zero tensors).")
def zero_grad_sets_none(device):
    return _grad_is_none(None, device)


@zero_grad_sets_none.control
def _(device):
    return detects(lambda: _grad_is_none(False, device))


def _step_changes(with_backward: bool, device) -> str:
    layer = _linear(device)
    before = layer.weight.detach().clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    loss = layer(torch.ones(1, 3, device=device)).sum()
    if with_backward:
        loss.backward()
    optimizer.step()
    changed = not torch.equal(before, layer.weight)
    return expect(changed, f"step() {'after' if with_backward else 'without'} backward(): weight changed {changed}, "
                  f"grad is {'set' if layer.weight.grad is not None else 'None'}")


@fact("training.step-computes-no-gradients", seeds=("S001-06", "S003-17"),
      claim="`optimizer.step()` computes no gradients: without `loss.backward()` first, nothing changes.")
def step_computes_no_gradients(device):
    return f"{_step_changes(True, device)}; {detects(lambda: _step_changes(False, device))}"


@step_computes_no_gradients.control
def _(device):
    return detects(lambda: _step_changes(False, device))


def _unchanged_after_steps(name: str, freeze: str, device, steps: int = 5) -> str:
    """Train a 2-layer net; the first layer is left out of the optimizer or frozen."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)
    if freeze == "requires_grad=False":
        net[0].requires_grad_(False)
    params = net[2].parameters() if freeze == "not-given" else net.parameters()
    optimizer = OPTIMIZERS[name](params)
    before = net[0].weight.detach().clone()
    for _ in range(steps):
        optimizer.zero_grad()
        net(torch.randn(8, 3, device=device)).pow(2).sum().backward()
        optimizer.step()
    same = torch.equal(before, net[0].weight)
    return expect(same, f"{name}, first layer {freeze}: bitwise unchanged after {steps} steps: {same}")


OPTIMIZERS = {
    "SGD": lambda p: torch.optim.SGD(p, lr=0.1),
    "SGD+momentum+wd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "Adam": lambda p: torch.optim.Adam(p, lr=0.1),
    "AdamW": lambda p: torch.optim.AdamW(p, lr=0.1),
    "RMSprop": lambda p: torch.optim.RMSprop(p, lr=0.1),
}


@fact("training.params-not-given-never-change", seeds=("S001-14",),
      claim="An optimizer only updates the parameters passed to its constructor.")
def params_not_given(device):
    return _unchanged_after_steps("SGD+momentum+wd", "not-given", device)


@params_not_given.control
def _(device):
    return detects(lambda: _unchanged_after_steps("SGD+momentum+wd", "given", device))


@fact("training.requires-grad-false-stays-unchanged", seeds=("S001-15",),
      claim="Parameters with `requires_grad=False` from the start stay bitwise unchanged under SGD (with momentum and "
            "weight decay), Adam, AdamW and RMSprop — even when handed to the optimizer.")
def requires_grad_false_unchanged(device):
    return "; ".join(_unchanged_after_steps(name, "requires_grad=False", device) for name in OPTIMIZERS)


@requires_grad_false_unchanged.control
def _(device):
    return detects(lambda: _unchanged_after_steps("Adam", "given", device))


def _frozen_late_moves(clear: str, device) -> str:
    """Freeze a parameter after it has a gradient; does SGD with momentum and weight decay still move it?"""
    layer = _linear(device)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    layer(torch.ones(1, 3, device=device)).sum().backward()
    optimizer.step()
    layer.weight.requires_grad_(False)  # frozen, but its .grad and momentum remain
    if clear == "zero_grad(set_to_none=False)":
        optimizer.zero_grad(set_to_none=False)
    elif clear == "zero_grad()":
        optimizer.zero_grad()
    before = layer.weight.detach().clone()
    layer(torch.ones(1, 3, device=device)).sum().backward()
    optimizer.step()
    moved = not torch.equal(before, layer.weight)
    return expect(moved, f"frozen after a step, then {clear or 'no zero_grad'}: the weight still moves: {moved}")


@fact("training.frozen-late-still-moves", seeds=("S001-15",),
      claim="A parameter frozen after it has a `.grad` still moves until the gradient is cleared to `None`; "
            "`zero_grad(set_to_none=False)` leaves momentum and weight decay moving it.")
def frozen_late_still_moves(device):
    return f"{_frozen_late_moves('', device)}; {_frozen_late_moves('zero_grad(set_to_none=False)', device)}"


@frozen_late_still_moves.control
def _(device):
    return detects(lambda: _frozen_late_moves("zero_grad()", device))


def _bn_stats_move(bn: nn.BatchNorm1d, device, what: str) -> str:
    before = bn.running_mean.clone()
    bn(torch.randn(8, 3, device=device) + 5)
    moved = not torch.equal(before, bn.running_mean)
    return expect(moved, f"{what}: running_mean changed {moved}")


@fact("training.frozen-batchnorm-still-updates-in-train", seeds=("S001-15",),
      claim="BatchNorm with `requires_grad=False` parameters still updates its running statistics in train mode.")
def frozen_bn_updates(device):
    bn = nn.BatchNorm1d(3).to(device).train().requires_grad_(False)
    return _bn_stats_move(bn, device, "BatchNorm1d with requires_grad=False, in train")


@frozen_bn_updates.control
def _(device):
    bn = nn.BatchNorm1d(3).to(device).eval().requires_grad_(False)
    return detects(lambda: _bn_stats_move(bn, device, "BatchNorm1d with requires_grad=False, in eval"))


def _default_lr_not_one(optimizer_class) -> str:
    lr = optimizer_class([nn.Parameter(torch.zeros(1))]).defaults["lr"]
    return expect(lr != 1.0, f"{optimizer_class.__name__}'s default lr is {lr}")


@fact("training.sgd-default-lr", seeds=("S003-18",),
      claim="`torch.optim.SGD`'s default learning rate is not 1.0 (it is 0.001 in current torch); each optimizer has its own.")
def sgd_default_lr(device):
    return _default_lr_not_one(torch.optim.SGD)


@sgd_default_lr.control
def _(device):
    return detects(lambda: _default_lr_not_one(torch.optim.Adadelta))


def _round_trip(model: nn.Module, restored: nn.Module, device) -> str:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored.load_state_dict(torch.load(buffer, map_location=device))
    x = torch.randn(4, 3, device=device)
    same = torch.equal(model(x), restored(x))
    return expect(same, f"save(state_dict) → load_state_dict(load(...)): identical outputs {same}")


@fact("training.state-dict-round-trip", seeds=("S003-19",),
      claim="`torch.save(model.state_dict())` then `model.load_state_dict(torch.load(path))` restores identical outputs.")
def state_dict_round_trip(device):
    return _round_trip(_linear(device, 0), _linear(device, 1), device)


@state_dict_round_trip.control
def _(device):
    model, other = _linear(device, 0), _linear(device, 1)
    x = torch.randn(4, 3, device=device)
    return detects(lambda: expect(torch.equal(model(x), other(x)), "without loading: outputs identical"))


def _load_refused(target: nn.Module) -> str:
    source = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    observed = raises(RuntimeError, lambda: target.load_state_dict(source.state_dict()), "load_state_dict into another architecture")
    expect("Missing key" in observed or "Unexpected key" in observed or "size mismatch" in observed, observed)
    result = target.load_state_dict(source.state_dict(), strict=False) if "size mismatch" not in observed else None
    keys = f"; strict=False returns missing {result.missing_keys}, unexpected {result.unexpected_keys}" if result else ""
    return " ".join(observed.split())[:160] + keys


@fact("training.load-other-architecture-raises", seeds=("S003-20",),
      claim="Loading a state dict into another architecture raises RuntimeError listing missing/unexpected keys; "
            "`strict=False` returns them instead.")
def load_other_architecture(device):
    return _load_refused(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)))


@load_other_architecture.control
def _(device):
    return detects(lambda: _load_refused(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))))


class Payload:
    """An arbitrary Python object: unpickling it runs code (here, harmlessly, its class lookup)."""


def _load_refuses_pickles(weights_only: bool | None) -> str:
    buffer = io.BytesIO()
    torch.save({"model": {}, "extra": Payload()}, buffer)
    buffer.seek(0)
    kwargs = {} if weights_only is None else {"weights_only": weights_only}
    return raises(pickle.UnpicklingError, lambda: torch.load(buffer, **kwargs),
                  f"torch.load(file with a pickled object{', weights_only=' + str(weights_only) if kwargs else ''})")


@fact("training.torch-load-weights-only-default", seeds=("S003-19",),
      claim="`torch.load` defaults to `weights_only=True` and refuses files holding arbitrary pickled objects.")
def torch_load_weights_only(device):
    return _load_refuses_pickles(None).split(". This file")[0]  # the rest is advice with terminal colours


@torch_load_weights_only.control
def _(device):
    return detects(lambda: _load_refuses_pickles(False))


def _logits_and_labels(device):
    torch.manual_seed(0)
    return torch.randn(8, 5, device=device) * 3, torch.randint(0, 5, (8,), device=device)


def _same_loss(prepare, name: str, device) -> str:
    logits, labels = _logits_and_labels(device)
    ce = nn.CrossEntropyLoss()(prepare(logits), labels)
    nll = nn.NLLLoss()(F.log_softmax(logits, 1), labels)
    same = torch.allclose(ce, nll)
    return expect(same, f"CrossEntropyLoss({name}) = {ce.item():.5f}, NLLLoss(log_softmax(logits)) = {nll.item():.5f}")


@fact("training.cross-entropy-is-log-softmax-plus-nll", seeds=("S003-12", "S003-11"),
      claim="`CrossEntropyLoss(logits)` equals `NLLLoss(log_softmax(logits))`, and log_softmax before it changes "
            "nothing (log_softmax is idempotent).")
def cross_entropy_is_nll(device):
    return f"{_same_loss(lambda x: x, 'logits', device)}; {_same_loss(lambda x: F.log_softmax(x, 1), 'log_softmax(logits)', device)}"


@cross_entropy_is_nll.control
def _(device):
    return detects(lambda: _same_loss(lambda x: F.softmax(x, 1), "softmax(logits)", device))


def _grad_norm(prepare, device) -> float:
    logits, labels = _logits_and_labels(device)
    logits.requires_grad_(True)
    nn.CrossEntropyLoss()(prepare(logits), labels).backward()
    return logits.grad.norm().item()


def _softmax_shrinks(prepare, name: str, device) -> str:
    plain, other = _grad_norm(lambda x: x, device), _grad_norm(prepare, device)
    return expect(other < 0.5 * plain, f"gradient norm with {name} before CrossEntropyLoss: {other:.4f} vs {plain:.4f} on raw logits")


@fact("training.softmax-before-cross-entropy-shrinks-gradients", seeds=("S003-12", "S003-09"),
      claim="A softmax before `CrossEntropyLoss` (double softmax) shrinks the gradients, so learning crawls.")
def softmax_shrinks(device):
    return _softmax_shrinks(lambda x: F.softmax(x, 1), "softmax", device)


@softmax_shrinks.control
def _(device):
    return detects(lambda: _softmax_shrinks(lambda x: F.log_softmax(x, 1), "log_softmax", device))


def _iterator_lacks_next_method(iterator, what: str) -> str:
    has = hasattr(iterator, "next")
    return expect(not has and next(iterator) is not None, f"{what}: has a .next() method {has}; next(it) works")


class _LegacyIterator:
    """A Python-2-style iterator with a .next() method."""

    def __iter__(self):
        return self

    def __next__(self):
        return 1

    next = __next__


@fact("training.loader-iterator-has-no-next-method", seeds=("S003-07",),
      claim="`iter(loader).next()` is Python 2: a DataLoader iterator has no `.next()`; use `next(iter(loader))`.")
def loader_no_next(device):
    loader = DataLoader(TensorDataset(torch.arange(4.0)), batch_size=2)
    return _iterator_lacks_next_method(iter(loader), "iter(DataLoader)")


@loader_no_next.control
def _(device):
    return detects(lambda: _iterator_lacks_next_method(_LegacyIterator(), "a legacy iterator"))


def _orders(seeds: tuple[int | None, int | None]) -> str:
    orders = []
    for seed in seeds:
        generator = torch.Generator()
        generator.manual_seed(seed) if seed is not None else generator.seed()
        loader = DataLoader(TensorDataset(torch.arange(32)), batch_size=32, shuffle=True, generator=generator)
        orders.append(next(iter(loader))[0].tolist())
    same = orders[0] == orders[1]
    return expect(same, f"shuffle=True with generators seeded {seeds}: same order {same}")


@fact("training.seeded-shuffle-is-reproducible", seeds=("S001-07", "S001-08"),
      claim="`DataLoader(shuffle=True)` with a seeded `torch.Generator` gives the same order every time.")
def seeded_shuffle(device):
    return _orders((7, 7))


@seeded_shuffle.control
def _(device):
    return detects(lambda: _orders((None, None)))
