"""Every fact holds, and every negative control is detected, on every device."""

from __future__ import annotations

import pytest
import torch

from torchfacts.facts import SEED_CLAIMS, all_facts, expect, fact, run_fact, run_facts
from torchfacts.facts.registry import detects, device_available

FACTS = all_facts()

# Each fact on each device it applies to; devices this machine lacks are skipped, not dropped.
CASES = [
    pytest.param(f, d, id=f"{d}-{f.id}", marks=pytest.mark.skipif(not device_available(d), reason=f"{d} is not available"))
    for f in FACTS
    for d in f.devices
]


@pytest.mark.parametrize("f, device", CASES)
def test_fact_holds_and_control_is_detected(f, device):
    result = run_fact(f, device)
    assert result.status == "pass", f"{f.id} on {device}: {result.status}: {result.evidence} | control: {result.control_evidence}"
    assert result.control == "detected" and result.control_evidence.startswith("detected: ")
    assert result.evidence


def test_catalogue_is_well_formed():
    assert len(all_facts(["views"])) >= 15
    for f in FACTS:
        assert f.negative_control is not None, f"{f.id} has no negative control"
        assert f.id.startswith(f.topic + "."), f.id
        assert all(s in SEED_CLAIMS for s in f.seeds), f"{f.id} names an unknown seed claim"


def _demo(check, control, devices=("cpu", "cuda", "mps")):
    made = fact("demo.x", claim="demo", register=False, devices=devices)(check)
    return made.control(control)


def _holds(device):
    return expect(True, "fine")


def _detected(device):
    return detects(lambda: expect(False, "near-miss noticed"))


def test_runner_reports_fail_error_and_missed_control_without_stopping():
    failing = _demo(lambda d: expect(False, "observed 3, expected 2"), _detected)
    crashing = _demo(lambda d: 1 / 0, _detected)
    blind = _demo(_holds, lambda d: detects(lambda: expect(True, "accepted")))
    broken_control = _demo(_holds, lambda d: [][1])
    results = run_facts([failing, crashing, blind, broken_control, _demo(_holds, _detected)], ["cpu"])
    assert [r.status for r in results] == ["fail", "error", "fail", "error", "pass"]
    assert results[0].evidence == "observed 3, expected 2"
    assert results[1].evidence.startswith("ZeroDivisionError")
    assert results[2].control == "missed" and "not detected" in results[2].control_evidence
    assert results[3].control == "error"


def test_runner_skips_unavailable_and_inapplicable_devices():
    cuda_only = _demo(_holds, _detected, devices=("cuda",))
    assert run_fact(cuda_only, "cpu").status == "skipped"
    if not torch.cuda.is_available():
        result = run_fact(_demo(_holds, _detected), "cuda")
        assert result.status == "skipped" and "not available" in result.evidence
    with pytest.raises(ValueError, match="device must be one of cpu, cuda, mps, got 'tpu'"):
        run_fact(cuda_only, "tpu")


def test_fact_without_control_is_an_error():
    bare = fact("demo.bare", claim="demo", register=False)(_holds)
    assert run_fact(bare, "cpu").status == "error"
