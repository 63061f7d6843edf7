"""The training loop, data loaders and checkpoints."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchfacts.cli import main
from torchfacts.data import digits, fake, mnist, split_loaders
from torchfacts.models import MLP
from torchfacts.training import (
    BEST,
    LAST,
    CheckpointError,
    History,
    TrainingDiverged,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    train_one_epoch,
)


def tiny_data(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=generator)
    y = (x[:, 0] > 0).long()
    return split_loaders(TensorDataset(x, y), batch_size=16, seed=seed)


def tiny_fit(folder=None, epochs=4, **kwargs):
    seed_everything(0)
    model = MLP(6, (8,), 2, dropout=0.1)
    history = fit(model, *tiny_data(), loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), 0.1),
                  epochs=epochs, checkpoint_dir=folder, progress=False, **kwargs)
    return model, history


def test_fit_keeps_best_checkpoint_and_history(tmp_path):
    model, history = tiny_fit(tmp_path, epochs=5)
    losses = [r.val_loss for r in history.epochs]
    assert history.best_epoch == 1 + losses.index(min(losses))
    best = load_checkpoint(tmp_path / BEST)
    assert best["epoch"] == history.best_epoch and history.best_checkpoint == str(tmp_path / BEST)
    data = json.loads(history.to_json())
    assert len(data["epochs"]) == 5 and {"train_loss", "val_loss", "val_accuracy", "lr", "seconds"} <= set(data["epochs"][0])
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files may remain"


def test_early_stopping_and_ties(tmp_path):
    _, history = tiny_fit(epochs=30, patience=2, min_delta=10.0)  # nothing improves by 10: stop after 1 + 2
    assert history.stopped_early and len(history.epochs) == 3 and history.best_epoch == 1


def test_evaluate_restores_modes_and_uses_no_autograd():
    model = MLP(6, (8,), 2)
    model[3].eval()
    train, val = tiny_data()
    loss, accuracy = evaluate(model, val, nn.CrossEntropyLoss())
    assert model.training and not model[3].training and 0 <= accuracy <= 1 and loss > 0


def test_train_one_epoch_raises_on_nan_and_names_the_batch():
    model = MLP(6, (8,), 2)
    train, _ = tiny_data()
    calls = []

    def poisoned(outputs, targets):
        calls.append(1)
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * float("nan") if len(calls) == 2 else loss

    with pytest.raises(TrainingDiverged, match="batch 1"):
        train_one_epoch(model, train, poisoned, torch.optim.SGD(model.parameters(), 0.1))


def test_divergence_leaves_best_checkpoint_untouched(tmp_path):
    tiny_fit(tmp_path, epochs=2)
    before = (tmp_path / BEST).read_bytes()
    model = MLP(6, (8,), 2)
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 0"):
        fit(model, *tiny_data(), loss_fn=lambda o, t: o.sum() * float("inf"), epochs=3,
            optimizer=torch.optim.SGD(model.parameters(), 0.1), checkpoint_dir=tmp_path, progress=False)
    assert (tmp_path / BEST).read_bytes() == before


def test_save_checkpoint_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", value=torch.tensor(1))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, value=torch.tensor(2))
    monkeypatch.undo()
    assert load_checkpoint(path)["value"].item() == 1 and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("content", [b"", b"\x80\x02garbage", b"PK\x03\x04truncated"], ids=["empty", "random", "truncated"])
def test_corrupt_checkpoints_give_clear_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} cannot be loaded safely"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_history_plot_writes_png(tmp_path):
    _, history = tiny_fit(epochs=2)
    assert history.plot(tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_digits_are_real_normalized_and_reproducible():
    train, val = digits(batch_size=128, seed=3)
    assert len(train.dataset) == 1438 and len(val.dataset) == 359
    images = torch.cat([x for x, _ in val])
    assert abs(images.mean().item()) < 0.2 and 0.7 < images.std().item() < 1.3
    assert torch.equal(next(iter(digits(batch_size=128, seed=3)[0]))[0], next(iter(train))[0])


def _write_idx(path, magic, data: np.ndarray):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in data.shape) + data.tobytes())


def test_mnist_from_a_local_folder_and_a_clear_error_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST not found under .*MNIST.raw: expected the files train-images"):
        mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 5)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", 2051, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", 2049, rng.integers(0, 10, (n,), dtype=np.uint8))
    train, val = mnist(tmp_path, batch_size=4)
    images, labels = next(iter(train))
    assert images.shape == (4, 1, 28, 28) and len(val.dataset) == 2


def test_fake_data_loaders():
    train, val = fake(size=20, batch_size=5)
    images, labels = next(iter(train))
    assert images.shape == (5, 1, 8, 8) and len(val.dataset) == 4


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: fit("m", *tiny_data(), loss_fn=nn.MSELoss(), optimizer=None, epochs=1), TypeError, "model must be a torch.nn.Module"),
        (lambda: fit(MLP(6, (8,), 2), [1, 2], loss_fn=nn.MSELoss(), optimizer=None, epochs=1), TypeError, "loader must be a torch.utils.data.DataLoader, got list"),
        (lambda: fit(MLP(6, (8,), 2), tiny_data()[0], loss_fn=nn.MSELoss(), optimizer=None, epochs=-1), ValueError, "epochs must be an int >= 0, got -1"),
        (lambda: fit(MLP(6, (8,), 2), tiny_data()[0], loss_fn=nn.MSELoss(), optimizer=None, epochs=1, patience=0), ValueError, "patience must be None or an int >= 1, got 0"),
        (lambda: fit(MLP(6, (8,), 2), tiny_data()[0], loss_fn=nn.MSELoss(), optimizer=None, epochs=1, resume=True), ValueError, "resume=True needs checkpoint_dir"),
        (lambda: train_one_epoch(MLP(6, (8,), 2), tiny_data()[0], nn.MSELoss(), "sgd"), TypeError, "optimizer must be a torch.optim.Optimizer, got str"),
        (lambda: seed_everything("1"), TypeError, "seed must be an int, got '1'"),
        (lambda: split_loaders(TensorDataset(torch.zeros(10)), val_fraction=1.5), ValueError, "val_fraction must be a number strictly between 0 and 1, got 1.5"),
        (lambda: split_loaders(TensorDataset(torch.zeros(10)), batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cli_train_resume_freeze_and_errors(tmp_path, capsys):
    args = ["train", "--model", "mlp", "--epochs", "2", "--checkpoint-dir", str(tmp_path), "--freeze", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "frozen: ['1']" in out and "final validation accuracy" in out and f"best checkpoint: {tmp_path / BEST}" in out
    assert main(["train", "--model", "mlp", "--epochs", "3", "--checkpoint-dir", str(tmp_path), "--resume"]) == 2
    assert "does not match this model/optimizer" in capsys.readouterr().err, "resuming without the same --freeze"
    assert main(args[:4] + ["3"] + args[5:] + ["--resume"]) == 0
    out = capsys.readouterr().out
    assert "epoch   3" in out and "epoch   1" not in out, "resume continues after the last finished epoch"
    assert load_checkpoint(tmp_path / LAST)["epoch"] == 3
    for bad, message in [(["--epochs", "0"], "--epochs and --batch-size must be >= 1"), (["--resume"], "--resume needs --checkpoint-dir"),
                         (["--freeze", "zzz"], "matches no submodule"), (["--device", "banana"], "unknown --device 'banana'"),
                         (["--dataset", "mnist", "--data-dir", str(tmp_path / "none")], "MNIST not found")]:
        assert main(["train", *bad]) == 2
        assert message in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "--device", "cuda"]) == 2
        assert "cuda is not available" in capsys.readouterr().err
