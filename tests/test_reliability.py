"""Nothing is lost, nothing untrusted runs: killed training, failed writes, hostile files, divergence.

Kills use forked children (torch is already imported, so each run starts in
milliseconds) and SIGKILL at random moments; checkpoint writes are slowed down
in the children so that many kills land in the middle of a write. The counts
(kills, kills during a write, corrupt files tried) go into the closing line.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import random
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import TensorDataset

import torchfacts.training as training
from torchfacts.data import split_loaders
from torchfacts.testing.strategies import GENERATED
from torchfacts.training import BEST, LAST, CheckpointError, TrainingDiverged, fit, load_checkpoint, save_checkpoint

KILLS = max(20, settings.default.max_examples // 20)  # 20 in ci, 200 in thorough
EPOCHS = 12


def _run(folder: Path, epochs: int = EPOCHS, on_epoch=None, loss_fn=None) -> nn.Module:
    """A small, fully seeded training run that resumes from ``folder`` when it can."""
    training.seed_everything(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=generator)
    train, val = split_loaders(TensorDataset(x, (x[:, 0] * x[:, 1] > 0).long()), batch_size=16, seed=0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    fit(model, train, val, loss_fn=loss_fn or nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
        checkpoint_dir=folder, resume=True, progress=False, on_epoch=on_epoch)
    return model


def _digest(state: dict) -> str:
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()


def _child(folder: str) -> None:
    torch.set_num_threads(1)
    real_fsync = os.fsync

    def slow_fsync(fd):  # a slow disk: writes take long enough to be interrupted
        time.sleep(0.004)
        real_fsync(fd)

    training.os.fsync = slow_fsync
    _run(Path(folder))
    os._exit(0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: every best model it committed, and its final weights."""
    folder = tmp_path_factory.mktemp("reference")
    bests = set()
    start = time.perf_counter()
    model = _run(folder, on_epoch=lambda record: bests.add(_digest(load_checkpoint(folder / BEST)["model"])))
    return bests, _digest(model.state_dict()), time.perf_counter() - start


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() to start training children quickly")
def test_sigkill_at_random_moments_never_tears_a_checkpoint(tmp_path, reference):
    bests, final, duration = reference
    context = multiprocessing.get_context("fork")
    rng = random.Random(0)
    folder, kills, torn, finished = tmp_path / "run0", 0, 0, 0
    while kills < KILLS:
        child = context.Process(target=_child, args=(str(folder),))
        child.start()
        child.join(timeout=rng.uniform(0.0, 3 * duration))
        if child.is_alive():
            child.kill()  # SIGKILL: no cleanup, no flush
            child.join()
            kills += 1
            torn += any(folder.glob(".*.tmp"))  # the kill landed inside a checkpoint write
        assert child.exitcode in (0, -9), f"the training child failed: exit code {child.exitcode}"
        for name in (BEST, LAST):
            if (folder / name).exists():
                load_checkpoint(folder / name)  # never torn: raises CheckpointError otherwise
        if (folder / BEST).exists():
            assert _digest(load_checkpoint(folder / BEST)["model"]) in bests, "best.pt holds a state never committed"
        if child.exitcode == 0:  # the run finished across kills: it must equal the uninterrupted run
            model = _run(folder)  # resuming a finished run changes nothing
            assert _digest(model.state_dict()) == final, "resumed run differs from the uninterrupted one"
            finished += 1
            folder = tmp_path / f"run{finished}"
    model = _run(folder)  # finish the last, interrupted run
    assert _digest(model.state_dict()) == final
    GENERATED["training runs SIGKILLed"] += kills
    GENERATED["kills during a checkpoint write"] += torn
    assert kills >= KILLS


@pytest.mark.parametrize("failing", ["fsync", "replace", "save"])
def test_write_failure_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = save_checkpoint(tmp_path / "c.pt", model={"w": torch.ones(2)})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(*((training.os, failing) if failing != "save" else (torch, "save")), disk_full)
    with pytest.raises(OSError, match=rf"cannot write checkpoint {path} \(No space left on device\); the previous file"):
        save_checkpoint(path, model={"w": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"], "no temporary file may be left"


class Payload:
    """Unpickling this calls Path.touch(marker): code from the file would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker, path = tmp_path / "payload-ran", tmp_path / "evil.pt"
    torch.save({"model": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} cannot be loaded safely"):
        load_checkpoint(path)
    assert not marker.exists(), "the payload ran"
    torch.load(path, weights_only=False)  # control: the payload is real and runs when trusted
    assert marker.exists()


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.pt"
    save_checkpoint(path, model=nn.Linear(4, 3).state_dict(), epoch=3)
    return path.read_bytes()


@settings(max_examples=max(100, settings.default.max_examples // 4))
@given(st.data())
def test_corrupt_files_give_a_clear_error_naming_the_file(tmp_path_factory, good_bytes, data):
    kind = data.draw(st.sampled_from(["random", "truncated", "flipped"]))
    if kind == "random":
        content = data.draw(st.binary(max_size=2048))
    elif kind == "truncated":
        content = good_bytes[:data.draw(st.integers(0, len(good_bytes) - 1))]
    else:  # one corrupted byte in the zip's headers or data
        at = data.draw(st.integers(0, len(good_bytes) - 1))
        content = good_bytes[:at] + bytes([good_bytes[at] ^ 0xFF]) + good_bytes[at + 1:]
    path = tmp_path_factory.mktemp("corrupt") / "c.pt"
    path.write_bytes(content)
    GENERATED["corrupt checkpoints tried"] += 1
    try:
        state = load_checkpoint(path)
    except CheckpointError as refused:
        assert str(path) in str(refused)
        return
    # A flipped byte inside tensor data still loads: then the structure must be intact.
    assert kind == "flipped" and set(state) == {"model", "epoch"}


@settings(max_examples=max(10, settings.default.max_examples // 40), deadline=None)
@given(st.integers(0, EPOCHS * 5 - 1))
def test_nan_at_a_random_step_stops_without_writing_the_diverged_state(tmp_path_factory, step):
    folder = tmp_path_factory.mktemp("nan")
    steps, saved = [], {}

    def poisoned(outputs, targets):
        loss = nn.functional.cross_entropy(outputs, targets)
        if not torch.is_grad_enabled():  # validation batches do not count as steps
            return loss
        steps.append(1)
        return loss * float("nan") if len(steps) == step + 1 else loss

    def remember(record):
        saved[record.epoch] = ((folder / BEST).read_bytes(), (folder / LAST).read_bytes())

    with pytest.raises(TrainingDiverged, match=r"epoch (\d+), batch (\d+)") as diverged:
        _run(folder, loss_fn=poisoned, on_epoch=remember)
    epoch = diverged.value.epoch
    assert (epoch - 1) * 5 + diverged.value.batch == step, "the error names the epoch and batch of the NaN"
    if epoch == 1:
        assert not (folder / BEST).exists() and not (folder / LAST).exists()
    else:
        assert ((folder / BEST).read_bytes(), (folder / LAST).read_bytes()) == saved[epoch - 1]
        assert load_checkpoint(folder / LAST)["epoch"] == epoch - 1


def test_stale_temporary_files_are_cleaned_on_start(tmp_path):
    (tmp_path / ".best.pt.abc.tmp").write_bytes(b"half a checkpoint")
    _run(tmp_path, epochs=1)
    assert not list(tmp_path.glob(".*.tmp"))
