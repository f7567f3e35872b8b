"""Hypothesis profiles: ``ci`` under CI, ``dev`` on a developer's machine.

Under CI: more examples, always the same ones (``derandomize``: a red build reruns red, with the
same falsifying example), and no deadline, since a shared CI machine's timing says nothing about
the code. Locally: fewer examples, new ones on each run, so the suite stays quick while repeated
runs still explore. ``HYPOTHESIS_PROFILE=ci`` (or ``dev``) picks one explicitly, e.g. to rerun
locally what CI ran.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

from tests.support.skips import in_ci

__all__ = ["CI_EXAMPLES", "DEV_EXAMPLES", "chosen_profile", "register_profiles"]

CI_EXAMPLES = 200
DEV_EXAMPLES = 50


def register_profiles() -> None:
    """Register the ``ci`` and ``dev`` profiles with Hypothesis."""
    # Both from Hypothesis's defaults, never from whichever profile happens to be loaded.
    base = settings.get_profile("default")
    settings.register_profile(
        "ci",
        parent=base,
        max_examples=CI_EXAMPLES,
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", parent=base, max_examples=DEV_EXAMPLES, deadline=None)


def chosen_profile(environ: Mapping[str, str] = os.environ) -> str:
    """``HYPOTHESIS_PROFILE`` if set, else ``ci`` under CI and ``dev`` elsewhere."""
    explicit = environ.get("HYPOTHESIS_PROFILE")
    if explicit:
        return explicit
    return "ci" if in_ci(environ) else "dev"
