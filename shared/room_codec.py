"""A room's state as plain JSON data, for stores that keep rooms outside this process.

The Durable Entity (Azure) and the Redis store save `room_to_dict(room)` and rebuild the
room with `room_from_dict`. Limits are not state: they come from the caller's Settings.

Held deltas are kept by their change events only: a held delta is applied later, never
relayed, so its raw message is not needed. Timestamps (`gap_since`, `sync_asked_at`, `last_active`) are
in the clock of whoever called `Room.receive`; a store shared by processes should use
wall-clock time.
"""

from __future__ import annotations

from typing import Any

from .document import Change
from .protocol import Delta
from .room import Room, new_room
from .settings import Settings
from .versions import VersionTracker

FORMAT = 2  # 2 added the room's life (created, expires, ended, deleted); 1 is still read
READABLE_FORMATS = (1, 2)


class RoomCodecError(ValueError):
    """Stored data that is not a room this code can read."""


def room_to_dict(room: Room) -> dict[str, Any]:
    tracker = room.tracker
    return {
        "format": FORMAT,
        "room_id": room.room_id,
        "text": room.document.text(),
        "version": tracker.version,
        "numbering": tracker.numbering,
        "held": [[sent, _events_to_list(delta)] for sent, delta in sorted(tracker.held.items())],
        "gap_since": tracker.gap_since,
        "language": room.language,
        "cursor": None if room.cursor is None else dict(room.cursor),
        "writers": sorted(room.writers),
        "viewers": sorted(room.viewers),
        "sync_asked_at": room.sync_asked_at,
        "last_active": room.last_active,
        "created_at": room.created_at,
        "expires_at": room.expires_at,
        "ended_at": room.ended_at,
        "deleted_at": room.deleted_at,
    }


def room_from_dict(data: Any, settings: Settings) -> Room:
    """Rebuild a room saved by `room_to_dict`; raises RoomCodecError on anything else."""
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise RoomCodecError("not a stored room (unknown format)")
    try:
        room = new_room(data["room_id"], settings)
        room.document.replace_all(data["text"])
        room.tracker = VersionTracker(
            version=data["version"],
            numbering=data["numbering"],
            held={int(sent): _delta(int(sent), events) for sent, events in data["held"]},
            gap_since=data["gap_since"],
        )
        room.language = data["language"]
        room.cursor = data["cursor"]
        room.writers = set(data["writers"])
        room.viewers = set(data["viewers"])
        room.sync_asked_at = data["sync_asked_at"]
        room.last_active = float(data["last_active"])
        # A format-1 room was made before lifetimes: it lives the default lifetime from its last activity.
        room.created_at = float(data.get("created_at", room.last_active))
        room.expires_at = float(data.get("expires_at", room.last_active + settings.default_lifetime))
        room.ended_at = _optional_time(data.get("ended_at"))
        room.deleted_at = _optional_time(data.get("deleted_at"))
    except (KeyError, TypeError, ValueError) as error:
        raise RoomCodecError(f"stored room is damaged: {error}") from None
    return room


def _optional_time(value: Any) -> float | None:
    return None if value is None else float(value)


def _events_to_list(delta: Delta) -> list[list[list[Any]]]:
    return [[[c.offset, c.length, c.text] for c in event] for event in delta.events]


def _delta(sent: int, events: list[list[list[Any]]]) -> Delta:
    changes = tuple(tuple(Change(int(o), int(n), str(t)) for o, n, t in event) for event in events)
    return Delta(sent, changes, {"type": "delta", "version": sent})
