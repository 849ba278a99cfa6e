"""Handlers: the exact actions for each client event, refusals, and the rate limit."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest

from shared.capabilities import Claims, writer_key
from shared.handlers import Caller, CheckedSend, Handlers
from shared.protocol import Delta
from shared.room import Room
from shared.room_operations import End
from shared.settings import Settings
from tests.support.inline_core import memory_core

SECRET = b"h" * 32
ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
OTHER = "BBBBBBBBBBBBBBBBBBBBBA"
CONTROL = ROOM + "-control"
KEY = writer_key(SECRET, ROOM)
W, V, V2 = Caller("w1"), Caller("v1"), Caller("v2")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- expected JSON, written out so the wire shape itself is under test ------------------


def to_socket(sid: str, message: Any, event: str = "message") -> dict[str, Any]:
    parameters = [] if message is None else [message]
    return {
        "actionName": "sendToSocket",
        "namespace": "/",
        "socketId": sid,
        "eventName": event,
        "parameters": parameters,
    }


def to_rooms(rooms: list[str], message: Any, except_rooms: list[str] | None = None) -> dict[str, Any]:
    return {
        "actionName": "sendToRooms",
        "namespace": "/",
        "rooms": rooms,
        "eventName": "message",
        "parameters": [message],
        "exceptRooms": except_rooms or [],
    }


def to_everyone(message: Any, except_socket: str) -> list[dict[str, Any]]:
    """To the room's viewers and writers but one socket: one action per room (the extension's
    `R or R-control and not S` has no parentheses, so one action for both would miss R)."""
    return [to_rooms([ROOM], message, [except_socket]), to_rooms([CONTROL], message, [except_socket])]


def add(sid: str, room: str) -> dict[str, Any]:
    return {"actionName": "addSocketToRoom", "namespace": "/", "socketId": sid, "room": room}


def ack(role: str, version: int | None, expires_at: Any = ANY, ended_at: float | None = None) -> dict[str, Any]:
    """An ackJoinRoom; its room's expiry is checked by the lifetime tests only."""
    return {
        "type": "ackJoinRoom",
        "success": True,
        "room_id": ROOM,
        "role": role,
        "version": version,
        "expires_at": expires_at,
        "ended_at": ended_at,
    }


def presence(viewers: int, writer: str) -> dict[str, Any]:
    return {"type": "presence", "room_id": ROOM, "viewers": viewers, "writer": writer}


def editor(data: Any) -> dict[str, Any]:
    return {"type": "editorMessage", "data": data}


def error(sid: str, code: str, message: str, event: str = "sendToRoom") -> dict[str, Any]:
    return to_socket(sid, {"type": "error", "code": code, "message": message, "event": event})


def failed_join(sid: str, code: str, message: str) -> list[dict[str, Any]]:
    failure = {"type": "ackJoinRoom", "success": False, "error": {"code": code, "message": message}}
    return [to_socket(sid, failure), error(sid, code, message, "joinRoom")]


ASK_WRITER = to_rooms([CONTROL], editor({"data": "sync"}))


def delta(version: int, offset: int, text: str, length: int = 0) -> dict[str, Any]:
    event = {"changes": [{"rangeOffset": offset, "rangeLength": length, "text": text, "range": {}}], "eol": "\n"}
    return {"type": "delta", "version": version, "changes": [event]}


def send(data: dict[str, Any], key: str | None = KEY, room: str = ROOM) -> dict[str, Any]:
    payload: dict[str, Any] = {"room_id": room, "data": data}
    if key is not None:
        payload["writer_key"] = key
    return payload


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **settings: Any) -> Handlers:
    settings.setdefault("presence_interval_seconds", 0)  # every change announced; throttling has its own tests
    return memory_core(Settings(**settings), SECRET, clock)


@pytest.fixture
async def h(clock: Clock) -> Handlers:
    handlers = make(clock)
    assert await handlers.create_room(ROOM)
    return handlers


def room(h: Handlers, room_id: str = ROOM) -> Room:
    return h.store.rooms[room_id]  # type: ignore[attr-defined]


def snapshot(r: Room) -> tuple[Any, ...]:
    return (
        r.document.text(),
        r.tracker.version,
        dict(r.tracker.held),
        r.language,
        r.cursor,
        set(r.writers),
        set(r.viewers),
    )


async def writer_joined(h: Handlers, caller: Caller = W) -> None:
    await h.join_room(caller, {"room_id": ROOM, "writer_key": KEY})


# --- connected / join -------------------------------------------------------------------


async def test_connected_sends_login(h: Handlers) -> None:
    assert await h.connected(W) == [to_socket("w1", None, "login")]


async def test_viewer_joins_an_empty_room(h: Handlers) -> None:
    assert await h.join_room(V, {"room_id": ROOM}) == [
        add("v1", ROOM),
        to_socket("v1", ack("viewer", None)),
        to_socket("v1", editor({"type": "full", "version": 0, "content": ""})),
        to_socket("v1", presence(1, "offline")),
        *to_everyone(presence(1, "offline"), "v1"),
    ]
    assert await h.store.socket_room("v1") == ROOM


async def test_writer_joins_an_empty_room(h: Handlers) -> None:
    assert await h.join_room(W, {"room_id": ROOM, "writer_key": KEY}) == [
        add("w1", CONTROL),
        to_socket("w1", ack("writer", None)),
        to_socket("w1", presence(0, "online")),
        *to_everyone(presence(0, "online"), "w1"),
    ]
    assert room(h).writers == {"w1"}


async def test_writer_joins_by_the_tutorials_control_name(h: Handlers) -> None:
    actions = await h.join_room(W, {"room_id": CONTROL, "writer_key": KEY})
    assert actions[:2] == [add("w1", CONTROL), to_socket("w1", ack("writer", None))]


async def test_writer_with_a_base_gets_the_full_text(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "hi")))
    await h.send_to_room(W, send({"type": "language", "language": "python"}))
    await h.disconnected(W)
    w2 = Caller("w2")
    assert await h.join_room(w2, {"room_id": ROOM, "writer_key": KEY}) == [
        add("w2", CONTROL),
        to_socket("w2", ack("writer", 1)),
        to_socket(
            "w2", editor({"type": "full", "version": 1, "content": "hi", "language": "python", "numbering": "native"})
        ),
        to_socket("w2", presence(0, "online")),
        *to_everyone(presence(0, "online"), "w2"),
    ]


async def test_writer_from_token_claims_needs_no_key(h: Handlers) -> None:
    claims = Claims("u", ROOM, "writer", 10**10)
    actions = await h.join_room(Caller("w1", claims), {"room_id": ROOM})
    assert actions[:2] == [add("w1", CONTROL), to_socket("w1", ack("writer", None))]


@pytest.mark.parametrize(
    "claims", [Claims("u", OTHER, "writer", 10**10), Claims("u", ROOM, "viewer", 10**10), Claims("u", None, None, 1)]
)
async def test_claims_for_another_room_or_role_make_a_viewer(h: Handlers, claims: Claims) -> None:
    actions = await h.join_room(Caller("x", claims), {"room_id": ROOM})
    assert actions[:2] == [add("x", ROOM), to_socket("x", ack("viewer", None))]


async def test_viewer_gets_text_then_cursor_then_presence(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "a😀b")))
    cursor = {"type": "cursor", "version": 1, "selections": [{"anchor": 3, "head": 3}]}
    await h.send_to_room(W, send(cursor))
    assert await h.join_room(V, {"room_id": ROOM}) == [
        add("v1", ROOM),
        to_socket("v1", ack("viewer", 1)),
        to_socket("v1", editor({"type": "full", "version": 1, "content": "a😀b", "numbering": "native"})),
        to_socket("v1", editor(cursor)),
        to_socket("v1", presence(1, "online")),
        *to_everyone(presence(1, "online"), "v1"),
    ]


async def test_viewer_of_a_room_behind_its_writer_gets_no_text_and_the_writer_is_asked(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "a")))
    await h.send_to_room(W, send(delta(3, 0, "c")))  # 2 is missing
    assert await h.join_room(V, {"room_id": ROOM}) == [
        add("v1", ROOM),
        to_socket("v1", ack("viewer", 1)),
        to_socket("v1", presence(1, "online")),
        *to_everyone(presence(1, "online"), "v1"),
        ASK_WRITER,
    ]


async def test_rejoin_is_not_announced_again(h: Handlers) -> None:
    await h.join_room(V, {"room_id": ROOM})
    actions = await h.join_room(V, {"room_id": ROOM})
    assert actions[-1] == to_socket("v1", presence(1, "offline"))
    assert len(room(h).viewers) == 1


async def test_viewer_becomes_writer_on_the_same_socket(h: Handlers) -> None:
    await h.join_room(V, {"room_id": ROOM})
    actions = await h.join_room(V, {"room_id": ROOM, "writer_key": KEY})
    assert actions[-2:] == to_everyone(presence(0, "online"), "v1")
    assert (room(h).writers, room(h).viewers) == ({"v1"}, set())


async def test_second_viewer_is_announced_to_the_first(h: Handlers) -> None:
    await h.join_room(V, {"room_id": ROOM})
    actions = await h.join_room(V2, {"room_id": ROOM})
    assert actions[-2:] == to_everyone(presence(2, "offline"), "v2")


async def test_writer_join_resumes_a_forgotten_room(clock: Clock) -> None:
    h = make(clock)
    actions = await h.join_room(W, {"room_id": ROOM, "writer_key": KEY})
    assert actions[1] == to_socket("w1", ack("writer", None))
    assert room(h).writers == {"w1"}


# --- join refusals ----------------------------------------------------------------------


async def test_viewer_of_an_unknown_room(clock: Clock) -> None:
    h = make(clock)
    message = "no such room: check the link, or wait for its writer"
    assert await h.join_room(V, {"room_id": ROOM}) == failed_join("v1", "room_not_found", message)
    assert h.store.rooms == {}  # type: ignore[attr-defined]
    assert await h.store.socket_room("v1") is None


async def test_wrong_writer_key(h: Handlers) -> None:
    before = snapshot(room(h))
    wrong = writer_key(SECRET, OTHER)
    message = "writer_key does not belong to this room"
    assert await h.join_room(W, {"room_id": ROOM, "writer_key": wrong}) == failed_join("w1", "unauthorized", message)
    assert snapshot(room(h)) == before
    assert await h.store.socket_room("w1") is None


@pytest.mark.parametrize(
    "payload",
    [None, "x", {"room_id": "short"}, {"room_id": ROOM, "writer_key": "bad"}, {"room_id": ROOM, "writer_key": 5}],
)
async def test_malformed_join(h: Handlers, payload: object) -> None:
    before = snapshot(room(h))
    actions = await h.join_room(V, payload)
    assert [a["parameters"][0]["type"] for a in actions] == ["ackJoinRoom", "error"]
    assert actions[0]["parameters"][0]["success"] is False
    assert actions[0]["parameters"][0]["error"]["code"] == "bad_request"
    assert actions[1]["parameters"][0]["code"] == "bad_request"
    assert actions[1]["parameters"][0]["event"] == "joinRoom"
    assert snapshot(room(h)) == before


async def test_one_connection_one_room(h: Handlers) -> None:
    await h.create_room(OTHER)
    await h.join_room(V, {"room_id": ROOM})
    message = "this connection has joined another room; open a new one"
    assert await h.join_room(V, {"room_id": OTHER}) == failed_join("v1", "bad_request", message)
    assert room(h, OTHER).viewers == set()


# --- sendToRoom: writes -----------------------------------------------------------------


async def test_writer_delta_is_applied_and_relayed_as_sent(h: Handlers) -> None:
    await writer_joined(h)
    data = delta(1, 0, "x")
    data["changes"][0].update(versionId=2, isUndoing=False, isRedoing=False, isFlush=False)
    assert await h.send_to_room(W, send(data)) == [to_rooms([ROOM], editor(data), ["w1"])]
    assert room(h).document.text() == "x"


@pytest.mark.parametrize(
    "data",
    [
        {"type": "full", "version": 3, "content": "abc", "language": "go"},
        {"type": "cursor", "version": 0, "selections": [{"anchor": 0, "head": 0}]},
        {"type": "language", "language": "go"},
    ],
)
async def test_writer_full_cursor_language_relayed(h: Handlers, data: dict[str, Any]) -> None:
    await writer_joined(h)
    assert await h.send_to_room(W, send(data)) == [to_rooms([ROOM], editor(data), ["w1"])]
    assert room(h).language == ("go" if "language" in data else None)


async def test_duplicate_and_stale_are_not_relayed(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "x")))
    await h.send_to_room(W, send(delta(2, 1, "y")))
    assert await h.send_to_room(W, send(delta(1, 0, "x"))) == []
    assert await h.send_to_room(W, send({"type": "full", "version": 1, "content": "x"})) == []
    assert room(h).document.text() == "xy"


async def test_held_delta_is_relayed_and_asks_only_after_the_gap_timeout(h: Handlers, clock: Clock) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "a")))
    d3, d4 = delta(3, 0, "c"), delta(4, 0, "d")
    assert await h.send_to_room(W, send(d3)) == [to_rooms([ROOM], editor(d3), ["w1"])]
    clock.now += 1.0
    assert await h.send_to_room(W, send(d4)) == [to_rooms([ROOM], editor(d4), ["w1"]), ASK_WRITER]


async def test_held_without_a_base_asks_the_writer_at_once(h: Handlers) -> None:
    await writer_joined(h)
    d5 = delta(5, 0, "x")
    assert await h.send_to_room(W, send(d5)) == [to_rooms([ROOM], editor(d5), ["w1"]), ASK_WRITER]


async def test_every_write_proves_its_writer_not_the_socket_s_past(h: Handlers) -> None:
    """One stateless check on every host: a key (or, self-hosted, a writer's token) in each write."""
    await writer_joined(h)
    message = "only the room's writer may change it (send its writer_key)"
    assert await h.send_to_room(W, send(delta(1, 0, "x"), key=None)) == [error("w1", "unauthorized", message)]
    assert room(h).document.text() == ""


async def test_writer_key_alone_is_enough(h: Handlers) -> None:
    data = delta(1, 0, "x")  # Azure: no membership known, the key proves the writer
    assert await h.send_to_room(Caller("z"), send(data)) == [to_rooms([ROOM], editor(data), ["z"])]


async def test_mismatch_is_refused_and_the_writer_asked_for_its_text(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "abc")))
    before = snapshot(room(h))
    assert await h.send_to_room(W, send(delta(2, 10, "x"))) == [
        error("w1", "bad_request", "change at 10+0 is past the end (3)"),
        to_socket("w1", editor({"data": "sync"})),
    ]
    assert snapshot(room(h)) == before


async def test_document_too_large(clock: Clock) -> None:
    h = make(clock, max_document_units=3)
    await h.create_room(ROOM)
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "ab")))
    actions = await h.send_to_room(W, send(delta(2, 2, "😀")))
    assert actions == [
        error("w1", "too_large", "document of 4 UTF-16 units exceeds the limit of 3"),
        to_socket("w1", editor({"data": "sync"})),
    ]
    assert room(h).document.text() == "ab"


# --- sendToRoom: refusals ---------------------------------------------------------------


async def test_viewer_may_not_write(h: Handlers) -> None:
    await h.join_room(V, {"room_id": ROOM})
    before = snapshot(room(h))
    for data in (
        delta(1, 0, "x"),
        {"type": "full", "version": 9, "content": "evil"},
        {"type": "language", "language": "go"},
    ):
        assert await h.send_to_room(V, send(data, key=None)) == [
            error("v1", "unauthorized", "only the room's writer may change it (send its writer_key)")
        ]
    assert snapshot(room(h)) == before


async def test_wrong_key_may_not_write(h: Handlers) -> None:
    before = snapshot(room(h))
    actions = await h.send_to_room(V, send(delta(1, 0, "x"), key=writer_key(SECRET, OTHER)))
    assert actions == [error("v1", "unauthorized", "writer_key does not belong to this room")]
    assert snapshot(room(h)) == before


async def test_writer_of_another_room_may_not_write_here(h: Handlers) -> None:
    await h.create_room(OTHER)
    await h.join_room(W, {"room_id": OTHER, "writer_key": writer_key(SECRET, OTHER)})
    actions = await h.send_to_room(W, send(delta(1, 0, "x"), key=None))
    assert actions == [error("w1", "unauthorized", "only the room's writer may change it (send its writer_key)")]
    assert room(h).document.text() == ""


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"room_id": ROOM},
        {"room_id": "bad", "data": {"data": "sync"}},
        send({"type": "delta", "version": True, "changes": [{"changes": []}]}),
        send(
            {
                "type": "delta",
                "version": 1,
                "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "\ud800"}]}],
            }
        ),
        send(delta(1, 0, "x"), key="not-a-key"),
    ],
)
async def test_bad_requests_change_nothing(h: Handlers, payload: object) -> None:
    await writer_joined(h)
    before = snapshot(room(h))
    actions = await h.send_to_room(W, payload)
    assert len(actions) in (1, 2)
    assert actions[0]["socketId"] == "w1"
    assert actions[0]["parameters"][0]["type"] == "error"
    assert actions[0]["parameters"][0]["code"] == "bad_request"
    assert actions[0]["parameters"][0]["event"] == "sendToRoom"
    assert snapshot(room(h)) == before


async def test_a_write_to_a_forgotten_room_makes_it_again(clock: Clock) -> None:
    """As a writer's join and negotiate do: the writer proved itself with its key."""
    h = make(clock)
    data = delta(1, 0, "x")
    assert await h.send_to_room(W, send(data)) == [to_rooms([ROOM], editor(data), ["w1"])]
    assert room(h).document.text() == "x"


async def test_message_too_large(clock: Clock) -> None:
    h = make(clock, max_message_bytes=200)
    await h.create_room(ROOM)
    await writer_joined(h)
    actions = await h.send_to_room(W, send({"type": "full", "version": 1, "content": "x" * 200}))
    assert actions == [error("w1", "too_large", "a message may hold at most 200 bytes")]
    assert room(h).document.text() == ""
    join = await h.join_room(V, {"room_id": ROOM, "pad": "x" * 300})
    assert join == failed_join("v1", "too_large", "a message may hold at most 200 bytes")


# --- sync ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [ROOM, CONTROL])
async def test_sync_answered_from_the_snapshot_when_current(h: Handlers, target: str) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "hello")))
    await h.join_room(V, {"room_id": ROOM})
    actions = await h.send_to_room(V, {"room_id": target, "data": {"data": "sync"}})
    assert actions == [
        to_socket("v1", editor({"type": "full", "version": 1, "content": "hello", "numbering": "native"}))
    ]


async def test_sync_of_an_empty_room(h: Handlers) -> None:
    actions = await h.send_to_room(V, {"room_id": CONTROL, "data": {"data": "sync"}})
    assert actions == [to_socket("v1", editor({"type": "full", "version": 0, "content": ""}))]


async def test_sync_relayed_to_the_writer_when_behind(h: Handlers) -> None:
    await writer_joined(h)
    await h.send_to_room(W, send(delta(1, 0, "a")))
    await h.send_to_room(W, send(delta(3, 0, "c")))
    assert await h.send_to_room(V, {"room_id": CONTROL, "data": {"data": "sync"}}) == [ASK_WRITER]


async def test_sync_of_an_unknown_room(clock: Clock) -> None:
    h = make(clock)
    actions = await h.send_to_room(V, {"room_id": CONTROL, "data": {"data": "sync"}})
    assert actions == [error("v1", "room_not_found", "no such room")]


# --- rate limit ---------------------------------------------------------------------------


async def test_rate_limit_with_an_injected_clock(clock: Clock) -> None:
    h = make(clock, messages_per_second=3)
    await h.create_room(ROOM)
    await writer_joined(h)  # 1
    await h.send_to_room(W, send(delta(1, 0, "a")))  # 2
    await h.send_to_room(W, send(delta(2, 1, "b")))  # 3
    before = snapshot(room(h))
    assert await h.send_to_room(W, send(delta(3, 2, "c"))) == [
        error("w1", "rate_limited", "at most 3 messages a second")
    ]
    assert snapshot(room(h)) == before
    message = "at most 3 messages a second"
    assert await h.join_room(W, {"room_id": ROOM, "writer_key": KEY}) == failed_join("w1", "rate_limited", message)
    assert (await h.send_to_room(V, {"room_id": ROOM, "data": {"data": "sync"}}))[0]["parameters"][0][
        "type"
    ] == "editorMessage"
    clock.now += 1 / 3
    assert await h.send_to_room(W, send(delta(3, 2, "c"))) == [to_rooms([ROOM], editor(delta(3, 2, "c")), ["w1"])]
    assert room(h).document.text() == "abc"


async def test_disconnect_forgets_the_rate_bucket(clock: Clock) -> None:
    h = make(clock, messages_per_second=1)
    await h.create_room(ROOM)
    await h.send_to_room(V, {"room_id": ROOM, "data": {"data": "sync"}})
    assert (await h.send_to_room(V, {"room_id": ROOM, "data": {"data": "sync"}}))[0]["parameters"][0][
        "code"
    ] == "rate_limited"
    await h.disconnected(V)
    assert (await h.send_to_room(V, {"room_id": ROOM, "data": {"data": "sync"}}))[0]["parameters"][0][
        "type"
    ] == "editorMessage"


# --- disconnected ---------------------------------------------------------------------------


async def test_disconnected_updates_presence(h: Handlers) -> None:
    await writer_joined(h)
    await h.join_room(V, {"room_id": ROOM})
    await h.join_room(V2, {"room_id": ROOM})
    assert await h.disconnected(V) == [to_rooms([ROOM, CONTROL], presence(1, "online"))]
    assert await h.disconnected(W) == [to_rooms([ROOM, CONTROL], presence(1, "offline"))]
    assert await h.store.socket_room("w1") is None
    assert await h.disconnected(W) == []


async def test_disconnected_unknown_socket(h: Handlers) -> None:
    assert await h.disconnected(Caller("ghost")) == []


# --- check_send (the check every host makes first) ------------------------------------------


async def test_check_send_reads_no_room(h: Handlers) -> None:
    data = delta(1, 0, "x")
    checked = h.check_send(W, send(data))
    assert (checked.refusal, checked.room_id, checked.sync) == ([], ROOM, False)
    assert isinstance(checked.message, Delta) and checked.message.raw is data
    assert room(h).document.text() == ""  # nothing applied: the host's send_to_room does that


async def test_check_send_sync_and_refusals(h: Handlers) -> None:
    assert h.check_send(V, {"room_id": CONTROL, "data": {"data": "sync"}}) == CheckedSend([], ROOM, sync=True)
    message = "only the room's writer may change it (send its writer_key)"
    assert h.check_send(V, send(delta(1, 0, "x"), key=None)) == CheckedSend([error("v1", "unauthorized", message)])
    wrong = h.check_send(V, send(delta(1, 0, "x"), key=writer_key(SECRET, OTHER)))
    assert wrong == CheckedSend([error("v1", "unauthorized", "writer_key does not belong to this room")])


# --- limits on rooms, viewers and writers ---------------------------------------------------


async def test_newest_writer_takes_over(h: Handlers) -> None:
    await writer_joined(h)
    await h.join_room(V, {"room_id": ROOM})
    w2 = Caller("w2")
    superseded = {
        "type": "superseded",
        "room_id": ROOM,
        "message": "this stream's writer opened it elsewhere (another tab or device); this one is closed",
    }
    assert await h.join_room(w2, {"room_id": ROOM, "writer_key": KEY}) == [
        add("w2", CONTROL),  # first: nothing may be relayed between the room's answer and this
        to_socket("w1", superseded),
        {"actionName": "removeSocketFromRoom", "namespace": "/", "socketId": "w1", "room": CONTROL},
        {"actionName": "disconnectSockets", "namespace": "/", "rooms": ["w1"], "closeUnderlyingConnection": True},
        to_socket("w2", ack("writer", None)),
        to_socket("w2", presence(1, "online")),
        *to_everyone(presence(1, "online"), "w2"),
    ]
    assert room(h).writers == {"w2"}
    assert await h.disconnected(W) == []  # the replaced socket's close changes no presence


async def test_a_refused_join_leaves_the_socket_free_to_join_another_room(clock: Clock) -> None:
    h = make(clock, max_viewers_per_room=1)
    await h.create_room(ROOM)
    await h.create_room(OTHER)
    await h.join_room(V, {"room_id": ROOM})
    assert (await h.join_room(V2, {"room_id": ROOM}))[0]["parameters"][0]["success"] is False  # full
    assert (await h.join_room(V2, {"room_id": OTHER}))[1] == to_socket("v2", ack("viewer", None) | {"room_id": OTHER})
    assert await h.store.socket_room("v2") == OTHER


async def test_viewer_limit(clock: Clock) -> None:
    h = make(clock, max_viewers_per_room=1)
    await h.create_room(ROOM)
    await h.join_room(V, {"room_id": ROOM})
    full = failed_join("v2", "too_large", "this room is full: 1 viewers at most")
    assert await h.join_room(V2, {"room_id": ROOM}) == full
    assert room(h).viewers == {"v1"}
    assert await h.store.socket_room("v2") is None
    assert (await h.join_room(V, {"room_id": ROOM}))[1] == to_socket("v1", ack("viewer", None))  # a rejoin fits
    assert (await h.join_room(W, {"room_id": ROOM, "writer_key": KEY}))[1] == to_socket("w1", ack("writer", None))


async def test_writer_cannot_resume_a_forgotten_room_past_the_room_limit(clock: Clock) -> None:
    h = make(clock, max_rooms=1)
    await h.create_room(OTHER)
    message = "this server holds 1 rooms at most; try later"
    assert await h.join_room(W, {"room_id": ROOM, "writer_key": KEY}) == failed_join("w1", "too_large", message)
    assert list(h.store.rooms) == [OTHER]  # type: ignore[attr-defined]


async def test_a_room_nobody_wrote_to_is_forgotten_when_idle(clock: Clock) -> None:
    h = make(clock, room_idle_seconds=60)
    await h.create_room(ROOM)
    await h.create_room(OTHER)
    await h.join_room(V, {"room_id": OTHER})
    clock.now += 59
    assert await h.sweep() == []
    clock.now += 1
    assert await h.sweep() == []  # forgotten without a word: nobody is in it
    assert list(h.store.rooms) == [OTHER]  # type: ignore[attr-defined]
    await h.disconnected(V)
    clock.now += 59
    await h.sweep()
    assert list(h.store.rooms) == [OTHER]  # type: ignore[attr-defined]  # leaving counts as activity
    clock.now += 1
    await h.sweep()
    assert list(h.store.rooms) == []  # type: ignore[attr-defined]


async def test_a_written_stream_lives_its_lifetime_then_its_viewers_are_told_and_disconnected(clock: Clock) -> None:
    h = make(clock, room_idle_seconds=60)
    await h.join_room(W, {"room_id": ROOM, "writer_key": KEY})
    await h.send_to_room(W, send(delta(1, 0, "x")))
    await h.join_room(V, {"room_id": ROOM})
    await h.disconnected(W)
    clock.now += 86400 - 1  # the default lifetime, from the writer's join
    assert await h.sweep() == []
    assert await h.store.read(ROOM, lambda room: room.document.text()) == "x"
    clock.now += 1
    gone = {"type": "deleted", "room_id": ROOM}
    disconnect = {
        "actionName": "disconnectSockets",
        "namespace": "/",
        "rooms": ["v1"],
        "closeUnderlyingConnection": True,
    }
    assert await h.sweep() == [to_rooms([ROOM, CONTROL], gone), disconnect]
    assert await h.store.read(ROOM, lambda room: room) is None
    assert await h.store.read_text(ROOM) is None
    assert await h.sweep() == []  # a tombstone is not deleted twice


async def test_joins_say_when_the_stream_expires_and_whether_it_ended(clock: Clock) -> None:
    h = make(clock)
    await h.create_room(ROOM)
    actions = await h.join_room(V, {"room_id": ROOM})
    assert actions[1] == to_socket("v1", ack("viewer", None, clock.now + 86400, None))
    await h.store.apply(ROOM, End(1234.5))
    actions = await h.join_room(V2, {"room_id": ROOM})
    assert actions[1] == to_socket("v2", ack("viewer", None, clock.now + 86400, 1234.5))


async def test_an_ended_stream_refuses_its_writer_and_keeps_its_text(clock: Clock) -> None:
    h = make(clock)
    await h.join_room(W, {"room_id": ROOM, "writer_key": KEY})
    await h.send_to_room(W, send(delta(1, 0, "x")))
    await h.store.apply(ROOM, End(clock.now))
    actions = await h.send_to_room(W, send(delta(2, 1, "y")))
    assert actions[0] == error("w1", "unauthorized", "this stream has ended: it can be replayed, not written")
    assert await h.store.read(ROOM, lambda room: room.document.text()) == "x"


async def test_markers_are_relayed_and_kept_in_the_history(clock: Clock) -> None:
    h = make(clock)
    await h.join_room(W, {"room_id": ROOM, "writer_key": KEY})
    await h.send_to_room(W, send(delta(1, 0, "x")))
    marker = {"type": "marker", "version": 1, "label": "  Step 2  "}
    assert await h.send_to_room(W, send(marker)) == [to_rooms([ROOM], editor(marker), ["w1"])]
    page = await h.store.read_page(ROOM, None, 10)
    assert page is not None and [e.message for e in page.entries][-1] == {
        "type": "marker",
        "version": 1,
        "label": "Step 2",
    }
    for label in ["", "   ", "x" * 81, "a\nb", 7]:
        refused = await h.send_to_room(W, send({"type": "marker", "version": 1, "label": label}))
        assert refused[0]["parameters"][0]["code"] == "bad_request", label


# --- presence throttling ----------------------------------------------------------------


async def test_viewers_hear_of_joins_at_most_once_per_interval_and_the_writer_at_once(clock: Clock) -> None:
    h = make(clock, presence_interval_seconds=1.0)
    await h.create_room(ROOM)
    first = await h.join_room(V, {"room_id": ROOM})
    assert first[-2:] == to_everyone(presence(1, "offline"), "v1")  # the room's first change: at once
    clock.now += 0.2
    second = await h.join_room(Caller("v2"), {"room_id": ROOM})
    assert second[-2:] == [to_socket("v2", presence(2, "offline")), to_rooms([CONTROL], presence(2, "offline"), ["v2"])]
    assert await h.flush_presence() == []  # not yet: the interval has not passed
    clock.now += 0.3
    await h.join_room(Caller("v3"), {"room_id": ROOM})
    clock.now += 0.5
    assert await h.flush_presence() == [to_rooms([ROOM, CONTROL], presence(3, "offline"))]
    assert await h.flush_presence() == []  # told once


async def test_a_leave_is_flushed_like_a_join(clock: Clock) -> None:
    h = make(clock, presence_interval_seconds=1.0)
    await h.create_room(ROOM)
    await h.join_room(V, {"room_id": ROOM})
    assert await h.disconnected(V) == [to_rooms([CONTROL], presence(0, "offline"))]
    clock.now += 1.0
    assert await h.flush_presence() == [to_rooms([ROOM, CONTROL], presence(0, "offline"))]
