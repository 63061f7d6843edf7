"""Project-wide pytest set-up: the ``ci`` hypothesis profile unless another is chosen.

``pytest --hypothesis-profile thorough`` (or ``dev``) overrides this, because
hypothesis applies the command-line profile after this file is imported. The
profiles themselves come from the torchfacts pytest plugin.
"""

import os

import torch
from hypothesis import settings

import torchfacts.testing.plugin  # noqa: F401  (registers the profiles even before the plugin loads)

settings.load_profile("ci")

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # one worker per core: more threads per worker would fight over the cores
