"""Handlers.check_send: the one check of an incoming sendToRoom, made without reading a room."""

from __future__ import annotations

from shared.capabilities import Claims, new_room_id, writer_key
from shared.handlers import Caller, Handlers
from shared.protocol import Delta, Language
from shared.settings import Settings
from tests.support.inline_core import memory_core

SECRET = b"s" * 32


def handlers(rate: int = 100) -> Handlers:
    return memory_core(Settings(messages_per_second=rate), SECRET, clock=lambda: 0.0)


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


def test_a_writer_message_is_a_write_and_reads_no_room() -> None:
    h = handlers()
    room = new_room_id()
    checked = h.check_send(Caller("w"), delta_payload(room, writer_key(SECRET, room)))
    assert checked.refusal == [] and checked.room_id == room and not checked.sync
    assert isinstance(checked.message, Delta)
    assert h.store.rooms == {}  # type: ignore[attr-defined]


def test_the_control_room_names_the_room() -> None:
    room = new_room_id()
    payload = {"room_id": room + "-control", "data": {"type": "language", "language": "go"}}
    checked = handlers().check_send(Caller("w"), {**payload, "writer_key": writer_key(SECRET, room)})
    assert checked.room_id == room and isinstance(checked.message, Language)


def test_a_writer_token_is_proof_enough_self_hosted() -> None:
    room = new_room_id()
    mine, other = Claims("u", room, "writer", 9), Claims("u", new_room_id(), "writer", 9)
    assert handlers().check_send(Caller("w", mine), delta_payload(room, None)).message is not None
    refused = handlers().check_send(Caller("w", other), delta_payload(room, None))
    assert refused.message is None and refused.refusal[0]["parameters"][0]["code"] == "unauthorized"


def test_no_key_or_a_wrong_key_is_refused() -> None:
    room = new_room_id()
    for key in (None, writer_key(SECRET, new_room_id())):
        checked = handlers().check_send(Caller("v"), delta_payload(room, key))
        assert checked.message is None and checked.room_id is None
        assert checked.refusal[0]["socketId"] == "v"
        assert checked.refusal[0]["parameters"][0]["code"] == "unauthorized"
        assert checked.refusal[0]["parameters"][0]["event"] == "sendToRoom"


def test_rate_limit_and_bad_shape() -> None:
    room = new_room_id()
    h = handlers(rate=1)
    first = h.check_send(Caller("w"), delta_payload(room, writer_key(SECRET, room)))
    second = h.check_send(Caller("w"), delta_payload(room, writer_key(SECRET, room)))
    assert first.message is not None and second.refusal[0]["parameters"][0]["code"] == "rate_limited"
    bad = handlers().check_send(Caller("w"), {"room_id": room, "data": {"type": "delta"}})
    assert bad.refusal[0]["parameters"][0]["code"] == "bad_request"


async def test_a_sync_request_is_answered_from_the_room() -> None:
    h = handlers()
    room = new_room_id()
    payload = {"room_id": room, "data": {"data": "sync"}}
    checked = h.check_send(Caller("v"), payload)
    assert (checked.sync, checked.room_id, checked.refusal) == (True, room, [])
    missing = await h.send_to_room(Caller("v"), payload)
    assert missing[0]["parameters"][0]["code"] == "room_not_found"
    await h.create_room(room)
    answer = await h.send_to_room(Caller("v"), payload)
    assert answer[0]["parameters"][0] == {
        "type": "editorMessage",
        "data": {"type": "full", "version": 0, "content": ""},
    }
