"""Rooms and their histories in Redis, so that several `python -m selfhost --redis-url ...`
processes share them.

Layout (all keys under `codestream:`):
- `room:<id>`      the room as JSON (shared/room_codec.py): text, version, presence, its life
- `rooms`          the set of live room ids (`count`); `tombstones` the deleted rooms' ids
- `sweep`          a sorted set: each room by the time `sweep` may next act on it (`room_operations.next_sweep_at`)
- `history:<id>:*` the room's history (selfhost/redis_history.py)
- `lock:<id>`      held while one process changes the room (SET NX PX; token-checked release)
- `socket:<sid>`   "<node> <room id>": the room a socket joined and the process holding it
- `node:<node>`    present while that process is alive (a heartbeat renews its expiry)
- `node:<node>:sockets`, `nodes`  what each process holds, so a live one can end the
                   sockets of a process that died (their `disconnected` never came)

`apply` takes the room's lock, reads the room (and the end of its history), runs the operation
(shared/room_operations.py), and writes the room back with what this process's `Recorder`
took from the change, in the one script that releases the lock, only if the lock is still
ours: room and history change together or not at all, and the history's version check holds
whichever process wrote last. Two round trips per keystroke; a per-process asyncio lock keeps
this process's own callers from spinning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from shared.history import Entry, Page, Recorder, Snapshot
from shared.room import Room
from shared.room_codec import room_from_dict, room_to_dict
from shared.room_operations import Deleted, End, Operation, Receive, Result, apply, next_sweep_at, sweep_verdict
from shared.settings import Settings
from shared.store import Swept, live

from . import redis_history
from .fanout import FanoutRedisManager
from .redis_history import Tail

log = logging.getLogger("codestream")

T = TypeVar("T")
PREFIX = "codestream:"
LOCK_MS = 5000  # a process that dies holding a lock blocks its room this long at most
HEARTBEAT_SECONDS = 1.0
NODE_TTL_MS = 5000  # a process missing this many ms of heartbeats is taken for dead

# Write the room's history and the room (or drop it, when ARGV[2] is empty) and release the
# lock, if still ours: one atomic step, so that room and history always agree.
# KEYS: the lock, the room, `rooms`, `tombstones`, `sweep`, the history's three keys.
# ARGV: the lock's token, the room's JSON ('-': leave it as it is), its id, 't' for a tombstone,
# when the sweep may act on it, then the history: '' (unchanged), 'd' (delete) or 'w' followed
# by `redis_history.write_args` (n, n times ID, time, message, then the checkpoint if any).
_SAVE_AND_UNLOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[6] == 'd' then
  redis.call('DEL', KEYS[6], KEYS[7], KEYS[8])
elseif ARGV[6] == 'w' then
  local n = tonumber(ARGV[7])
  for i = 8, 7 + 3 * n, 3 do
    redis.call('XADD', KEYS[6], ARGV[i], 'a', ARGV[i + 1], 'm', ARGV[i + 2])
  end
  local c = 8 + 3 * n
  if ARGV[c] then
    redis.call('ZADD', KEYS[7], 0, ARGV[c])
    redis.call('HSET', KEYS[8], ARGV[c], ARGV[c + 1])
  end
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('SREM', KEYS[4], ARGV[3])
  redis.call('ZREM', KEYS[5], ARGV[3])
elseif ARGV[2] ~= '-' then
  redis.call('SET', KEYS[2], ARGV[2])
  if ARGV[4] == 't' then
    redis.call('SREM', KEYS[3], ARGV[3])
    redis.call('SADD', KEYS[4], ARGV[3])
  else
    redis.call('SADD', KEYS[3], ARGV[3])
  end
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[3])
end
redis.call('DEL', KEYS[1])
return 1
"""
_KEEP = ["-", "", ""]  # ARGV[2:5] for "leave the room as it is"
_DROP = ["", "", ""]  # "forget the room without a trace"
_UNCHANGED, _DELETE, _WRITE = "", "d", "w"  # ARGV[6]: what becomes of the history


class LockLost(RuntimeError):
    """The room's lock expired while this process held it: the change was not saved."""


class RedisRoomStore:
    """A RoomStore (shared/store.py) and HistoryStore (shared/history_store.py) kept in Redis."""

    def __init__(self, client: aioredis.Redis, settings: Settings, recorder: Recorder | None = None) -> None:
        self.redis = client
        self.settings = settings
        self.recorder = recorder or Recorder()  # this process's: its samplers and checkpoint counts
        self.node = uuid.uuid4().hex
        self._locks = [asyncio.Lock() for _ in range(64)]  # this process's callers queue here first
        self._save = client.register_script(_SAVE_AND_UNLOCK)
        self._read_text = client.register_script(redis_history.READ_TEXT)
        self._read_page = client.register_script(redis_history.READ_PAGE)
        self._indexed = False  # whether this process has put unindexed rooms in the sweep index

    @classmethod
    def from_url(cls, url: str, settings: Settings, recorder: Recorder | None = None) -> RedisRoomStore:
        return cls(aioredis.Redis.from_url(url), settings, recorder)

    # --- rooms ---

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        room = live(self._decoded(await self.redis.get(_room(room_id))))
        return None if room is None else view(room)

    async def apply(self, room_id: str, operation: Operation) -> Result:
        async with self._local_lock(room_id):
            token, raw, tail = await self._lock(room_id, history=isinstance(operation, Receive | End))
            try:
                room, result = apply(self._decoded(raw), room_id, operation, self.settings)
                history = self._recorded(room, operation, result, tail)
            except BaseException:
                await self._unlock(room_id, token, _KEEP)
                raise
            await self._unlock(room_id, token, self._saved(room), history)
            if isinstance(result, Deleted):
                self.recorder.forget(room_id)
            return result

    def _recorded(self, room: Room | None, operation: Operation, result: Result, tail: Tail) -> list[Any]:
        """The history the operation makes, as the save script's arguments (`Recorder.after`)."""
        if isinstance(result, Deleted):
            return [_DELETE]
        recording = self.recorder.after(room, operation)
        entries, checkpoint = redis_history.fresh(tail, recording.entries, recording.checkpoint)
        if not entries and checkpoint is None:
            return [_UNCHANGED]
        return [_WRITE, *redis_history.write_args(tail, entries, checkpoint)]

    async def count(self) -> int:
        return int(await self.redis.scard(PREFIX + "rooms"))

    async def sweep(self, now: float) -> Swept:
        """`sweep_verdict` on every room the `sweep` index says is due; each room under its lock,
        so processes sweeping at once each delete a room at most once between them."""
        if not self._indexed:
            await self._index_unindexed()
        swept: Swept = []
        for member in await self.redis.zrangebyscore(PREFIX + "sweep", "-inf", now):
            room_id = member.decode()
            try:
                sockets = await self._sweep_one(room_id, now)
            except ValueError as error:  # a damaged room (RoomCodecError, bad JSON): left as it is
                log.warning("redis: room %s is not readable and was not swept: %s", room_id, error)
                continue
            if sockets is not None:
                swept.append((room_id, sockets))
        return swept

    async def _index_unindexed(self) -> None:
        """Once per process: rooms saved before the `sweep` index (or by an older codestream)
        join it as due at once; the first sweep sees each and gives it its true time."""
        for name in ("rooms", "tombstones"):
            async for batch in _batches(self.redis.sscan_iter(PREFIX + name, count=500), 500):
                await self.redis.zadd(PREFIX + "sweep", dict.fromkeys(batch, 0), nx=True)
        self._indexed = True

    async def _sweep_one(self, room_id: str, now: float) -> list[str] | None:
        """Run the sweep's verdict on one room; its sockets when it was deleted."""
        async with self._local_lock(room_id):
            token, raw, _ = await self._lock(room_id)
            try:
                room = self._decoded(raw)
                verdict = None if room is None else sweep_verdict(room, now, self.settings)
                result = None if verdict is None or verdict is True else apply(room, room_id, verdict, self.settings)
            except BaseException:
                await self._unlock(room_id, token, _KEEP)
                raise
            if verdict is None:  # kept (or swept by another process just now): its index renewed
                await self._unlock(room_id, token, self._saved(room))
                return None
            self.recorder.forget(room_id)
            if result is None:  # dropped without a trace
                await self._unlock(room_id, token, _DROP, [_DELETE])
                return None
            tombstone, deleted = result
            await self._unlock(room_id, token, self._saved(tombstone), [_DELETE])
            assert isinstance(deleted, Deleted)
            return deleted.sockets

    async def record_due(self) -> None:
        """Append the sampled cursors whose turn came (the host calls this about every 0.25 s)."""
        for room_id in self.recorder.rooms():
            entries = self.recorder.due(room_id)
            if entries:
                await self._append_due(room_id, entries)

    async def _append_due(self, room_id: str, entries: list[Entry]) -> None:
        def due(raw: bytes | None, tail: Tail) -> list[Any]:
            if live(self._decoded(raw)) is None:  # deleted meanwhile, perhaps by another process
                self.recorder.forget(room_id)
                return [_UNCHANGED]
            kept, _ = redis_history.fresh(tail, entries, None)
            return [_WRITE, *redis_history.write_args(tail, kept, None)]

        await self._change_history(room_id, due)

    # --- histories (HistoryStore; `apply` records by itself, these are for the tests and tools) ---

    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        await self._change_history(room_id, lambda _, tail: [_WRITE, *redis_history.write_args(tail, entries, None)])

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        await self._change_history(room_id, lambda _, tail: [_WRITE, *redis_history.write_args(tail, [], snapshot)])

    async def delete_history(self, room_id: str) -> None:
        await self._change_history(room_id, lambda _, tail: [_DELETE])

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        return await redis_history.read_text(self._read_text, room_id, version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        return await redis_history.read_page(self.redis, self._read_page, room_id, after, limit)

    async def _change_history(self, room_id: str, change: Callable[[bytes | None, Tail], list[Any]]) -> None:
        """Change the room's history, not the room, under its lock: `change(room as stored, tail)`
        gives the save script's history arguments."""
        async with self._local_lock(room_id):
            token, raw, tail = await self._lock(room_id, history=True)
            try:
                history = change(raw, tail)
            except BaseException:
                await self._unlock(room_id, token, _KEEP)
                raise
            await self._unlock(room_id, token, _KEEP, history)

    # --- the room's lock ---

    def _local_lock(self, room_id: str) -> asyncio.Lock:
        return self._locks[hash(room_id) % len(self._locks)]

    async def _lock(self, room_id: str, history: bool = False) -> tuple[str, bytes | None, Tail]:
        """Take the room's lock; the token that proves it, the room as stored, and (when
        `history`) the end of its history: read under the lock, so it holds until the save."""
        token, wait = uuid.uuid4().hex, 0.0005
        deadline = time.monotonic() + 2 * LOCK_MS / 1000
        while True:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(PREFIX + "lock:" + room_id, token, nx=True, px=LOCK_MS)
                pipe.get(_room(room_id))
                if history:
                    redis_history.queue_tail(pipe, room_id)
                taken, raw, *tail = await pipe.execute()
            if taken:
                return token, raw, redis_history.tail_of(*tail) if history else Tail()
            if time.monotonic() > deadline:
                raise TimeoutError(f"room {room_id} stayed locked")
            await asyncio.sleep(wait)  # another process is changing the room: microseconds usually
            wait = min(wait * 2, 0.02)

    async def _unlock(self, room_id: str, token: str, room: list[str], history: list[Any] | None = None) -> None:
        """Save `room` (`_saved`, `_KEEP` or `_DROP`) and `history` and release the lock, if still ours."""
        keys = [PREFIX + "lock:" + room_id, _room(room_id), *(PREFIX + k for k in ("rooms", "tombstones", "sweep"))]
        args = [token, room[0], room_id, *room[1:], *(history or [_UNCHANGED])]
        if not await self._save(keys=[*keys, *redis_history.keys(room_id)], args=args):
            self.recorder.forget(room_id)  # what it counted was not saved: start again with a checkpoint
            raise LockLost(f"the lock on room {room_id} expired before its change was saved")

    def _saved(self, room: Room | None) -> list[str]:
        if room is None:
            return _DROP
        tombstone = "t" if room.deleted_at is not None else ""
        return [_encode(room), tombstone, repr(next_sweep_at(room, self.settings))]

    def _decoded(self, raw: bytes | None) -> Room | None:
        return None if raw is None else room_from_dict(json.loads(raw), self.settings)

    # --- sockets ---

    async def bind_socket(self, socket_id: str, room_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(PREFIX + "socket:" + socket_id, f"{self.node} {room_id}")
            pipe.hset(_node_sockets(self.node), socket_id, room_id)
            await pipe.execute()

    async def socket_room(self, socket_id: str) -> str | None:
        raw = await self.redis.get(PREFIX + "socket:" + socket_id)
        return None if raw is None else raw.decode().split(" ", 1)[1]

    async def unbind_socket(self, socket_id: str) -> str | None:
        raw = await self.redis.getdel(PREFIX + "socket:" + socket_id)
        if raw is None:
            return None
        node, room_id = raw.decode().split(" ", 1)
        await self.redis.hdel(_node_sockets(node), socket_id)
        return room_id

    # --- processes ---

    async def lost_sockets(self) -> AsyncIterator[str]:
        """Keep this process marked alive; yield the sockets of processes that died, forever.

        The caller runs `disconnected` for each, which unbinds it and updates presence.
        """
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(_node(self.node), "1", px=NODE_TTL_MS)
                    pipe.sadd(PREFIX + "nodes", self.node)
                    await pipe.execute()
                for node in await self._dead_nodes():
                    for socket_id in await self.redis.hkeys(_node_sockets(node)):
                        yield socket_id.decode()
                    if not await self.redis.hlen(_node_sockets(node)):
                        await self.redis.srem(PREFIX + "nodes", node)
            except aioredis.RedisError as error:
                log.warning("redis: %s", error)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _dead_nodes(self) -> list[str]:
        nodes = [n.decode() for n in await self.redis.smembers(PREFIX + "nodes") if n.decode() != self.node]
        if not nodes:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(_node(node))
            alive = await pipe.execute()
        return [node for node, flag in zip(nodes, alive, strict=True) if not flag]

    async def close(self) -> None:
        await self.redis.aclose()


def _room(room_id: str) -> str:
    return PREFIX + "room:" + room_id


def _node(node: str) -> str:
    return PREFIX + "node:" + node


def _node_sockets(node: str) -> str:
    return PREFIX + "node:" + node + ":sockets"


async def _batches(items: AsyncIterator[bytes], size: int) -> AsyncIterator[list[bytes]]:
    batch: list[bytes] = []
    async for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _encode(room: Room) -> str:
    return json.dumps(room_to_dict(room), separators=(",", ":"))


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


def check_reachable(url: str, timeout: float = 5) -> None:
    """Raise OSError (with the password left out) when Redis does not answer a PING."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as error:
        raise OSError(f"cannot reach Redis at {redacted(url)}: {error}") from None
    finally:
        client.close()


def redis_backends(url: str, settings: Settings) -> tuple[RedisRoomStore, FanoutRedisManager]:
    """The room store and the Socket.IO manager several processes share."""
    return RedisRoomStore.from_url(url, settings), FanoutRedisManager(url, channel=PREFIX + settings.hub)
