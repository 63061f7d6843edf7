"""The command line: reports, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchfacts.cli import main


def test_check_json_lists_view_facts_with_evidence(capsys):
    assert main(["check", "--format", "json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["torch"] == torch.__version__ and report["devices"]["cpu"]["available"]
    views = [f for f in report["facts"] if f["topic"] == "views"]
    assert len(views) >= 15
    for f in views:
        assert f["status"] == "pass" and f["evidence"] and f["control"] == "detected", f
        assert {"id", "status", "evidence", "duration_s"} <= set(f)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_check_unavailable_device_is_skipped_not_crash(capsys):
    assert main(["check", "--device", "cuda", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "cuda is not available" in captured.err
    statuses = {f["status"] for f in json.loads(captured.out)["facts"]}
    assert statuses == {"skipped"}


def test_check_all_devices_lists_every_device(capsys):
    main(["check", "--device", "all", "--format", "json", "--topic", "views"])
    devices = {f["device"] for f in json.loads(capsys.readouterr().out)["facts"]}
    assert devices == {"cpu", "cuda", "mps"}


def test_check_exit_code_1_when_a_fact_fails(monkeypatch, capsys):
    from torchfacts.facts import registry

    f = registry.get_fact("views.clone-copies")
    monkeypatch.setattr(f, "check", lambda device: registry.expect(False, "pretend torch changed"))
    assert main(["check", "--device", "cpu", "--format", "markdown", "--topic", "views"]) == 1
    assert "pretend torch changed" in capsys.readouterr().out


def test_check_table_and_output_file(tmp_path, capsys):
    out = tmp_path / "report.md"
    assert main(["check", "--format", "markdown", "--output", str(out), "--topic", "views"]) == 0
    text = out.read_text()
    assert "| `views.view-shares-storage` | cpu | pass |" in text
    assert main(["check", "--topic", "views"]) == 0
    assert "views.clone-copies" in capsys.readouterr().out


def test_list_and_explain(capsys):
    assert main(["list", "--topic", "views"]) == 0
    assert "views.view-shares-storage" in capsys.readouterr().out
    assert main(["explain", "views.range-deprecated-inclusive"]) == 0
    out = capsys.readouterr().out
    assert "S000-07" in out and "def range_deprecated_inclusive" in out and "[cpu] pass" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["check", "--device", "gpu"], "invalid choice: 'gpu'"),
        (["check", "--format", "xml"], "invalid choice: 'xml'"),
        (["check", "--topic", "nope"], "unknown topic 'nope'; choose from: distributed, interop, modes, padding, training, views"),
        (["check", "--output", "/nonexistent-dir/x.json"], "cannot write --output '/nonexistent-dir/x.json'"),
        (["check", "--bogus"], "unrecognized arguments: --bogus"),
        (["explain", "views.nope"], "unknown fact id 'views.nope'"),
        (["list", "--topic"], "expected at least one argument"),
        (["padding", "8", "0"], "kernel_size must be >= 1, got 0"),
        (["padding", "8", "x"], "expected integers separated by commas, got 'x'"),
        (["padding", "8", "3", "--stride", "-1"], "stride must be >= 1, got -1"),
        (["padding", "8,8", "3,3,3"], "per-dimension arguments must have the same length"),
        (["padding", "1,1,1,1", "1"], "at most 3 spatial dimensions, got 4"),
        (["padding", "8"], "the following arguments are required: kernel"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err, captured.err


def test_console_script_and_module_entry_points():
    script = Path(sys.executable).with_name("torchfacts")  # installed beside the interpreter
    assert script.exists(), f"console script not installed at {script}"
    for command in ([str(script)], [sys.executable, "-m", "torchfacts"]):
        done = subprocess.run([*command, "check", "--device", "tpu"], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_padding_reports_sizes_same_padding_and_layer(capsys):
    assert main(["padding", "224,224", "7", "--stride", "2"]) == 0
    out = capsys.readouterr().out
    assert "SAME output:                  (112, 112)" in out and "((2, 3), (2, 3))" in out and "Conv2dSame" in out
    assert main(["padding", "5", "3", "--stride", "2", "--ceil-mode"]) == 0
    out = capsys.readouterr().out
    assert "max-pool output:              2  (ceil_mode=True)" in out and "SAME output:                  3" in out
    assert main(["padding", "32", "3", "--dilation", "2"]) == 0
    assert "nn.Conv1d(C_in, C_out, 3, stride=1, dilation=2, padding=2)" in capsys.readouterr().out
    assert main(["padding", "2", "5"]) == 0
    assert "conv output, no padding:      not possible: padded input size 2" in capsys.readouterr().out
