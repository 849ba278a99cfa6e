"""The benchmark: a real selfhost server, one writer, N viewers in separate processes.

Scenarios (each on a fresh server, each bounded in time):
- fan-out: for each N, N viewers join one room, then the writer types a script (steady keys,
  bursts, pastes; 20 keys a second) once with our pacing and once with the tutorial's;
- late join: a 1 MB text is written, the writer leaves, viewers join one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import history, keystrokes, report
from .procstat import cpu_seconds, raise_open_files, rss_bytes, runqueue_wait_seconds
from .viewers import Stats, Viewer
from .writer import Writer

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ("ours", "tutorial")
KEYS_PER_SECOND = 20


# --- the server under test ---


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    data_dir: Path, extra_args: list[str], settings: dict[str, str] | None = None, module: str = "selfhost"
) -> Server:
    """`python -m selfhost` (or `bench.nohistory`, the same server keeping no history)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESTREAM_")} | (settings or {})
    command = [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--log-level", "warning", *extra_args]
    return _start(command, env, "selfhost")


PEER_DIR = ROOT / "bench" / "peer"


def start_peer() -> Server:
    """The socket.io 4 relay on Node (bench/peer), `npm ci`-installed by `make bench`."""
    if not (PEER_DIR / "node_modules" / "socket.io").is_dir():
        raise RuntimeError(f"the peer is not installed: run `npm ci` in {PEER_DIR} (make bench does)")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the peer needs Node.js (node) on PATH")
    command = [node, str(PEER_DIR / "relay.js"), "--host", "127.0.0.1", "--port", "0"]
    return _start(command, dict(os.environ), "the peer")


def _start(command: list[str], env: dict[str, str], name: str) -> Server:
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (line := process.stdout.readline()):
        lines.append(line)
        if match := re.search(r"Visit (http://\S+)", line):
            server = Server(process, match.group(1), lines)
            _prioritise(process.pid)
            threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
            return server
    process.kill()
    raise RuntimeError(f"{name} did not start:\n" + "".join(lines))


NICE = 0  # set from --nice
BATCH_VIEWERS = False  # set from --batch-viewers


def _prioritise(pid: int) -> None:
    if NICE:
        os.setpriority(os.PRIO_PROCESS, pid, NICE)


def negotiate(base_url: str, **query: str) -> dict[str, Any]:
    url = f"{base_url}/api/negotiate" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


# --- load generator processes ---


class Generator:
    """A `python -m bench.viewers` process, spoken to one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> Generator:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.viewers", cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        _prioritise(process.pid)
        if BATCH_VIEWERS:
            # SCHED_BATCH: woken by the server's writes, a generator does not preempt it (the
            # kernel runs it on a free CPU or at the next tick), as viewers on their own
            # machines would not; it then reads many sockets per wake-up instead of one.
            os.sched_setscheduler(process.pid, os.SCHED_BATCH, os.sched_param(0))
        return cls(process)

    async def call(self, op: str, timeout: float = 300, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load generator {self.process.pid} exited ({await self.process.wait()})")
        return json.loads(line)

    async def close(self) -> None:
        try:
            await self.call("close", timeout=10)
        finally:
            if self.process.returncode is None:
                try:
                    await asyncio.wait_for(self.process.wait(), 5)
                except TimeoutError:
                    self.process.kill()


def read_samples(path: Path) -> tuple[array, array]:
    with path.open("rb") as handle:
        count = array("q")
        count.fromfile(handle, 1)
        keystroke, delivery = array("d"), array("d")
        keystroke.fromfile(handle, count[0])
        rest = handle.read()
        delivery.frombytes(rest)
    return keystroke, delivery


def percentiles(samples: array) -> dict[str, float | None]:
    values = sorted(samples)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "count": 0}

    def at(q: float) -> float:
        return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(1000 * values[-1], 2), "count": len(values)}


# --- scenarios ---


async def _open_writer(server: Any) -> tuple[dict[str, Any], Writer]:
    """Negotiate a new room on `server` and join it as its writer."""
    host, port = server.host_port
    grant = await asyncio.to_thread(negotiate, server.url)
    writer = Writer(grant["room_id"], grant["writer_key"])
    await writer.open(host, port, grant["path"], grant["token"])
    await writer.join()
    return grant, writer


SERVERS = ("ours", "peer", "nohistory")  # nohistory: ours keeping no history (bench/nohistory.py)


async def fan_out(
    n: int, procs: int, duration: float, work: Path, seed: int, kind: str, round_: int = 0
) -> dict[str, Any]:
    """N viewers on one server (`ours` or the `peer`), both pacings typed to them in turn."""
    # A room takes 1,000 viewers by default (CODESTREAM_MAX_VIEWERS_PER_ROOM): raised for larger N.
    room = {"CODESTREAM_MAX_VIEWERS_PER_ROOM": str(max(1000, n))}
    if kind == "peer":
        server = start_peer()
    else:
        server = start_server(
            work / f"data-{kind}-{n}-{round_}", [], room, "bench.nohistory" if kind == "nohistory" else "selfhost"
        )
    generators: list[Generator] = []
    writer: Writer | None = None
    try:
        host, port = server.host_port
        grant, writer = await _open_writer(server)
        await asyncio.sleep(0.5)
        rss_before = rss_bytes(server.pid)
        viewer_grant = await asyncio.to_thread(negotiate, server.url, room_id=grant["room_id"])
        generators = list(await asyncio.gather(*(Generator.start() for _ in range(procs))))
        shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        began = time.monotonic()
        joined = await asyncio.gather(
            *(
                g.call(
                    "connect",
                    host=host,
                    port=port,
                    path=viewer_grant["path"],
                    token=viewer_grant["token"],
                    room_id=grant["room_id"],
                    count=share,
                )
                for g, share in zip(generators, shares, strict=True)
            )
        )
        join_seconds = time.monotonic() - began
        connected = sum(j["connected"] for j in joined)
        await asyncio.sleep(2)  # let the join's presence messages drain before measuring memory
        rss_idle = rss_bytes(server.pid)
        result: dict[str, Any] = {
            "server": kind,
            "viewers": n,
            "round": round_,
            "generator_processes": procs,
            "connected": connected,
            "connect_failures": sum(j["failed"] for j in joined),
            "join_seconds": round(join_seconds, 2),
            "server_rss_mb_before": round(rss_before / 2**20, 1),
            "server_rss_mb_idle": round(rss_idle / 2**20, 1),
            "rss_kb_per_viewer": round((rss_idle - rss_before) / 1024 / max(1, connected), 1),
            "phases": {},
        }
        for index, policy in enumerate(POLICIES):
            strokes = keystrokes.script(duration, KEYS_PER_SECOND, seed + index, writer.text)
            result["phases"][policy] = await _phase(server, writer, generators, strokes, policy, work, n, kind)
        return result
    finally:
        try:
            for g in generators:
                try:
                    await g.close()
                except (RuntimeError, TimeoutError, OSError):
                    if g.process.returncode is None:
                        g.process.kill()
            if writer is not None:
                writer.close()
        finally:
            server.stop()  # whatever happened above: never leave a server behind


async def _phase(
    server: Server,
    writer: Writer,
    generators: list[Generator],
    strokes: list[keystrokes.Keystroke],
    policy: str,
    work: Path,
    n: int,
    kind: str,
) -> dict[str, Any]:
    await asyncio.gather(*(g.call("start") for g in generators))
    profile = work / f"profile-{n}-{policy}.txt"
    profiler = await _profile(server.pid, profile, strokes[-1].at) if PROFILE and kind == "ours" else None
    cpu0, t0, sends0 = cpu_seconds(server.pid), time.monotonic(), writer.sends
    waited0 = runqueue_wait_seconds(server.pid)
    others = [os.getpid(), *(g.process.pid for g in generators)]  # the writer, then the generators
    others_waited0 = [runqueue_wait_seconds(pid) for pid in others]
    await writer.type(strokes, policy)
    typed = time.monotonic() - t0
    if profiler is not None:
        await profiler.wait()
        print(hot_spots(profile), flush=True)
    paths = [work / f"samples-{kind}-{n}-{policy}-{i}.bin" for i in range(len(generators))]
    reports = await asyncio.gather(
        *(
            g.call("stop", version=writer.version, sha256=writer.digest(), samples_path=str(p), wait=60)
            for g, p in zip(generators, paths, strict=True)
        )
    )
    wall = time.monotonic() - t0  # typing, then until every viewer caught up (60 s at most)
    server_cpu = cpu_seconds(server.pid) - cpu0
    server_waited = runqueue_wait_seconds(server.pid) - waited0
    others_waited = [runqueue_wait_seconds(pid) - w for pid, w in zip(others, others_waited0, strict=True)]
    keystroke, delivery = array("d"), array("d")
    for path in paths:
        k, d = read_samples(path)
        keystroke.extend(k)
        delivery.extend(d)
    deliveries = sum(r["deliveries"] for r in reports)
    return {
        "keystrokes": len(strokes),
        "sends": writer.sends - sends0,
        "typing_seconds": round(typed, 2),
        "caught_up_seconds": round(wall - typed, 2),
        "keystroke_latency_ms": percentiles(keystroke),
        "delivery_latency_ms": percentiles(delivery),
        "deliveries_per_second": round(deliveries / typed, 1),
        "converged": sum(r["converged"] for r in reports),
        "server_cpu_percent": round(100 * server_cpu / wall, 1),
        "server_waiting_for_cpu_percent": round(100 * server_waited / wall, 1),
        "writer_waiting_for_cpu_percent": round(100 * others_waited[0] / wall, 1),
        "server_cpu_us_per_delivery": round(1e6 * server_cpu / deliveries, 1) if deliveries else None,
        "server_rss_mb": round(rss_bytes(server.pid) / 2**20, 1),
        "generators": [
            {
                "viewers": r["viewers"],
                "cpu_percent": round(100 * r["cpu_seconds"] / r["wall_seconds"], 1),
                "loop_lag_p99_ms": _round(r["loop_lag_p99_ms"]),
                "loop_lag_max_ms": _round(r["loop_lag_max_ms"]),
                "waiting_for_cpu_percent": round(100 * waited / wall, 1),
            }
            for r, waited in zip(reports, others_waited[1:], strict=True)
        ],
    }


PROFILE = bool(os.environ.get("BENCH_PROFILE"))  # py-spy the server during each phase (a diagnosis aid)


async def _profile(pid: int, path: Path, seconds: float) -> asyncio.subprocess.Process:
    spy = str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "-p", str(pid), "-r", "250", "-f", "raw", "-o", str(path), "-d", str(int(seconds))]
    return await asyncio.create_subprocess_exec(*command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def hot_spots(path: Path, top: int = 25) -> str:
    """Self and total sample counts per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    all_samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        all_samples += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + n

    def show(counts: dict[str, int]) -> list[str]:
        rows = sorted(((f, c) for f, c in counts.items() if c < all_samples), key=lambda kv: -kv[1])[:top]
        return [
            f"{100 * total[f] / all_samples:5.1f}% total {100 * own.get(f, 0) / all_samples:5.1f}% self  {f}"
            for f, _ in rows
        ]

    return "\n".join(["by total:", *show(total), "by self:", *show(own)])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def late_join(size: int, joins: int, work: Path) -> dict[str, Any]:
    """A viewer opens the link of a 1 MB text whose writer has gone."""
    server = start_server(work / "data-late", [])
    try:
        host, port = server.host_port
        grant, writer = await _open_writer(server)
        writer.text = _big_text(size)
        writer.send_full()
        await asyncio.sleep(0.5)
        writer.close()
        viewer_grant = await asyncio.to_thread(negotiate, server.url, room_id=grant["room_id"])
        times, stats = [], Stats()
        for _ in range(joins + 1):
            began = time.perf_counter()
            viewer = Viewer(stats)
            await viewer.open(host, port, viewer_grant["path"], viewer_grant["token"])
            viewer.join(grant["room_id"])
            length = await asyncio.wait_for(viewer.base, 30)
            elapsed = time.perf_counter() - began
            viewer.close()
            if length != size or viewer.text != writer.text:
                raise RuntimeError(f"late joiner got {length} characters, expected {size}")
            times.append(elapsed)
        times = times[1:]  # the first join warms the server's code paths up
        return {
            "document_bytes": size,
            "joins": joins,
            "ms": {k: v for k, v in percentiles(array("d", times)).items() if k != "count"},
            "rss_mb": round(rss_bytes(server.pid) / 2**20, 1),
        }
    finally:
        server.stop()


def _big_text(size: int) -> str:
    import random

    rng = random.Random(7)
    chunks, total = [], 0
    while total < size:
        chunk = keystrokes.pasted_block(rng)
        chunks.append(chunk)
        total += len(chunk)
    return "".join(chunks)[:size]


# --- the run ---


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}, "fan_out": []}
    with tempfile.TemporaryDirectory(prefix="codestream-bench-") as tmp:
        work = Path(tmp)
        for n in args.viewers:
            procs = args.procs or (1 if n <= 100 else 2 if n <= 500 else 4)
            rounds = args.rounds.get(n, 1)
            for round_ in range(rounds):
                # Every other round in the other order: the machine's drift during a round (the
                # servers run one after the other) then weighs on both servers alike.
                for kind in args.servers if round_ % 2 == 0 else args.servers[::-1]:
                    of = f", round {round_ + 1} of {rounds}" if rounds > 1 else ""
                    print(f"bench: {n} viewers of {kind} over {procs} generator process(es){of} ...", flush=True)
                    outcome = await fan_out(n, procs, args.duration, work, 1000 + n, kind, round_)
                    print(report.summary_line(outcome), flush=True)
                    results["fan_out"].append(outcome)
        print("bench: late join of a 1 MB text ...", flush=True)
        results["late_join"] = await late_join(args.late_size, args.late_joins, work)
        print(f"bench: late join {results['late_join']['ms']}", flush=True)
        if args.history_viewers:
            try:
                results["history"] = await history_figures(args, work)
            except Exception as error:  # the fan-out figures above are still worth writing
                print(f"bench: history figures failed: {error!r}", flush=True)
                results["history"] = {"error": repr(error)}
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


async def history_figures(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Issue 13's targets: text at a version from the server, what recording costs, disk per hour."""
    print("bench: history: the text at 300 versions of a 10,000-version stream, from the server ...", flush=True)
    figures = {"server_text_at": await history.server_text_at(work)}
    print(f"bench: history: {figures['server_text_at']['any_version']}", flush=True)
    print(f"bench: history: {args.history_viewers} viewers with and without history ...", flush=True)
    figures["cpu_overhead"] = await history.cpu_overhead(work, args.history_viewers, args.duration)
    print(f"bench: history: adds {figures['cpu_overhead']['history_adds_percent']} % CPU", flush=True)
    print("bench: history: the store's text at a version, and an hour of typing on disk ...", flush=True)
    return figures | await history.main(work)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--viewers", default="100,500,1000,2000", help="comma-separated N (default: %(default)s)")
    parser.add_argument(
        "--servers", default="ours,peer", help="servers measured for each N, one after the other (default: %(default)s)"
    )
    parser.add_argument(
        "--rounds",
        default="500:3",
        help="N:R,...: rounds of every server at N, the order alternating each round; the targets read the"
        " median round by CPU ratio (default: %(default)s, the N of the CPU ratio target; other N run once)",
    )
    parser.add_argument("--duration", type=float, default=15, help="seconds of typing per phase (default: 15)")
    parser.add_argument("--procs", type=int, default=0, help="generator processes (default: by N, 1 to 4)")
    parser.add_argument("--late-size", type=int, default=1_000_000, help="late-join text size (default: 1 MB)")
    parser.add_argument("--late-joins", type=int, default=20, help="late joins measured (default: 20)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority for the server, writer and generators (e.g. -10 as root on a shared machine, "
        "so that neighbours' load disturbs the measurement less; default: 0)",
    )
    parser.add_argument(
        "--batch-viewers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the viewers' processes under SCHED_BATCH, so that they do not preempt the server"
        " (default: on; --no-batch-viewers as before)",
    )
    parser.add_argument(
        "--history-viewers",
        type=int,
        default=500,
        help="viewers for the history's CPU cost; 0 skips the history figures (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where results go")
    args = parser.parse_args(argv)
    args.viewers = [int(v) for v in args.viewers.split(",") if v]
    args.servers = [s for s in args.servers.split(",") if s]
    try:
        args.rounds = {int(n): int(r) for n, _, r in (item.partition(":") for item in args.rounds.split(",") if item)}
    except ValueError:
        parser.error(f"--rounds takes N:R pairs separated by commas, e.g. 500:3, not {args.rounds!r}")
    if any(r < 1 for r in args.rounds.values()):
        parser.error("--rounds: R is at least 1")
    if unknown := set(args.servers) - set(SERVERS):
        parser.error(f"unknown server(s) {sorted(unknown)}: choose from {SERVERS}")
    return args


def main(argv: list[str] | None = None) -> int:
    global NICE, BATCH_VIEWERS
    args = parse_args(argv)
    raise_open_files()
    NICE, BATCH_VIEWERS = args.nice, args.batch_viewers
    _prioritise(os.getpid())
    try:
        import uvloop

        results = uvloop.run(run(args))
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        results = asyncio.run(run(args))
    report.write(results, args.out)
    print(f"bench: results in {args.out}", flush=True)
    return 0
