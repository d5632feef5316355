"""Hypothesis profiles for the property suite, chosen by POLARTRACE_HYPOTHESIS_PROFILE.

``fast`` is the CI default (the whole suite well under a minute on two cores with
``-n 2``), ``balanced`` is for a change to an engine, ``expensive`` for a night run.
Every profile has ``deadline=None``: a search's first call compiles and caches, so
run times vary for reasons that are not bugs. ``print_blob=True`` prints the
``@reproduce_failure`` line with every failure.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

PROFILE_VARIABLE = "POLARTRACE_HYPOTHESIS_PROFILE"
PROFILES = {"fast": 40, "balanced": 250, "expensive": 2500}
#: ``0`` turns shrinking off: the mutation run (benchmarks/mutation.py) needs a
#: failure, not the smallest example, and shrinking takes minutes.
SHRINK_VARIABLE = "POLARTRACE_HYPOTHESIS_SHRINK"
_PHASES = tuple(
    phase
    for phase in Phase
    if phase is not Phase.shrink or os.environ.get(SHRINK_VARIABLE) != "0"
)

for _name, _examples in PROFILES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        print_blob=True,
        phases=_PHASES,
        # Lists of a dozen traces are big draws; generation time is not a bug.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

PROFILE = os.environ.get(PROFILE_VARIABLE, "fast")
if PROFILE not in PROFILES:
    msg = f"{PROFILE_VARIABLE}={PROFILE!r}; expected one of {', '.join(PROFILES)}"
    raise pytest.UsageError(msg)
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    return f"hypothesis profile: {PROFILE} ({PROFILE_VARIABLE})"
