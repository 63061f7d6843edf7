"""The pytest plugin that users get: torch_device and the hypothesis profiles."""

from __future__ import annotations

from importlib.metadata import entry_points

import torch
from hypothesis import settings

pytest_plugins = ["pytester"]


def test_plugin_is_registered_for_users():
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("torchfacts") == "torchfacts.testing.plugin"


def test_profiles_ci_derandomized_thorough_ten_times():
    ci, thorough = settings.get_profile("ci"), settings.get_profile("thorough")
    assert ci.derandomize and not settings.get_profile("dev").derandomize
    assert thorough.max_examples == 10 * ci.max_examples


def test_torch_device_fixture(torch_device):
    assert isinstance(torch_device, torch.device)
    torch.ones(2, device=torch_device).sum().item()


def test_a_users_suite_gets_the_fixture_and_profiles(pytester):
    pytester.makepyfile(
        """
        from hypothesis import given, settings, strategies as st
        from torchfacts.testing import strided_tensors

        def test_device(torch_device):
            assert torch_device.type in ("cpu", "cuda", "mps")

        @given(st.none())
        def test_profile(_):
            assert settings().max_examples == 4000

        @settings(max_examples=5)
        @given(strided_tensors())
        def test_layouts(t):
            assert t.numel() >= 0
        """
    )
    result = pytester.runpytest_subprocess("--hypothesis-profile", "thorough", "-p", "no:cacheprovider")
    expected_skips = sum(not available for available in (torch.cuda.is_available(), torch.backends.mps.is_available()))
    result.assert_outcomes(passed=5 - expected_skips, skipped=expected_skips)
    result.stdout.fnmatch_lines(["torchfacts counts: * layouts"])
