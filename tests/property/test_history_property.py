"""History: for any edit stream, the text rebuilt at every version is the writer's text after it.

The writer's streams are test_convergence's (emoji, CRLF, 100 KB pastes, fulls, both numberings,
shuffled and duplicated delivery), with language changes (alone and in fulls) and cursor moves
mixed in. A room takes them in as the server's does, a `Recorder` turns what it accepted into
entries and checkpoints (checkpoints drawn frequent, so reads start from them), and the store
keeps them: the in-memory store, SQLite on disk (closed and reopened before reading), and
Redis, where the room itself lives in Redis and the store records inside `apply`, as the
server does; another store instance (another process) reads, and must find what the
in-memory run appended, entry for entry.

Checked for every version V from 0 to the last:
- the text read at V is the writer's text after version V (and its language is the room's at
  V); a version the history skipped (a full jumped over it) reads as the version before it;
- the pages, read with a small limit, hold exactly the entries appended, in order.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfhost.redis_store import RedisRoomStore
from selfhost.sqlite_store import SqliteStore
from shared.history import CheckpointPolicy, Entry, Recorder
from shared.history_store import HistoryStore, MemoryHistoryStore
from shared.protocol import Delta, Full, ProtocolError, SyncRequest, parse_stream_message
from shared.room import new_room
from shared.room_operations import End, Receive, Refused
from tests.support.redis_server import redis_server

from .test_convergence import ROOM, SETTINGS, Numbering, Script, apply_event, draw_delivery, draw_script

LANGUAGES = ["python", "typescript", "c", "rust"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def writer_texts(script: Script) -> list[str]:
    """The writer's text after each native version: index v is the text after v deltas."""
    texts, text, event = [""], "", 0
    for size in script.batches:
        for before, edits in script.events[event : event + size]:
            assert before == text
            text = apply_event(text, edits)
        event += size
        texts.append(text)
    return texts


def draw_stream(data: st.DataObject, script: Script) -> list[dict[str, Any]]:
    """What reaches the room, in order: the writer's messages as delivered, with extras mixed in."""
    sent = [dict(m) for m in script.messages()]
    for message in sent:
        if message["type"] == "full" and data.draw(st.booleans(), label="full names a language"):
            message["language"] = data.draw(st.sampled_from(LANGUAGES))
    stream = [sent[i] for i in draw_delivery(data, script)]
    extra = st.one_of(
        st.builds(lambda language: {"type": "language", "language": language}, st.sampled_from(LANGUAGES)),
        st.builds(
            lambda anchor, head, version: {
                "type": "cursor",
                "version": version,
                "selections": [{"anchor": anchor, "head": head}],
            },
            st.integers(0, 50),
            st.integers(0, 50),
            st.integers(0, 20),
        ),
    )
    for position, message in data.draw(st.lists(st.tuples(st.integers(0, 200), extra), max_size=12), label="extras"):
        stream.insert(position % (len(stream) + 1), message)
    return stream


@dataclass(frozen=True)
class Timing:
    """How the recording goes: the checkpoint policy, and the time before each message."""

    policy: CheckpointPolicy
    waits: list[float]


def draw_timing(data: st.DataObject, stream: list[dict[str, Any]]) -> Timing:
    policy = CheckpointPolicy(data.draw(st.integers(1, 6), label="every deltas"), data.draw(st.integers(1, 300)))
    waits = [data.draw(st.sampled_from([0.0, 0.01, 0.1, 0.3, 5.0]), label="time passes") for _ in stream]
    return Timing(policy, waits)


async def record(
    stream: list[dict[str, Any]], timing: Timing, store: HistoryStore
) -> tuple[list[Entry], dict[int, str | None], set[int]]:
    """Feed the room; what was appended, the room's language at each version, the versions it held."""
    clock = Clock()
    recorder = Recorder(timing.policy, clock=clock)
    room = new_room(ROOM, SETTINGS)
    appended: list[Entry] = []
    languages: dict[int, str | None] = {0: None}
    held = {0}
    for message, wait in zip(stream, timing.waits, strict=True):
        clock.now += wait
        parsed = parse_stream_message(message, SETTINGS)
        assert not isinstance(parsed, SyncRequest)
        try:
            room.receive(parsed, clock.now)
        except ProtocolError as error:
            raise AssertionError(f"the room refused {message}: {error.message}") from None
        finally:
            recording = recorder.take(room, clock.now)
        entries = recording.entries + recorder.due(ROOM)
        await store.append(ROOM, entries)
        appended += entries
        if recording.checkpoint is not None:
            await store.checkpoint(ROOM, recording.checkpoint)
        # A receive's language holds for every version it made (a drain does not change it).
        for version in {room.tracker.version or 0} | {a.version for a in room.accepted}:
            languages[version] = room.language
        held |= {a.version for a in room.accepted if isinstance(a.message, Delta | Full)}
    rest = recorder.flush(ROOM)
    await store.append(ROOM, rest)
    return appended + rest, languages, held


async def record_in_apply(stream: list[dict[str, Any]], timing: Timing, url: str) -> None:
    """Feed the room kept in Redis as the server does: the store records inside `apply`."""
    clock = Clock()
    store = RedisRoomStore.from_url(url, SETTINGS, Recorder(timing.policy, clock=clock))
    try:
        for message, wait in zip(stream, timing.waits, strict=True):
            clock.now += wait
            parsed = parse_stream_message(message, SETTINGS)
            assert not isinstance(parsed, SyncRequest)
            result = await store.apply(ROOM, Receive(parsed, clock.now))
            assert not isinstance(result, Refused), f"the room refused {message}"
            await store.record_due()
        await store.apply(ROOM, End(clock.now))  # keeps what the sampler held
    finally:
        await store.close()


async def check(
    store: HistoryStore, script: Script, appended: list[Entry], languages: dict[int, str | None], held: set[int]
) -> None:
    texts = writer_texts(script)
    for version in range(len(texts) + 1):
        snapshot = await store.read_text(ROOM, version)
        assert snapshot is not None
        expected = version if version in held else max(v for v in held if v <= version)
        assert snapshot.version == expected, (version, snapshot.version, sorted(held))
        assert snapshot.content == texts[expected], f"text at version {version}"
        assert snapshot.language == languages[expected], f"language at version {version}"
    latest = await store.read_text(ROOM)
    assert latest is not None and latest.content == texts[-1]
    pages, after = [], None
    while True:
        found = await store.read_page(ROOM, after, 3)
        assert found is not None
        pages += found.entries
        if found.next_after is None:
            break
        after = found.next_after
    assert pages == appended


async def on_memory(data: st.DataObject, script: Script) -> None:
    stream = draw_stream(data, script)
    store = MemoryHistoryStore()
    appended, languages, held = await record(stream, draw_timing(data, stream), store)
    await check(store, script, appended, languages, held)


async def on_sqlite(data: st.DataObject, script: Script) -> None:
    stream = draw_stream(data, script)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        store = await SqliteStore.open(path, SETTINGS)
        appended, languages, held = await record(stream, draw_timing(data, stream), store)
        await store.close()
        reopened = await SqliteStore.open(path, SETTINGS)  # what is on disk, not what a process held
        try:
            await check(reopened, script, appended, languages, held)
        finally:
            await reopened.close()


async def on_redis(data: st.DataObject, script: Script, url: str) -> None:
    stream = draw_stream(data, script)
    timing = draw_timing(data, stream)
    appended, languages, held = await record(stream, timing, MemoryHistoryStore())  # what to expect
    await _forget_room(url)
    await record_in_apply(stream, timing, url)
    reader = RedisRoomStore.from_url(url, SETTINGS)  # another process: only what Redis holds
    try:
        await check(reader, script, appended, languages, held)
    finally:
        await reader.close()


async def _forget_room(url: str) -> None:
    store = RedisRoomStore.from_url(url, SETTINGS)
    try:
        await store.redis.delete(f"codestream:room:{ROOM}")
        await store.delete_history(ROOM)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_text_at_every_version_is_the_writers_memory_store(data: st.DataObject, numbering: Numbering) -> None:
    asyncio.run(on_memory(data, draw_script(data, numbering)))


@settings(max_examples=max(1, settings.default.max_examples // 4))  # a quarter of the profile's: each opens a file
@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_text_at_every_version_is_the_writers_sqlite_store(data: st.DataObject, numbering: Numbering) -> None:
    asyncio.run(on_sqlite(data, draw_script(data, numbering)))


@settings(max_examples=max(1, settings.default.max_examples // 4))  # a quarter: each talks to redis-server a lot
@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_text_at_every_version_is_the_writers_redis_store(
    redis_url: str, data: st.DataObject, numbering: Numbering
) -> None:
    asyncio.run(on_redis(data, draw_script(data, numbering), redis_url))
