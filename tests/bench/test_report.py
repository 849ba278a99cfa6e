"""The bench's report reads N run in rounds (bench/run.py --rounds) from its median round."""

from __future__ import annotations

from typing import Any

from bench import report


def _phase(us: float, p99: float, converged: int) -> dict[str, Any]:
    latency = {"p50": p99 / 2, "p95": p99, "p99": p99, "max": p99, "count": 1}
    return {
        "sends": 1,
        "keystroke_latency_ms": latency,
        "delivery_latency_ms": latency,
        "deliveries_per_second": 1.0,
        "converged": converged,
        "server_cpu_percent": 1.0,
        "server_cpu_us_per_delivery": us,
        "server_waiting_for_cpu_percent": 0.0,
        "server_rss_mb": 1.0,
        "generators": [{"cpu_percent": 1.0, "loop_lag_p99_ms": 1.0}],
    }


def _run(server: str, round_: int, us: float, p99: float = 10.0, converged: int = 500) -> dict[str, Any]:
    return {
        "server": server,
        "viewers": 500,
        "round": round_,
        "connected": 500,
        "join_seconds": 1.0,
        "rss_kb_per_viewer": 30.0,
        "phases": {"ours": _phase(us, p99, converged), "tutorial": _phase(us, p99, converged)},
    }


def _results(*runs: dict[str, Any]) -> dict[str, Any]:
    machine = {"cpus": 2, "python": "3", "platform": "p", "loadavg_at_start": [0.1], "time": "t"}
    return {"machine": machine, "settings": {"duration": 15, "rounds": {"500": 3}}, "fan_out": list(runs)}


def _row(results: dict[str, Any], start: str) -> dict[str, Any]:
    return next(row for row in report.targets(results) if row["target"].startswith(start))


def test_the_cpu_target_reads_the_median_round() -> None:
    # ratios by round: 0.7, 0.9, 0.78: the median is round 2's, 0.78
    results = _results(
        _run("ours", 0, 7.0), _run("peer", 0, 10.0),
        _run("peer", 1, 10.0), _run("ours", 1, 9.0),
        _run("ours", 2, 7.8, p99=12.0), _run("peer", 2, 10.0, p99=11.0),
    )  # fmt: skip
    cpu = _row(results, "500 viewers: server CPU")
    assert cpu["value"].startswith("0.78x (7.8 / 10.0 us), the median round of 3 (0.7, 0.9, 0.78)")
    assert cpu["met"]
    p99 = _row(results, "500 viewers: send-to-viewer p99")  # from the same round
    assert p99["value"] == "12.0 ms (peer 11.0 ms)" and not p99["met"]
    assert "| 500 | 3 of 3 (median) | ours | 7.8 | 10.0 | 0.78 |" in report.markdown(results)


def test_of_two_middle_rounds_the_higher_ratio() -> None:
    results = _results(_run("ours", 0, 7.0), _run("peer", 0, 10.0), _run("peer", 1, 10.0), _run("ours", 1, 9.0))
    cpu = _row(results, "500 viewers: server CPU")
    assert cpu["value"].startswith("0.9x") and not cpu["met"]


def test_every_round_must_converge() -> None:
    results = _results(
        _run("ours", 0, 7.0), _run("peer", 0, 10.0),
        _run("peer", 1, 10.0), _run("ours", 1, 9.0, converged=499),
    )  # fmt: skip
    row = _row(results, "500 viewers, ours pacing: every viewer converged")
    assert row["value"] == "499/500 (the least of 2 rounds)" and not row["met"]


def test_a_run_without_rounds_reads_as_one_round() -> None:
    results = _results(_run("ours", 0, 8.2), _run("peer", 0, 10.0))
    for run in results["fan_out"]:
        del run["round"]
    cpu = _row(results, "500 viewers: server CPU")
    assert cpu["value"] == "0.82x (8.2 / 10.0 us)" and not cpu["met"]
