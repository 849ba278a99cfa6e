"""`GET /api/negotiate`: who the caller is for a room, before any socket exists.

The adapter turns the `Grant` into a token (self-hosted: `capabilities.issue_token`;
Azure: the service's negotiation) and answers with `negotiate_body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .capabilities import is_room_id, is_writer_key, is_writer_key_shape, new_room_id, new_user_id, writer_key
from .protocol import ErrorCode, ProtocolError, Role
from .settings import Settings
from .store import RoomStore, create_within_limit

HTTP_STATUS: Mapping[ErrorCode, int] = {
    "bad_request": 400,
    "unauthorized": 403,
    "room_not_found": 404,
    "too_large": 413,
    "rate_limited": 429,
    "internal": 500,
}


@dataclass(frozen=True, slots=True)
class Grant:
    room_id: str
    role: Role
    user_id: str
    writer_key: str | None = None
    expires_at: float | None = None  # when the stream is deleted (None: not known here)
    ended: bool = False  # its writer ended it: it can be replayed, not written


async def negotiate(
    query: Mapping[str, str],
    secret: bytes,
    store: RoomStore,
    now: float,
    max_rooms: int | None = None,
    settings: Settings | None = None,
) -> Grant:
    """Decide the caller's room and role from the query string; raises ProtocolError.

    A new room lives the `lifetime` the query asks for (one of `settings.lifetimes`) or the
    default one.
    """
    settings = settings or Settings()
    room_id, key = query.get("room_id"), query.get("writer_key")
    lifetime = _lifetime(query.get("lifetime"), settings)
    if room_id is None:
        if key is not None:
            raise ProtocolError("bad_request", "writer_key needs the room_id it belongs to")
        room_id = new_room_id()
        await create_within_limit(store, room_id, now, max_rooms, lifetime)
        return await _grant(store, room_id, "writer", writer_key(secret, room_id))
    if not is_room_id(room_id):
        raise ProtocolError("bad_request", "room_id is not a codestream room id (22 base64url characters)")
    if key is not None:
        if not is_writer_key_shape(key) or not is_writer_key(secret, room_id, key):
            raise ProtocolError("unauthorized", "writer_key does not belong to this room")
        if await store.read(room_id, lambda room: True) is None:  # a room this server forgot (or deleted)
            await create_within_limit(store, room_id, now, max_rooms, lifetime)
        return await _grant(store, room_id, "writer", key)
    return await _grant(store, room_id, "viewer", None)


async def _grant(store: RoomStore, room_id: str, role: Role, key: str | None) -> Grant:
    life = await store.read(room_id, lambda room: (room.expires_at, room.ended_at is not None))
    if life is None:  # none, deleted or expired (a deleted room's tombstone makes nothing again)
        raise ProtocolError("room_not_found", "no such room: check the link, or wait for its writer")
    return Grant(room_id, role, new_user_id(), key, *life)


def _lifetime(raw: str | None, settings: Settings) -> int | None:
    if raw is None:
        return None
    allowed = settings.lifetimes
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in allowed:
        choices = ", ".join(str(seconds) for seconds in allowed)
        raise ProtocolError("bad_request", f"lifetime must be one of {choices} (seconds)")
    return int(raw)


def negotiate_body(grant: Grant, endpoint: str, path: str, token: str, settings: Settings) -> dict[str, Any]:
    """PROTOCOL.md's answer; `url` carries the token so a tutorial client authenticates, and
    `limits` are the server's, so that the browser keeps to what this server accepts."""
    body: dict[str, Any] = {
        "room_id": grant.room_id,
        "role": grant.role,
        "endpoint": endpoint,
        "path": path,
        "token": token,
        "url": f"{endpoint}?access_token={quote(token, safe='')}",
        "limits": settings.client_limits(),
    }
    if grant.writer_key is not None:
        body["writer_key"] = grant.writer_key
    if grant.expires_at is not None:
        body["expires_at"] = grant.expires_at
    body["ended"] = grant.ended
    return body


def error_body(error: ProtocolError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message}}
