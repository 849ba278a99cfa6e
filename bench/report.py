"""Write a run's results: results.json, results.md (tables + targets) and latency.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET_CPU_RATIO = 0.8  # server CPU per delivery against the peer's, 500 viewers
TARGET_P99_MS_1000 = 50.0  # send-to-viewer p99 at 1,000 viewers
TARGET_CAUGHT_UP_S = 2.0  # "sustained": every viewer holds the last version this soon after typing stops
TARGET_LATE_JOIN_MS = 100.0  # 1 MB text, writer offline
TARGET_KB_PER_VIEWER = 44.0  # idle viewer connection


def _runs(results: dict[str, Any], kind: str) -> dict[int, dict[int, dict[str, Any]]]:
    """{N: {round: outcome}} of one server (runs from before rounds are round 0)."""
    runs: dict[int, dict[int, dict[str, Any]]] = {}
    for o in results["fan_out"]:
        if o.get("server", "ours") == kind:
            runs.setdefault(o["viewers"], {})[o.get("round", 0)] = o
    return runs


def median_round(ours: dict[int, dict[str, Any]], peer: dict[int, dict[str, Any]]) -> int:
    """The round whose CPU ratio (our pacing) is the median; of two middle ones, the higher ratio."""
    both = sorted(set(ours) & set(peer))
    if not both:
        return min(ours or peer)
    ratios = sorted((_cpu_ratio(ours[r], peer[r]) or float("inf"), r) for r in both)
    return ratios[len(ratios) // 2][1]


def _cpu_ratio(o: dict[str, Any], p: dict[str, Any]) -> float | None:
    a, b = o["phases"]["ours"], p["phases"]["ours"]
    return _ratio(a["server_cpu_us_per_delivery"], b["server_cpu_us_per_delivery"])


def _median_runs(results: dict[str, Any]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Ours and the peer at each N, both from the median round: what the targets and tables read."""
    ours, peer = _runs(results, "ours"), _runs(results, "peer")
    picked: tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]] = ({}, {})
    for n in set(ours) | set(peer):
        r = median_round(ours.get(n, {}), peer.get(n, {}))
        for side, runs in zip(picked, (ours, peer), strict=True):
            if r in runs.get(n, {}):
                side[n] = runs[n][r]
    return picked


def _ours(results: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return _median_runs(results)[0]


def _peer(results: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return _median_runs(results)[1]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def summary_line(outcome: dict[str, Any]) -> str:
    parts = [
        f"  {outcome.get('server', 'ours')} N={outcome['viewers']}: joined {outcome['connected']}"
        f" in {outcome['join_seconds']} s,"
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
    ours, peer = _ours(results), _peer(results)
    if 500 in ours and 500 in peer:
        o, p = ours[500]["phases"]["ours"], peer[500]["phases"]["ours"]
        ratio = _ratio(o["server_cpu_us_per_delivery"], p["server_cpu_us_per_delivery"])
        rows.append(
            {
                "target": "500 viewers: server CPU per delivery against the peer's",
                "value": f"{ratio}x ({o['server_cpu_us_per_delivery']} / {p['server_cpu_us_per_delivery']} us)"
                + _of_rounds(results, 500),
                "limit": f"<= {TARGET_CPU_RATIO}x",
                "met": ratio is not None and ratio <= TARGET_CPU_RATIO,
            }
        )
        mine, theirs = o["delivery_latency_ms"]["p99"], p["delivery_latency_ms"]["p99"]
        rows.append(
            {
                "target": "500 viewers: send-to-viewer p99 against the peer's",
                "value": f"{mine} ms (peer {theirs} ms)",
                "limit": "<= peer's p99",
                "met": mine is not None and theirs is not None and mine <= theirs,
            }
        )
    every_round = _runs(results, "ours")
    for n in (500, 1000, 2000):
        if n in every_round:
            rows.append(_converged(list(every_round[n].values()), "ours"))
    if 1000 in ours:
        rows.append(
            _row(
                "1,000 viewers: send-to-viewer p99, our pacing",
                ours[1000]["phases"]["ours"]["delivery_latency_ms"]["p99"],
                TARGET_P99_MS_1000,
                "ms",
            )
        )
    if 2000 in ours:
        rows.append(
            _row(
                "2,000 viewers, our pacing sustained: last version everywhere after typing stopped",
                ours[2000]["phases"]["ours"]["caught_up_seconds"],
                TARGET_CAUGHT_UP_S,
                "s",
            )
        )
    late = results.get("late_join")
    if late:
        rows.append(_row("1 MB late join (max of runs)", late["ms"]["max"], TARGET_LATE_JOIN_MS, "ms"))
    if ours:
        largest = ours[max(ours)]
        rows.append(
            _row(
                f"server memory per idle viewer ({largest['viewers']} viewers)",
                largest["rss_kb_per_viewer"],
                TARGET_KB_PER_VIEWER,
                "KB",
            )
        )
    return rows + history_targets(results.get("history"))


def history_targets(history: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Issue 13's: the text at any version from the server, what recording costs, disk per hour."""
    if not history:
        return []
    text, cost, hour = history["server_text_at"], history["cpu_overhead"], history["typing_hour"]
    per_delivery = cost["server_cpu_us_per_delivery"]
    return [
        _row(
            f"text at any version of a {text['versions']:,}-version, {text['text_bytes'] / 1e6:.1f} MB stream, "
            f"from the server: p99 (the latest text: {text['latest_peer']['p99_ms']} ms)",
            text["any_version"]["p99_ms"],
            text["target_p99_ms"],
            "ms",
        ),
        _row(
            f"{cost['viewers']} viewers: CPU the history adds"
            f" (µs/delivery with {per_delivery['ours']}, without {per_delivery['nohistory']})",
            cost["history_adds_percent"],
            cost["target_percent"],
            "%",
        ),
        _row("one hour of typing at 20 keys/s on disk", hour["mb_on_disk"], hour["target_mb"], "MB"),
    ]


def _of_rounds(results: dict[str, Any], n: int) -> str:
    """`, the median round of R (a, b, c)`, the ratios of every round, when N ran in rounds."""
    ours, peer = _runs(results, "ours").get(n, {}), _runs(results, "peer").get(n, {})
    both = sorted(set(ours) & set(peer))
    if len(both) < 2:
        return ""
    ratios = ", ".join(f"{_cpu_ratio(ours[r], peer[r])}" for r in both)
    return f", the median round of {len(both)} ({ratios})"


def _converged(runs: list[dict[str, Any]], policy: str) -> dict[str, Any]:
    """Every viewer converged, in every round at this N."""
    n = runs[0]["viewers"]
    worst = min(runs, key=lambda o: o["phases"][policy]["converged"])
    converged = worst["phases"][policy]["converged"]
    return {
        "target": f"{n:,} viewers, {policy} pacing: every viewer converged",
        "value": f"{converged}/{n}" + (f" (the least of {len(runs)} rounds)" if len(runs) > 1 else ""),
        "limit": f"{n}/{n}",
        "met": all(o["phases"][policy]["converged"] == n == o["connected"] for o in runs),
    }


def comparison(results: dict[str, Any]) -> list[str]:
    """Ours beside the peer, phase by phase: the ratios the targets are about."""
    ours, peer = _runs(results, "ours"), _runs(results, "peer")
    lines = [
        "| N | round | pacing | CPU µs/delivery ours | peer | ratio | send p50 ours | peer | send p99 ours | peer"
        " | p99 ratio | converged ours | peer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(set(ours) & set(peer)):
        rounds = sorted(set(ours[n]) & set(peer[n]))
        for r in rounds:
            label = "1" if len(rounds) == 1 else f"{r + 1} of {len(rounds)}"
            label += " (median)" if len(rounds) > 1 and r == median_round(ours[n], peer[n]) else ""
            for policy, o in ours[n][r]["phases"].items():
                p = peer[n][r]["phases"].get(policy)
                if p is not None:
                    lines.append(_comparison_row(n, label, policy, o, p))
    return lines


def _comparison_row(n: int, label: str, policy: str, o: dict[str, Any], p: dict[str, Any]) -> str:
    od, pd = o["delivery_latency_ms"], p["delivery_latency_ms"]
    return (
        f"| {n} | {label} | {policy} | {o['server_cpu_us_per_delivery']} | {p['server_cpu_us_per_delivery']}"
        f" | {_ratio(o['server_cpu_us_per_delivery'], p['server_cpu_us_per_delivery'])}"
        f" | {od['p50']} | {pd['p50']} | {od['p99']} | {pd['p99']} | {_ratio(od['p99'], pd['p99'])}"
        f" | {o['converged']}/{n} | {p['converged']}/{n} |"
    )


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
        *_viewers_note(results["settings"]),
        f"Writer: {results['settings']['duration']:g} s of typing per phase at 20 keys/s (bursts, pauses, pastes).",
        "Latency: keystroke = from the key press to the viewer having applied it (includes pacing);"
        " send = from the writer's send to the viewer having applied it (server + network).",
        "",
        "## Ours beside the peer",
        "",
        "The peer is a minimal socket.io 4 relay on Node (bench/peer/relay.js, socket.io's defaults:"
        " permessage-deflate declined, one pre-encoded frame per broadcast). Each N runs on our server,"
        " then on the peer, with the same viewers' load; the viewers offer permessage-deflate as browsers do."
        " Where an N runs in rounds (`--rounds`), every other round starts with the peer, so that the"
        " machine's drift weighs on both alike, and the targets and the other tables read the median round"
        " by CPU ratio (of two middle rounds, the higher). Ratios are ours / peer.",
        "",
        *comparison(results),
        "",
        "## Fan-out",
        "",
        "| server | N | pacing | sends | keystroke p50 | p95 | p99 | max | send p50 | send p99 | deliveries/s"
        " | converged | server CPU | server µs/delivery | server waited for a CPU | server RSS | KB/viewer"
        " | generator CPU | generator lag p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    in_rounds = {n for n, runs in _runs(results, "ours").items() if len(runs) > 1}
    for o in results["fan_out"]:
        for policy, p in o["phases"].items():
            k, d = p["keystroke_latency_ms"], p["delivery_latency_ms"]
            gens = " / ".join(f"{g['cpu_percent']}%" for g in p["generators"])
            lag = max((g["loop_lag_p99_ms"] or 0) for g in p["generators"])
            server = o.get("server", "ours") + (f" #{o['round'] + 1}" if o["viewers"] in in_rounds else "")
            lines.append(
                f"| {server} | {o['viewers']} | {policy} | {p['sends']}"
                f" | {k['p50']} | {k['p95']} | {k['p99']} | {k['max']}"
                f" | {d['p50']} | {d['p99']} | {p['deliveries_per_second']:,.0f} | {p['converged']}/{o['viewers']}"
                f" | {p['server_cpu_percent']}% | {p.get('server_cpu_us_per_delivery')}"
                f" | {p.get('server_waiting_for_cpu_percent')}% | {p['server_rss_mb']} MB | {o['rss_kb_per_viewer']}"
                f" | {gens} | {lag} |"
            )
    lines += [
        "",
        "Latencies in ms. Joining: "
        + ", ".join(
            f"{o['viewers']} viewers of {o.get('server', 'ours')} in {o['join_seconds']} s" for o in results["fan_out"]
        )
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


def before_after(results: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """This run beside a run of the same bench on the server before issue 12 (bench/results/before)."""
    now, then = _ours(results), _ours(before)
    now_peer, then_peer = _peer(results), _peer(before)
    m = before["machine"]
    lines = [
        "## Before and after",
        "",
        f"Before: the same bench (peer, clients offering permessage-deflate) on the server as it was before"
        f" issue 12, run {m['time']} (load average {m['loadavg_at_start']} at start;"
        f" {before['settings']['duration']:g} s phases); its tables are in bench/results/before/results.md."
        " Ratios are to the peer of the same run.",
        "",
        "| N | pacing | µs/delivery before | after | ratio to peer before | after | send p99 before | after"
        " | converged before | after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(set(now) & set(then)):
        for policy, a in now[n]["phases"].items():
            b = then[n]["phases"].get(policy)
            if b is None:
                continue
            pa = now_peer.get(n, {}).get("phases", {}).get(policy, {})
            pb = then_peer.get(n, {}).get("phases", {}).get(policy, {})
            ra = _ratio(a["server_cpu_us_per_delivery"], pa.get("server_cpu_us_per_delivery"))
            rb = _ratio(b["server_cpu_us_per_delivery"], pb.get("server_cpu_us_per_delivery"))
            lines.append(
                f"| {n} | {policy} | {b['server_cpu_us_per_delivery']} | {a['server_cpu_us_per_delivery']}"
                f" | {rb} | {ra} | {b['delivery_latency_ms']['p99']} | {a['delivery_latency_ms']['p99']}"
                f" | {b['converged']}/{n} | {a['converged']}/{n} |"
            )
    n = max(set(now) & set(then), default=None)
    if n is not None:
        lines += [
            "",
            f"Memory per idle viewer ({n} viewers): {then[n]['rss_kb_per_viewer']} KB before,"
            f" {now[n]['rss_kb_per_viewer']} KB after.",
        ]
    if before.get("late_join") and results.get("late_join"):
        lines += [
            f"1 MB late join, max: {before['late_join']['ms']['max']} ms before,"
            f" {results['late_join']['ms']['max']} ms after."
        ]
    return lines


def since_previous(results: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """This run's targets beside an earlier run's (bench/results/previous, saved by hand)."""
    m, pm = results["machine"], previous["machine"]
    then = {row["target"]: row for row in previous.get("targets") or targets(previous)}
    lines = [
        "## Since the previous run",
        "",
        f"Previous: run {pm['time']}, load average {pm['loadavg_at_start']} at start, {pm.get('loadavg_at_end')}"
        f" at end (bench/results/previous/results.md); this run: {m['loadavg_at_start']}, {m.get('loadavg_at_end')}.",
        "",
        "| target | previous | met | this run | met |",
        "|---|---|---|---|---|",
    ]
    for row in targets(results):
        before = then.get(row["target"])
        value, met = (before["value"], _yes(before["met"])) if before else ("-", "-")
        lines.append(f"| {row['target']} | {value} | {met} | {row['value']} | {_yes(row['met'])} |")
    return lines


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def profile_summary(text: str, top: int = 8) -> list[str]:
    """The functions with most own samples in a py-spy profile printed by `BENCH_PROFILE=1` (first phase)."""
    own = text.split("by self:", 1)[1].split("by total:", 1)[0].strip().splitlines()[:top] if "by self:" in text else []
    head = [line for line in text.splitlines() if "us/delivery" in line][:1]
    return [
        "## Profile",
        "",
        "py-spy (`BENCH_PROFILE=1`, bench/results/profile-500.txt) of the server, 500 viewers, our pacing;"
        " the functions with most samples of their own (the first `deliver` line of selfhost/fanout.py is its"
        " loop of `transport.write(frame)`, the kernel's socket writes; `_ready` is the check before them;"
        " `_worker` lines are the SQLite store's thread waiting for work, which py-spy counts as busy):",
        "",
        *(["    " + line.strip() for line in head] + [""] if head else []),
        *("    " + line for line in own),
    ]


def _viewers_note(settings: dict[str, Any]) -> list[str]:
    """How the viewers' processes were run (bench/viewers.py, bench/run.py --batch-viewers)."""
    batch = settings.get("batch_viewers")
    if batch is None:  # a run from before both (bench/results/previous)
        return []
    return [
        "Viewers: one event loop per generator process; the viewers of a process share the parse of a"
        " message and the text a delta yields, each looked up by exact content (bench/viewers.py `Memo`)."
        + (
            " The generators ran under SCHED_BATCH: woken by a server's writes they do not preempt it, as"
            " viewers on their own machines would not."
            if batch
            else ""
        ),
        "",
    ]


def _busy_note(m: dict[str, Any]) -> list[str]:
    load = max(m["loadavg_at_start"][0], (m.get("loadavg_at_end") or [0])[0])  # it may rise during the run
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
    ours, peer = _ours(results), _peer(results)
    ns = sorted(ours)
    for policy, style in styles.items():
        for q, color in colors.items():
            ys = [ours[n]["phases"][policy]["keystroke_latency_ms"][q] for n in ns]
            ax.plot(ns, ys, style, color=color, marker="o", label=f"{policy} {q}")
    peer_ns = sorted(peer)
    if peer_ns:
        ys = [peer[n]["phases"]["ours"]["keystroke_latency_ms"]["p99"] for n in peer_ns]
        ax.plot(peer_ns, ys, ":", color="black", marker="x", label="peer (socket.io), ours pacing, p99")
    ax.set_xscale("log")
    ax.set_yscale("log")  # from milliseconds when idle to seconds when the server falls behind
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("viewers (N)")
    ax.set_ylabel("keystroke-to-viewer latency (ms)")
    ax.set_title("codestream selfhost and a socket.io relay: keystroke latency (ours: 50 ms window; tutorial: 200 ms)")
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
    text = markdown(results)
    if (before := out / "before" / "results.json").is_file():
        text += "\n" + "\n".join(before_after(results, json.loads(before.read_text()))) + "\n"
    if (previous := out / "previous" / "results.json").is_file():
        text += "\n" + "\n".join(since_previous(results, json.loads(previous.read_text()))) + "\n"
    if (profile := out / "profile-500.txt").is_file():
        text += "\n" + "\n".join(profile_summary(profile.read_text())) + "\n"
    (out / "results.md").write_text(text)
    if _ours(results):  # nothing to plot when the run measured no fan-out (--viewers "")
        plot(results, out / "latency.png")


if __name__ == "__main__":  # re-render results.md and latency.png from a results.json
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json")
    write({k: v for k, v in json.loads(source.read_text()).items() if k != "targets"}, source.parent)
