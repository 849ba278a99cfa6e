"""The rooms HTTP API (docs/API.md) on a real `python -m selfhost`, with a real writer streaming:
every answer, every refusal, and what ending and deleting a stream do to its sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.support.clients import Client, Viewer, Writer
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer, start_server

from .calls import Answer, all_entries, call, end_path, history_path, room_path, text_path

TYPED = "héllo 👋\r\nx"  # non-ASCII, an astral character (2 UTF-16 units) and a CRLF
UNKNOWN_ROOM = "AAAAAAAAAAAAAAAAAAAAAA"  # well-formed, but no such room
BAD_KEY = "A" * 43


class Stream:
    """A writer who typed `TYPED`, one delta per character, and a viewer who saw it."""

    def __init__(self, writer: Writer, viewer: Viewer) -> None:
        self.writer, self.viewer = writer, viewer
        self.room_id: str = writer.room_id
        self.key: str = writer.grant["writer_key"]


@pytest.fixture
async def stream(server: RunningServer) -> AsyncIterator[Stream]:
    writer = await new_writer(server)
    await type_text(writer, TYPED)
    viewer = await new_viewer(server, writer.room_id)
    await viewer.wait_text(TYPED)  # the server has applied (and recorded) every delta
    yield Stream(writer, viewer)
    for client in (writer, viewer):
        if client.sio.connected:
            await client.close()


def _error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"].startswith("application/json"), answer
    assert set(answer.body) == {"error"} and answer.body["error"]["code"] == code, answer
    assert isinstance(answer.body["error"]["message"], str) and answer.body["error"]["message"]


def _ok(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    return answer.body


# --- reading ---------------------------------------------------------------------------------


async def test_text_at_every_version_is_the_writers_text_after_it(server: RunningServer, stream: Stream) -> None:
    latest = _ok(await call(server, "GET", text_path(stream.room_id)))
    assert latest["room_id"] == stream.room_id and latest["content"] == TYPED
    assert latest["version"] == len(TYPED) and latest["language"] is None
    assert time.time() - 60 < latest["at"] <= time.time()
    times = []
    for version in range(len(TYPED) + 1):
        body = _ok(await call(server, "GET", text_path(stream.room_id, f"version={version}")))
        assert (body["version"], body["content"]) == (version, TYPED[:version])
        times.append(body["at"])
    assert times == sorted(times) and times[-1] == latest["at"]
    assert time.time() - 60 < times[0]  # version 0: the room's creation, not the epoch


async def test_history_pages_join_to_the_whole_stream(server: RunningServer, stream: Stream) -> None:
    whole = _ok(await call(server, "GET", history_path(stream.room_id)))
    assert whole["room_id"] == stream.room_id and whole["next_after"] is None
    assert (whole["live_version"], whole["ended"], whole["ended_at"]) == (len(TYPED), False, None)
    assert whole["expires_at"] > time.time()
    deltas = [e for e in whole["entries"] if e["message"]["type"] == "delta"]
    assert [e["version"] for e in deltas] == list(range(1, len(TYPED) + 1))
    assert [c["text"] for e in deltas for c in e["message"]["changes"][0]["changes"]] == list(TYPED)
    versions = [e["version"] for e in whole["entries"]]
    assert versions == sorted(versions)
    for limit in (1, 2, 5):
        assert await all_entries(server, stream.room_id, limit) == whole["entries"]
    after = _ok(await call(server, "GET", history_path(stream.room_id, "after=3")))
    assert after["entries"] == [e for e in whole["entries"] if e["version"] > 3]
    past = _ok(await call(server, "GET", history_path(stream.room_id, f"after={10**15}")))
    assert (past["entries"], past["next_after"]) == ([], None)


async def test_history_keeps_markers_languages_fulls_and_cursors(server: RunningServer) -> None:
    writer = await new_writer(server)
    await type_text(writer, "ab")
    sent = [
        {"type": "marker", "version": 2, "label": "  chapter 1  "},
        {"type": "language", "language": "python"},
        {"type": "cursor", "version": 2, "selections": [{"anchor": 1, "head": 2}]},
        {"type": "full", "version": 2, "content": "ab", "language": "python", "numbering": "native"},
    ]
    for data in sent:
        await writer.emit("sendToRoom", writer._payload(data))
    viewer = await new_viewer(server, writer.room_id)
    await viewer.wait_for(lambda: viewer.language == "python")
    full = {"type": "full", "version": 2, "content": "ab", "language": "python", "numbering": "native"}
    deadline = time.monotonic() + 5
    while True:  # the viewer may hear the language before the server has taken the full after it
        history = _ok(await call(server, "GET", history_path(writer.room_id)))
        messages = [e["message"] for e in history["entries"]]
        if full in messages or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert {"type": "marker", "version": 2, "label": "chapter 1"} in messages  # trimmed
    assert {"type": "language", "language": "python"} in messages
    assert full in messages
    assert _ok(await call(server, "GET", text_path(writer.room_id)))["language"] == "python"
    for client in (writer, viewer):
        await client.close()


async def test_a_room_nothing_was_written_to(server: RunningServer) -> None:
    before = time.time()
    writer = await new_writer(server)
    text = _ok(await call(server, "GET", text_path(writer.room_id)))
    assert (text["version"], text["content"], text["language"]) == (0, "", None)
    assert before - 1 <= text["at"] <= time.time()
    assert _ok(await call(server, "GET", text_path(writer.room_id, "version=0")))["content"] == ""
    history = _ok(await call(server, "GET", history_path(writer.room_id)))
    assert (history["live_version"], history["entries"], history["next_after"]) == (0, [], None)
    await writer.close()


async def test_head_and_cross_checks(server: RunningServer, stream: Stream) -> None:
    """HEAD answers like GET without a body; health and negotiate are on the same footing."""
    head = await call(server, "HEAD", text_path(stream.room_id))
    assert head.status == 200 and head.body is None
    assert _ok(await call(server, "GET", "/api/negotiate?room_id=" + stream.room_id))["role"] == "viewer"
    assert (await call(server, "GET", "/healthz")).body == {"status": "ok"}


# --- refusals ----------------------------------------------------------------------------

HUGE_QUERY = "version=1&" + "x" * 300
BODY = b"x" * 2048

# (method, path (<R>: the stream's room, <O>: another room of the same server), key, body, status, code)
# key: "own" the room's writer key, "other" another room's, a literal, or None.
REFUSALS: list[tuple[str, str, str | None, bytes | None, int, str]] = [
    ("GET", "/api/rooms/nope/text", None, None, 400, "bad_request"),
    ("GET", f"/api/rooms/{UNKNOWN_ROOM}/text", None, None, 404, "room_not_found"),
    ("GET", "/api/rooms/<R>/text?version=-1", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=abc", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=1.5", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=+1", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=%ff", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=9007199254740992", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=99999999999999999999999", None, None, 400, "bad_request"),
    ("GET", f"/api/rooms/<R>/text?version={len(TYPED) + 1}", None, None, 400, "bad_request"),  # past live
    ("GET", "/api/rooms/<R>/text?version=1&version=1", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?after=1", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/text?version=1&&x=1", None, None, 400, "bad_request"),
    ("GET", f"/api/rooms/<R>/text?{HUGE_QUERY}", None, None, 413, "too_large"),
    ("GET", "/api/rooms/<R>/text", None, BODY, 413, "too_large"),
    ("GET", "/api/rooms/<R>/history?after=-1", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/history?limit=0", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/history?limit=1001", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/history?limit=ten", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/history?after=1&after=2", None, None, 400, "bad_request"),
    ("GET", "/api/rooms/<R>/history?version=1", None, None, 400, "bad_request"),
    ("GET", f"/api/rooms/<R>/history?{HUGE_QUERY}", None, None, 413, "too_large"),
    ("GET", f"/api/rooms/{UNKNOWN_ROOM}/history", None, None, 404, "room_not_found"),
    ("GET", "/api/rooms/nope/history", None, None, 400, "bad_request"),
    ("POST", "/api/rooms/<R>/end", None, None, 401, "unauthorized"),
    ("POST", "/api/rooms/<R>/end", "", None, 401, "unauthorized"),
    ("POST", "/api/rooms/<R>/end", BAD_KEY, None, 401, "unauthorized"),
    ("POST", "/api/rooms/<R>/end", "other", None, 401, "unauthorized"),
    ("POST", "/api/rooms/<O>/end", "own", None, 401, "unauthorized"),
    ("POST", f"/api/rooms/{UNKNOWN_ROOM}/end", "own", None, 401, "unauthorized"),
    ("POST", "/api/rooms/nope/end", "own", None, 400, "bad_request"),
    ("POST", "/api/rooms/<R>/end?now=1", "own", None, 400, "bad_request"),
    ("POST", "/api/rooms/<R>/end", "own", BODY, 413, "too_large"),
    ("DELETE", "/api/rooms/<R>", None, None, 401, "unauthorized"),
    ("DELETE", "/api/rooms/<R>", BAD_KEY, None, 401, "unauthorized"),
    ("DELETE", "/api/rooms/<R>", "other", None, 401, "unauthorized"),
    ("DELETE", "/api/rooms/<O>", "own", None, 401, "unauthorized"),
    ("DELETE", "/api/rooms/nope", "own", None, 400, "bad_request"),
    ("DELETE", "/api/rooms/<R>?force=1", "own", None, 400, "bad_request"),
    ("DELETE", "/api/rooms/<R>", "own", BODY, 413, "too_large"),
    ("PUT", "/api/rooms/<R>/text", "own", None, 405, "bad_request"),
    ("POST", "/api/rooms/<R>/history", "own", None, 405, "bad_request"),
    ("GET", "/api/rooms/<R>/end", "own", None, 405, "bad_request"),
    ("DELETE", "/api/rooms/<R>/end", "own", None, 405, "bad_request"),
    ("GET", "/api/rooms/<R>", "own", None, 405, "bad_request"),
    ("POST", "/api/rooms/<R>", "own", None, 405, "bad_request"),
    ("DELETE", "/api/rooms/<R>/text", "own", None, 405, "bad_request"),
    ("GET", "/api/rooms/<R>/nothing", None, None, 404, "room_not_found"),
    ("DELETE", "/api/rooms/<R>/text/more", "own", None, 404, "room_not_found"),
]


async def _state(server: RunningServer, room_id: str) -> tuple[Any, Any]:
    text = await call(server, "GET", text_path(room_id))
    history = await call(server, "GET", history_path(room_id))
    return text.body, history.body


@pytest.mark.parametrize(
    ("method", "path", "key", "body", "status", "code"),
    REFUSALS,
    ids=[f"{i}-{m}-{p.split('/')[-1][:24]}-{s}" for i, (m, p, _, _, s, _) in enumerate(REFUSALS)],
)
async def test_a_refused_request_changes_nothing(
    server: RunningServer,
    stream: Stream,
    method: str,
    path: str,
    key: str | None,
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    other = await new_writer(server)
    path = path.replace("<R>", stream.room_id).replace("<O>", other.room_id)  # "<" is in no room id
    key = {"own": stream.key, "other": other.grant["writer_key"]}.get(key, key) if key is not None else None
    before = await _state(server, stream.room_id)

    answer = await call(server, method, path, key=key, data=body)

    _error(answer, status, code)
    assert answer.headers["cache-control"] == "no-store"
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
    if status == 405:
        assert method not in answer.headers["allow"].split(", ")
    # Nothing changed: the same text and history, no socket was told anything, the stream goes on.
    assert await _state(server, stream.room_id) == before
    await type_text(stream.writer, "!")
    await stream.viewer.wait_text(TYPED + "!")
    for client in (stream.writer, stream.viewer):
        assert client.of_type("ended") == [] and client.of_type("deleted") == [] and client.of_type("error") == []
        assert client.sio.connected
    await other.close()


# --- ending and deleting -----------------------------------------------------------------------


async def _until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_end_tells_the_room_at_once_and_the_writer_can_no_longer_write(
    server: RunningServer, stream: Stream
) -> None:
    answer = await call(server, "POST", end_path(stream.room_id), key=stream.key)
    ended = _ok(answer)
    assert set(ended) == {"room_id", "ended_at"} and ended["room_id"] == stream.room_id
    assert time.time() - 5 < ended["ended_at"] <= time.time()
    expected = {"type": "ended", "room_id": stream.room_id, "at": ended["ended_at"]}
    for client in (stream.viewer, stream.writer):
        assert await client.wait_message("ended", timeout=1) == expected

    await stream.writer.edit({"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "late", "range": {}}]})
    refused = await stream.writer.wait_message("error")
    assert refused["code"] == "unauthorized" and refused["message"].startswith("this stream has ended"), refused
    await asyncio.sleep(0.2)
    assert stream.viewer.text() == TYPED
    assert _ok(await call(server, "GET", text_path(stream.room_id)))["content"] == TYPED
    history = _ok(await call(server, "GET", history_path(stream.room_id)))
    assert (history["ended"], history["ended_at"], history["live_version"]) == (True, ended["ended_at"], len(TYPED))

    again = _ok(await call(server, "POST", end_path(stream.room_id), key=stream.key))
    assert again == ended  # the first end's time
    status, grant = await negotiate(server.url, room_id=stream.room_id)
    assert status == 200 and grant["ended"] is True  # the link still opens: the replay


async def test_delete_tells_and_disconnects_then_everything_answers_404(server: RunningServer, stream: Stream) -> None:
    second = await new_viewer(server, stream.room_id)
    lurker = Client((await negotiate(server.url))[1])  # a socket that joined no room yet
    await lurker.connect()

    answer = await call(server, "DELETE", room_path(stream.room_id), key=stream.key)
    assert _ok(answer) == {"room_id": stream.room_id, "deleted": True}
    told = {"type": "deleted", "room_id": stream.room_id}
    for client in (stream.viewer, second, stream.writer):
        assert await client.wait_message("deleted", timeout=1) == told
        await _until(lambda c=client: not c.sio.connected)  # type: ignore[misc]

    room, key = stream.room_id, stream.key
    for method, path, with_key in [
        ("GET", text_path(room), False),
        ("GET", text_path(room, "version=1"), False),
        ("GET", history_path(room), False),
        ("POST", end_path(room), True),
        ("DELETE", room_path(room), True),
    ]:
        _error(await call(server, method, path, key=key if with_key else None), 404, "room_not_found")
    for query in ({"room_id": room}, {"room_id": room, "writer_key": key}):
        status, body = await negotiate(server.url, **query)
        assert status == 404 and body["error"]["code"] == "room_not_found", (query, body)
    for extra in ({}, {"writer_key": key}):
        await lurker.emit("joinRoom", {"room_id": room, **extra})
    acks = await lurker.wait_for(lambda: len(lurker.of_type("ackJoinRoom")) >= 2 and lurker.of_type("ackJoinRoom"))
    assert [(a["success"], a["error"]["code"]) for a in acks] == [(False, "room_not_found")] * 2
    await lurker.close()


async def test_deleting_one_room_leaves_the_others(server: RunningServer, stream: Stream) -> None:
    other = await new_writer(server)
    await type_text(other, "kept")
    viewer = await new_viewer(server, other.room_id)
    await viewer.wait_text("kept")
    _ok(await call(server, "DELETE", room_path(stream.room_id), key=stream.key))
    assert _ok(await call(server, "GET", text_path(other.room_id)))["content"] == "kept"
    await type_text(other, "!")
    await viewer.wait_text("kept!")
    assert viewer.of_type("deleted") == [] and viewer.sio.connected
    for client in (other, viewer):
        await client.close()


# --- negotiate, the other endpoint with input ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("lifetime=%C2%B2", 400),  # '²' is a digit to str.isdigit, not to int()
        ("lifetime=%D9%A1", 400),  # an Arabic-Indic 1
        ("lifetime=60", 400),
        ("lifetime=-3600", 400),
        ("room_id=nope", 400),
        (f"room_id={UNKNOWN_ROOM}", 404),
        (f"room_id={UNKNOWN_ROOM}&writer_key={BAD_KEY}", 403),
        (f"writer_key={BAD_KEY}", 400),
    ],
)
async def test_negotiate_refuses_in_json(server: RunningServer, query: str, status: int) -> None:
    answer = await call(server, "GET", f"/api/negotiate?{query}")
    assert answer.status == status and set(answer.body) == {"error"}, answer


async def test_negotiate_with_a_lifetime(server: RunningServer) -> None:
    before = time.time()
    grant = _ok(await call(server, "GET", "/api/negotiate?lifetime=3600"))
    assert before + 3600 <= grant["expires_at"] <= time.time() + 3600 and grant["ended"] is False
    assert grant["limits"]["lifetimes"] == [3600, 86400, 604800, 2592000]


# --- a stream whose lifetime runs out ------------------------------------------------------------


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Streams live 2 s, and the sweep runs every second (a quarter of the idle time, at least 1 s)."""
    env = {"CODESTREAM_MAX_LIFETIME_SECONDS": "2", "CODESTREAM_ROOM_IDLE_SECONDS": "4"}
    running = start_server(tmp_path_factory.mktemp("short"), env=env)
    yield running
    assert running.stop() == 0, running.output()[-3000:]


async def test_an_expired_stream_answers_404_everywhere(short_lived: RunningServer) -> None:
    writer = await new_writer(short_lived)
    await type_text(writer, "soon gone")
    viewer = await new_viewer(short_lived, writer.room_id)
    await viewer.wait_text("soon gone")
    assert _ok(await call(short_lived, "GET", text_path(writer.room_id)))["content"] == "soon gone"
    assert (await viewer.wait_message("deleted", timeout=6))["room_id"] == writer.room_id
    for method, path in [
        ("GET", text_path(writer.room_id)),
        ("GET", history_path(writer.room_id)),
        ("POST", end_path(writer.room_id)),
        ("DELETE", room_path(writer.room_id)),
    ]:
        _error(await call(short_lived, method, path, key=writer.grant["writer_key"]), 404, "room_not_found")
    await _until(lambda: not viewer.sio.connected)
