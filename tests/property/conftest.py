"""Hypothesis profiles for the property tests; pick one with HYPOTHESIS_PROFILE.

- codestream (default here): fast enough for every `make test`.
- ci: the same size, derandomized and without the example database, so a CI run is
  reproducible; chosen by default when CI is set.
- fuzz: many more examples, for a long local run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}

settings.register_profile("codestream", max_examples=200, **_COMMON)
settings.register_profile("ci", max_examples=200, derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("fuzz", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "codestream"))
