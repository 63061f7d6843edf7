"""What a fact is, where facts are kept, and how they are run.

A :class:`Fact` is a one-sentence claim about torch plus two functions of a
``torch.device``:

* ``check(device)`` runs code that shows the claim holds and returns the
  *evidence* — a short string of what was observed — or raises
  :class:`FactFailed` saying what was observed instead;
* ``control(device)`` is the negative control: it runs the same detector on a
  near-miss case where the claim must *not* hold and returns what the detector
  noticed. A control that notices nothing proves the check could never fail.

>>> @fact("demo.addition", topic="demo", claim="1 + 1 is 2 on every device.", register=False)
... def addition(device):
...     two = torch.ones((), device=device) + 1
...     return expect(two.item() == 2, f"1 + 1 gave {two.item()}")
>>> @addition.control
... def _(device):
...     three = torch.ones((), device=device) + 2
...     return detects(lambda: expect(three.item() == 2, f"1 + 2 gave {three.item()}"))
>>> result = run_fact(addition, "cpu")
>>> result.status, result.evidence, result.control
('pass', '1 + 1 gave 2.0', 'detected')
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

__all__ = [
    "Fact",
    "FactFailed",
    "FactResult",
    "expect",
    "detects",
    "raises",
    "fact",
    "all_facts",
    "get_fact",
    "topics",
    "run_fact",
    "run_facts",
    "KNOWN_DEVICES",
    "device_available",
    "available_devices",
]

KNOWN_DEVICES = ("cpu", "cuda", "mps")

Probe = Callable[[torch.device], str]


class FactFailed(AssertionError):
    """The code ran, and what it observed contradicts the claim."""


def expect(condition: object, observation: str) -> str:
    """Return ``observation`` if ``condition`` holds, else raise :class:`FactFailed` with it."""
    if not condition:
        raise FactFailed(observation)
    return observation


def raises(error: type[BaseException], make: Callable[[], object], expr: str) -> str:
    """Detector: ``make()`` must raise ``error``. Returns what it said, else raises :class:`FactFailed`.

    >>> raises(ZeroDivisionError, lambda: 1 / 0, "1 / 0")
    '1 / 0 raised ZeroDivisionError: division by zero'
    """
    try:
        result = make()
    except error as refused:
        return f"{expr} raised {error.__name__}: {refused}"
    raise FactFailed(f"{expr} succeeded, giving {type(result).__name__}")


def detects(detector: Callable[[], object]) -> str:
    """Run a detector on a near-miss case; it must *fail*. Returns what it reported.

    >>> detects(lambda: expect(False, "2 + 2 is not 5"))
    'detected: 2 + 2 is not 5'
    >>> detects(lambda: expect(True, "looks fine"))
    Traceback (most recent call last):
    ...
    torchfacts.facts.registry.FactFailed: negative control not detected: the detector accepted the near-miss (looks fine)
    """
    try:
        accepted = detector()
    except FactFailed as noticed:
        return f"detected: {noticed}"
    raise FactFailed(f"negative control not detected: the detector accepted the near-miss ({accepted})")


@dataclass
class Fact:
    id: str
    topic: str
    claim: str
    check: Probe
    seeds: tuple[str, ...] = ()
    devices: tuple[str, ...] = KNOWN_DEVICES  # where the claim applies
    negative_control: Probe | None = field(default=None, repr=False)

    def control(self, probe: Probe) -> Fact:
        """Decorator: attach the negative control."""
        self.negative_control = probe
        return self


_REGISTRY: dict[str, Fact] = {}


def fact(
    id: str,
    *,
    claim: str,
    topic: str | None = None,
    seeds: tuple[str, ...] = (),
    devices: tuple[str, ...] = KNOWN_DEVICES,
    register: bool = True,
) -> Callable[[Probe], Fact]:
    """Decorator turning a check function into a registered :class:`Fact`.

    The topic defaults to the id's first part (``views.x`` → ``views``).
    """

    def wrap(check: Probe) -> Fact:
        new = Fact(id=id, topic=topic or id.split(".")[0], claim=claim, check=check, seeds=seeds, devices=devices)
        if register:
            if id in _REGISTRY:
                raise ValueError(f"fact id {id!r} is registered twice")
            _REGISTRY[id] = new
        return new

    return wrap


def all_facts(topics: list[str] | tuple[str, ...] | None = None) -> list[Fact]:
    """Every registered fact (optionally of some topics), sorted by id."""
    import torchfacts.facts  # noqa: F401  (importing the package registers every topic)

    return [f for _, f in sorted(_REGISTRY.items()) if topics is None or f.topic in topics]


def get_fact(fact_id: str) -> Fact:
    facts = {f.id: f for f in all_facts()}
    if fact_id not in facts:
        raise ValueError(f"unknown fact id {fact_id!r}; `torchfacts list` shows the ids")
    return facts[fact_id]


def topics() -> list[str]:
    return sorted({f.topic for f in all_facts()})


def device_available(device: str) -> bool:
    """Whether torch can use ``device`` ('cpu', 'cuda' or 'mps') here."""
    if device == "cpu":
        return True
    if device == "cuda":
        return torch.cuda.is_available()
    if device == "mps":
        return torch.backends.mps.is_available()
    raise ValueError(f"device must be one of {', '.join(KNOWN_DEVICES)}, got {device!r}")


def available_devices() -> list[str]:
    return [d for d in KNOWN_DEVICES if device_available(d)]


@dataclass
class FactResult:
    fact_id: str
    topic: str
    device: str
    status: str  # pass | fail | error | skipped
    evidence: str
    control: str | None = None  # detected | missed | error; None when skipped
    control_evidence: str = ""
    duration_s: float = 0.0


def _probe(probe: Probe, device: torch.device) -> tuple[str, str]:
    """Run a check or control: ('ok' | 'failed' | 'error', what it said)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # facts that are about warnings record them themselves
            return "ok", probe(device)
    except FactFailed as failed:
        return "failed", str(failed)
    except Exception as crash:  # one broken fact must never stop the report
        return "error", f"{type(crash).__name__}: {crash}"


def run_fact(f: Fact, device: str) -> FactResult:
    """Run ``f``'s check and negative control on ``device``; never raises."""
    if not device_available(device):
        return FactResult(f.id, f.topic, device, "skipped", f"{device} is not available on this machine")
    if device not in f.devices:
        return FactResult(f.id, f.topic, device, "skipped", f"applies to {', '.join(f.devices)} only")
    if f.negative_control is None:
        return FactResult(f.id, f.topic, device, "error", "fact has no negative control")
    start = time.perf_counter()
    outcome, evidence = _probe(f.check, torch.device(device))
    control_outcome, control_evidence = _probe(f.negative_control, torch.device(device))
    duration = time.perf_counter() - start
    control = {"ok": "detected", "failed": "missed", "error": "error"}[control_outcome]
    if outcome == "error" or control == "error":
        status = "error"
    elif outcome == "failed" or control == "missed":
        # A missed control means the check cannot tell true from false: no pass.
        status = "fail"
    else:
        status = "pass"
    return FactResult(f.id, f.topic, device, status, evidence, control, control_evidence, duration)


def run_facts(facts: list[Fact], devices: list[str]) -> list[FactResult]:
    return [run_fact(f, d) for d in devices for f in facts]
