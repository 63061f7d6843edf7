"""The torchfacts pytest plugin (registered through the ``pytest11`` entry point).

It gives any test suite, yours included once torchfacts is installed:

* a ``torch_device`` fixture: each test runs on cpu, cuda and mps, and the
  devices this machine lacks are reported as skipped, never silently dropped;
* hypothesis profiles ``ci`` (derandomized), ``dev`` and ``thorough`` (10× the
  examples of ``ci``), chosen with ``pytest --hypothesis-profile NAME``;
* a closing line with the counts in :data:`torchfacts.testing.strategies.GENERATED`
  (layouts and geometries generated, and whatever else tests count there).

>>> sorted(p for p in PROFILES)
['ci', 'dev', 'thorough']
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, settings

from torchfacts.facts.registry import KNOWN_DEVICES, device_available
from torchfacts.testing.strategies import GENERATED

CI_EXAMPLES = 400
_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
PROFILES = {
    "ci": dict(max_examples=CI_EXAMPLES, derandomize=True, **_COMMON),
    "dev": dict(max_examples=CI_EXAMPLES // 4, derandomize=False, **_COMMON),  # random even when CI is set
    "thorough": dict(max_examples=CI_EXAMPLES * 10, **_COMMON),
}
for _name, _options in PROFILES.items():
    settings.register_profile(_name, **_options)


@pytest.fixture(
    params=[
        pytest.param(d, marks=pytest.mark.skipif(not device_available(d), reason=f"{d} is not available here"))
        for d in KNOWN_DEVICES
    ]
)
def torch_device(request) -> torch.device:
    """A ``torch.device``: the test runs once per device, skipped where unavailable."""
    return torch.device(request.param)


def pytest_sessionfinish(session) -> None:
    """Under pytest-xdist, each worker hands its counts to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["torchfacts_generated"] = dict(GENERATED)


def pytest_configure(config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistCounts(), "torchfacts-xdist-counts")


class _XdistCounts:
    def pytest_testnodedown(self, node, error) -> None:
        GENERATED.update(getattr(node, "workeroutput", {}).get("torchfacts_generated", {}))


def pytest_terminal_summary(terminalreporter) -> None:
    if GENERATED:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(GENERATED.items()))
        terminalreporter.write_line(f"torchfacts counts: {counts}")
