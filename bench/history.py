"""`python -m bench.history [FOLDER]`: the history's store figures against issue 13's targets (`make bench` too).

Two measurements, both through the real path (Room.receive, Recorder, the SQLite store on disk):

- text at a version: a 10,000-version stream whose text reaches 1 MB (about 100 characters a
  delta, some replacing), then `read_text` at 500 versions drawn uniformly (the target's "any
  version") and, apart, at every version just before a checkpoint (the slowest: the most
  deltas to apply). p50 / p99 / max in ms, from the SQLite store and, as the peer measured in
  the same run, from the in-memory store. Target: p99 <= 50 ms.
- one hour of typing at 20 keys a second: 72,000 one-key deltas (some newlines, some
  backspaces), each followed by the cursor move Monaco sends, at 50 ms steps of server time,
  flushed every 5 keys (a quarter second, as the store does). The database's size on disk
  (main file and its write-ahead log). Target: <= 30 MB.

Prints one JSON object; `make bench` can wire it in. It takes a minute or two.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfhost.sqlite_store import SqliteStore
from shared.history import Recorder
from shared.protocol import WriterMessage, parse_stream_message
from shared.room_operations import Create, Receive, Refused
from shared.settings import Settings
from shared.store import MemoryRoomStore

ROOM = "FFFFFFFFFFFFFFFFFFFFFF"
SETTINGS = Settings(max_document_units=2 * 1024 * 1024)
START = 1_800_000_000.0
WORDS = ["def", "return", "self", "value", "é", "x", "for", "in", "range", "(", ")", ":", "中", "=", "+", "#"]


async def receive(store: SqliteStore | MemoryRoomStore, data: dict[str, Any], at: float, settings: Settings) -> None:
    """A writer's message into the room, recorded in its history inside the store's update, as the server does."""
    message = parse_stream_message(data, settings)
    assert isinstance(message, WriterMessage)
    result = await store.apply(ROOM, Receive(message, at))
    if isinstance(result, Refused):
        raise result.error


def edit(version: int, offset: int, length: int, text: str) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


def line(rng: random.Random, size: int) -> str:
    words = []
    while sum(map(len, words)) < size:
        words.append(rng.choice(WORDS))
    return (" ".join(words))[: size - 1] + "\n"  # BMP only: every offset is a safe cut


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


async def text_at_figures(folder: Path, versions: int = 10_000, samples: int = 500) -> dict[str, Any]:
    rng = random.Random(13)
    store = await SqliteStore.open(folder / "text_at.sqlite3", SETTINGS)
    memory = MemoryRoomStore(SETTINGS)
    for rooms in (store, memory):
        await rooms.apply(ROOM, Create(START))
    length, before_checkpoint = 0, []
    for version in range(1, versions + 1):
        if length > 200 and rng.random() < 0.1:
            offset = rng.randrange(length - 100)
            data = edit(version, offset, 100, line(rng, 100))
        else:
            data = edit(version, rng.randrange(length + 1), 0, line(rng, 106))
            length += 106
        at = START + version * 0.05
        await receive(store, data, at, SETTINGS)
        await receive(memory, data, at, SETTINGS)
        if store.recorder.deltas_since_checkpoint(ROOM) == 0 and version > 1:
            before_checkpoint.append(version - 1)
    await store.flush()
    size = await store.read(ROOM, lambda room: len(room.document.text().encode("utf-8")))
    uniform = [rng.randrange(versions + 1) for _ in range(samples)]
    timings: dict[str, list[float]] = {}
    for probes, kind in ((uniform, "any_version"), (before_checkpoint, "worst_versions")):
        for name, history in (("sqlite", store), ("memory_peer", memory)):
            timings[f"{kind}_{name}"] = [await timed_read(history, version) for version in probes]
    await store.close()
    return {
        "versions": versions,
        "text_bytes": size,
        "checkpoints": len(before_checkpoint) + 1,
        "reads": {"any_version": len(uniform), "worst_versions": len(before_checkpoint)},
        **{name: summary(seconds) for name, seconds in timings.items()},
        "target_p99_ms": 50,
    }


async def timed_read(history: SqliteStore | MemoryRoomStore, version: int) -> float:
    started = time.perf_counter()
    snapshot = await history.read_text(ROOM, version)
    elapsed = time.perf_counter() - started
    assert snapshot is not None and snapshot.version == version
    return elapsed


async def typing_hour_figures(folder: Path, keys: int = 72_000) -> dict[str, Any]:
    rng = random.Random(20)
    path = folder / "typing.sqlite3"
    clock = [START]
    recorder = Recorder(clock=lambda: clock[0])
    store = await SqliteStore.open(path, SETTINGS, flush_seconds=3600, recorder=recorder)  # flushed by hand
    await store.apply(ROOM, Create(START))
    length = 0
    started = time.perf_counter()
    for key in range(keys):
        clock[0] = at = START + key / 20
        version = key + 1
        if length and rng.random() < 0.05:
            data = edit(version, length - 1, 1, "")  # backspace
            length -= 1
        else:
            data = edit(version, length, 0, "\n" if rng.random() < 0.03 else rng.choice("abcdefghij(){}:= "))
            length += 1
        await receive(store, data, at, SETTINGS)
        cursor = {"type": "cursor", "version": version, "selections": [{"anchor": length, "head": length}]}
        await receive(store, cursor, at + 0.001, SETTINGS)
        if key % 5 == 4:
            await store.flush()
    await store.close()
    elapsed = time.perf_counter() - started
    files = [p for p in folder.iterdir() if p.name.startswith(path.name)]
    on_disk = sum(p.stat().st_size for p in files)
    with sqlite3.connect(path) as conn:
        entries, entry_bytes = conn.execute("SELECT count(*), sum(length(message)) FROM entries").fetchone()
        checkpoints, checkpoint_bytes = conn.execute(
            "SELECT count(*), sum(length(content)) FROM checkpoints"
        ).fetchone()
    return {
        "entries": entries,
        "entry_message_bytes": entry_bytes,
        "checkpoints": checkpoints,
        "checkpoint_bytes_compressed": checkpoint_bytes,
        "keys": keys,
        "text_units": length,
        "bytes_on_disk": on_disk,
        "mb_on_disk": round(on_disk / 1e6, 2),
        "files": sorted(p.name for p in files),
        "written_in_seconds": round(elapsed, 1),
        "target_mb": 30,
    }


async def server_text_at(work: Path, versions: int = 10_000, samples: int = 300) -> dict[str, Any]:
    """The target as a user meets it: `GET /api/rooms/{id}/text?version=V` from a real server on its
    default store, for a 10,000-version stream its writer typed over Socket.IO, at `samples`
    versions drawn uniformly; beside it, as the peer in the same run, the same number of reads
    of the latest text. Every answer is checked against the writer's text at that version."""
    from .run import _open_writer, start_server  # bench.run imports this module

    limits = {"CODESTREAM_MESSAGES_PER_SECOND": "1000000", "CODESTREAM_MAX_DOCUMENT_UNITS": str(2 * 2**20)}
    server = start_server(work / "data-text-at", [], limits)
    try:
        grant, writer = await _open_writer(server)
        rng = random.Random(13)
        wanted = set(rng.sample(range(1, versions + 1), samples))
        digests, text = {}, ""
        for version in range(1, versions + 1):
            if len(text) > 200 and rng.random() < 0.1:
                offset, length, inserted = rng.randrange(len(text) - 100), 100, line(rng, 100)
            else:
                offset, length, inserted = rng.randrange(len(text) + 1), 0, line(rng, 106)
            text = text[:offset] + inserted + text[offset + length :]
            writer.version = version
            writer.send(edit(version, offset, length, inserted))
            if version in wanted:
                digests[version] = hashlib.sha256(text.encode()).hexdigest()
            if version % 100 == 0:
                await asyncio.sleep(0.01)  # let the socket drain
        base = f"{server.url}/api/rooms/{grant['room_id']}/text"
        await _until(lambda: _get(base)["version"] == versions, 120)
        probes = list(wanted)
        rng.shuffle(probes)
        timings: dict[str, list[float]] = {"any_version": [], "latest_peer": []}
        for version in probes:
            elapsed, answer = await asyncio.to_thread(_timed_get, f"{base}?version={version}")
            if hashlib.sha256(answer["content"].encode()).hexdigest() != digests[version]:
                raise RuntimeError(f"the text at version {version} is not the writer's")
            timings["any_version"].append(elapsed)
            timings["latest_peer"].append((await asyncio.to_thread(_timed_get, base))[0])
        writer.close()
        result = {"versions": versions, "text_bytes": len(text.encode()), "reads": samples}
        result |= {name: summary(seconds) for name, seconds in timings.items()}
        result["p99_ratio_to_peer"] = round(result["any_version"]["p99_ms"] / result["latest_peer"]["p99_ms"], 2)
        return result | {"target_p99_ms": 50}
    finally:
        server.stop()


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _timed_get(url: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    answer = _get(url)
    return time.perf_counter() - started, answer


async def _until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(done):
        if time.monotonic() > deadline:
            raise TimeoutError("the server never caught up with its writer")
        await asyncio.sleep(0.2)


async def cpu_overhead(work: Path, viewers: int = 500, duration: float = 15) -> dict[str, Any]:
    """What recording costs: the fan-out at `viewers` on our server, and on the same server keeping
    no history (bench.nohistory), one after the other in this run; CPU per delivery and its ratio."""
    from .run import fan_out  # bench.run imports this module

    procs = 1 if viewers <= 100 else 2 if viewers <= 500 else 4
    runs = {kind: await fan_out(viewers, procs, duration, work, 5000 + viewers, kind) for kind in ("nohistory", "ours")}
    phases = {kind: run["phases"]["ours"] for kind, run in runs.items()}
    cost = {kind: phase["server_cpu_us_per_delivery"] for kind, phase in phases.items()}
    return {
        "viewers": viewers,
        "server_cpu_us_per_delivery": cost,
        "delivery_p99_ms": {kind: phase["delivery_latency_ms"]["p99"] for kind, phase in phases.items()},
        "converged": {kind: f"{phase['converged']}/{runs[kind]['connected']}" for kind, phase in phases.items()},
        "history_adds_percent": round(100 * (cost["ours"] / cost["nohistory"] - 1), 1),
        "target_percent": 10,
    }


async def main(folder: Path) -> dict[str, Any]:
    return {"text_at": await text_at_figures(folder), "typing_hour": await typing_hour_figures(folder)}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as where:
        print(json.dumps(asyncio.run(main(Path(where))), indent=2))
        sys.stdout.flush()
        os.sync()
