"""The SQLite store on disk: rooms, text and history survive a restart and a SIGKILL; the loop never waits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selfhost.sqlite_store import DB_FILE, SqliteStore, database_path
from shared.history import Entry, HistoryError, Snapshot
from shared.protocol import parse_stream_message
from shared.room_codec import room_to_dict
from shared.room_operations import Create, Join, Receive, Refused
from shared.settings import Settings
from tests.support.recording import record
from tests.support.server import ROOT

from .kill_writer import PIECE
from .kill_writer import ROOM as KILLED_ROOM

ROOM = "SSSSSSSSSSSSSSSSSSSSSS"
OTHER = "TTTTTTTTTTTTTTTTTTTTTT"
SETTINGS = Settings()


def delta(version: int, offset: int, text: str) -> dict[str, object]:
    change = {"rangeOffset": offset, "rangeLength": 0, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


async def type_into(store: SqliteStore, text: str, at: float = 1000.0) -> None:
    """Type `text` one character a delta (versions 1, 2, ...), recording the history."""
    offset = 0
    for version, char in enumerate(text, start=1):
        await record(store, ROOM, delta(version, offset, char), at + version, SETTINGS)
        offset += len(char.encode("utf-16-le")) // 2


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / DB_FILE


async def test_the_database_lives_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "folder"))
    assert database_path(settings) == tmp_path / "folder" / DB_FILE
    store = await SqliteStore.for_settings(settings)
    await store.apply(ROOM, Create(0.0))
    await store.close()
    conn = sqlite3.connect(database_path(settings))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT room_id FROM rooms").fetchall() == [(ROOM,)]


async def test_a_restart_keeps_rooms_text_and_history_without_members(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    assert await store.apply(ROOM, Create(5.0))
    await store.apply(ROOM, Join("writer", "writer", 5.0))
    await store.apply(ROOM, Join("viewer", "viewer", 5.0))
    await store.bind_socket("viewer", ROOM)
    await type_into(store, "hi 😀\r\nok")
    await store.apply(ROOM, Receive(parse_stream_message({"type": "language", "language": "python"}, SETTINGS), 9.0))
    before = await store.read(ROOM, room_to_dict)
    await store.close()

    again = await SqliteStore.open(db, SETTINGS)
    try:
        after = await again.read(ROOM, room_to_dict)
        assert before is not None and after is not None
        assert after["text"] == "hi 😀\r\nok" and after["version"] == 8 and after["language"] == "python"
        assert after["writers"] == after["viewers"] == []  # their sockets died with the process
        assert {**after, "writers": before["writers"], "viewers": before["viewers"]} == before
        assert await again.socket_room("viewer") is None
        assert await again.count() == 1
        assert await again.apply(ROOM, Create(0.0)) is False
        assert (await again.read_text(ROOM, 3)) == Snapshot(3, 1003.0, "hi ", None)
        assert (await again.read_text(ROOM)) == Snapshot(8, 1008.0, "hi 😀\r\nok", "python")
        found = await again.read_page(ROOM, 6, 10)
        assert found is not None and [e.version for e in found.entries] == [7, 8, 8] and found.next_after is None
    finally:
        await again.close()


async def test_after_a_restart_a_viewer_gets_the_last_text_at_once(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0))
    await type_into(store, "ab")
    await record(store, ROOM, delta(4, 3, "d"), 1004.0, SETTINGS)  # held: 3 never came
    assert await store.read(ROOM, lambda room: room.can_answer_sync()) is False
    await store.close()
    again = await SqliteStore.open(db, SETTINGS)
    assert await again.read(ROOM, lambda room: (room.can_answer_sync(), room.as_full()["content"])) == (True, "ab")
    await again.close()


async def test_what_an_operation_refuses_or_makes_nothing_of_is_not_written(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0))
    await store.flush()
    assert await store.apply(OTHER, Join("v", "viewer", 1.0)) is None  # a viewer makes no room
    too_big = {"type": "full", "version": 1, "content": "x" * (SETTINGS.max_document_units + 1)}
    refused = await store.apply(ROOM, Receive(parse_stream_message(too_big, SETTINGS), 2.0))
    assert isinstance(refused, Refused)
    await store.close()
    again = await SqliteStore.open(db, SETTINGS)
    assert await again.read(ROOM, lambda room: room.document.text()) == ""
    assert await again.read(OTHER, lambda room: room) is None
    await again.close()


async def test_expired_and_deleted_streams_are_gone_from_disk_too(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0, lifetime=3600))
    await type_into(store, "secret text", at=10.0)
    await store.apply(OTHER, Create(100.0))
    await store.flush()
    assert await store.sweep(3600.0) == [(ROOM, [])]
    await store.close()
    again = await SqliteStore.open(db, SETTINGS)
    assert await again.read(ROOM, lambda room: room) is None and await again.read_text(ROOM) is None
    assert again.rooms[ROOM].deleted_at == 3600.0  # its tombstone: the writer key opens nothing
    assert sorted(again.rooms) == sorted([OTHER, ROOM])
    await again.sweep(3600.0 + SETTINGS.max_lifetime_seconds)
    await again.close()
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert b"secret" not in raw  # not left in free pages either (secure_delete)
    last = await SqliteStore.open(db, SETTINGS)
    assert sorted(last.rooms) == []
    await last.close()


async def test_a_damaged_room_is_left_on_disk_and_not_loaded(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0))
    await store.apply(OTHER, Create(0.0))
    await store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rooms SET data = ? WHERE room_id = ?", (json.dumps({"format": 99}), OTHER))
    again = await SqliteStore.open(db, SETTINGS)
    assert sorted(again.rooms) == [ROOM]
    await again.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT data FROM rooms WHERE room_id = ?", (OTHER,)).fetchone() == ('{"format": 99}',)


async def test_a_database_of_another_schema_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(sqlite3.DatabaseError, match="schema 7"):
        await SqliteStore.open(db, SETTINGS)


async def test_a_file_that_is_no_database_is_refused_and_kept(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database, but someone's file" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        await SqliteStore.open(db, SETTINGS)
    assert db.read_bytes().startswith(b"not a database")


async def test_history_only_goes_forward_and_keeps_nothing_refused(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0))
    await type_into(store, "abc")
    cursor = {"type": "cursor", "version": 2, "selections": []}
    with pytest.raises(HistoryError):
        await store.append(ROOM, [Entry(3, 1.0, cursor), Entry(2, 1.0, cursor)])
    with pytest.raises(HistoryError):
        await store.append(ROOM, [Entry(4, 1.0, {"type": "delta", "version": 4})])
    with pytest.raises(HistoryError):
        await store.checkpoint(ROOM, Snapshot(2, 1.0, "ab", None))
    await store.close()
    again = await SqliteStore.open(db, SETTINGS)  # the last version is known after a restart too
    with pytest.raises(HistoryError):
        await again.append(ROOM, [Entry(1, 1.0, cursor)])
    found = await again.read_page(ROOM, None, 100)
    assert found is not None and [e.version for e in found.entries] == [1, 2, 3]
    await again.close()


async def test_delete_history(db: Path) -> None:
    store = await SqliteStore.open(db, SETTINGS)
    await store.apply(ROOM, Create(0.0))
    await type_into(store, "abc")
    await store.delete_history(ROOM)
    assert await store.read_text(ROOM) is None
    assert await store.read_page(ROOM, None, 5) is None
    await store.append(ROOM, [Entry(1, 1.0, {"type": "language", "language": "go"})])  # a new history may start
    await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)


async def test_a_failed_write_stays_queued_and_is_written_next_time(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await SqliteStore.open(db, SETTINGS, flush_seconds=3600)  # flushed by hand here
    await store.apply(ROOM, Create(0.0))
    real_append = store._db._append
    failures = []

    def failing_append(*args: object) -> None:
        real_append(*args)  # written inside the transaction, which must then roll back
        if not failures:
            failures.append(1)
            raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(store._db, "_append", failing_append)
    await type_into(store, "ab")
    with pytest.raises(sqlite3.OperationalError):
        await store.flush()
    with sqlite3.connect(db) as reader:
        assert reader.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    await record(store, ROOM, delta(3, 2, "c"), 1003.0, SETTINGS)
    await store.flush()
    await store.close()
    again = await SqliteStore.open(db, SETTINGS)
    found = await again.read_page(ROOM, None, 100)
    assert found is not None and [e.version for e in found.entries] == [1, 2, 3]
    assert (await again.read_text(ROOM)) == Snapshot(3, 1003.0, "abc", None)
    assert await again.read(ROOM, lambda room: room.document.text()) == "abc"
    await again.close()


async def test_a_slow_disk_never_holds_the_event_loop(db: Path) -> None:
    """Another connection locks the database for two seconds; meanwhile the loop keeps its pace.

    The store's thread waits on the lock; appends and updates return at once, a ticking task
    keeps ticking, and once the lock goes everything queued is written.
    """
    store = await SqliteStore.open(db, SETTINGS, flush_seconds=0.05)
    await store.apply(ROOM, Create(0.0))
    await store.flush()
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    text, longest = "", 0.0
    for burst in range(10):  # typing on while the store's flushes wait behind the lock
        for char in "slow disk😀":
            started = time.monotonic()
            offset = len(text.encode("utf-16-le")) // 2
            await record(store, ROOM, delta(len(text) + 1, offset, char), 1.0 + burst, SETTINGS)
            longest = max(longest, time.monotonic() - started)
            text += char
        await asyncio.sleep(0.2)
    with sqlite3.connect(db) as reader:  # WAL: readers are not blocked; nothing was written yet
        assert reader.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    blocker.execute("ROLLBACK")
    blocker.close()
    latest = await store.read_text(ROOM)
    ticker.cancel()
    await store.close()
    assert latest is not None and latest.content == "slow disk😀" * 10
    assert longest < 1.0, f"a keystroke took {longest:.2f} s while the disk was locked"
    assert max(gaps) < 1.0, f"the loop stalled for {max(gaps):.2f} s while the disk was locked"


def test_a_sigkill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """A real process writes through the store and is killed with SIGKILL mid-stream.

    Every entry it had been given more than a second before the kill is on disk, in order,
    and the room's text is at least that far too (rooms and history are written together).
    """
    db = tmp_path / DB_FILE
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sqlite.kill_writer", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(3.0)
        child.send_signal(signal.SIGKILL)
        killed_at = time.time()
        printed = [line.split() for line in child.stdout.read().splitlines()]
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    given = [(int(version), float(at)) for version, at in printed]
    assert len(given) > 10, "the writer hardly wrote: the machine is too busy for this test to say anything"
    due = [version for version, at in given if at <= killed_at - 1.0]
    assert due, "nothing was written a second before the kill"

    async def reopen() -> tuple[list[int], str, int, bool]:
        store = await SqliteStore.open(db, SETTINGS)
        try:
            found = await store.read_page(KILLED_ROOM, None, 10**6)
            assert found is not None
            text, version, members = await store.read(
                KILLED_ROOM, lambda room: (room.document.text(), room.tracker.version, bool(room.writers))
            )
            return [e.version for e in found.entries], text, version, members
        finally:
            await store.close()

    kept, text, version, members = asyncio.run(reopen())
    assert kept == list(range(1, len(kept) + 1)), "the history has a gap"
    assert len(kept) >= due[-1], (
        f"lost entries given more than a second before the kill: kept {len(kept)}, due {due[-1]}"
    )
    assert version >= due[-1] and text == PIECE * version
    assert not members
