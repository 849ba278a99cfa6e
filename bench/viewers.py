"""One load-generator process: many viewers on one event loop, driven over stdin/stdout.

The orchestrator (bench/run.py) sends one JSON command a line and reads one JSON answer a
line: `connect` (open and join `count` viewers), `start` (begin a measured phase), `stop`
(wait until every viewer holds the writer's last version, then report), `close`.
Latency samples go to a binary file (float64 seconds) so the answers stay small.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from .procstat import raise_open_files
from .wire import Socket, loads

PRESENCE_PREFIX = '42["message",{"type":"presence"'


@dataclass
class Stats:
    keystroke: array = field(default_factory=lambda: array("d"))  # keystroke -> viewer has applied it
    delivery: array = field(default_factory=lambda: array("d"))  # writer's send -> viewer has applied it
    deliveries: int = 0
    presence: int = 0

    def clear(self) -> None:
        self.keystroke, self.delivery = array("d"), array("d")
        self.deliveries = self.presence = 0


class Memo:
    """What the viewers of one process share: the parse of a message, and a delta applied to a
    text, each looked up by exact content (so a viewer whose bytes or base differ computes its
    own). The viewers share the server's CPUs here, unlike real ones on their own machines:
    without this, 1,000 viewers parsing the same delta 1,000 times take more CPU than the
    server that sent it, and the server's latency measures their contention.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.parsed: dict[str, tuple[Any, ...]] = {}
        self.applied: dict[tuple[str, str], str] = {}

    def parse(self, text: str) -> tuple[Any, ...]:
        if (hit := self.parsed.get(text)) is None:
            hit = self.parsed[text] = tuple(loads(text[2:]))
            _bound(self.parsed, self.size)
        return hit

    def apply(self, base: str, raw: str, changes: list[dict[str, Any]]) -> str:
        key = (base, raw)
        if (hit := self.applied.get(key)) is None:
            hit = self.applied[key] = apply(base, changes)
            _bound(self.applied, self.size)
        return hit


def _bound(cache: dict[Any, Any], size: int) -> None:
    if len(cache) > size:
        del cache[next(iter(cache))]  # the oldest: every viewer of the process is past it


def apply(text: str, changes: list[dict[str, Any]]) -> str:
    """A delta's Monaco events applied to `text`, each event's changes from the last offset back."""
    for event in changes:
        for c in sorted(event["changes"], key=lambda c: c["rangeOffset"], reverse=True):
            o = c["rangeOffset"]
            text = text[:o] + c["text"] + text[o + c["rangeLength"] :]
    return text


class Viewer(Socket):
    """Keeps the text (ASCII in the benchmark, so UTF-16 offsets are string indices)."""

    def __init__(self, stats: Stats, memo: Memo | None = None) -> None:
        super().__init__()
        self.stats = stats
        self.memo = memo or Memo()
        self.text = ""
        self.version: int | None = None
        self.held: dict[int, tuple[str, dict[str, Any]]] = {}
        self.base = asyncio.get_running_loop().create_future()

    def on_message(self, text: str) -> None:
        if text.startswith(PRESENCE_PREFIX):  # the busiest message while viewers join: count only
            self.stats.presence += 1
            return
        name, *args = self.memo.parse(text)
        message = args[0] if args else None
        if name != "message" or not isinstance(message, dict) or message.get("type") != "editorMessage":
            self.on_event(name, args)
            return
        data = message["data"]
        if data.get("type") == "full":
            self.text, self.version = data["content"], data["version"]
            if not self.base.done():
                self.base.set_result(len(self.text))
        elif data.get("type") == "delta":
            self.held[data["version"]] = (text, data)
            self._drain()

    def _drain(self) -> None:
        while self.version is not None and (held := self.held.pop(self.version + 1, None)) is not None:
            raw, data = held
            self.text, self.version = self.memo.apply(self.text, raw, data["changes"]), data["version"]
            now = time.time()
            stats = self.stats
            stats.deliveries += 1
            stats.delivery.append(now - data["s"])
            for typed in data["t"]:
                stats.keystroke.append(now - typed)

    def join(self, room_id: str) -> None:
        self.emit("joinRoom", {"room_id": room_id})


class LagMonitor:
    """How late this process's event loop wakes: if it is busy, its timestamps are late too."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.samples = array("d")
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.period)
            self.samples.append(time.monotonic() - start - self.period)

    def take(self) -> array:
        samples, self.samples = self.samples, array("d")
        return samples


class Generator:
    def __init__(self) -> None:
        self.stats = Stats()
        self.memo = Memo()
        self.viewers: list[Viewer] = []
        self.lag: LagMonitor | None = None
        self.started = (0.0, 0.0)

    async def connect(self, host: str, port: int, path: str, token: str, room_id: str, count: int) -> dict[str, Any]:
        limit = asyncio.Semaphore(50)
        failures: list[str] = []
        begin = time.monotonic()

        async def one() -> None:
            async with limit:
                viewer = Viewer(self.stats, self.memo)
                try:
                    await viewer.open(host, port, path, token)
                    viewer.join(room_id)
                    await asyncio.wait_for(viewer.base, 120)
                    self.viewers.append(viewer)
                except (OSError, TimeoutError) as error:
                    failures.append(repr(error))
                    viewer.close()

        await asyncio.gather(*(one() for _ in range(count)))
        return {
            "connected": len(self.viewers),
            "failed": len(failures),
            "errors": failures[:3],
            "seconds": time.monotonic() - begin,
        }

    def start(self) -> dict[str, Any]:
        self.stats.clear()
        if self.lag is None:
            self.lag = LagMonitor()
        self.lag.take()
        self.started = (time.process_time(), time.monotonic())
        return {}

    async def stop(self, version: int, sha256: str, samples_path: str, wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any((v.version or 0) < version for v in self.viewers):
            await asyncio.sleep(0.05)
        cpu = time.process_time() - self.started[0]
        wall = time.monotonic() - self.started[1]
        converged = sum(
            1 for v in self.viewers if v.version == version and hashlib.sha256(v.text.encode()).hexdigest() == sha256
        )
        lag = sorted(self.lag.take()) if self.lag else []
        with open(samples_path, "wb") as out:
            array("q", [len(self.stats.keystroke)]).tofile(out)
            self.stats.keystroke.tofile(out)
            self.stats.delivery.tofile(out)
        return {
            "viewers": len(self.viewers),
            "converged": converged,
            "alive": sum(1 for v in self.viewers if v.transport is not None),
            "deliveries": self.stats.deliveries,
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "loop_lag_p99_ms": 1000 * lag[int(0.99 * (len(lag) - 1))] if lag else None,
            "loop_lag_max_ms": 1000 * lag[-1] if lag else None,
        }

    def close(self) -> dict[str, Any]:
        for viewer in self.viewers:
            viewer.close()
        return {}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    generator = Generator()
    while line := await reader.readline():
        command = json.loads(line)
        op = command.pop("op")
        result = getattr(generator, op)(**command)
        if asyncio.iscoroutine(result):
            result = await result
        print(json.dumps({"op": op, **result}), flush=True)
        if op == "close":
            await asyncio.sleep(0.2)  # let the close frames go out
            return


def main() -> None:
    raise_open_files()
    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        asyncio.run(serve())


if __name__ == "__main__":
    main()
