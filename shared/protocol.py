"""The wire protocol: what clients may send, parsed and checked, and what the server sends.

The single source of truth for the shapes of PROTOCOL.md. Parsing never trusts a payload:
anything off-shape raises `ProtocolError` with one of the protocol's error codes, and the
handlers turn that into an `error` message for the sender.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from .capabilities import is_room_id, is_writer_key_shape
from .document import Change
from .settings import LIFETIMES, Settings
from .versions import Numbering

ErrorCode = Literal["bad_request", "unauthorized", "room_not_found", "too_large", "rate_limited", "internal"]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = get_args(ErrorCode)
Role = Literal["writer", "viewer"]

# --- the vocabulary: every name on the wire, spelled once (static_site/src/protocol.js mirrors it)

# Socket.IO events. Clients emit the first two; the server emits the last two.
JOIN_ROOM_EVENT: Final = "joinRoom"
SEND_TO_ROOM_EVENT: Final = "sendToRoom"
LOGIN_EVENT: Final = "login"  # to a socket once it is connected: join now
MESSAGE_EVENT: Final = "message"  # every message from the server
CLIENT_EVENTS: Final = (JOIN_ROOM_EVENT, SEND_TO_ROOM_EVENT)
# The service's system events (Web PubSub's names; the self-hosted server raises the same).
CONNECT_EVENT: Final = "connect"
CONNECTED_EVENT: Final = "connected"
DISCONNECTED_EVENT: Final = "disconnected"


class MessageType:
    """`type` of the messages sent with the `message` event, and of the stream messages."""

    ACK_JOIN_ROOM: Final = "ackJoinRoom"
    EDITOR_MESSAGE: Final = "editorMessage"
    PRESENCE: Final = "presence"
    SUPERSEDED: Final = "superseded"
    ERROR: Final = "error"
    # stream messages, inside `data` of sendToRoom and of editorMessage
    DELTA: Final = "delta"
    FULL: Final = "full"
    CURSOR: Final = "cursor"
    LANGUAGE: Final = "language"
    MARKER: Final = "marker"  # a labelled point in the stream, from its writer
    # the stream's end of life, to its viewers and writers
    ENDED: Final = "ended"
    DELETED: Final = "deleted"


STREAM_TYPES: Final = (
    MessageType.DELTA,
    MessageType.FULL,
    MessageType.CURSOR,
    MessageType.LANGUAGE,
    MessageType.MARKER,
)
CONTROL_SUFFIX: Final = "-control"  # room R's writers are in R-control, its viewers in R
SYNC: Final = "sync"  # the tutorial's sync request is the stream message {"data": "sync"}
NUMBERINGS: Final[tuple[Numbering, ...]] = ("native", "tutorial")
MAX_MARKER_LABEL: Final = 80  # characters


def vocabulary() -> dict[str, Any]:
    """Every name above, for the test that checks the browser's mirror against it."""
    types = {name: value for name, value in vars(MessageType).items() if name.isupper()}
    return {
        "events": {
            "joinRoom": JOIN_ROOM_EVENT,
            "sendToRoom": SEND_TO_ROOM_EVENT,
            "login": LOGIN_EVENT,
            "message": MESSAGE_EVENT,
        },
        "types": types,
        "errorCodes": list(ERROR_CODES),
        "controlSuffix": CONTROL_SUFFIX,
        "sync": SYNC,
        "numberings": list(NUMBERINGS),
        "lifetimes": list(LIFETIMES),
        "maxMarkerLabel": MAX_MARKER_LABEL,
    }


_LANGUAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#-]{0,63}")


class ProtocolError(Exception):
    """A client message refused; `code` is one of the protocol's error codes."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


# --- client to server ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delta:
    version: int
    events: tuple[tuple[Change, ...], ...]
    raw: Mapping[str, Any]  # relayed as sent, so tutorial viewers see Monaco's own fields


@dataclass(frozen=True, slots=True)
class Full:
    version: int
    content: str
    language: str | None
    numbering: Numbering | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Cursor:
    version: int
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Language:
    language: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Marker:
    version: int
    label: str  # trimmed
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SyncRequest:
    pass


StreamMessage = Delta | Full | Cursor | Language | Marker | SyncRequest
WriterMessage = Delta | Full | Cursor | Language | Marker


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room_id: str  # always the base id, "-control" removed
    writer_key: str | None


@dataclass(frozen=True, slots=True)
class SendToRoom:
    room_id: str  # always the base id, "-control" removed
    data: StreamMessage
    writer_key: str | None


def parse_join_room(payload: object) -> JoinRoom:
    body = _object(payload, "joinRoom payload")
    return JoinRoom(_room_id(body), _writer_key(body))


def parse_send_to_room(payload: object, settings: Settings) -> SendToRoom:
    body = _object(payload, "sendToRoom payload")
    room_id = _room_id(body)
    if "data" not in body:
        raise ProtocolError("bad_request", "sendToRoom needs 'data'")
    return SendToRoom(room_id, parse_stream_message(body["data"], settings), _writer_key(body))


def parse_stream_message(data: object, settings: Settings) -> StreamMessage:
    body = _object(data, "data")
    kind = body.get("type")
    if is_sync_request(body):
        return SyncRequest()
    if kind == MessageType.DELTA:
        return _delta(body, settings)
    if kind == MessageType.FULL:
        return Full(_version(body), _string(body, "content"), _optional_language(body), _numbering(body), body)
    if kind == MessageType.CURSOR:
        _selections(body, settings)
        return Cursor(_version(body), body)
    if kind == MessageType.LANGUAGE:
        return Language(_language(body.get("language")), body)
    if kind == MessageType.MARKER:
        return Marker(_version(body), _label(body.get("label")), body)
    raise ProtocolError("bad_request", "data.type must be delta, full, cursor, language or marker (or data: 'sync')")


def _delta(body: Mapping[str, Any], settings: Settings) -> Delta:
    version = _version(body)
    events = body.get("changes")
    if not isinstance(events, list) or not events:
        raise ProtocolError("bad_request", "delta.changes must be a non-empty list of change events")
    if len(events) > settings.max_events_per_delta:
        raise ProtocolError("too_large", f"a delta holds at most {settings.max_events_per_delta} change events")
    return Delta(version, tuple(_event(e, settings) for e in events), body)


def _event(event: object, settings: Settings) -> tuple[Change, ...]:
    body = _object(event, "a change event")
    changes = body.get("changes")
    if not isinstance(changes, list):
        raise ProtocolError("bad_request", "each change event needs a 'changes' list")
    if len(changes) > settings.max_changes_per_event:
        raise ProtocolError("too_large", f"a change event holds at most {settings.max_changes_per_event} changes")
    eol = body.get("eol")
    if eol is not None and eol not in ("\n", "\r\n"):
        raise ProtocolError("bad_request", "eol must be '\\n' or '\\r\\n'")
    return tuple(_change(c) for c in changes)


def _change(change: object) -> Change:
    body = _object(change, "a change")
    offset = _natural(body, "rangeOffset")
    length = _natural(body, "rangeLength")
    text = _string(body, "text")
    if "range" in body and not isinstance(body["range"], dict):
        raise ProtocolError("bad_request", "a change's range must be an object")
    return Change(offset, length, text)


def _selections(body: Mapping[str, Any], settings: Settings) -> None:
    selections = body.get("selections")
    if not isinstance(selections, list):
        raise ProtocolError("bad_request", "cursor.selections must be a list")
    if len(selections) > settings.max_selections:
        raise ProtocolError("too_large", f"a cursor holds at most {settings.max_selections} selections")
    for selection in selections:
        item = _object(selection, "a selection")
        _natural(item, "anchor")
        _natural(item, "head")


# --- field checks ---------------------------------------------------------------------


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("bad_request", f"{what} must be a JSON object")
    return value


def _room_id(body: Mapping[str, Any]) -> str:
    room_id = body.get("room_id")
    if not isinstance(room_id, str):
        raise ProtocolError("bad_request", "room_id must be a string")
    base = room_id.removesuffix(CONTROL_SUFFIX)
    if not is_room_id(base):
        raise ProtocolError("bad_request", "room_id is not a codestream room id (22 base64url characters)")
    return base


def _writer_key(body: Mapping[str, Any]) -> str | None:
    key = body.get("writer_key")
    if key is None:
        return None
    if not isinstance(key, str) or not is_writer_key_shape(key):
        raise ProtocolError("bad_request", "writer_key is not a codestream writer key (43 base64url characters)")
    return key


def _natural(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("bad_request", f"{name} must be a whole number >= 0")
    return value


def _version(body: Mapping[str, Any]) -> int:
    version = _natural(body, "version")
    if version > 2**53 - 1:  # JavaScript's largest safe integer
        raise ProtocolError("bad_request", "version is too large")
    return version


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"{name} must be a string")
    return value


def _language(value: object) -> str:
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        raise ProtocolError("bad_request", "language must be a Monaco language id such as 'python'")
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _label(value: object) -> str:
    label = value.strip() if isinstance(value, str) else ""
    if not label or len(label) > MAX_MARKER_LABEL or _CONTROL.search(label):
        raise ProtocolError(
            "bad_request", f"a marker's label must be 1 to {MAX_MARKER_LABEL} characters, without control characters"
        )
    return label


def _numbering(body: Mapping[str, Any]) -> Numbering | None:
    numbering = body.get("numbering")
    if numbering is not None and numbering not in NUMBERINGS:
        raise ProtocolError("bad_request", "numbering must be 'native' or 'tutorial'")
    return numbering


def _optional_language(body: Mapping[str, Any]) -> str | None:
    return None if body.get("language") is None else _language(body["language"])


def payload_size(value: object, limit: int) -> int:
    """The size of a parsed JSON payload in bytes, counted until it passes `limit`.

    Counts string bytes (UTF-8) and one byte a number or punctuation mark; close enough to
    the frame size to enforce a limit without encoding the message again.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2 if item.isascii() else len(item.encode("utf-8", "surrogatepass")) + 2
        elif isinstance(item, dict):
            total += 2 + len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 4
    return total


def check_size(payload: object, settings: Settings) -> None:
    if payload_size(payload, settings.max_message_bytes) > settings.max_message_bytes:
        raise ProtocolError("too_large", f"a message may hold at most {settings.max_message_bytes} bytes")


# --- client to server: the messages clients build (the browser's protocol.js builds the same)


def join_room_payload(room_id: str, writer_key: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"room_id": room_id}
    if writer_key is not None:
        payload["writer_key"] = writer_key
    return payload


def send_to_room_payload(room_id: str, data: Mapping[str, Any], writer_key: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"room_id": room_id, "data": data}
    if writer_key is not None:
        payload["writer_key"] = writer_key
    return payload


def delta_message(version: int, changes: list[Any]) -> dict[str, Any]:
    """`changes`: Monaco change events, each `{changes: [{rangeOffset, rangeLength, text, ...}], eol?}`."""
    return {"type": MessageType.DELTA, "version": version, "changes": changes}


def cursor_message(version: int, selections: list[Any]) -> dict[str, Any]:
    return {"type": MessageType.CURSOR, "version": version, "selections": selections}


def language_message(language: str) -> dict[str, Any]:
    return {"type": MessageType.LANGUAGE, "language": language}


def marker_message(version: int, label: str) -> dict[str, Any]:
    return {"type": MessageType.MARKER, "version": version, "label": label}


def sync_request() -> dict[str, Any]:
    return {"data": SYNC}


def is_sync_request(data: object) -> bool:
    return isinstance(data, dict) and data.get("type") is None and data.get("data") == SYNC


# --- server to client -----------------------------------------------------------------


def control_room(room_id: str) -> str:
    return room_id + CONTROL_SUFFIX


def ack_join(
    room_id: str, role: Role, version: int | None, expires_at: float | None = None, ended_at: float | None = None
) -> dict[str, Any]:
    return {
        "type": MessageType.ACK_JOIN_ROOM,
        "success": True,
        "room_id": room_id,
        "role": role,
        "version": version,
        "expires_at": expires_at,
        "ended_at": ended_at,
    }


def ack_join_failed(error: ProtocolError) -> dict[str, Any]:
    return {
        "type": MessageType.ACK_JOIN_ROOM,
        "success": False,
        "error": {"code": error.code, "message": error.message},
    }


def editor_message(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": MessageType.EDITOR_MESSAGE, "data": data}


def full_message(
    version: int, content: str, language: str | None, numbering: Numbering | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": MessageType.FULL, "version": version, "content": content}
    if language is not None:
        message["language"] = language
    if numbering is not None:
        message["numbering"] = numbering
    return message


def presence(room_id: str, viewers: int, writer_online: bool) -> dict[str, Any]:
    return {
        "type": MessageType.PRESENCE,
        "room_id": room_id,
        "viewers": viewers,
        "writer": "online" if writer_online else "offline",
    }


def superseded(room_id: str) -> dict[str, Any]:
    """To a writer socket replaced by a newer one holding the same key (another tab)."""
    return {
        "type": MessageType.SUPERSEDED,
        "room_id": room_id,
        "message": "this stream's writer opened it elsewhere (another tab or device); this one is closed",
    }


def ended(room_id: str, at: float) -> dict[str, Any]:
    """To a room's viewers and writers: its writer ended the stream; it can be replayed."""
    return {"type": MessageType.ENDED, "room_id": room_id, "at": at}


def deleted(room_id: str) -> dict[str, Any]:
    """To a room's viewers and writers before they are disconnected: the stream is gone."""
    return {"type": MessageType.DELETED, "room_id": room_id}


def error_message(error: ProtocolError, event: str) -> dict[str, Any]:
    return {"type": MessageType.ERROR, "code": error.code, "message": error.message, "event": event}
