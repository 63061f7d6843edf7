"""A training loop a learner can read in one sitting and an engineer can trust.

One step is ``zero_grad → forward → loss → backward → step``. Around it:
validation in eval mode under ``torch.inference_mode()`` (each submodule's mode
restored afterwards), the best model kept by validation loss in a checkpoint
written atomically, early stopping, and exact resume — model, optimizer,
epoch, best score and every random-number state — so an interrupted run that
resumes ends with the same weights, bit for bit on the CPU, as one that never
stopped.

>>> from torchfacts.data import digits
>>> from torchfacts.models import MLP
>>> _ = seed_everything(0)
>>> train, val = digits(batch_size=64)
>>> model = MLP(64, (64,), 10)
>>> history = fit(model, train, val, loss_fn=nn.CrossEntropyLoss(),
...               optimizer=torch.optim.Adam(model.parameters(), 1e-2), epochs=3, progress=False)
>>> len(history.epochs), history.epochs[-1].val_accuracy > 0.85
(3, True)
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from torchfacts import distributed
from torchfacts.modes import evaluating

__all__ = [
    "seed_everything",
    "train_one_epoch",
    "evaluate",
    "fit",
    "History",
    "EpochRecord",
    "TrainingDiverged",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "BEST",
    "LAST",
]

BEST = "best.pt"  # the model with the lowest validation loss so far
LAST = "last.pt"  # everything needed to resume after the last finished epoch


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""

    def __init__(self, epoch: int | None, batch: int, loss: float):
        self.epoch, self.batch, self.loss = epoch, batch, loss
        where = f"epoch {epoch}, batch {batch}" if epoch is not None else f"batch {batch}"
        super().__init__(f"training diverged at {where}: loss is {loss}; the best checkpoint was left untouched")


class CheckpointError(ValueError):
    """A checkpoint file could not be read safely."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a seeded ``torch.Generator`` for data loaders."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _check_loop_args(model, loader, loss_fn) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(loader, DataLoader):
        raise TypeError(f"loader must be a torch.utils.data.DataLoader, got {type(loader).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")


def train_one_epoch(model: nn.Module, loader: DataLoader, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                    device: str | torch.device = "cpu", *, epoch: int | None = None) -> float:
    """One pass over ``loader`` in train mode; returns the mean loss per sample.

    Raises :class:`TrainingDiverged` (before the optimizer step) on a NaN/Inf loss.
    """
    _check_loop_args(model, loader, loss_fn)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    model.train()
    total, count = 0.0, 0
    for batch, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad(set_to_none=True)  # gradients accumulate otherwise
        loss = loss_fn(model(inputs), targets)
        if not torch.isfinite(loss):
            raise TrainingDiverged(epoch, batch, loss.item())
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / max(count, 1)


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: Callable,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    """Mean loss and accuracy over ``loader`` in eval mode, without autograd; modes restored after."""
    _check_loop_args(model, loader, loss_fn)
    total, correct, count = 0.0, 0, 0
    with evaluating(model), torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            total += loss_fn(outputs, targets).item() * len(targets)
            correct += (outputs.argmax(1) == targets).sum().item()
            count += len(targets)
    return total / max(count, 1), correct / max(count, 1)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf
    stopped_early: bool = False
    best_checkpoint: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    def plot(self, path: str | Path) -> Path:
        """Loss and accuracy curves as a PNG (needs matplotlib, the 'plot' extra)."""
        import matplotlib

        matplotlib.use("Agg")  # files only, no screen
        import matplotlib.pyplot as plt

        epochs = [r.epoch for r in self.epochs]
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
        loss_ax.plot(epochs, [r.train_loss for r in self.epochs], label="train")
        if any(r.val_loss is not None for r in self.epochs):
            loss_ax.plot(epochs, [r.val_loss for r in self.epochs], label="validation")
            acc_ax.plot(epochs, [r.val_accuracy for r in self.epochs], color="tab:green")
        if self.best_epoch is not None:
            loss_ax.axvline(self.best_epoch, color="grey", linestyle=":", label=f"best (epoch {self.best_epoch})")
        loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
        loss_ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Path(path)


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """``torch.save(state)`` atomically: a reader sees the old file or the new one, never half of one.

    Written to a temporary file in the same folder, flushed and fsynced, then
    moved over ``path`` with ``os.replace`` (atomic on POSIX and Windows).
    """
    path = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    except OSError as problem:
        raise OSError(problem.errno, f"cannot write checkpoint {path}: {problem.strerror}") from None
    try:
        with handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except OSError as problem:
        Path(handle.name).unlink(missing_ok=True)
        raise OSError(problem.errno, f"cannot write checkpoint {path} ({problem.strerror}); "
                                     "the previous file, if any, is intact") from None
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        folder = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return path


def load_checkpoint(path: str | Path, model: nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code runs); restore model/optimizer if given."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as problem:  # truncated, corrupt, or a pickle that wants to run code
        raise CheckpointError(f"checkpoint {path} cannot be loaded safely: {type(problem).__name__}: "
                              f"{str(problem).splitlines()[0] if str(problem) else 'no detail'}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict of state")
    try:
        if model is not None:
            model.load_state_dict(state["model"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
    except (KeyError, ValueError, RuntimeError) as mismatch:
        raise CheckpointError(f"checkpoint {path} does not match this model/optimizer: "
                              f"{' '.join(str(mismatch).split())[:300]}") from None
    return state


def _rng_state(train_loader: DataLoader) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    generator = train_loader.generator
    return {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],  # tensors load safely
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": generator.get_state() if generator is not None else None,
    }


def _restore_rng(state: dict[str, Any], train_loader: DataLoader) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if state["loader"] is not None and train_loader.generator is not None:
        train_loader.generator.set_state(state["loader"])


def _progress(enabled: bool, epochs: int):
    """A rich progress bar on a terminal; a no-op otherwise."""
    if enabled and sys.stdout.isatty():
        from rich.progress import Progress

        return Progress(transient=True)
    return None


def fit(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader | None = None, *, loss_fn: Callable,
        optimizer: torch.optim.Optimizer, epochs: int, device: str | torch.device = "cpu",
        checkpoint_dir: str | Path | None = None, patience: int | None = None, min_delta: float = 0.0,
        resume: bool = False, progress: bool = True, on_epoch: Callable[[EpochRecord], None] | None = None) -> History:
    """Train for up to ``epochs`` epochs; see the module doc. Returns the :class:`History`.

    The monitored score is the validation loss (the training loss without
    ``val_loader``); an epoch improves on the best only if it is lower by more
    than ``min_delta`` — a tie is not an improvement. With ``checkpoint_dir``,
    ``best.pt`` holds the best model and ``last.pt`` the state to resume from.
    ``on_epoch`` is called with each epoch's record (the CLI prints with it).

    Started by ``torchrun`` (``WORLD_SIZE`` > 1), it trains data-parallel: see
    :mod:`torchfacts.distributed`. Nothing changes in the call.
    """
    _check_loop_args(model, train_loader, loss_fn)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir, where last.pt was written")
    device = torch.device(device)
    with distributed.session(device) as parallel:
        return _fit(model, train_loader, val_loader, loss_fn=loss_fn, optimizer=optimizer, epochs=epochs, device=device,
                    checkpoint_dir=checkpoint_dir, patience=patience, min_delta=min_delta, resume=resume,
                    progress=progress, on_epoch=on_epoch, parallel=parallel)


def _fit(model, train_loader, val_loader, *, loss_fn, optimizer, epochs, device, checkpoint_dir, patience, min_delta,
         resume, progress, on_epoch, parallel: bool) -> History:
    main = distributed.is_main()  # rank 0, or the only process: it alone writes files and progress
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.pt.*.tmp") if main else ():  # half-written files of a killed run
            leftover.unlink(missing_ok=True)

    history, start, stale_epochs = History(), 1, 0
    if resume and (folder / LAST).exists():  # every rank restores the same state
        state = load_checkpoint(folder / LAST, model, optimizer)
        history = History(epochs=[EpochRecord(**r) for r in state["history"]], best_epoch=state["best_epoch"],
                          best_loss=state["best_loss"], best_checkpoint=state["best_checkpoint"])
        start, stale_epochs = state["epoch"] + 1, state["stale_epochs"]
        _restore_rng(state["rng"], train_loader)
        if patience is not None and stale_epochs >= patience:
            history.stopped_early = True
            return history

    trained = model
    if parallel:  # one process per rank: gradients averaged by DDP, each rank on its own shard
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        train_loader = distributed.shard(train_loader)
        val_loader = distributed.shard(val_loader) if val_loader is not None else None

    bar = _progress(progress and main, epochs)
    task = bar.add_task("training", total=epochs, completed=start - 1) if bar else None
    if bar:
        bar.start()
    try:
        for epoch in range(start, epochs + 1):
            began = time.perf_counter()
            if hasattr(train_loader.sampler, "set_epoch"):  # a new shuffle of the shards every epoch
                train_loader.sampler.set_epoch(epoch)
            train_loss = distributed.average(train_one_epoch(trained, train_loader, loss_fn, optimizer, device, epoch=epoch),
                                             len(train_loader.sampler))
            val_loss, val_acc = None, None
            if val_loader is not None:
                val_loss, val_acc = (distributed.average(v, len(val_loader.sampler))
                                     for v in evaluate(model, val_loader, loss_fn, device))
            score = val_loss if val_loss is not None else train_loss
            if not math.isfinite(score):
                raise TrainingDiverged(epoch, -1, score)
            record = EpochRecord(epoch, train_loss, val_loss, val_acc, optimizer.param_groups[0]["lr"],
                                 time.perf_counter() - began)
            history.epochs.append(record)
            if score < history.best_loss - min_delta:
                history.best_loss, history.best_epoch, stale_epochs = score, epoch, 0
                if folder is not None:
                    history.best_checkpoint = str(folder / BEST)
                    if main:
                        save_checkpoint(folder / BEST, model=model.state_dict(), epoch=epoch, loss=score)
            else:
                stale_epochs += 1
            if folder is not None and main:
                save_checkpoint(folder / LAST, model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch,
                                best_epoch=history.best_epoch, best_loss=history.best_loss,
                                best_checkpoint=history.best_checkpoint, stale_epochs=stale_epochs,
                                history=[asdict(r) for r in history.epochs], rng=_rng_state(train_loader))
            if bar:
                bar.update(task, advance=1, description=f"epoch {epoch}: val loss {score:.4f}")
            if on_epoch is not None:
                on_epoch(record)
            if patience is not None and stale_epochs >= patience:
                history.stopped_early = True
                break
    finally:
        if bar:
            bar.stop()
    return history
