"""The fact catalogue: claims about torch, each with a check and a negative control.

Importing this package registers every topic's facts.

>>> from torchfacts.facts import all_facts
>>> len(all_facts(["views"])) >= 15
True
"""

from torchfacts.facts import distributed, interop, modes, padding, training, views  # noqa: F401  (importing a topic registers its facts)
from torchfacts.facts.registry import (
    Fact,
    FactFailed,
    FactResult,
    all_facts,
    available_devices,
    detects,
    device_available,
    expect,
    fact,
    get_fact,
    raises,
    run_fact,
    run_facts,
    topics,
)
from torchfacts.facts.seeds import SEED_CLAIMS, SeedClaim

__all__ = [
    "Fact",
    "FactFailed",
    "FactResult",
    "SEED_CLAIMS",
    "SeedClaim",
    "all_facts",
    "available_devices",
    "detects",
    "device_available",
    "expect",
    "fact",
    "get_fact",
    "raises",
    "run_fact",
    "run_facts",
    "topics",
]
