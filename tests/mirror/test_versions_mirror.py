"""The browser's VersionTracker (static_site/src/versions.js) behaves exactly like the core's
(shared/versions.py) on the same messages: duplicates, gaps, stale fulls, both numberings."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.versions import VersionTracker

DRIVER = Path(__file__).with_name("versions_driver.mjs")


HINTS = [None, None, "native", "tutorial"]  # what a full may say of its numbering
REFUSED = 3  # the apply callback refuses delta 3 in some sequences, as a text that does not fit


def sequence(rng: random.Random) -> list[tuple[str, int, float, str | None]]:
    """A writer's messages as a flaky network might deliver them: shuffled, repeated, with fulls."""
    tutorial = rng.random() < 0.4
    count = rng.randint(0, 12)
    deltas = list(range(0, count) if tutorial else range(1, count + 1))
    ops: list[tuple[str, int]] = [("delta", d) for d in deltas]
    for _ in range(rng.randint(0, 3)):  # repeats
        if deltas:
            ops.append(("delta", rng.choice(deltas)))
    for _ in range(rng.randint(0, 3)):  # fulls, some of them stale
        ops.insert(rng.randint(0, len(ops)), ("full", rng.randint(0, count + 1)))
    if rng.random() < 0.7:  # mostly near in order, sometimes badly shuffled
        for _ in range(rng.randint(0, 3)):
            i, j = rng.randrange(len(ops) or 1), rng.randrange(len(ops) or 1)
            if ops:
                ops[i], ops[j] = ops[j], ops[i]
    else:
        rng.shuffle(ops)
    return [(kind, number, float(t), rng.choice(HINTS)) for t, (kind, number) in enumerate(ops)]


def run_python(ops: list[tuple[str, int, float, str | None]], refuse: bool) -> dict[str, Any]:
    tracker: VersionTracker[str] = VersionTracker()
    applied: list[str] = []

    def apply(delta: str) -> None:
        if refuse and delta == f"d{REFUSED}":
            raise ValueError(delta)
        applied.append(delta)

    outcomes = []
    for kind, number, now, hint in ops:
        try:
            if kind == "full":
                outcomes.append(tracker.on_full(number, apply, hint).value)  # type: ignore[arg-type]
            else:
                outcomes.append(tracker.on_delta(number, f"d{number}", apply, now).value)
        except ValueError:
            tracker.reset()  # as the room and the browser viewer do with a delta that does not fit
            outcomes.append("refused")
    return {
        "outcomes": outcomes,
        "applied": applied,
        "version": tracker.version,
        "numbering": tracker.numbering,
        "held": sorted(tracker.held),
        "gap_since": tracker.gap_since,
    }


def test_the_client_tracker_mirrors_the_core() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("no `node` on PATH: Node.js builds and checks the web client (README.md)", pytrace=False)
    rng = random.Random(20240611)
    cases = [{"ops": sequence(rng), "refuse": rng.random() < 0.2} for _ in range(2000)]
    result = subprocess.run(
        [node, str(DRIVER)], input=json.dumps(cases), capture_output=True, text=True, timeout=60, check=True
    )
    expected = [run_python(case["ops"], case["refuse"]) for case in cases]
    for case, got, want in zip(cases, json.loads(result.stdout), expected, strict=True):
        assert got == want, case
    # The cases are not all easy: some hold deltas back, some fulls settle the numbering, some refuse.
    assert any(e["outcomes"].count("held") > 1 for e in expected)
    assert any("refused" in e["outcomes"] for e in expected)
