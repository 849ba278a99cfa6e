"""Rooms in Redis, so that several `python -m selfhost --redis-url ...` processes share them.

Layout (all keys under `codestream:`):
- `room:<id>`      the room as JSON (shared/room_codec.py): text, version and presence
- `rooms`          the set of room ids (count, idle expiry)
- `lock:<id>`      held while one process changes the room (SET NX PX; token-checked release)
- `socket:<sid>`   "<node> <room id>": the room a socket joined and the process holding it
- `node:<node>`    present while that process is alive (a heartbeat renews its expiry)
- `node:<node>:sockets`, `nodes`  what each process holds, so a live one can end the
                   sockets of a process that died (their `disconnected` never came)

`apply` takes the room's lock, reads, runs the operation (shared/room_operations.py), and
writes the room back in the same script that releases the lock, only if the lock is still ours. Two round trips per
keystroke; a per-process asyncio lock keeps this process's own callers from spinning.
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
from shared.room_operations import Operation, Receive, Result, apply
from shared.settings import Settings

from . import redis_history
from .fanout import FanoutRedisManager
from .redis_history import Tail

log = logging.getLogger("codestream")

T = TypeVar("T")
PREFIX = "codestream:"
LOCK_MS = 5000  # a process that dies holding a lock blocks its room this long at most
HEARTBEAT_SECONDS = 1.0
NODE_TTL_MS = 5000  # a process missing this many ms of heartbeats is taken for dead

# Write the room's history and the room (or delete it, when ARGV[2] is empty) and release the
# lock, if still ours: one atomic step, so that room and history always agree.
# KEYS: the lock, the room, the set of rooms, the history's keys (selfhost/redis_history.py).
# ARGV: the lock's token, the room's JSON, its id, then the history: '' (unchanged), 'd' (delete)
# or 'w' followed by `redis_history.write_args` (n, n times ID, time, message, then the checkpoint if any).
_SAVE_AND_UNLOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[4] == 'd' then
  redis.call('DEL', KEYS[4], KEYS[5], KEYS[6])
elseif ARGV[4] == 'w' then
  local n = tonumber(ARGV[5])
  for i = 6, 5 + 3 * n, 3 do
    redis.call('XADD', KEYS[4], ARGV[i], 'a', ARGV[i + 1], 'm', ARGV[i + 2])
  end
  local c = 6 + 3 * n
  if ARGV[c] then
    redis.call('ZADD', KEYS[5], 0, ARGV[c])
    redis.call('HSET', KEYS[6], ARGV[c], ARGV[c + 1])
  end
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
elseif ARGV[2] ~= '-' then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
end
redis.call('DEL', KEYS[1])
return 1
"""
_KEEP = "-"  # ARGV[2] for "leave the room as it is"
_UNCHANGED, _DELETE, _WRITE = "", "d", "w"  # ARGV[4]: what becomes of the history


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

    @classmethod
    def from_url(cls, url: str, settings: Settings, recorder: Recorder | None = None) -> RedisRoomStore:
        return cls(aioredis.Redis.from_url(url), settings, recorder)

    # --- rooms ---

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        raw = await self.redis.get(_room(room_id))
        return None if raw is None else view(self._decode(raw))

    async def apply(self, room_id: str, operation: Operation) -> Result:
        async with self._local_lock(room_id):
            token, raw, tail = await self._lock(room_id, history=isinstance(operation, Receive))
            try:
                room, result = apply(None if raw is None else self._decode(raw), room_id, operation, self.settings)
                history = self._recorded(room, operation, tail)
            except BaseException:
                await self._unlock(room_id, token, _KEEP)
                raise
            await self._unlock(room_id, token, "" if room is None else _encode(room), history)
            return result

    def _recorded(self, room: Room | None, operation: Operation, tail: Tail) -> list[Any]:
        """The history the operation adds, as the save script's arguments (contract: `Recorder`)."""
        if not isinstance(operation, Receive) or room is None:
            return [_UNCHANGED]
        recording = self.recorder.take(room, operation.at)
        entries, checkpoint = redis_history.fresh(tail, recording.entries, recording.checkpoint)
        if not entries and checkpoint is None:
            return [_UNCHANGED]
        return [_WRITE, *redis_history.write_args(tail, entries, checkpoint)]

    async def record_due(self) -> None:
        """Append the sampled cursors whose turn came (the host calls this about every 0.25 s)."""
        for room_id in self.recorder.rooms():
            entries = self.recorder.due(room_id)
            if entries:
                await self._append_due(room_id, entries)

    async def _append_due(self, room_id: str, entries: list[Entry]) -> None:
        def due(raw: bytes | None, tail: Tail) -> list[Any]:
            if raw is None:  # gone meanwhile (another process deleted it): nothing to add to
                self.recorder.forget(room_id)
                return [_UNCHANGED]
            kept, _ = redis_history.fresh(tail, entries, None)
            return [_WRITE, *redis_history.write_args(tail, kept, None)]

        await self._change_history(room_id, due)

    async def count(self) -> int:
        return int(await self.redis.scard(PREFIX + "rooms"))

    async def expire_idle(self, now: float, idle_seconds: float) -> int:
        expired = 0
        for member in await self.redis.smembers(PREFIX + "rooms"):
            room_id = member.decode()
            async with self._local_lock(room_id):
                token, raw, _ = await self._lock(room_id)
                idle = raw is None or self._decode(raw).is_idle(now, idle_seconds)
                await self._unlock(room_id, token, "" if idle else _KEEP)
                if raw is not None and idle:
                    expired += 1
        return expired

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

    async def _unlock(self, room_id: str, token: str, value: str, history: list[Any] | None = None) -> None:
        keys = [PREFIX + "lock:" + room_id, _room(room_id), PREFIX + "rooms", *redis_history.keys(room_id)]
        if not await self._save(keys=keys, args=[token, value, room_id, *(history or [_UNCHANGED])]):
            self.recorder.forget(room_id)  # what it counted was not saved: start again with a checkpoint
            raise LockLost(f"the lock on room {room_id} expired before its change was saved")

    def _decode(self, raw: bytes) -> Room:
        return room_from_dict(json.loads(raw), self.settings)

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
