"""The benchmark report: ratios, GB/s, headline numbers and plots from one pytest-benchmark JSON."""

from __future__ import annotations

import json

import pytest

from torchfacts import bench
from torchfacts.cli import main


def _bench(family, op, median, *, size=None, nbytes=None, baseline=False, title="t"):
    where = f"n=1e{len(str(size)) - 1}" if size else title
    return {"group": f"{family}: {where} [cpu]", "name": f"test[{op}]", "stats": {"median": median, "iqr": median / 10, "rounds": 5},
            "extra_info": {"family": family, "op": op, "size": size, "bytes": nbytes, "baseline": baseline, "device": "cpu",
                           "title": title}}


@pytest.fixture
def results(tmp_path):
    benchmarks = []
    for size in (1000, 10**8):
        benchmarks += [_bench("views", "view", 2e-6, size=size), _bench("views", "clone()", size * 8 / 40e9, size=size,
                                                                          nbytes=8 * size, baseline=True),
                       _bench("views", ".contiguous() of a transpose", size * 8 / 10e9, size=size, nbytes=8 * size)]
    benchmarks += [_bench("padding", "nn.Conv2d(padding='same')", 4e-3, baseline=True), _bench("padding", "conv_same (static)", 4.04e-3),
                   _bench("training", "hand-written loop", 0.05, baseline=True), _bench("training", "fit()", 0.051)]
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"benchmarks": benchmarks, "machine_info": {"cpu": {"brand_raw": "Test CPU"}}}))
    return path


def test_report_headline_tables_and_plot(results, tmp_path):
    report = bench.render_report(results, tmp_path).read_text()
    assert "`view` time at 1e+08 vs 1e+03 elements: **1.00×**" in report
    assert "= **0.25** of `clone()`'s 40.0 GB/s" in report
    assert "static `conv_same` / `nn.Conv2d(padding='same')`: **1.010**" in report
    assert "one epoch of `fit()` / hand-written loop: **1.020**" in report
    assert "| clone() ★ | 20 ms | 2 ms | 1 | 40.0 | 5 |" in report and "Test CPU" in report
    assert (tmp_path / "views-cpu.png").read_bytes()[:4] == b"\x89PNG" and "![views on cpu](views-cpu.png)" in report


def test_report_without_headline_benchmarks(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"benchmarks": [_bench("checks", "check_model", 1.3, baseline=True)]}))
    assert "no benchmarks ran on this device" in bench.render_report(path, tmp_path).read_text()


def test_run_benchmarks_builds_a_one_process_pytest_command(tmp_path, monkeypatch):
    seen = {}

    def fake_run(command, cwd, env):
        seen.update(command=command, env=env)
        raw = {"benchmarks": [{"stats": {"median": 1.0, "data": [1.0] * 1000}}]}
        (tmp_path / "benchmarks.json").write_text(json.dumps(raw))
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    bench.run_benchmarks(tmp_path, device="cpu", quick=True)
    assert "-n" in seen["command"] and seen["command"][seen["command"].index("-n") + 1] == "0"
    assert seen["env"]["TORCHFACTS_BENCH_QUICK"] == "1" and seen["env"]["TORCHFACTS_BENCH_DEVICE"] == "cpu"
    assert "data" not in json.loads((tmp_path / "benchmarks.json").read_text())["benchmarks"][0]["stats"]
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: type("Done", (), {"returncode": 1})())
    assert main(["bench", "--output", str(tmp_path)]) == 1


def test_bench_cli_errors(capsys):
    assert main(["bench", "--device", "tpu"]) == 2 and "invalid choice: 'tpu'" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["bench", "--device", "cuda"]) == 0
        assert "cuda is not available on this machine; its benchmarks are skipped" in capsys.readouterr().err
