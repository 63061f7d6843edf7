"""Verdicts for every seed claim: computed, explained, and changing when torch's behaviour does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import torchfacts.facts.claims as claims
from torchfacts.cli import main
from torchfacts.docs import HEADER, fact_sheet
from torchfacts.facts import SEED_CLAIMS, all_facts
from torchfacts.facts.registry import FactFailed, get_fact

FACTS_MD = Path(__file__).resolve().parent.parent / "docs" / "FACTS.md"


@pytest.fixture(scope="module")
def verdicts():
    return {v.id: v for v in claims.evaluate_claims()}


def test_every_claim_has_a_verdict_explanation_and_evidence(verdicts):
    assert set(verdicts) == set(SEED_CLAIMS) and len(verdicts) == 59
    for v in verdicts.values():
        assert v.verdict in claims.VERDICTS and v.explanation and v.evidence and not v.errors, v
        assert bool(v.correction) == (v.verdict != "holds"), v


# The concrete observation behind every verdict that is not 'holds'.
NOT_HOLDS = {
    "S000-05": ("holds-with-caveat", "F.dropout(x, 0.5) with model.training=False"),
    "S000-06": ("holds-with-caveat", "x.t().view(12) raised RuntimeError"),
    "S000-07": ("wrong", "torch.range(3, 4) has 2 elements; .view(2, 6) raised"),
    "S000-08": ("holds-with-caveat", "contiguous False"),
    "S000-09": ("holds-with-caveat", "x.t().view(12) raised RuntimeError"),
    "S000-13": ("wrong", "after model.eval(): output.requires_grad = True"),
    "S001-01": ("outdated", "Variable(tensor) returns a torch.Tensor"),
    "S001-02": ("holds-with-caveat", "nn.Sequential(f, g)(x) == g(f(x)): True; no forward written"),
    "S001-03": ("holds-with-caveat", "children() yields 3 modules"),
    "S001-06": ("wrong", "step() without backward(): weight changed False"),
    "S001-07": ("holds-with-caveat", "__len__: False"),
    "S001-08": ("holds-with-caveat", "worker processes (multiprocessing): True"),
    "S001-11": ("holds-with-caveat", "at stride 1: 75/75 cases agree"),
    "S001-12": ("holds-with-caveat", "stride=2, padding='same') raised ValueError"),
    "S001-15": ("holds-with-caveat", "then zero_grad(set_to_none=False): the weight still moves: True"),
    "S002-03": ("holds-with-caveat", "after 3 backward() calls: grad = 3.0"),
    "S003-03": ("holds-with-caveat", "torch.from_numpy(a[::-1]) raised ValueError"),
    "S003-04": ("holds-with-caveat", "bfloat16_tensor.numpy() raised TypeError"),
    "S003-07": ("outdated", "has a .next() method False"),
    "S003-08": ("holds-with-caveat", "x.view(x.size(0), -1) raised RuntimeError"),
    "S003-10": ("holds-with-caveat", "gives [nan, 0.0]"),
    "S003-14": ("holds-with-caveat", "needs a CPU tensor"),
    "S003-18": ("wrong", "SGD's default lr is 0.001"),
    "S003-20": ("holds-with-caveat", "strict=False returns missing"),
    "S004-01": ("holds-with-caveat", "28×28 input: 4608 flat features"),
    "S004-02": ("wrong", "logits are never negative"),
    "S004-03": ("holds-with-caveat", "x.view(x.size(0), -1) raised RuntimeError"),
    "S004-05": ("holds-with-caveat", "after 3 backward() calls"),
}


@pytest.mark.parametrize("claim_id", sorted(NOT_HOLDS))
def test_non_holding_verdicts_rest_on_their_observation(verdicts, claim_id):
    verdict, observation = NOT_HOLDS[claim_id]
    v = verdicts[claim_id]
    assert v.verdict == verdict and any(observation in e for e in v.evidence), (v.verdict, v.evidence)


def test_every_other_claim_holds(verdicts):
    assert {i for i, v in verdicts.items() if v.verdict != "holds"} == set(NOT_HOLDS)


def _fails(fact_id, monkeypatch):
    def failed(device):
        raise FactFailed("pretend a future torch behaves otherwise")

    monkeypatch.setattr(get_fact(fact_id), "check", failed)


def test_changed_behaviour_changes_a_holds_verdict(monkeypatch):
    assert claims.evaluate_claim("S003-02").verdict == "holds"
    monkeypatch.setattr(torch, "mm", lambda a, b: torch.zeros(a.shape[0], a.shape[0]))
    assert claims.evaluate_claim("S003-02").verdict == "wrong"


def test_changed_behaviour_changes_a_caveat_verdict(monkeypatch):
    assert claims.evaluate_claim("S000-06").verdict == "holds-with-caveat"
    _fails("views.view-of-transposed-raises", monkeypatch)  # as if view() always worked
    assert claims.evaluate_claim("S000-06").verdict == "holds"


def test_changed_behaviour_changes_an_outdated_verdict(monkeypatch):
    class LegacyVariable:  # what Variable was before PyTorch 0.4: a wrapper, not a tensor
        def __init__(self, data, requires_grad=False):
            self.data = data

    assert claims.evaluate_claim("S001-01").verdict == "outdated"
    monkeypatch.setattr(torch.autograd, "Variable", LegacyVariable)
    assert claims.evaluate_claim("S001-01").verdict == "holds"


def test_changed_behaviour_changes_a_wrong_verdict(monkeypatch):
    class OldSGD(torch.optim.SGD):
        def __init__(self, params, lr=1.0, **kwargs):
            super().__init__(params, lr=lr, **kwargs)

    assert claims.evaluate_claim("S003-18").verdict == "wrong"
    monkeypatch.setattr(torch.optim, "SGD", OldSGD)
    assert claims.evaluate_claim("S003-18").verdict == "holds"


def test_a_crashing_probe_is_reported_not_hidden(monkeypatch):
    monkeypatch.setattr(torch, "mm", lambda a, b: 1 / 0)
    v = claims.evaluate_claim("S003-02")
    assert v.verdict == "wrong" and v.errors and "ZeroDivisionError" in v.errors[0]


def test_cli_claims_json_and_filters(capsys):
    assert main(["claims", "--format", "json", "--seed", "000", "--verdict", "wrong"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in report["claims"]] == ["S000-07", "S000-13"]
    assert all({"verdict", "explanation", "evidence", "correction"} <= set(c) for c in report["claims"])
    assert main(["claims", "--seed", "004"]) == 0 and "S004-02" in capsys.readouterr().out
    assert main(["claims", "--seed", "9"]) == 2 and "invalid choice: '9'" in capsys.readouterr().err
    assert main(["claims", "--verdict", "maybe"]) == 2


def test_cli_explain_claim(capsys):
    assert main(["explain", "S000-07"]) == 0
    out = capsys.readouterr().out
    assert "Verdict on torch" in out and "wrong" in out and "def _range_view_fails" in out and "Correction:" in out


def test_cli_docs_writes_the_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr("torchfacts.docs.fact_sheet", lambda: HEADER + "\n")  # the real one is tested below
    target = tmp_path / "sub" / "FACTS.md"
    assert main(["docs", "--output", str(target)]) == 0
    assert target.read_text().startswith(HEADER)
    assert main(["docs", "--output", str(target / "x")]) == 2  # a file where a folder must be


def test_committed_fact_sheet_is_current():
    committed = FACTS_MD.read_text(encoding="utf-8")
    for f in all_facts():
        assert f"### `{f.id}`" in committed, f"docs/FACTS.md lacks {f.id}: run `torchfacts docs --output docs/FACTS.md`"
    for claim_id in SEED_CLAIMS:
        assert f"### {claim_id} " in committed, f"docs/FACTS.md lacks {claim_id}"
    generated_with = f"with torch {torch.__version__} on cpu"
    if generated_with in committed:  # same torch: the page must be exactly what it would be now
        assert committed == fact_sheet(), "docs/FACTS.md is stale: run `torchfacts docs --output docs/FACTS.md`"
