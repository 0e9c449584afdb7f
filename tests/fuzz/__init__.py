"""Fuzz tests of haitiwatch's boundaries (docs/testing.md): what outside input can reach.

Every test here takes its Hypothesis settings from ``fuzzed``: the short campaign (CI, the
default) or, with ``HAITIWATCH_FUZZ=long``, the long one. The long campaign keeps what it
finds in ``.hypothesis/`` at the repository root, so the next short run replays it first.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN_ENV = "HAITIWATCH_FUZZ"
#: How many examples each test of the long campaign tries (override for a longer run).
LONG_EXAMPLES_ENV = "HAITIWATCH_FUZZ_EXAMPLES"

_SLOW_INPUT_IS_THE_POINT = [HealthCheck.too_slow, HealthCheck.data_too_large]
_DATABASE = DirectoryBasedExampleDatabase(REPO / ".hypothesis" / "examples")

settings.register_profile(
    "fuzz-short",
    max_examples=50,
    deadline=None,
    database=_DATABASE,
    suppress_health_check=_SLOW_INPUT_IS_THE_POINT,
)
settings.register_profile(
    "fuzz-long",
    max_examples=int(os.environ.get(LONG_EXAMPLES_ENV, "2500")),
    deadline=None,
    database=_DATABASE,
    suppress_health_check=_SLOW_INPUT_IS_THE_POINT,
)


def _campaign() -> str:
    campaign = os.environ.get(CAMPAIGN_ENV, "short") or "short"
    if campaign not in ("short", "long"):
        raise RuntimeError(f"{CAMPAIGN_ENV}={campaign!r}: expected short or long")
    return campaign


def long_campaign() -> bool:
    return _campaign() == "long"


#: The settings of every fuzz test (a decorator: ``@fuzzed``).
fuzzed = settings(settings.get_profile(f"fuzz-{_campaign()}"))
