"""schemathesis against docs/openapi.yaml's rooms API on the Azure build (`python -m azure_local`:
function_app in Microsoft's worker, Durable and Web PubSub stand-ins, Azurite's tables).

The rooms API is the same on both hosts (docs/API.md): the same checks as test_schemathesis.py,
for the operations under /api/rooms (negotiate's Azure form and /healthz are self-hosted's own).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.server import RunningServer

from .test_schemathesis import DEADLINE_MS, MAX_EXAMPLES, LiveRoom, _aim, _typed_room, checks_for, schema

rooms_api = schema.include(path_regex="^/api/rooms/")


@pytest.fixture(scope="module")
def seen() -> Iterator[dict[str, set[int]]]:
    """Each operation answered a 200 and a refusal (the aimed cases reach the rooms that exist)."""
    statuses: dict[str, set[int]] = {}
    yield statuses
    operations = [result.ok() for result in rooms_api.get_all_operations()]
    assert sorted(statuses) == sorted(f"{op.method.upper()} {op.path}" for op in operations)
    for operation, got in statuses.items():
        assert 200 in got and any(400 <= s < 500 for s in got), (operation, sorted(got))


@pytest.fixture(scope="module")
def azure_room(azure_server: RunningServer) -> LiveRoom:
    return _typed_room(azure_server)


@rooms_api.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE_MS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
def test_the_azure_rooms_api_keeps_to_its_document(
    case: schemathesis.Case, azure_server: RunningServer, azure_room: LiveRoom, seen: dict[str, set[int]]
) -> None:
    _aim(case, azure_server, azure_room)
    response = case.call_and_validate(base_url=azure_server.url, checks=checks_for(case), timeout=10)
    assert response.status_code < 500
    documented = case.operation.method.upper()
    if case.method.upper() == documented:
        seen.setdefault(f"{documented} {case.operation.path}", set()).add(response.status_code)
