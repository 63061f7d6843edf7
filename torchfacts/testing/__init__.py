"""Testing helpers for your own suite: hypothesis strategies and the pytest plugin.

The plugin is loaded automatically by pytest once torchfacts is installed; the
strategies live in :mod:`torchfacts.testing.strategies`, and
``assert_model_ok(model, inputs, targets)`` checks your model for mode and
freezing bugs (see :mod:`torchfacts.checks`).
"""

from torchfacts.checks import assert_model_ok, check_model
from torchfacts.testing.strategies import conv_geometries, layout_snippet, strided_tensors, view_shapes

__all__ = ["assert_model_ok", "check_model", "conv_geometries", "layout_snippet", "strided_tensors", "view_shapes"]
