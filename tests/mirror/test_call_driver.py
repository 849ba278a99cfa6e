"""The generic Node driver mirror tests call JS exports through: reads, calls, errors, in order."""

from __future__ import annotations

from pathlib import Path

from shared.versions import Outcome
from tests.mirror.node import node_calls


def test_reads_calls_and_reports_errors_in_order(tmp_path: Path) -> None:
    module = tmp_path / "sample.js"
    module.write_text(
        "export const LIMITS = Object.freeze({ bytes: 4096 });\n"
        "export function pair(a, b) { return [a, b]; }\n"
        "export function refuse(why) { throw new TypeError(why); }\n"
        "export function nothing() {}\n"
    )
    (tmp_path / "package.json").write_text('{"type": "module"}')
    results = node_calls(
        str(module),
        [("LIMITS", None), ("pair", [1, "é😀"]), ("refuse", ["bad"]), ("nothing", []), ("missing", [])],
    )
    assert results == [
        {"value": {"bytes": 4096}},
        {"value": [1, "é😀"]},
        {"error": {"name": "TypeError", "message": "bad"}},
        {"value": None},
        {"error": {"name": "LookupError", "message": "no export named missing"}},
    ]


def test_the_client_outcomes_are_the_cores() -> None:
    assert node_calls("versions.js", [("Outcome", None)]) == [{"value": {o.name: o.value for o in Outcome}}]
