"""torchfacts: what PyTorch actually does, checked by running code on your torch and device."""

__version__ = "0.1.0"
