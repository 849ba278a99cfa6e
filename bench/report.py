"""Write a run's results: results.json, results.md (tables + targets) and latency.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET_P99_MS = 25.0  # at 500 viewers
TARGET_LATE_JOIN_MS = 100.0  # 1 MB text, writer offline
TARGET_KB_PER_VIEWER = 64.0  # idle viewer connection


def summary_line(outcome: dict[str, Any]) -> str:
    parts = [
        f"  N={outcome['viewers']}: joined {outcome['connected']} in {outcome['join_seconds']} s,"
        f" {outcome['rss_kb_per_viewer']} KB/viewer"
    ]
    for policy, phase in outcome["phases"].items():
        k, d = phase["keystroke_latency_ms"], phase["delivery_latency_ms"]
        gens = ", ".join(f"{g['cpu_percent']}%" for g in phase["generators"])
        parts.append(
            f"  {policy:8} keystroke p50/p99 {k['p50']}/{k['p99']} ms, delivery p99 {d['p99']} ms,"
            f" {phase['deliveries_per_second']} deliveries/s, converged {phase['converged']},"
            f" server CPU {phase['server_cpu_percent']}% ({phase['server_cpu_us_per_delivery']} us/delivery,"
            f" waited for a CPU {phase['server_waiting_for_cpu_percent']}%),"
            f" generators {gens}"
        )
    return "\n".join(parts)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    by_n = {o["viewers"]: o for o in results["fan_out"]}
    if 500 in by_n:
        ours = by_n[500]["phases"]["ours"]
        rows.append(
            _row(
                "p99 keystroke-to-viewer, 500 viewers, our pacing",
                ours["keystroke_latency_ms"]["p99"],
                TARGET_P99_MS,
                "ms",
            )
        )
        rows.append(
            _row(
                "p99 send-to-viewer (server + network), 500 viewers",
                ours["delivery_latency_ms"]["p99"],
                TARGET_P99_MS,
                "ms",
            )
        )
    if 1000 in by_n:
        o = by_n[1000]
        converged = min(p["converged"] for p in o["phases"].values())
        met = converged == o["viewers"] == o["connected"]
        name = "1,000 viewers sustained, every viewer converged"
        rows.append({"target": name, "value": f"{converged}/{o['viewers']}", "limit": "1000/1000", "met": met})
    late = results.get("late_join")
    if late:
        rows.append(_row("1 MB late join (max of runs)", late["ms"]["max"], TARGET_LATE_JOIN_MS, "ms"))
    if by_n:
        largest = by_n[max(by_n)]
        rows.append(
            _row(
                f"server memory per idle viewer ({largest['viewers']} viewers)",
                largest["rss_kb_per_viewer"],
                TARGET_KB_PER_VIEWER,
                "KB",
            )
        )
    return rows


def _row(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    return {
        "target": name,
        "value": f"{value} {unit}",
        "limit": f"<= {limit:g} {unit}",
        "met": value is not None and value <= limit,
    }


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# codestream benchmark",
        "",
        f"Run {m['time']} on {m['cpus']} CPUs, Python {m['python']} ({m['platform']}); load average"
        f" {m['loadavg_at_start']} at start, {m.get('loadavg_at_end')} at end. The server, the writer and"
        " the viewer processes share these CPUs"
        + (
            f", and ran at nice {results['settings'].get('nice')} to be disturbed less by other work on the machine."
            if results["settings"].get("nice")
            else "."
        ),
        *_busy_note(m),
        "",
        f"Writer: {results['settings']['duration']:g} s of typing per phase at 20 keys/s (bursts, pauses, pastes).",
        "Latency: keystroke = from the key press to the viewer having applied it (includes pacing);"
        " send = from the writer's send to the viewer having applied it (server + network).",
        "",
        "## Fan-out",
        "",
        "| N | pacing | sends | keystroke p50 | p95 | p99 | max | send p50 | send p99 | deliveries/s"
        " | converged | server CPU | server µs/delivery | server waited for a CPU | server RSS | KB/viewer"
        " | generator CPU | generator lag p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in results["fan_out"]:
        for policy, p in o["phases"].items():
            k, d = p["keystroke_latency_ms"], p["delivery_latency_ms"]
            gens = " / ".join(f"{g['cpu_percent']}%" for g in p["generators"])
            lag = max((g["loop_lag_p99_ms"] or 0) for g in p["generators"])
            lines.append(
                f"| {o['viewers']} | {policy} | {p['sends']} | {k['p50']} | {k['p95']} | {k['p99']} | {k['max']}"
                f" | {d['p50']} | {d['p99']} | {p['deliveries_per_second']:,.0f} | {p['converged']}/{o['viewers']}"
                f" | {p['server_cpu_percent']}% | {p.get('server_cpu_us_per_delivery')}"
                f" | {p.get('server_waiting_for_cpu_percent')}% | {p['server_rss_mb']} MB | {o['rss_kb_per_viewer']}"
                f" | {gens} | {lag} |"
            )
    lines += [
        "",
        "Latencies in ms. Joining: "
        + ", ".join(f"{o['viewers']} viewers in {o['join_seconds']} s" for o in results["fan_out"])
        + ".",
    ]
    late = results.get("late_join")
    if late:
        ms = late["ms"]
        lines += [
            "",
            "## Late join",
            "",
            f"A {late['document_bytes']:,}-byte text, writer offline; {late['joins']} viewers join one after another"
            " (connect, Socket.IO handshake, joinRoom, full text received and parsed):",
            f"p50 {ms['p50']} ms, p95 {ms['p95']} ms, max {ms['max']} ms.",
        ]
    lines += ["", "## Targets", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for row in targets(results):
        lines.append(f"| {row['target']} | {row['value']} | {row['limit']} | {'yes' if row['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _busy_note(m: dict[str, Any]) -> list[str]:
    load = m["loadavg_at_start"][0]
    if load <= (m["cpus"] or 1):
        return []
    return [
        "",
        f"**The machine was busy with other work during this run** (load average {load} on {m['cpus']} CPUs):"
        " the server often waited for a CPU (column below) and every process's event loop woke late"
        " (generator lag), so the latencies are upper bounds. CPU per delivery, memory, convergence"
        " and the late-join time are the figures least affected.",
    ]


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"ours": "-", "tutorial": "--"}
    colors = {"p50": "tab:blue", "p95": "tab:orange", "p99": "tab:red"}
    ns = [o["viewers"] for o in results["fan_out"]]
    for policy, style in styles.items():
        for q, color in colors.items():
            ys = [o["phases"][policy]["keystroke_latency_ms"][q] for o in results["fan_out"]]
            ax.plot(ns, ys, style, color=color, marker="o", label=f"{policy} {q}")
    ax.axhline(TARGET_P99_MS, color="grey", linewidth=0.8, linestyle=":", label="25 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")  # from milliseconds when idle to seconds when the server falls behind
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("viewers (N)")
    ax.set_ylabel("keystroke-to-viewer latency (ms)")
    ax.set_title("codestream selfhost: latency against viewers (ours: 50 ms window; tutorial: 200 ms flush)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results = results | {"targets": targets(results)}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))
    plot(results, out / "latency.png")


if __name__ == "__main__":  # re-render results.md and latency.png from a results.json
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json")
    write({k: v for k, v in json.loads(source.read_text()).items() if k != "targets"}, source.parent)
