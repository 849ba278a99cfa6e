"""Rooms and their histories in SQLite under the data folder: the self-hosted server's own store.

One object is both the `RoomStore` (shared/store.py) and the `HistoryStore`
(shared/history_store.py). The event loop never waits on the disk:

- Rooms live in memory as the working copy, as in MemoryRoomStore: `update` is atomic because
  one event loop runs each `change` and a change never awaits, and its effect stays when it
  raises. A changed room is written behind (shared/room_codec.py's JSON), with the history.
- `append`, `checkpoint` and `delete_history` queue their work and return. Every
  `flush_seconds` (0.25 s) one task hands everything queued to a single database thread,
  which writes it in one transaction (WAL, synchronous=FULL): a SIGKILL, or a power cut,
  loses at most what the last quarter second (plus one write) queued, and a room and its
  history are always saved together, so after a restart they agree.
- Reads (`read_text`, `read_page`) first hand over what is queued, then run on the same
  thread, so they see everything appended before them, without holding the loop.

If a write fails (a full disk, a database locked by someone else), what it held stays queued
and is tried again at the next flush: nothing already accepted is dropped. Socket bindings
are this process's own (sockets die with it): they are not stored, and rooms loaded at start
have no writers or viewers, nor held deltas (so a viewer gets the last text at once). One
process uses a database at a time (several processes share rooms through Redis instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from shared.history import (
    EMPTY,
    Entry,
    HistoryError,
    Page,
    Recorder,
    Snapshot,
    check_entries,
    check_snapshot,
    decode_message,
    page,
    text_at,
)
from shared.room import Room
from shared.room_codec import RoomCodecError, room_from_dict, room_to_dict
from shared.room_operations import Operation, Result
from shared.settings import Settings
from shared.store import MemoryRoomStore

T = TypeVar("T")
log = logging.getLogger("codestream")

DB_FILE = "codestream.sqlite3"
FLUSH_SECONDS = 0.25
SCHEMA_VERSION = 1
JOURNAL_LIMIT_BYTES = 4 * 1024 * 1024
EAGER_FLUSH_OPS = 1000  # this many queued writes wake the flusher before its time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, room_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entries (
    stream INTEGER NOT NULL, seq INTEGER NOT NULL, version INTEGER NOT NULL, at REAL NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_version ON entries (stream, version);
CREATE TABLE IF NOT EXISTS checkpoints (
    stream INTEGER NOT NULL, seq INTEGER NOT NULL, version INTEGER NOT NULL, at REAL NOT NULL,
    language TEXT, content BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_version ON checkpoints (stream, version, seq);
"""

# What the loop queues for the database thread, in the order it happened:
# ("append", room_id, [(version, at, message json), ...]), ("checkpoint", room_id, snapshot, utf-8 content),
# ("delete_history", room_id), ("drop_room", room_id).
Op = tuple[Any, ...]


def database_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / DB_FILE


class SqliteStore(MemoryRoomStore):
    """Rooms and histories in one SQLite file; make one with `await SqliteStore.open(...)`.

    The rooms in memory are the working copy, changed as MemoryRoomStore changes them; every
    room an operation changed is written behind (sockets die with the process: not stored).
    """

    def __init__(self, path: Path, settings: Settings, flush_seconds: float, recorder: Recorder | None = None) -> None:
        super().__init__(settings, recorder)
        self.path = path
        self.flush_seconds = flush_seconds
        self._dirty: set[str] = set()  # rooms changed since the last flush
        self._ops: list[Op] = []
        self._last_version: dict[str, int] = {}  # per history: its last entry's or checkpoint's version
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closing = False
        self._flusher: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codestream-sqlite")
        self._db = _Database(path)  # touched only on the executor's thread

    @classmethod
    async def open(
        cls,
        path: Path | str,
        settings: Settings,
        flush_seconds: float = FLUSH_SECONDS,
        recorder: Recorder | None = None,
    ) -> SqliteStore:
        """Open (or make) the database at `path` and load its rooms, without members."""
        store = cls(Path(path), settings, flush_seconds, recorder)
        try:
            store.rooms, store._last_version = await store._run(store._load)
        except BaseException:
            await store._run(store._db.close)
            store._executor.shutdown(wait=False)
            raise
        store._flusher = asyncio.create_task(store._flush_forever())
        return store

    @classmethod
    async def for_settings(cls, settings: Settings, recorder: Recorder | None = None) -> SqliteStore:
        """The store in the data folder (`CODESTREAM_DATA_DIR`)."""
        return await cls.open(database_path(settings), settings, recorder=recorder)

    # --- rooms (RoomStore) ---

    async def apply(self, room_id: str, operation: Operation) -> Result:
        result = await super().apply(room_id, operation)  # records the history through our methods
        if room_id in self.rooms:
            self._dirty.add(room_id)  # written behind, within the flush interval
        return result

    def _drop(self, room_id: str) -> None:
        super()._drop(room_id)
        self._dirty.discard(room_id)
        self._last_version.pop(room_id, None)
        self._queue(("delete_history", room_id))
        self._queue(("drop_room", room_id))

    # --- histories (HistoryStore) ---

    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        encoded = check_entries(entries, self._last_version.get(room_id))
        if entries:
            rows = [(e.version, float(e.at), raw) for e, raw in zip(entries, encoded, strict=True)]
            self._queue(("append", room_id, rows))
            self._last_version[room_id] = entries[-1].version

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        content = check_snapshot(snapshot, self._last_version.get(room_id))
        self._queue(("checkpoint", room_id, snapshot, content))
        self._last_version[room_id] = snapshot.version

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        await self.flush()
        return await self._run(self._db.read_text, room_id, version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        if limit < 1:
            raise HistoryError("a page holds at least one entry")
        await self.flush()
        return await self._run(self._db.read_page, room_id, after, limit)

    async def delete_history(self, room_id: str) -> None:
        self._last_version.pop(room_id, None)
        self._queue(("delete_history", room_id))

    # --- writing behind ---

    async def flush(self) -> None:
        """Write everything queued now; raises (and keeps it queued) when the write fails."""
        async with self._flush_lock:
            ops, self._ops = self._ops, []
            dirty, self._dirty = self._dirty, set()
            rooms = [(room_id, room_to_dict(self.rooms[room_id])) for room_id in sorted(dirty) if room_id in self.rooms]
            if not ops and not rooms:
                return
            try:
                await self._run(self._db.write, ops, rooms)
            except Exception:
                self._ops[:0] = ops  # tried again first, before what came since
                self._dirty |= {room_id for room_id, _ in rooms if room_id in self.rooms}
                raise

    async def close(self) -> None:
        """Write what is queued, stop the flusher and close the database."""
        self._closing = True
        self._wake.set()
        if self._flusher is not None:
            await self._flusher
        try:
            await self.flush()
        finally:
            await self._run(self._db.close)
            self._executor.shutdown(wait=True)

    def _queue(self, op: Op) -> None:
        self._ops.append(op)
        if len(self._ops) >= EAGER_FLUSH_OPS:
            self._wake.set()

    async def _flush_forever(self) -> None:
        while not self._closing:
            # Not wait_for: on Python 3.11 it adds a task per wait, which the server's shutdown
            # (shutdown.py) would end before this store closes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception as error:  # kept queued; the next flush tries again
                log.warning("sqlite: writing to %s failed, will retry: %s", self.path, error)

    def _load(self) -> tuple[dict[str, Room], dict[str, int]]:
        """The stored rooms, without members, and each history's last version (database thread)."""
        rows, last_versions = self._db.load()
        rooms = {}
        for room_id, raw in rows:
            try:
                room = room_from_dict(json.loads(raw), self.settings)
            except (ValueError, RoomCodecError) as error:  # kept on disk as it is; a new room may replace it
                log.warning("sqlite: room %s is not readable and was not loaded: %s", room_id, error)
                continue
            room.writers.clear()  # their sockets died with the process that held them
            room.viewers.clear()
            # Held deltas wait for one that may never come (a returning writer sends its full):
            # without them the room answers a viewer with its last text at once.
            room.tracker.reset()
            rooms[room_id] = room
        return rooms, last_versions

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)


class _Database:
    """The SQLite side: runs on the store's one database thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._streams: dict[str, int] = {}  # room id -> stream id, as far as known
        self._seqs: dict[int, int] = {}  # stream -> its last entry's seq

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Streams' text is only for those who hold their links: the file (and its -wal and
            # -shm, which SQLite makes with the same mode) is the server's own, like its secret.
            self.path.touch(mode=0o600, exist_ok=True)
            conn = sqlite3.connect(self.path)
            try:
                conn.execute("PRAGMA busy_timeout = 60000")
                if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                    raise sqlite3.OperationalError(f"{self.path}: cannot use write-ahead logging here")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute(
                    "PRAGMA secure_delete = ON"
                )  # a deleted stream's text is overwritten, not left in free pages
                conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES}")  # the WAL shrinks back after use
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found not in (0, SCHEMA_VERSION):
                    raise sqlite3.DatabaseError(
                        f"{self.path} holds schema {found}; this codestream reads {SCHEMA_VERSION}"
                    )
                with conn:
                    conn.executescript(_SCHEMA)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def load(self) -> tuple[list[tuple[str, str]], dict[str, int]]:
        rooms = self.conn.execute("SELECT room_id, data FROM rooms").fetchall()
        last = self.conn.execute(
            "SELECT s.room_id, max(v) FROM streams s JOIN ("
            " SELECT stream, max(version) AS v FROM entries GROUP BY stream"
            " UNION ALL SELECT stream, max(version) FROM checkpoints GROUP BY stream"
            ") ON stream = s.id GROUP BY s.room_id"
        ).fetchall()
        return rooms, {room_id: version for room_id, version in last}

    def write(self, ops: list[Op], rooms: list[tuple[str, dict[str, Any]]]) -> None:
        conn = self.conn
        try:
            with conn:
                for op in ops:
                    getattr(self, "_" + op[0])(conn, *op[1:])
                conn.executemany(
                    "INSERT OR REPLACE INTO rooms (room_id, data) VALUES (?, ?)",
                    [(room_id, json.dumps(data, separators=(",", ":"))) for room_id, data in rooms],
                )
        except BaseException:
            self._streams.clear()  # what they cached may have been rolled back
            self._seqs.clear()
            raise

    def _append(self, conn: sqlite3.Connection, room_id: str, rows: list[tuple[int, float, str]]) -> None:
        stream = self._stream(conn, room_id, create=True)
        assert stream is not None
        seq = self._seq(conn, stream)
        conn.executemany(
            "INSERT INTO entries (stream, seq, version, at, message) VALUES (?, ?, ?, ?, ?)",
            [(stream, seq + i, version, at, raw) for i, (version, at, raw) in enumerate(rows, start=1)],
        )
        self._seqs[stream] = seq + len(rows)

    def _checkpoint(self, conn: sqlite3.Connection, room_id: str, snapshot: Snapshot, content: bytes) -> None:
        stream = self._stream(conn, room_id, create=True)
        assert stream is not None
        conn.execute(
            "INSERT INTO checkpoints (stream, seq, version, at, language, content) VALUES (?, ?, ?, ?, ?, ?)",
            (stream, self._seq(conn, stream), snapshot.version, snapshot.at, snapshot.language, zlib.compress(content)),
        )

    def _delete_history(self, conn: sqlite3.Connection, room_id: str) -> None:
        stream = self._stream(conn, room_id, create=False)
        if stream is not None:
            conn.execute("DELETE FROM entries WHERE stream = ?", (stream,))
            conn.execute("DELETE FROM checkpoints WHERE stream = ?", (stream,))
            conn.execute("DELETE FROM streams WHERE id = ?", (stream,))
            self._streams.pop(room_id, None)
            self._seqs.pop(stream, None)

    def _drop_room(self, conn: sqlite3.Connection, room_id: str) -> None:
        conn.execute("DELETE FROM rooms WHERE room_id = ?", (room_id,))

    def _stream(self, conn: sqlite3.Connection, room_id: str, create: bool) -> int | None:
        stream = self._streams.get(room_id)
        if stream is None:
            row = conn.execute("SELECT id FROM streams WHERE room_id = ?", (room_id,)).fetchone()
            if row is None and not create:
                return None
            stream = row[0] if row else conn.execute("INSERT INTO streams (room_id) VALUES (?)", (room_id,)).lastrowid
            assert stream is not None
            self._streams[room_id] = stream
        return stream

    def _seq(self, conn: sqlite3.Connection, stream: int) -> int:
        seq = self._seqs.get(stream)
        if seq is None:
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM entries WHERE stream = ?", (stream,)).fetchone()[0]
            self._seqs[stream] = seq
        return seq

    # --- reading ---

    def read_text(self, room_id: str, version: int | None) -> Snapshot | None:
        conn = self.conn
        stream = self._stream(conn, room_id, create=False)
        if stream is None:
            return None
        limit = version if version is not None else 2**63 - 1
        row = conn.execute(
            "SELECT seq, version, at, language, content FROM checkpoints WHERE stream = ? AND version <= ?"
            " ORDER BY version DESC, seq DESC LIMIT 1",
            (stream, limit),
        ).fetchone()
        base, after = EMPTY, 0
        if row is not None:
            after = row[0]
            base = Snapshot(row[1], row[2], zlib.decompress(row[4]).decode("utf-8"), row[3])
        # Versions never go back, so the entries after the checkpoint start at its version.
        rows = conn.execute(
            "SELECT version, at, message FROM entries WHERE stream = ? AND version >= ? AND version <= ? AND seq > ?"
            " ORDER BY version, seq",
            (stream, base.version, limit, after),
        )
        return text_at(base, (Entry(v, at, decode_message(v, raw)) for v, at, raw in rows), version)

    def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        conn = self.conn
        stream = self._stream(conn, room_id, create=False)
        if stream is None:
            return None
        low = -1 if after is None else after
        query = (
            "SELECT version, at, message FROM entries WHERE stream = ? AND version > ? ORDER BY version, seq LIMIT ?"
        )
        rows = conn.execute(query, (stream, low, limit + 1)).fetchall()
        if len(rows) > limit and rows[0][0] == rows[limit][0]:  # one version fills the page: take all of it
            version = rows[0][0]
            rows = conn.execute(
                "SELECT version, at, message FROM entries WHERE stream = ? AND version = ? ORDER BY seq",
                (stream, version),
            ).fetchall()
            rows += conn.execute(query, (stream, version, 1)).fetchall()
        return page([Entry(v, at, decode_message(v, raw)) for v, at, raw in rows], after, limit)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
