"""The Room entity records as it applies (azure_adapter/room_entity.py), through the worker, into Azurite.

- what the room accepts reaches the Table history (a writer's stream, read back by the API);
- a history write that fails (Table storage unreachable) leaves the live room working, and
  the history heals at the next text change with a checkpoint: the lost version reads as the
  one before it, later ones as written.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from azure.data.tables import TableServiceClient

import function_app
from azure_local.azurite import ACCOUNT, KEY
from azure_local.host import LocalAzure
from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.negotiate import negotiate


async def get(local: LocalAzure, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(f"{local.base_url}/api/{path}") as response:
        return response.status, await response.json()


@pytest.fixture
def unreachable_tables(secret: str) -> Iterator[list[bool]]:
    """Switch the instance's history to a Table endpoint nobody listens on (no retries), and back."""
    history = function_app.storage().history
    working = history.table
    dead = TableServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"TableEndpoint=http://127.0.0.1:9/{ACCOUNT};",
        retry_total=0,
    ).get_table_client(history.table_name)
    switch = [False]

    class Switch:
        def __getattr__(self, name: str) -> object:
            return getattr(dead if switch[0] else working, name)

    history.table = Switch()
    yield switch
    history.table = working


async def test_a_failed_history_write_keeps_the_room_and_heals_at_the_next_change(
    local: LocalAzure, unreachable_tables: list[bool]
) -> None:
    status, grant = await negotiate(local.base_url)
    assert status == 200
    writer = Writer(grant)
    await writer.connect()
    await writer.join()
    room = writer.room_id
    _, viewing = await negotiate(local.base_url, room_id=room)
    viewer = Viewer(viewing)
    await viewer.connect()
    await viewer.join()
    await writer.edit(monaco_event((0, 0, "a")))
    await writer.edit(monaco_event((1, 0, "b")))
    await viewer.wait_text("ab")  # relayed once its signal is queued: settling then waits for it
    await local.durable.settle()
    unreachable_tables[0] = True
    await writer.edit(monaco_event((2, 0, "c")))  # the room takes it; the history cannot
    await viewer.wait_text("abc")
    await local.durable.settle()
    assert local.durable.state("Room", room)["text"] == "abc"
    unreachable_tables[0] = False
    await writer.edit(monaco_event((3, 0, "d")))
    await viewer.wait_text("abcd")
    await local.durable.settle()
    assert (await get(local, f"rooms/{room}/text"))[1]["content"] == "abcd"
    gap = (await get(local, f"rooms/{room}/text?version=3"))[1]
    assert (gap["version"], gap["content"]) == (2, "ab")  # what the history lost reads as the version before
    _, history = await get(local, f"rooms/{room}/history")
    assert [e["version"] for e in history["entries"] if e["message"]["type"] == "delta"] == [1, 2, 4]
    for client in (writer, viewer):
        await client.close()
