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
from collections.abc import AsyncIterator, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from shared.room import Room
from shared.room_codec import room_from_dict, room_to_dict
from shared.room_operations import Operation, Result, apply
from shared.settings import Settings

from .fanout import FanoutRedisManager

log = logging.getLogger("codestream")

T = TypeVar("T")
PREFIX = "codestream:"
LOCK_MS = 5000  # a process that dies holding a lock blocks its room this long at most
HEARTBEAT_SECONDS = 1.0
NODE_TTL_MS = 5000  # a process missing this many ms of heartbeats is taken for dead

# Write the room (or delete it, when ARGV[2] is empty) and release the lock, if still ours.
# KEYS: the lock, the room, the set of rooms; ARGV: the lock's token, the room's JSON, its id.
_SAVE_AND_UNLOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
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
_KEEP = "-"  # ARGV[2] for "release the lock, change nothing"


class LockLost(RuntimeError):
    """The room's lock expired while this process held it: the change was not saved."""


class RedisRoomStore:
    """A RoomStore (shared/store.py) kept in Redis."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.node = uuid.uuid4().hex
        self._locks = [asyncio.Lock() for _ in range(64)]  # this process's callers queue here first
        self._save = client.register_script(_SAVE_AND_UNLOCK)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RedisRoomStore:
        return cls(aioredis.Redis.from_url(url), settings)

    # --- rooms ---

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        raw = await self.redis.get(_room(room_id))
        return None if raw is None else view(self._decode(raw))

    async def apply(self, room_id: str, operation: Operation) -> Result:
        async with self._locks[hash(room_id) % len(self._locks)]:
            token, raw = await self._lock(room_id)
            try:
                room, result = apply(None if raw is None else self._decode(raw), room_id, operation, self.settings)
            except BaseException:
                await self._unlock(room_id, token, _KEEP)
                raise
            await self._unlock(room_id, token, "" if room is None else _encode(room))
            return result

    async def count(self) -> int:
        return int(await self.redis.scard(PREFIX + "rooms"))

    async def expire_idle(self, now: float, idle_seconds: float) -> int:
        expired = 0
        for member in await self.redis.smembers(PREFIX + "rooms"):
            room_id = member.decode()
            async with self._locks[hash(room_id) % len(self._locks)]:
                token, raw = await self._lock(room_id)
                idle = raw is None or self._decode(raw).is_idle(now, idle_seconds)
                await self._unlock(room_id, token, "" if idle else _KEEP)
                if raw is not None and idle:
                    expired += 1
        return expired

    async def _lock(self, room_id: str) -> tuple[str, bytes | None]:
        """Take the room's lock; the token that proves it, and the room as stored."""
        token, wait = uuid.uuid4().hex, 0.0005
        deadline = time.monotonic() + 2 * LOCK_MS / 1000
        while True:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(PREFIX + "lock:" + room_id, token, nx=True, px=LOCK_MS)
                pipe.get(_room(room_id))
                taken, raw = await pipe.execute()
            if taken:
                return token, raw
            if time.monotonic() > deadline:
                raise TimeoutError(f"room {room_id} stayed locked")
            await asyncio.sleep(wait)  # another process is changing the room: microseconds usually
            wait = min(wait * 2, 0.02)

    async def _unlock(self, room_id: str, token: str, value: str) -> None:
        keys = [PREFIX + "lock:" + room_id, _room(room_id), PREFIX + "rooms"]
        if not await self._save(keys=keys, args=[token, value, room_id]):
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
