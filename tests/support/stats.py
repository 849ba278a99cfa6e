"""Counts every fuzz and fault test adds to, printed at the end of the run (tests/conftest.py)."""

from __future__ import annotations

from collections import Counter

STATS: Counter[str] = Counter()
