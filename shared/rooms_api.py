"""The rooms HTTP API (docs/API.md, docs/openapi.yaml): read a stream's text and history, end it, delete it.

Pure: each function takes what the request carried and answers an `ApiAnswer`; the adapters
only translate (the self-hosted server in selfhost/app.py, the Function App in
function_app.py) and perform `actions` as they perform a Socket.IO handler's. A refused
request changes nothing: every check comes before the one store operation.

`query` is the raw query string (without `?`), so that an unknown or repeated parameter is
seen and refused; a host that only has the parameters as a mapping may pass that instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

from .actions import Action
from .capabilities import is_room_id, is_writer_key, is_writer_key_shape
from .handlers import deleted_room, ended_room
from .history import EMPTY, Entry
from .negotiate import error_body
from .protocol import ErrorCode, ProtocolError
from .room import Room
from .room_operations import Delete, Deleted, End, Ended
from .settings import Settings
from .store import RoomStore

Query = str | Mapping[str, str]
T = TypeVar("T")

# What the API takes at most: its requests carry a few short parameters and no body.
MAX_QUERY_CHARS: Final = 256
MAX_BODY_BYTES: Final = 1024
MAX_NUMBER: Final = 2**53 - 1  # the largest whole number JSON readers (JavaScript) keep exactly

HTTP_STATUS: Final[Mapping[ErrorCode, int]] = {
    "bad_request": 400,
    "unauthorized": 401,
    "room_not_found": 404,
    "too_large": 413,
    "rate_limited": 429,
    "internal": 500,
}
NO_STORE: Final = {"Cache-Control": "no-store"}  # answers change as the stream goes on, and may be private
CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}
_NUMBER = re.compile(r"[0-9]{1,16}")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *")


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """An HTTP answer: status, JSON body, the Socket.IO actions to perform, extra headers."""

    status: int
    body: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


# --- the four requests -----------------------------------------------------------------


async def text(store: RoomStore, room_id: str, query: Query) -> ApiAnswer:
    """`GET /api/rooms/{room_id}/text[?version=V]`: the text at V (default: the latest)."""
    try:
        _check_room_id(room_id)
        params = _parse(query, ("version",))
        version = _number(params, "version")
        live_version, created_at = await _live(store, room_id, lambda r: (r.tracker.version or 0, r.created_at))
        if version is not None and version > live_version:
            raise ProtocolError("bad_request", f"version {version} is past the live version {live_version}")
        snapshot = await store.read_text(room_id, version)
    except ProtocolError as error:
        return refusal(error)
    if snapshot is None:  # nothing recorded yet: the empty text the room began with
        snapshot = EMPTY
    # The text before any was written dates from the room's creation, not from the epoch.
    at = created_at if snapshot.version == 0 and snapshot.at == EMPTY.at else snapshot.at
    return _ok(
        {
            "room_id": room_id,
            "version": snapshot.version,
            "at": at,
            "content": snapshot.content,
            "language": snapshot.language,
        }
    )


async def history(store: RoomStore, room_id: str, query: Query, settings: Settings) -> ApiAnswer:
    """`GET /api/rooms/{room_id}/history[?after=V][&limit=N]`: the entries after V, a page at a time."""
    try:
        _check_room_id(room_id)
        params = _parse(query, ("after", "limit"))
        after = _number(params, "after")
        limit = _number(params, "limit")
        most = settings.history_page_limit
        if limit is not None and not 1 <= limit <= most:
            raise ProtocolError("bad_request", f"limit must be from 1 to {most}, not {limit}")
        # The page first, then the room: `live_version` is then at least every version listed.
        found = await store.read_page(room_id, after, most if limit is None else limit)
        room = await _live(store, room_id, _state)
    except ProtocolError as error:
        return refusal(error)
    entries = [] if found is None else [entry_body(e) for e in found.entries]
    next_after = None if found is None else found.next_after
    return _ok({"room_id": room_id, **room, "entries": entries, "next_after": next_after})


async def end(
    store: RoomStore, secret: bytes, room_id: str, authorization: str | None, now: float, query: Query = ""
) -> ApiAnswer:
    """`POST /api/rooms/{room_id}/end` with the writer key: the stream ends; its sockets hear `ended`."""
    try:
        _check_writer(secret, room_id, authorization, query)
        ended = await store.apply(room_id, End(now))
        if not isinstance(ended, Ended):
            raise _no_room()
    except ProtocolError as error:
        return refusal(error)
    # Told again on a repeated end: the same message, harmless, and a socket that missed it hears it.
    return _ok({"room_id": room_id, "ended_at": ended.at}, ended_room(room_id, ended.at))


async def delete(
    store: RoomStore, secret: bytes, room_id: str, authorization: str | None, now: float, query: Query = ""
) -> ApiAnswer:
    """`DELETE /api/rooms/{room_id}` with the writer key: room, text and history go; its sockets
    hear `deleted` and are disconnected."""
    try:
        _check_writer(secret, room_id, authorization, query)
        deleted = await store.apply(room_id, Delete(now))
        if not isinstance(deleted, Deleted):
            raise _no_room()
    except ProtocolError as error:
        return refusal(error)
    return _ok({"room_id": room_id, "deleted": True}, deleted_room(room_id, deleted.sockets))


# --- answers the adapters give before the core is reached ------------------------------


def refusal(error: ProtocolError) -> ApiAnswer:
    """The JSON error answer for `error` (401s carry the Bearer challenge)."""
    headers = {**NO_STORE, **(CHALLENGE if error.code == "unauthorized" else {})}
    return ApiAnswer(HTTP_STATUS[error.code], error_body(error), [], headers)


def _ok(body: dict[str, Any], actions: list[Action] | None = None) -> ApiAnswer:
    return ApiAnswer(200, body, actions or [], dict(NO_STORE))


def body_too_large() -> ApiAnswer:
    return refusal(ProtocolError("too_large", f"this API takes no request body over {MAX_BODY_BYTES} bytes"))


def method_not_allowed(allowed: list[str]) -> ApiAnswer:
    """405, with the methods the path takes (the error code is the protocol's nearest, bad_request)."""
    answer = refusal(ProtocolError("bad_request", f"use {' or '.join(allowed)} here"))
    return ApiAnswer(405, answer.body, [], {**answer.headers, "Allow": ", ".join(allowed)})


def no_such_endpoint() -> ApiAnswer:
    return refusal(ProtocolError("room_not_found", "no such room or endpoint: see docs/API.md"))


def entry_body(entry: Entry) -> dict[str, Any]:
    """A history entry as the API and the export file give it."""
    return {"version": entry.version, "at": entry.at, "message": dict(entry.message)}


# --- checks ------------------------------------------------------------------------------


def _check_room_id(room_id: str) -> None:
    if not is_room_id(room_id):
        raise ProtocolError("bad_request", "room_id is not a codestream room id (22 base64url characters)")


def _check_writer(secret: bytes, room_id: str, authorization: str | None, query: Query) -> None:
    """The room id's shape, no query, then the writer key from `Authorization: Bearer <key>`
    (compared in constant time)."""
    _check_room_id(room_id)
    _parse(query, ())
    match = _BEARER.fullmatch((authorization or "").strip())
    if match is None:
        raise ProtocolError("unauthorized", "send the room's writer key: Authorization: Bearer <writer_key>")
    key = match.group(1)
    if not is_writer_key_shape(key) or not is_writer_key(secret, room_id, key):
        raise ProtocolError("unauthorized", "the writer key does not belong to this room")


def _parse(query: Query, known: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters; ProtocolError for one too long, unknown, repeated or malformed."""
    if isinstance(query, Mapping):
        pairs, size = list(query.items()), sum(len(k) + len(v) + 2 for k, v in query.items())
    else:
        pairs, size = [], len(query)
    if size > MAX_QUERY_CHARS:
        raise ProtocolError("too_large", f"the query string is longer than {MAX_QUERY_CHARS} characters")
    if isinstance(query, str):
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, errors="strict")
        except ValueError:  # UnicodeDecodeError too: %-escapes that are not UTF-8
            raise ProtocolError("bad_request", "the query string is not name=value pairs joined by &") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            takes = ", ".join(known) if known else "none"
            raise ProtocolError("bad_request", f"unknown query parameter {name[:32]!r} (this request takes: {takes})")
        if name in params:
            raise ProtocolError("bad_request", f"{name} is given more than once")
        params[name] = value
    return params


def _number(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not _NUMBER.fullmatch(raw) or int(raw) > MAX_NUMBER:
        raise ProtocolError("bad_request", f"{name} must be a whole number from 0 to {MAX_NUMBER}")
    return int(raw)


async def _live(store: RoomStore, room_id: str, view: Callable[[Room], T]) -> T:
    """`view(room)` of a live room; room_not_found for none, a deleted one or an expired one."""
    found = await store.read(room_id, view)
    if found is None:
        raise _no_room()
    return found


def _no_room() -> ProtocolError:
    return ProtocolError("room_not_found", "no such room: it never existed, was deleted, or expired")


def _state(room: Room) -> dict[str, Any]:
    return {
        "live_version": room.tracker.version or 0,
        "ended": room.ended_at is not None,
        "ended_at": room.ended_at,
        "expires_at": room.expires_at,
    }
