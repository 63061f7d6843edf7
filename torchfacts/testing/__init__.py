"""Testing helpers for your own suite: hypothesis strategies and the pytest plugin.

The plugin is loaded automatically by pytest once torchfacts is installed; the
strategies live in :mod:`torchfacts.testing.strategies`.
"""

from torchfacts.testing.strategies import layout_snippet, strided_tensors, view_shapes

__all__ = ["layout_snippet", "strided_tensors", "view_shapes"]
