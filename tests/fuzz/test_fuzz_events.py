"""Generated and mutated client events against a running self-hosted server.

Three sockets are in one room: its writer (the worst case: it may write), a viewer, and a
socket that joined nothing. Each case is one event the room must refuse, followed by a
marker (`sync`, which anyone may send) whose answer is the room's snapshot. Every case must
get an `error` naming its event, with the code the core gives, before the marker's answer;
the snapshot must not move; the server must answer in time and stay up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.capabilities import verify_token
from shared.document import utf16_length
from shared.handlers import Caller
from shared.settings import Settings
from tests.fuzz.conftest import BUDGET, SECRET
from tests.fuzz.corpus import (
    BASE_TEXT,
    BASE_VERSION,
    RoomFacts,
    Shadow,
    events,
    fixed_cases,
    roundtrip,
    too_big_for_the_transport,
)
from tests.support.inline_core import run_now
from tests.support.negotiate import negotiate_sync
from tests.support.server import RunningServer
from tests.support.stats import STATS
from tests.support.wire import Message, Wire, kind

SHARES = {"writer": 0.45, "viewer": 0.3, "fresh": 0.25}


@dataclass
class FuzzRoom:
    server: RunningServer
    facts: RoomFacts
    shadow: Shadow
    wires: dict[str, Wire]
    snapshot: dict[str, Any]

    def marker(self) -> dict[str, Any]:
        return {"room_id": self.facts.room_id, "data": {"data": "sync"}}

    def run(self, who: str, event: str, payload: Any, expected: str | None = None) -> bool:
        """Send one case if the room must refuse it; check the answer. False if not sent."""
        if too_big_for_the_transport(payload):
            STATS["fuzz cases past the transport limit (not sent)"] += 1
            return False
        payload = roundtrip(payload)
        codes = self.shadow.predict(who, event, payload)
        if not codes:
            STATS["fuzz cases accepted by the core (not sent)"] += 1
            return False
        if expected is not None:
            assert codes[0] == expected, (event, payload, codes)
        wire = self.wires[who]
        wire.emit(event, payload)
        wire.emit("sendToRoom", self.marker())
        try:
            self.check(event, payload, codes, wire.read_until(_is_snapshot))
        except AssertionError:
            wire.drain(0.5)  # leave nothing of this case behind for the next (hypothesis shrinks on)
            raise
        STATS["fuzz cases sent"] += 1
        return True

    def check(self, event: str, payload: Any, codes: list[str], got: list[Message]) -> None:
        errors = [m["data"] for m in got if kind(m) == "error"]
        shown = repr(payload)[:300]
        assert errors, f"no error for {event} {shown}: got {got}"
        assert errors[0]["code"] == codes[0] and errors[0]["event"] == event, (shown, errors, codes)
        assert isinstance(errors[0]["message"], str) and errors[0]["message"]
        others = [kind(m) for m in got[:-1] if kind(m) not in ("error", "ackJoinRoom", "editorMessage")]
        assert not others, f"{event} {shown} also got {others}"
        assert not [m for m in got if kind(m) == "ackJoinRoom" and m["data"]["success"]], shown
        relayed = [m["data"]["data"] for m in got[:-1] if kind(m) == "editorMessage"]
        assert all(d == {"data": "sync"} for d in relayed), f"{event} {shown} relayed {relayed}"
        assert got[-1]["data"]["data"] == self.snapshot, f"{event} {shown} changed the room"


def _is_snapshot(message: Message) -> bool:
    data = message.get("data")
    return kind(message) == "editorMessage" and isinstance(data["data"], dict) and data["data"].get("type") == "full"


def _caller(grant: dict[str, Any], name: str) -> Caller:
    claims = verify_token(SECRET.encode(), grant["token"], grant["path"], int(time.time()))
    return Caller(name, claims)


@pytest.fixture(scope="module")
def room(fuzz_server: RunningServer) -> Iterator[FuzzRoom]:
    url = fuzz_server.url
    writer_grant = negotiate_sync(url)
    room_id, key = writer_grant["room_id"], writer_grant["writer_key"]
    viewer_grant = negotiate_sync(url, room_id=room_id)
    fresh_grant = negotiate_sync(url, room_id=room_id)
    shadow = Shadow(Settings(messages_per_second=1_000_000), SECRET.encode())
    run_now(shadow.handlers().create_room(room_id))
    wires = {}
    for who, grant in (("writer", writer_grant), ("viewer", viewer_grant), ("fresh", fresh_grant)):
        shadow.callers[who] = _caller(grant, who)
        wires[who] = Wire(url, grant)
        wires[who].join_namespace()
    base = {"type": "full", "version": BASE_VERSION, "content": BASE_TEXT, "language": "python"}
    fuzz = FuzzRoom(fuzz_server, RoomFacts(room_id, key, utf16_length(BASE_TEXT), BASE_VERSION), shadow, wires, base)
    for who, event, payload in (
        ("writer", "joinRoom", {"room_id": room_id, "writer_key": key}),
        ("writer", "sendToRoom", {"room_id": room_id, "writer_key": key, "data": base}),
        ("viewer", "joinRoom", {"room_id": room_id}),
    ):
        shadow.apply(who, event, payload)
        wires[who].emit(event, payload)
        wires[who].emit("sendToRoom", fuzz.marker())  # one step at a time, across sockets too
        wires[who].read_until(_is_snapshot)
    for wire in wires.values():
        wire.drain(0.3)
        wire.emit("sendToRoom", fuzz.marker())
        answer = wire.read_until(_is_snapshot)
        assert len(answer) == 1 and answer[0]["data"]["data"] == base, answer
    yield fuzz
    # The viewer heard nothing of the writer's or the fresh socket's refused cases.
    leftovers = [kind(m) for m in fuzz.wires["viewer"].drain(0.3)]
    for wire in wires.values():
        wire.close()
    assert fuzz_server.process.poll() is None, fuzz_server.output()[-3000:]
    assert leftovers == [], leftovers


def fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=max(1, int(BUDGET * share)),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def test_fixed_corpus_is_refused_with_its_codes(room: FuzzRoom) -> None:
    """The hand-written refusals (tests/support/refusals.py): expected codes from the corpus, not the oracle."""
    for event, payload, code in fixed_cases(room.facts.room_id, room.facts.key):
        who = "writer" if event == "sendToRoom" else "fresh"
        assert room.run(who, event, payload, expected=code), (event, payload)


@fuzz_settings(SHARES["writer"])
@given(data=st.data())
def test_writer_socket_fuzz(room: FuzzRoom, data: st.DataObject) -> None:
    event, payload = data.draw(events(room.facts))
    room.run("writer", event, payload)


@fuzz_settings(SHARES["viewer"])
@given(data=st.data())
def test_viewer_socket_fuzz(room: FuzzRoom, data: st.DataObject) -> None:
    event, payload = data.draw(events(room.facts))
    room.run("viewer", event, payload)


@fuzz_settings(SHARES["fresh"])
@given(data=st.data())
def test_fresh_socket_fuzz(room: FuzzRoom, data: st.DataObject) -> None:
    event, payload = data.draw(events(room.facts))
    room.run("fresh", event, payload)


def test_room_still_streams_after_fuzzing(room: FuzzRoom) -> None:
    """The writer's next real edit reaches the viewer: fuzzing broke nothing."""
    r, k = room.facts.room_id, room.facts.key
    room.wires["viewer"].drain(0.1)
    delta = {"type": "delta", "version": BASE_VERSION + 1, "changes": [{"changes": [{"rangeOffset": 0,
             "rangeLength": 0, "text": "ok "}]}]}  # fmt: skip
    room.wires["writer"].emit("sendToRoom", {"room_id": r, "writer_key": k, "data": delta})
    got = room.wires["viewer"].read_until(lambda m: kind(m) == "editorMessage")
    assert got[-1]["data"]["data"] == delta
    room.wires["viewer"].emit("sendToRoom", room.marker())
    snapshot = room.wires["viewer"].read_until(_is_snapshot)[-1]["data"]["data"]
    assert snapshot["content"] == "ok " + BASE_TEXT and snapshot["version"] == BASE_VERSION + 1
    room.snapshot = snapshot
