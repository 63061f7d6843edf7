"""Train/eval modes and freezing, done so that nothing is silently undone.

``model.train()`` and ``model.eval()`` set one flag, ``training``, on every
submodule. That is a blunt tool: a blanket ``model.train()`` un-does any
submodule you deliberately put in eval. The context managers here restore
*each submodule's own* flag, and :func:`freeze` makes BatchNorm stay frozen.

>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.BatchNorm1d(2))
>>> _ = model[2].eval()                   # deliberately frozen statistics
>>> with evaluating(model):
...     mode_map(model)["1"]
False
>>> mode_map(model)                        # every flag back as it was
{'': True, '0': True, '1': True, '2': False}
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator, Mapping

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    "mode_map",
    "set_modes",
    "evaluating",
    "training",
    "mode_sensitive_modules",
    "freeze",
    "unfreeze",
    "is_frozen_batchnorm",
    "trainable_parameters",
    "frozen_parameters",
]


def _check_module(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def mode_map(model: nn.Module) -> dict[str, bool]:
    """``{submodule name: training flag}``; the model itself is ``''``."""
    return {name: m.training for name, m in _check_module(model).named_modules()}


def set_modes(model: nn.Module, modes: Mapping[str, bool]) -> nn.Module:
    """Set each named submodule's *own* flag (children are not touched); returns ``model``."""
    modules = dict(_check_module(model).named_modules())
    if not isinstance(modes, Mapping):
        raise TypeError(f"modes must be a mapping of module name to bool, got {type(modes).__name__}")
    unknown = [name for name in modes if name not in modules]
    if unknown:
        raise ValueError(f"modes names modules the model does not have: {unknown[:5]}")
    for name, flag in modes.items():
        if not isinstance(flag, bool):
            raise TypeError(f"modes[{name!r}] must be a bool, got {flag!r}")
        modules[name].training = flag
    return model


@contextlib.contextmanager
def _switched(model: nn.Module, mode: bool) -> Iterator[nn.Module]:
    saved = mode_map(model)
    model.train(mode)
    try:
        yield model
    finally:  # also after an exception: the model leaves exactly as it came
        set_modes(model, saved)


def evaluating(model: nn.Module):
    """Context manager: ``model.eval()`` inside, every submodule's own flag restored after."""
    return _switched(model, False)


def training(model: nn.Module):
    """Context manager: ``model.train()`` inside, every submodule's own flag restored after.

    Frozen BatchNorm layers (see :func:`freeze`) stay in eval even inside.
    """
    return _switched(model, True)


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _same_output(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_output(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_output(a[k], b[k]) for k in a)
    return a == b


def mode_sensitive_modules(model: nn.Module, example_input: Any) -> list[str]:
    """Names of the submodules whose *own* behaviour depends on their mode.

    Probing, on a copy: record every submodule's input during one eval forward,
    then run each submodule on that input with only its own flag flipped to
    train (its children stay in eval). Catches ``nn.Dropout`` and BatchNorm, and
    also a custom ``forward`` that branches on ``self.training``.

    >>> model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4), nn.ReLU())
    >>> mode_sensitive_modules(model, torch.randn(8, 4))
    ['1', '2']
    """
    probe = copy.deepcopy(_check_module(model)).eval()
    inputs: dict[str, tuple[tuple, dict]] = {}

    def recorder(name: str):
        def record(module, args, kwargs):
            # Cloned, because an in-place layer later on may overwrite them.
            inputs.setdefault(name, (tuple(_clone(a) for a in args), {k: _clone(v) for k, v in kwargs.items()}))
        return record

    hooks = [m.register_forward_pre_hook(recorder(name), with_kwargs=True) for name, m in probe.named_modules()]
    try:
        with torch.no_grad():
            probe(*example_input) if isinstance(example_input, tuple) else probe(example_input)
    except Exception as refused:  # the model rejects the input: say so about the argument
        raise ValueError(f"example_input cannot be run through the model: {type(refused).__name__}: "
                         f"{' '.join(str(refused).split())[:200]}") from None
    finally:
        for hook in hooks:
            hook.remove()
    sensitive = []
    for name, module in probe.named_modules():
        if name not in inputs:
            continue
        args, kwargs = inputs[name]
        outputs = []
        for flag in (False, True):
            module.training = flag  # only this module's flag
            torch.manual_seed(0)
            try:
                with torch.no_grad():
                    outputs.append(module(*args, **kwargs))
            except (ValueError, RuntimeError) as refused:  # e.g. BatchNorm on one value per channel
                outputs.append(refused)
        module.training = False
        if not _same_output(*outputs):
            sensitive.append(name)
    return sensitive


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    """Replacement ``train`` for a frozen BatchNorm: it ignores train(True)."""
    return nn.Module.train(self, False)


def is_frozen_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` is a BatchNorm layer that :func:`freeze` pinned to eval."""
    return isinstance(module, _BatchNorm) and "train" in vars(module)


_BATCHNORM_CHOICES = ("eval", "train")


def freeze(module: nn.Module, *, batchnorm: str = "eval") -> nn.Module:
    """Stop ``module``'s parameters from learning; returns ``module``.

    Sets ``requires_grad=False`` **and clears ``.grad``** (an optimizer with
    momentum or weight decay still moves a parameter that has a stale
    gradient). BatchNorm layers have running statistics that are not
    parameters and keep updating in train mode, so:

    * ``batchnorm="eval"`` (default): frozen BatchNorm layers are pinned to
      eval — they use their running statistics and never update them, even
      after a parent's ``model.train()``. (Done by giving each layer a
      ``train`` method that always means eval; :func:`unfreeze` removes it.
      ``torchvision.ops.FrozenBatchNorm2d`` is the other way, but it changes
      the layer's type and its state-dict keys.)
    * ``batchnorm="train"``: BatchNorm layers stay trainable and in train mode,
      like fastai's ``train_bn``: their affine parameters are not frozen.

    >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    >>> freeze(model).train()[1].training, len(trainable_parameters(model))
    (False, 0)
    """
    _check_module(module, "module")
    if not isinstance(batchnorm, str) or batchnorm not in _BATCHNORM_CHOICES:
        raise ValueError(f"batchnorm must be one of {_BATCHNORM_CHOICES}, got {batchnorm!r}")
    for sub in module.modules():
        is_bn = isinstance(sub, _BatchNorm)
        if is_bn and batchnorm == "train":
            continue
        for param in sub.parameters(recurse=False):
            param.requires_grad_(False)
            param.grad = None
        if is_bn:
            sub.train = _stay_in_eval.__get__(sub)  # bound to this layer only
            sub.training = False
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: every parameter trainable, BatchNorm free to follow ``train()``."""
    for sub in _check_module(module, "module").modules():
        if is_frozen_batchnorm(sub):
            del sub.train
        for param in sub.parameters(recurse=False):
            param.requires_grad_(True)
    return module


def trainable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """``{name: parameter}`` for parameters with ``requires_grad=True``."""
    return {n: p for n, p in _check_module(model).named_parameters() if p.requires_grad}


def frozen_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """``{name: parameter}`` for parameters with ``requires_grad=False``."""
    return {n: p for n, p in _check_module(model).named_parameters() if not p.requires_grad}
