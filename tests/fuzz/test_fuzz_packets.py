"""Malformed Engine.IO and Socket.IO packets, over websockets and HTTP long-polling.

A viewer's socket sends each frame, then a `sync` marker. A Socket.IO packet the server
refuses (broken JSON, binary, unknown or reserved event, a foreign namespace, an ack it never
asked for) must get an `error`, like a refused event; Engine.IO garbage may instead close the
connection, the transport's own answer. Either way the server stays up, answers in time and
the room's snapshot does not move.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from socketio import packet

from shared.capabilities import verify_token
from shared.handlers import Caller
from shared.settings import Settings
from tests.fuzz.conftest import BUDGET, SECRET
from tests.fuzz.corpus import JSON, Shadow
from tests.support.inline_core import run_now
from tests.support.negotiate import negotiate_sync
from tests.support.server import RunningServer
from tests.support.stats import STATS
from tests.support.wire import Message, Wire, kind

BASE = {"type": "full", "version": 1, "content": "packets 😀\n", "language": "python"}
SHARE = 0.2  # of the fuzz budget; the rest goes to tests/fuzz/test_fuzz_events.py
_SPICE = [*list('0123456789[]{}",-/:\\\x1e\x00'), "�", "😀", "null", "true", "{}", "[]"]


class PacketRoom:
    def __init__(self, server: RunningServer) -> None:
        self.url = server.url
        self.server = server
        grant = negotiate_sync(self.url)
        self.room_id, key = grant["room_id"], grant["writer_key"]
        self.writer = Wire(self.url, grant)
        self.writer.join_namespace()
        self.writer.join(writer_key=key)
        self.writer.emit("sendToRoom", {"room_id": self.room_id, "writer_key": key, "data": BASE})
        self.viewer_grant = negotiate_sync(self.url, room_id=self.room_id)
        self.shadow = Shadow(Settings(messages_per_second=1_000_000), SECRET.encode())
        run_now(self.shadow.handlers().create_room(self.room_id))
        claims = verify_token(SECRET.encode(), self.viewer_grant["token"], self.viewer_grant["path"], int(time.time()))
        self.shadow.callers["viewer"] = Caller("viewer", claims)
        self.shadow.apply("viewer", "joinRoom", {"room_id": self.room_id})
        self.viewer = self.new_viewer()

    def marker(self) -> str:
        return "42" + json.dumps(["sendToRoom", {"room_id": self.room_id, "data": {"data": "sync"}}])

    def new_viewer(self) -> Wire:
        viewer = Wire(self.url, self.viewer_grant)
        viewer.join_namespace()
        viewer.join()
        viewer.send(self.marker())
        assert _snapshot(viewer.read_until(_is_snapshot)[-1]) == BASE  # the writer's full has landed
        viewer.drain(0.05)
        return viewer

    def expectation(self, frame: str | bytes) -> str | None:
        """'error' (a Socket.IO-level refusal), 'either' (Engine.IO-level: an error or a close), 'close', or
        None (accepted: not sent)."""
        if isinstance(frame, str) and not _utf8(frame):
            frame = frame.encode("utf-8", "surrogatepass")  # what Wire.send sends
        if isinstance(frame, bytes):
            return "error"
        if frame.startswith("1"):
            return "close"  # Engine.IO CLOSE: the session ends and the server answers nothing more
        if not frame.startswith("4"):
            return "either"
        try:
            pkt = packet.Packet(encoded_packet=frame[1:])
        except Exception:
            return "error"
        if pkt.packet_type in (packet.CONNECT, packet.DISCONNECT):
            return None  # a session change, not a refusal: tested on fresh connections below
        if pkt.packet_type != packet.EVENT or (pkt.namespace or "/") != "/" or not isinstance(pkt.data, list):
            return "error"
        if not pkt.data or pkt.data[0] not in ("joinRoom", "sendToRoom"):
            return "error"
        payload = pkt.data[1] if len(pkt.data) > 1 else None
        return "error" if self.shadow.predict("viewer", pkt.data[0], payload) else None

    def run(self, frame: str | bytes) -> None:
        expected = self.expectation(frame)
        if expected is None:
            STATS["packet cases accepted (not sent)"] += 1
            return
        viewer = self.viewer
        if expected == "close":
            viewer.send(frame)
            viewer.close()
            STATS["packet cases that closed the connection"] += 1
            STATS["packet cases sent"] += 1
            self.viewer = self.new_viewer()  # the server is still there, the room unchanged
            return
        try:
            viewer.send(frame)
            viewer.send(self.marker())
            self.check(frame, expected, viewer.read_until(_is_snapshot))
        except ConnectionError:
            assert expected == "either", f"{frame!r} closed the connection"
            STATS["packet cases that closed the connection"] += 1
            self.viewer = self.new_viewer()  # the server is still there, the room unchanged
        except AssertionError:
            viewer.drain(0.5)  # leave nothing of this case behind for the next (hypothesis shrinks on)
            raise
        STATS["packet cases sent"] += 1

    @staticmethod
    def check(frame: str | bytes, expected: str, got: list[Message]) -> None:
        if expected == "error":
            assert [m for m in got if kind(m) == "error"], f"no error for {frame!r}: {got}"
        assert _snapshot(got[-1]) == BASE, f"{frame!r} changed the room"
        # Presence is left out: this room's viewer reconnects after every close, which it reports.
        assert not [m for m in got if kind(m) == "ackJoinRoom" and m["data"]["success"]], (frame, got)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_snapshot(message: Message) -> bool:
    return (
        kind(message) == "editorMessage"
        and isinstance(message["data"]["data"], dict)
        and (message["data"]["data"].get("type") == "full")
    )


def _snapshot(message: Message) -> Any:
    return message["data"]["data"]


@pytest.fixture(scope="module")
def packet_room(fuzz_server: RunningServer) -> Iterator[PacketRoom]:
    room = PacketRoom(fuzz_server)
    yield room
    room.viewer.close()
    room.writer.close()
    assert fuzz_server.process.poll() is None, fuzz_server.output()[-3000:]


def _templates(room_id: str) -> list[str]:
    r = json.dumps(room_id)
    delta = '{"type":"delta","version":2,"changes":[{"changes":[{"rangeOffset":0,"rangeLength":0,"text":"a"}]}]}'
    return [
        f'42["sendToRoom",{{"room_id":{r},"data":{{"data":"sync"}}}}]',
        f'42["joinRoom",{{"room_id":{r}}}]',
        f'42["sendToRoom",{{"room_id":{r},"data":{delta}}}]',
        f'421["sendToRoom",{{"room_id":{r},"data":{delta}}}]',
        f'451-["sendToRoom",{{"room_id":{r},"data":{{"_placeholder":true,"num":0}}}}]',
        "43[1]",
        '42/admin,["joinRoom",{}]',
        '42["connect",{"QUERY_STRING":"access_token=x"},{"token":"x"}]',
        '42["disconnect","client namespace disconnect"]',
        '42["connected"]',
        "2",
        "3",
        "5",
        "6",
        "2probe",
    ]


@st.composite
def frames(draw: st.DrawFn, room_id: str) -> str | bytes:
    kind_ = draw(st.sampled_from(["mutate", "mutate", "mutate", "event", "text", "bytes"]))
    if kind_ == "bytes":
        return draw(st.binary(max_size=40))
    if kind_ == "text":
        return draw(st.text(max_size=40))
    if kind_ == "event":  # well-framed events with junk names and arguments
        return "42" + json.dumps(draw(st.lists(JSON, max_size=3)))
    frame = draw(st.sampled_from(_templates(room_id)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(frame)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        spice = draw(st.sampled_from(_SPICE) | st.characters())
        if op == "insert":
            frame = frame[:at] + spice + frame[at:]
        elif op == "delete":
            frame = frame[:at] + frame[at + 1 :]
        elif op == "replace":
            frame = frame[:at] + spice + frame[at + 1 :]
        else:
            frame = frame[:at]
    return frame


_SETTINGS = settings(
    max_examples=max(1, int(BUDGET * SHARE)),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@_SETTINGS
@given(data=st.data())
def test_websocket_packet_fuzz(packet_room: PacketRoom, data: st.DataObject) -> None:
    packet_room.run(data.draw(frames(packet_room.room_id)))


def test_reserved_and_unknown_events_get_an_error(packet_room: PacketRoom) -> None:
    """A client cannot raise the server's own connect/disconnect handlers by name."""
    for frame in ('42["disconnect"]', '42["connect",{},{}]', '42["connected"]', '42["nope",1]', "42[1]"):
        packet_room.run(frame)
    viewer = packet_room.viewer
    viewer.send('42["disconnect"]')
    error = viewer.read_until(lambda m: kind(m) == "error")[-1]["data"]
    assert error == {
        "type": "error",
        "code": "bad_request",
        "message": "unknown event: send joinRoom or sendToRoom",
        "event": "disconnect",
    }
    # Still in the room: the writer's next edit reaches it.
    viewer.send(packet_room.marker())
    assert _snapshot(viewer.read_until(_is_snapshot)[-1]) == BASE


@settings(max_examples=max(1, int(BUDGET * 0.03)), derandomize=True, database=None, deadline=None)
@given(auth=JSON, namespace=st.sampled_from(["", "/", "/admin", "/x?y=1"]))
def test_connect_packet_fuzz(packet_room: PacketRoom, auth: Any, namespace: str) -> None:
    """CONNECT with any auth on a fresh connection: a session (`login`), a refusal, or a close; never silence."""
    wire = Wire(packet_room.url, packet_room.viewer_grant)
    try:
        wire.send("40" + (namespace + "," if namespace else "") + json.dumps(auth))
        first = wire.read_until(lambda m: True)[0]["event"]
        assert first.startswith(("<frame '40", "<frame '44", "<frame '1'")), first  # answer, refusal or CLOSE
    except ConnectionError:
        STATS["packet cases that closed the connection"] += 1
    finally:
        wire.close()
    STATS["packet cases sent"] += 1


async def _poll(session: aiohttp.ClientSession, method: str, url: str, body: bytes | None) -> int:
    async with session.request(method, url, data=body, timeout=aiohttp.ClientTimeout(total=10)) as response:
        await response.read()
        return response.status


def test_long_polling_fuzz(packet_room: PacketRoom) -> None:
    """Handshakes and payloads over HTTP long-polling: 4xx or 200, never a 5xx or a hang."""
    path = packet_room.viewer_grant["path"] + "/"
    token = packet_room.viewer_grant["token"]

    async def main() -> list[int]:
        statuses = []
        async with aiohttp.ClientSession() as session:
            open_url = f"{packet_room.url}{path}?EIO=4&transport=polling&access_token={token}"
            async with session.get(open_url) as response:
                handshake = json.loads((await response.text())[1:])
            sid = handshake["sid"]
            session_url = f"{open_url}&sid={sid}"
            statuses.append(await _poll(session, "POST", session_url, b"40"))
            queries = ["EIO=3", "EIO=x", "EIO=4&transport=carrier-pigeon", "EIO=4&transport=polling&sid=nope", ""]
            for query in queries:
                for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS"):
                    statuses.append(await _poll(session, method, f"{packet_room.url}{path}?{query}", b"4x"))
            bodies = [b"", b"\x1e\x1e", b"4", b"42[", b'42["joinRoom"]\x1e42{}', b"\xff\xfe", b"9", b"1", b"x" * 70000]
            for body in bodies:
                statuses.append(await _poll(session, "POST", session_url, body))
        return statuses

    statuses = asyncio.run(main())
    STATS["packet cases sent"] += len(statuses)
    assert statuses and all(status < 500 for status in statuses), str(statuses)
    assert packet_room.server.process.poll() is None
    # The websocket viewer and the room are unaffected.
    packet_room.viewer.send(packet_room.marker())
    assert _snapshot(packet_room.viewer.read_until(_is_snapshot)[-1]) == BASE
