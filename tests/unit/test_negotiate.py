"""negotiate: new room, viewer, writer resume, and the refusals with their HTTP statuses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.capabilities import is_room_id, writer_key
from shared.negotiate import HTTP_STATUS, Grant, error_body, negotiate, negotiate_body
from shared.protocol import ProtocolError, parse_stream_message
from shared.room_operations import Create, Delete, End, Receive
from shared.settings import Settings
from shared.store import MemoryRoomStore

SECRET = b"n" * 32
S = Settings()
ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
# What the browser must keep to (PROTOCOL.md), as the default settings give it.
LIMITS = {
    "max_message_bytes": 1048576,
    "max_document_units": 1048576,
    "max_events_per_delta": 1000,
    "max_changes_per_event": 1000,
    "max_selections": 1000,
    "messages_per_second": 100,
    "gap_timeout_seconds": 1.0,
    "history_page_limit": 1000,
    "lifetimes": [3600, 86400, 604800, 2592000],
}


def memory() -> MemoryRoomStore:
    return MemoryRoomStore(Settings(max_document_units=1000))


async def refused(query: dict[str, str], store: MemoryRoomStore) -> tuple[str, int]:
    before = dict(store.rooms)
    with pytest.raises(ProtocolError) as caught:
        await negotiate(query, SECRET, store, 0.0)
    assert store.rooms == before
    return caught.value.code, HTTP_STATUS[caught.value.code]


async def test_new_room_makes_the_caller_its_writer() -> None:
    store = memory()
    grant = await negotiate({}, SECRET, store, 0.0)
    assert is_room_id(grant.room_id)
    assert (grant.role, grant.writer_key) == ("writer", writer_key(SECRET, grant.room_id))
    assert len(grant.user_id) == 16
    assert list(store.rooms) == [grant.room_id]
    again = await negotiate({}, SECRET, store, 0.0)
    assert again.room_id != grant.room_id and again.user_id != grant.user_id


async def test_viewer_of_a_known_room() -> None:
    store = memory()
    await store.apply(ROOM, Create(0.0))
    grant = await negotiate({"room_id": ROOM}, SECRET, store, 0.0)
    assert (grant.room_id, grant.role, grant.writer_key) == (ROOM, "viewer", None)
    assert list(store.rooms) == [ROOM]


async def test_writer_resumes_a_known_room_keeping_its_text() -> None:
    store = memory()
    await store.apply(ROOM, Receive(parse_stream_message({"type": "full", "version": 1, "content": "kept"}, S), 0.0))
    room = store.rooms[ROOM]
    key = writer_key(SECRET, ROOM)
    grant = await negotiate({"room_id": ROOM, "writer_key": key}, SECRET, store, 0.0)
    assert (grant.room_id, grant.role, grant.writer_key) == (ROOM, "writer", key)
    assert store.rooms[ROOM] is room and room.document.text() == "kept"


async def test_writer_resumes_a_room_the_server_forgot() -> None:
    store = memory()
    grant = await negotiate({"room_id": ROOM, "writer_key": writer_key(SECRET, ROOM)}, SECRET, store, 0.0)
    assert grant.role == "writer"
    assert list(store.rooms) == [ROOM]


async def test_unknown_room_is_404() -> None:
    assert await refused({"room_id": ROOM}, memory()) == ("room_not_found", 404)


async def test_wrong_writer_key_is_403() -> None:
    store = memory()
    await store.apply(ROOM, Create(0.0))
    other = "BBBBBBBBBBBBBBBBBBBBBA"
    assert await refused({"room_id": ROOM, "writer_key": writer_key(SECRET, other)}, store) == ("unauthorized", 403)
    assert await refused({"room_id": ROOM, "writer_key": writer_key(b"x" * 32, ROOM)}, store) == ("unauthorized", 403)
    assert await refused({"room_id": ROOM, "writer_key": "short"}, store) == ("unauthorized", 403)
    assert await refused({"room_id": other, "writer_key": writer_key(SECRET, ROOM)}, store) == ("unauthorized", 403)


@pytest.mark.parametrize("room_id", ["", "abc", "A" * 23, "A" * 21 + "B", ROOM + "-control", "../" + ROOM[3:]])
async def test_bad_room_id_is_400(room_id: str) -> None:
    assert await refused({"room_id": room_id}, memory()) == ("bad_request", 400)


async def test_writer_key_without_room_is_400() -> None:
    assert await refused({"writer_key": writer_key(SECRET, ROOM)}, memory()) == ("bad_request", 400)


def test_negotiate_body_for_a_writer() -> None:
    grant = Grant(ROOM, "writer", "user", "K" * 43)
    body = negotiate_body(grant, "http://127.0.0.1:3000", "/clients/socketio/hubs/codestream", "a.b+c/d=", Settings())
    assert body == {
        "room_id": ROOM,
        "role": "writer",
        "endpoint": "http://127.0.0.1:3000",
        "path": "/clients/socketio/hubs/codestream",
        "token": "a.b+c/d=",
        "url": "http://127.0.0.1:3000?access_token=a.b%2Bc%2Fd%3D",
        "writer_key": "K" * 43,
        "limits": LIMITS,
        "ended": False,
    }
    assert parse_qs(urlsplit(body["url"]).query) == {"access_token": ["a.b+c/d="]}


def test_negotiate_body_for_a_viewer_has_no_key() -> None:
    settings = Settings(max_message_bytes=5000, gap_timeout_seconds=0.5)
    body = negotiate_body(Grant(ROOM, "viewer", "user"), "https://h", "/p", "t", settings)
    assert body == {
        "room_id": ROOM,
        "role": "viewer",
        "endpoint": "https://h",
        "path": "/p",
        "token": "t",
        "url": "https://h?access_token=t",
        "limits": {**LIMITS, "max_message_bytes": 5000, "gap_timeout_seconds": 0.5},
        "ended": False,
    }


async def test_a_new_room_lives_the_lifetime_its_writer_chose() -> None:
    store = memory()
    default = await negotiate({}, SECRET, store, 100.0)
    chosen = await negotiate({"lifetime": "3600"}, SECRET, store, 100.0)
    assert (default.expires_at, chosen.expires_at) == (100.0 + 86400, 100.0 + 3600)
    assert store.rooms[chosen.room_id].expires_at == 100.0 + 3600
    viewer = await negotiate({"room_id": chosen.room_id}, SECRET, store, 200.0)
    assert (viewer.expires_at, viewer.ended) == (100.0 + 3600, False)


@pytest.mark.parametrize("lifetime", ["", "0", "-3600", "3600.0", "1e3", "7200", "99999999999", " 3600", "١٢"])
async def test_a_lifetime_the_server_does_not_offer_is_400(lifetime: str) -> None:
    assert await refused({"lifetime": lifetime}, memory()) == ("bad_request", 400)


async def test_the_server_caps_lifetimes() -> None:
    store = MemoryRoomStore(Settings(max_lifetime_seconds=7200))
    settings = store.settings
    with pytest.raises(ProtocolError, match="lifetime must be one of 3600, 7200"):
        await negotiate({"lifetime": "86400"}, SECRET, store, 0.0, settings=settings)
    grant = await negotiate({}, SECRET, store, 0.0, settings=settings)
    assert grant.expires_at == 7200.0


async def test_an_ended_stream_still_negotiates_and_says_so() -> None:
    store = memory()
    await store.apply(ROOM, Create(0.0))
    await store.apply(ROOM, End(5.0))
    viewer = await negotiate({"room_id": ROOM}, SECRET, store, 6.0)
    writer = await negotiate({"room_id": ROOM, "writer_key": writer_key(SECRET, ROOM)}, SECRET, store, 6.0)
    assert (viewer.ended, writer.ended, writer.role) == (True, True, "writer")
    assert negotiate_body(viewer, "https://h", "/p", "t", Settings())["ended"] is True


async def test_a_deleted_stream_is_404_even_with_its_writer_key() -> None:
    store = memory()
    await store.apply(ROOM, Create(0.0))
    await store.apply(ROOM, Delete(5.0))
    assert await refused({"room_id": ROOM}, store) == ("room_not_found", 404)
    assert await refused({"room_id": ROOM, "writer_key": writer_key(SECRET, ROOM)}, store) == ("room_not_found", 404)


def test_error_body_and_statuses() -> None:
    assert error_body(ProtocolError("room_not_found", "no such room")) == {
        "error": {"code": "room_not_found", "message": "no such room"}
    }
    assert dict(HTTP_STATUS) == {
        "bad_request": 400,
        "unauthorized": 403,
        "room_not_found": 404,
        "too_large": 413,
        "rate_limited": 429,
        "internal": 500,
    }


async def test_room_limit_refuses_new_rooms_but_not_known_ones() -> None:
    store = memory()
    await store.apply(ROOM, Create(0.0))
    with pytest.raises(ProtocolError) as caught:
        await negotiate({}, SECRET, store, 0.0, max_rooms=1)
    assert (caught.value.code, HTTP_STATUS[caught.value.code]) == ("too_large", 413)
    assert list(store.rooms) == [ROOM]
    other = "BBBBBBBBBBBBBBBBBBBBBA"
    with pytest.raises(ProtocolError, match="1 rooms at most"):  # a forgotten room would be a new one
        await negotiate({"room_id": other, "writer_key": writer_key(SECRET, other)}, SECRET, store, 0.0, 1)
    resumed = await negotiate({"room_id": ROOM, "writer_key": writer_key(SECRET, ROOM)}, SECRET, store, 0.0, 1)
    assert resumed.role == "writer"
    assert (await negotiate({"room_id": ROOM}, SECRET, store, 0.0, 1)).role == "viewer"
