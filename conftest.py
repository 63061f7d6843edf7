"""Project-wide pytest set-up: the ``ci`` hypothesis profile unless another is chosen.

``pytest --hypothesis-profile thorough`` (or ``dev``) overrides this, because
hypothesis applies the command-line profile after this file is imported. The
profiles themselves come from the torchfacts pytest plugin.
"""

from hypothesis import settings

import torchfacts.testing.plugin  # noqa: F401  (registers the profiles even before the plugin loads)

settings.load_profile("ci")
