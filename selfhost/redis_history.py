"""Rooms' histories in Redis: the layout, what a write adds, and the reads (shared/history.py rules).

Per room (keys under `codestream:history:<id>:`):
- `entries`      a Redis Stream, one item per entry: fields `a` (the time) and `m` (the message,
                 `history.encode_message`). The item's ID is `<version>-<n>`, n counting from 1
                 within a version: versions never go back, so IDs grow as Streams require, and
                 XRANGE by version is a lookup (`after` = V starts at ID `V+1`).
- `checkpoints`  a sorted set, every score 0, members `<version>:<position>` both zero-padded
                 (position: the ID of the last entry before the checkpoint), so lexical order is
                 (version, position): the latest checkpoint at or before V is one ZREVRANGEBYLEX,
                 O(log n).
- `snapshots`    a hash, member -> the checkpoint as zlib-compressed JSON [at, language, content].

Writes happen only under the room's lock (selfhost/redis_store.py), in the script that saves
the room, so room and history change together; `Tail` is what was last written, read under
that lock, from which the IDs of new items and the version check follow.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from shared.history import (
    EMPTY,
    Entry,
    HistoryError,
    Page,
    Snapshot,
    check_entries,
    check_snapshot,
    decode_message,
    page,
    text_at,
)

HISTORY = "codestream:history:"
WIDTH = 20  # digits of a 64-bit number: zero-padded, lexical order is numeric order

# Both reads run as scripts: atomic, one round trip, and the items come back as one JSON string
# [id, time, message, id, ...] (Lua's cjson), far cheaper to parse than a reply of thousands of parts.
_FLAT = """
local function flat(items, out)
  for _, item in ipairs(items) do
    local fields = {}
    for i = 1, #item[2], 2 do fields[item[2][i]] = item[2][i + 1] end
    out[#out + 1] = item[1]
    out[#out + 1] = fields['a']
    out[#out + 1] = fields['m']
  end
  return out
end
"""

# The text at a version: the latest checkpoint at or before it and the entries after it.
# KEYS: entries, checkpoints, snapshots; ARGV: the lexical bound for the checkpoint, the last entry ID.
# Answers nil when the room has no history, else {checkpoint member or '', its snapshot or '', items}.
READ_TEXT = (
    _FLAT
    + """
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then return false end
local found = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[1], '-', 'LIMIT', 0, 1)[1]
local start, snapshot = '-', ''
if found then
  snapshot = redis.call('HGET', KEYS[3], found)
  local ms, seq = string.match(found, ':0*(%d+)-0*(%d+)$')
  if ms ~= '0' or seq ~= '0' then start = '(' .. ms .. '-' .. seq end
end
return {found or '', snapshot, cjson.encode(flat(redis.call('XRANGE', KEYS[1], start, ARGV[2]), {}))}
"""
)

# A page's items: up to ARGV[2] (the limit + 1) from ID ARGV[1]; when they are all of one version,
# all of that version and the one item after it (`history.page` then cuts). nil: no history.
READ_PAGE = (
    _FLAT
    + """
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then return false end
local n = tonumber(ARGV[2])
local items = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', n)
local version = function(item) return string.match(item[1], '^(%d+)-') end
if #items == n and version(items[1]) == version(items[n]) then
  local v = version(items[1])
  items = redis.call('XRANGE', KEYS[1], v, v)
  local out = flat(items, {})
  return cjson.encode(flat(redis.call('XRANGE', KEYS[1], '(' .. items[#items][1], '+', 'COUNT', 1), out))
end
return cjson.encode(flat(items, {}))
"""
)


def keys(room_id: str) -> list[str]:
    """The room's history keys: entries, checkpoints, snapshots (the order the scripts take)."""
    base = HISTORY + room_id + ":"
    return [base + "entries", base + "checkpoints", base + "snapshots"]


@dataclass(frozen=True, slots=True)
class Tail:
    """The end of a room's history as stored: its last entry's ID and its last checkpoint's version."""

    last_id: tuple[int, int] | None = None
    last_checkpoint: int | None = None

    @property
    def last_version(self) -> int | None:
        """The version of the last entry or checkpoint (what `check_entries` needs)."""
        versions = [v for v in (self.last_id and self.last_id[0], self.last_checkpoint) if v is not None]
        return max(versions) if versions else None


def queue_tail(pipe: Any, room_id: str) -> None:
    """Add the two reads `tail_of` takes to a pipeline."""
    entries, checkpoints, _ = keys(room_id)
    pipe.xrevrange(entries, "+", "-", count=1)
    pipe.zrevrangebylex(checkpoints, "+", "-", start=0, num=1)


def tail_of(last_items: list[Any], last_checkpoints: list[bytes]) -> Tail:
    last_id = _parse_id(last_items[0][0]) if last_items else None
    last_checkpoint = int(last_checkpoints[0].split(b":")[0]) if last_checkpoints else None
    return Tail(last_id, last_checkpoint)


def fresh(tail: Tail, entries: Sequence[Entry], snapshot: Snapshot | None) -> tuple[list[Entry], Snapshot | None]:
    """What of a recording can still go after `tail`: a cursor another process had the room
    move past while this one's sampler held it is dropped (one sampled cursor fewer)."""
    last = tail.last_version
    if last is None:
        return list(entries), snapshot
    kept = [e for e in entries if e.version >= last]
    return kept, snapshot if snapshot is None or snapshot.version >= last else None


def write_args(tail: Tail, entries: Sequence[Entry], snapshot: Snapshot | None) -> list[Any]:
    """The save script's history arguments for appending `entries`, then keeping `snapshot`.

    HistoryError (and nothing to write) when one is malformed or its version goes back.
    """
    encoded = check_entries(entries, tail.last_version)
    args: list[Any] = [len(entries)]
    position = tail.last_id or (0, 0)
    for entry, message in zip(entries, encoded, strict=True):
        position = (entry.version, position[1] + 1 if position[0] == entry.version else 1)
        args += [f"{position[0]}-{position[1]}", repr(float(entry.at)), message]
    if snapshot is not None:
        version = entries[-1].version if entries else tail.last_version
        content = check_snapshot(snapshot, version).decode("utf-8")
        member = f"{snapshot.version:0{WIDTH}d}:{position[0]:0{WIDTH}d}-{position[1]:0{WIDTH}d}"
        blob = json.dumps([float(snapshot.at), snapshot.language, content], ensure_ascii=False).encode("utf-8")
        args += [member, zlib.compress(blob)]
    return args


# --- reading ------------------------------------------------------------------------------


async def read_text(script: Any, room_id: str, version: int | None) -> Snapshot | None:
    """The text at `version` (None: the latest); None when the room has no history."""
    bound = "+" if version is None else f"({version + 1:0{WIDTH}d}"
    last = "+" if version is None else str(max(version, 0))  # a version below 0 reads as before the first
    found = await script(keys=keys(room_id), args=[bound, last])
    if found is None:
        return None
    member, snapshot, items = found
    base = EMPTY
    if member:
        at, language, content = json.loads(zlib.decompress(snapshot))
        base = Snapshot(int(member.split(b":")[0]), at, content, language)
    return text_at(base, _entries(items), version)


async def read_page(redis: aioredis.Redis, script: Any, room_id: str, after: int | None, limit: int) -> Page | None:
    """Entries after version `after` (see `history.page`); None when the room has no history."""
    entries, checkpoints, _ = keys(room_id)
    if limit < 1:
        if not await redis.exists(entries, checkpoints):
            return None
        raise HistoryError("a page holds at least one entry")
    start = "-" if after is None or after < 0 else str(after + 1)
    found = await script(keys=[entries, checkpoints], args=[start, limit + 1])
    return None if found is None else page(_entries(found), after, limit)


def _entries(raw: bytes) -> list[Entry]:
    flat = json.loads(raw) or []  # cjson writes an empty list as {}
    found = []
    for i in range(0, len(flat), 3):
        version = int(flat[i].split("-")[0])
        found.append(Entry(version, float(flat[i + 1]), decode_message(version, flat[i + 2])))
    return found


def _parse_id(raw: bytes) -> tuple[int, int]:
    ms, seq = raw.split(b"-")
    return int(ms), int(seq)
