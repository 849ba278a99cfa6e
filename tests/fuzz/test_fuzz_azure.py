"""The same payload corpus through the Azure adapter's function entry points.

The functions run as Azure would call them (tests/support/azure_host.py: a simulated Socket.IO
service and Durable extension). Every payload the adapter must refuse at once (the checks
`relay_write` and `joinRoom` make before any entity is touched) must come back as an `error`
naming its event, and must cause no entity operation: nothing queued, no batch run, the room
entity's state unchanged.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("azure.functions", reason="the Azure Function App's packages (requirements.txt)")

import function_app
from azure_adapter.entities import socket_key
from shared.capabilities import secret_bytes
from shared.handlers import Caller, Handlers, Throttles
from shared.settings import Settings
from tests.fuzz.conftest import BUDGET
from tests.fuzz.corpus import (
    BASE_TEXT,
    BASE_VERSION,
    RoomFacts,
    error_codes,
    events,
    fixed_cases,
    roundtrip,
    too_big_for_the_transport,
)
from tests.support.azure_fixtures import azurite, durable, secret, service  # noqa: F401
from tests.support.azure_host import DurableExtension, Socket, SocketIOService
from tests.support.inline_core import memory_core, run_now
from tests.support.stats import STATS

SHARE = 0.15


@dataclass
class AzureRoom:
    service: SocketIOService
    durable: DurableExtension
    loop: asyncio.AbstractEventLoop
    facts: RoomFacts
    shadow: Handlers  # the core on a copy of the room, for the oracle
    sockets: dict[str, Socket]
    state: Any

    def predict(self, who: str, event: str, payload: Any) -> list[str]:
        sid = self.sockets[who].sid
        store = copy.deepcopy(self.shadow.store)
        handlers = Handlers(self.shadow.settings, self.shadow.secret, store, self.shadow.throttles)
        caller = Caller(sid)  # Azure's custom events carry no claims
        if event == "joinRoom":
            return error_codes(run_now(handlers.join_room(caller, payload)), sid)
        checked = handlers.check_send(caller, payload)
        if checked.sync:  # answered from the room; a write is only signalled on Azure
            return error_codes(run_now(handlers.send_to_room(caller, payload)), sid)
        return error_codes(checked.refusal, sid)

    def run(self, who: str, event: str, payload: Any, expected: str | None = None) -> bool:
        if too_big_for_the_transport(payload):
            STATS["azure cases past the transport limit (not sent)"] += 1
            return False
        payload = roundtrip(payload)
        codes = self.predict(who, event, payload)
        if not codes:
            STATS["azure cases accepted by the core (not sent)"] += 1
            return False
        if expected is not None:
            assert codes[0] == expected, (event, payload, codes)
        socket = self.sockets[who]
        before, batches = len(socket.received), len(self.durable.batches)
        self.loop.run_until_complete(self.service.emit(socket.sid, event, payload))
        got = [p[0] for e, p in socket.received[before:] if e == "message" and p and isinstance(p[0], dict)]
        errors = [m for m in got if m.get("type") == "error"]
        shown = repr(payload)[:300]
        assert errors and errors[0]["event"] == event and errors[0]["code"] == codes[0], (shown, got, codes)
        assert not [m for m in got if m.get("type") == "ackJoinRoom" and m.get("success")], shown
        # A join binds its socket before the room answers and frees it when refused: the
        # socket's own entity may be touched, never a room's.
        touched = {(b["self"]["name"], b["self"]["key"]) for b in self.durable.batches[batches:]}
        assert self.durable.queue == [] and touched <= {("Socket", socket_key(socket.sid))}, f"{shown}: {touched}"
        assert self.durable.state("Room", self.facts.room_id) == self.state, f"{shown} changed the room"
        STATS["azure cases sent"] += 1
        return True


@pytest.fixture
def azure_room(service: SocketIOService, durable: DurableExtension, secret: str) -> Iterator[AzureRoom]:  # noqa: F811
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    fast = Settings(messages_per_second=10**9)  # floods are tests/limits' business
    function_app.adapter().throttles = Throttles.for_settings(fast, time.monotonic)
    grant = json.loads(run(service.negotiate()).get_body())
    room_id, key = grant["room_id"], grant["writer_key"]
    sockets = {"writer": run(service.connect(grant["token"], {}))}
    base = {"type": "full", "version": BASE_VERSION, "content": BASE_TEXT, "language": "python"}
    run(service.emit(sockets["writer"].sid, "joinRoom", {"room_id": room_id, "writer_key": key}))
    run(service.emit(sockets["writer"].sid, "sendToRoom", {"room_id": room_id, "writer_key": key, "data": base}))
    for who in ("viewer", "fresh"):
        viewer_grant = json.loads(run(service.negotiate(room_id=room_id)).get_body())
        sockets[who] = run(service.connect(viewer_grant["token"], {}))
    run(service.emit(sockets["viewer"].sid, "joinRoom", {"room_id": room_id}))
    run(service.settle())
    shadow = memory_core(fast, secret_bytes(secret))
    run_now(shadow.create_room(room_id))
    run_now(shadow.join_room(Caller(sockets["writer"].sid), {"room_id": room_id, "writer_key": key}))
    run_now(shadow.send_to_room(Caller(sockets["writer"].sid), {"room_id": room_id, "writer_key": key, "data": base}))
    run_now(shadow.join_room(Caller(sockets["viewer"].sid), {"room_id": room_id}))
    state = durable.state("Room", room_id)
    assert state is not None and state["text"] == BASE_TEXT, state
    facts = RoomFacts(room_id, key, len(BASE_TEXT.encode("utf-16-le")) // 2, BASE_VERSION)
    yield AzureRoom(service, durable, loop, facts, shadow, sockets, state)
    loop.close()


def test_azure_fixed_corpus(azure_room: AzureRoom) -> None:
    sent = 0
    for event, payload, code in fixed_cases(azure_room.facts.room_id, azure_room.facts.key):
        who = "writer" if event == "sendToRoom" else "fresh"
        sent += azure_room.run(who, event, payload, expected=code)
    assert sent >= 30  # the few the relay lets through are refused later, by the room entity


@settings(
    max_examples=max(1, int(BUDGET * SHARE)),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_azure_generated_corpus(azure_room: AzureRoom, data: st.DataObject) -> None:
    who = data.draw(st.sampled_from(["writer", "viewer", "fresh"]))
    event, payload = data.draw(events(azure_room.facts))
    azure_room.run(who, event, payload)
