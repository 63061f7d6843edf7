"""fit() and `torchfacts train` under torchrun: 2 CPU ranks, gloo on loopback, bounded by timeouts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap

from torchfacts import distributed

LIMIT_S = 240  # a hung rank fails the test instead of hanging CI


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, cwd, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TORCHFACTS_DIST_TIMEOUT="30", OMP_NUM_THREADS="1", **(env_extra or {}))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, cwd=cwd, env=env)


def test_torchrun_train_same_accuracy_on_every_rank_and_resume(tmp_path):
    done = torchrun("-m", "torchfacts", "train", "--model", "mlp", "--epochs", "2", "--checkpoint-dir", str(tmp_path / "ck"),
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    accuracies = dict(re.findall(r"\[rank (\d)\] final validation accuracy: ([\d.]+)", done.stdout))
    assert set(accuracies) == {"0", "1"} and accuracies["0"] == accuracies["1"], done.stdout
    assert len(re.findall(r"epoch +\d+ ", done.stdout)) == 2, "per-epoch progress comes from rank 0 only"
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["best.pt", "last.pt"]

    resumed = torchrun("-m", "torchfacts", "train", "--model", "mlp", "--epochs", "3", "--resume",
                       "--checkpoint-dir", str(tmp_path / "ck"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.findall(r"epoch +(\d+) ", resumed.stdout) == ["3"], "every rank resumed after epoch 2"
    again = dict(re.findall(r"\[rank (\d)\] final validation accuracy: ([\d.]+)", resumed.stdout))
    assert again["0"] == again["1"]


FAILING = textwrap.dedent("""
    import os, torch
    from torch import nn
    from torchfacts.data import digits
    from torchfacts.models import MLP
    from torchfacts.training import fit

    calls = []

    def loss_fn(outputs, targets):
        calls.append(1)
        if os.environ["RANK"] == "1" and len(calls) == 3:
            raise ValueError("rank 1 breaks on purpose")
        return nn.functional.cross_entropy(outputs, targets)

    model = MLP(64, (16,), 10)
    fit(model, *digits(), loss_fn=loss_fn, optimizer=torch.optim.SGD(model.parameters(), 0.1), epochs=3, progress=False)
""")


def test_one_failing_rank_ends_the_job_instead_of_hanging(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    done = torchrun(str(script), cwd=tmp_path)
    assert done.returncode != 0 and "rank 1 breaks on purpose" in done.stderr


def test_distributed_is_only_requested_by_a_multi_rank_environment():
    assert distributed.requested({"WORLD_SIZE": "2", "RANK": "1"})
    assert not distributed.requested({"WORLD_SIZE": "1", "RANK": "0"}) and not distributed.requested({})
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.average(2.5, 10) == 2.5
