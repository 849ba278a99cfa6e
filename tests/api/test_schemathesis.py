"""schemathesis against docs/openapi.yaml on a live `python -m selfhost`: generated requests, valid
and invalid, get only documented statuses, bodies and headers that match the document, no 5xx.

Random room ids name no room, so a positive case is sometimes aimed at a real one (a stream a
writer typed into, with its writer key; a fresh room for each delete) to reach the 200s too.
Bounded: `MAX_EXAMPLES` cases per operation and mode, each within `DEADLINE_MS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.capabilities import is_room_id
from tests.support.flows import new_writer, type_text
from tests.support.server import ROOT, RunningServer
from tests.support.stats import STATS

MAX_EXAMPLES = int(os.environ.get("CODESTREAM_SCHEMATHESIS_EXAMPLES", "30"))
DEADLINE_MS = 5000
NEGOTIATE_PATHS = ("/api/negotiate", "/negotiate", "/register")


@dataclass
class LiveRoom:
    room_id: str
    key: str


def _typed_room(server: RunningServer) -> LiveRoom:
    async def stream() -> LiveRoom:
        writer = await new_writer(server)
        await type_text(writer, "def f():\r\n    return '👋'\n")
        version = writer.version  # so the history holds every kind of entry the document describes
        for data in (
            {"type": "marker", "version": version, "label": "the end"},
            {"type": "language", "language": "python"},
            {"type": "cursor", "version": version, "selections": [{"anchor": 0, "head": 3}]},
            {"type": "full", "version": version, "content": writer.text(), "numbering": "native"},
        ):
            await writer.emit("sendToRoom", writer._payload(data))
        await asyncio.sleep(0.3)  # let the last cursor and delta reach the server
        await writer.close()
        return LiveRoom(writer.room_id, writer.grant["writer_key"])

    return asyncio.run(stream())


@pytest.fixture(scope="module")
def seen() -> Iterator[dict[str, set[int]]]:
    """The statuses each operation answered: each that ran answered a 200, and each that takes
    input a refusal too (the aimed cases reach the rooms that exist)."""
    statuses: dict[str, set[int]] = {}
    yield statuses
    for operation, got in statuses.items():
        assert 200 in got, (operation, sorted(got))
        assert operation == "GET /healthz" or any(400 <= s < 500 for s in got), (operation, sorted(got))


@pytest.fixture(scope="module")
def live_room(server: RunningServer) -> LiveRoom:
    return _typed_room(server)


# Loaded at import (the document is a file): one test per operation. The server's address
# comes at run time, with each call.
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
# The API's refusals (docs/API.md): 413 is one too, for a query string past the limit.
schema.config.checks.negative_data_rejection.expected_statuses = ["400", "401", "403", "404", "413"]


def _aim(case: schemathesis.Case, server: RunningServer, room: LiveRoom) -> None:
    """About half of the positive rooms cases, chosen by the generated id: at a live room."""
    meta = case.meta
    room_id = (case.path_parameters or {}).get("room_id")
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE or not isinstance(room_id, str):
        return
    if not is_room_id(room_id) or hashlib.sha256(room_id.encode()).digest()[0] % 2:
        return
    if case.method.upper() == "DELETE":  # a room of its own to delete
        grant = requests.get(server.url + "/api/negotiate", timeout=10).json()
        room = LiveRoom(grant["room_id"], grant["writer_key"])
    case.path_parameters = {**case.path_parameters, "room_id": room.room_id}
    if case.operation.path in ("/api/rooms/{room_id}/end", "/api/rooms/{room_id}"):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {room.key}"}


def checks_for(case: schemathesis.Case) -> list[Any]:
    checks: list[Any] = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    # The rooms API refuses what its document does not allow; negotiate (the tutorial's clients
    # call it) ignores query parameters it does not know, so it is held to the rest only.
    if case.operation.path not in NEGOTIATE_PATHS:
        checks.append(negative_data_rejection)
    return checks


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE_MS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
def test_the_api_keeps_to_its_document(
    case: schemathesis.Case, server: RunningServer, live_room: LiveRoom, seen: dict[str, set[int]]
) -> None:
    _aim(case, server, live_room)
    response = case.call_and_validate(base_url=server.url, checks=checks_for(case), timeout=10)
    assert response.status_code < 500
    documented = case.operation.method.upper()
    if case.method.upper() == documented:  # not one of the coverage phase's other methods (405)
        seen.setdefault(f"{documented} {case.operation.path}", set()).add(response.status_code)
        STATS[f"schemathesis cases: {documented} {case.operation.path}"] += 1
    STATS["schemathesis cases"] += 1
