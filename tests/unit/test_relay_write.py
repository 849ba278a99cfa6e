"""Handlers.relay_write / answer_sync: the stateless sendToRoom path the Azure adapter uses."""

from __future__ import annotations

from shared.capabilities import new_room_id, writer_key
from shared.handlers import Caller, Handlers
from shared.protocol import Delta, Language
from shared.settings import Settings
from shared.store import MemoryRoomStore

SECRET = b"s" * 32


def handlers(store: MemoryRoomStore | None = None, rate: int = 100) -> Handlers:
    return Handlers(Settings(messages_per_second=rate), SECRET, store or MemoryRoomStore(), clock=lambda: 0.0)


def delta_payload(room: str, key: str | None) -> dict:
    data = {
        "type": "delta",
        "version": 1,
        "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "x"}]}],
    }
    payload = {"room_id": room, "data": data}
    if key:
        payload["writer_key"] = key
    return payload


def test_a_writer_message_is_relayed_without_touching_the_store() -> None:
    store = MemoryRoomStore()
    room = new_room_id()
    payload = delta_payload(room, writer_key(SECRET, room))
    relay = handlers(store).relay_write(Caller("w"), payload)
    assert relay.actions == [
        {
            "actionName": "sendToRooms",
            "namespace": "/",
            "rooms": [room],
            "eventName": "message",
            "parameters": [{"type": "editorMessage", "data": payload["data"]}],
            "exceptRooms": ["w"],
        }
    ]
    assert isinstance(relay.message, Delta) and relay.room_id == room and not relay.sync
    assert store.rooms == {}


def test_control_room_and_language() -> None:
    room = new_room_id()
    payload = {"room_id": room + "-control", "data": {"type": "language", "language": "go"}}
    relay = handlers().relay_write(Caller("w"), {**payload, "writer_key": writer_key(SECRET, room)})
    assert relay.room_id == room and isinstance(relay.message, Language)
    assert relay.actions[0]["rooms"] == [room]


def test_no_key_or_a_wrong_key_is_refused() -> None:
    room = new_room_id()
    for key in (None, writer_key(SECRET, new_room_id())):
        relay = handlers().relay_write(Caller("v"), delta_payload(room, key))
        assert relay.message is None and relay.room_id is None
        assert relay.actions[0]["socketId"] == "v"
        assert relay.actions[0]["parameters"][0]["code"] == "unauthorized"


def test_rate_limit_and_bad_shape() -> None:
    room = new_room_id()
    h = handlers(rate=1)
    first = h.relay_write(Caller("w"), delta_payload(room, writer_key(SECRET, room)))
    second = h.relay_write(Caller("w"), delta_payload(room, writer_key(SECRET, room)))
    assert first.message is not None and second.actions[0]["parameters"][0]["code"] == "rate_limited"
    bad = handlers().relay_write(Caller("w"), {"room_id": room, "data": {"type": "delta"}})
    assert bad.actions[0]["parameters"][0]["code"] == "bad_request"


async def test_sync_is_left_to_answer_sync() -> None:
    store = MemoryRoomStore()
    h = handlers(store)
    room = new_room_id()
    relay = h.relay_write(Caller("v"), {"room_id": room, "data": {"data": "sync"}})
    assert (relay.sync, relay.room_id, relay.actions) == (True, room, [])
    missing = await h.answer_sync(Caller("v"), room)
    assert missing[0]["parameters"][0]["code"] == "room_not_found"
    await store.create(h.new_room(room))
    answer = await h.answer_sync(Caller("v"), room)
    assert answer[0]["parameters"][0] == {
        "type": "editorMessage",
        "data": {"type": "full", "version": 0, "content": ""},
    }
