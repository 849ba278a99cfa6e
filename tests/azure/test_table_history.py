"""The history semantics on every HistoryStore, the Table store against Azurite (tests/support/azurite.py).

The in-memory store is the reference; the Table store (azure_adapter/table_history.py) must
answer the same, also for a 1 MB text, a 1 MB paste, and two writers of one room. The
property test of tests/property runs on it too, with fewer examples (each talks to Azurite).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from azure_adapter.table_history import (
    HISTORY_TABLE,
    TableConnection,
    TableHistory,
    TableHistoryStore,
    checkpoint_key,
    entry_key,
)
from shared.capabilities import new_room_id
from shared.document import utf16_length
from shared.history import Entry, HistoryError, Snapshot
from shared.history_store import HistoryStore, MemoryHistoryStore
from tests.property.test_convergence import ROOM, draw_script
from tests.property.test_history_property import check, draw_stream, draw_timing, record


def delta(version: int, offset: int, text: str, length: int = 0) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


def typed(text: str, start: int = 1, at: float = 100.0, length: int = 0) -> list[Entry]:
    entries = []
    for i, char in enumerate(text):
        entries.append(Entry(start + i, at + i, delta(start + i, length, char)))
        length += utf16_length(char)
    return entries


def cursors(version: int, count: int) -> list[Entry]:
    selections = [{"anchor": 0, "head": 0}]
    return [
        Entry(version, float(i), {"type": "cursor", "version": version, "selections": selections}) for i in range(count)
    ]


def versions(found: list[Entry]) -> list[int]:
    return [e.version for e in found]


def table_history(azurite: str) -> TableHistory:
    return TableHistory(TableConnection(connection_string=azurite).service())


@pytest.fixture(params=["memory", "table"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], HistoryStore]:
    """A maker of stores that share what they hold (Table: one table; memory: one store)."""
    if request.param == "memory":
        memory = MemoryHistoryStore()
        return lambda: memory
    azurite = request.getfixturevalue("azurite")
    return lambda: TableHistoryStore(table_history(azurite))


@pytest.fixture
def store(make_store: Callable[[], HistoryStore]) -> HistoryStore:
    return make_store()


@pytest.fixture
def room() -> str:
    return new_room_id()  # Azurite lives for the session: each test its own room


async def test_reads_start_from_the_nearest_checkpoint(store: HistoryStore, room: str) -> None:
    entries = typed("abcdef")
    await store.append(room, entries[:3])
    # A checkpoint whose text is not what replaying gives: reads after it must start there.
    await store.checkpoint(room, Snapshot(3, 102.0, "XYZ", "go"))
    await store.append(room, entries[3:])
    assert (await store.read_text(room, 0)) == Snapshot(0, 0.0, "", None)
    assert (await store.read_text(room, 2)) == Snapshot(2, 101.0, "ab", None)
    assert (await store.read_text(room, 3)) == Snapshot(3, 102.0, "XYZ", "go")
    assert (await store.read_text(room, 4)) == Snapshot(4, 103.0, "XYZd", "go")
    assert (await store.read_text(room, 99)) == Snapshot(6, 105.0, "XYZdef", "go")
    assert (await store.read_text(room)) == Snapshot(6, 105.0, "XYZdef", "go")


async def test_of_two_checkpoints_at_one_version_the_later_counts(store: HistoryStore, room: str) -> None:
    await store.append(room, typed("ab"))
    await store.checkpoint(room, Snapshot(2, 101.0, "first", None))
    await store.append(room, cursors(2, 1))
    await store.checkpoint(room, Snapshot(2, 101.0, "second", "c"))
    await store.append(room, typed("c", start=3, length=6))
    assert (await store.read_text(room, 2)) == Snapshot(2, 101.0, "second", "c")
    assert (await store.read_text(room)) == Snapshot(3, 100.0, "secondc", "c")


async def test_going_back_is_refused_and_keeps_nothing_of_it(store: HistoryStore, room: str) -> None:
    await store.append(room, typed("ab"))
    with pytest.raises(HistoryError):
        await store.append(room, [*typed("c", start=3, length=2), *typed("z", start=1)])
    with pytest.raises(HistoryError):
        await store.checkpoint(room, Snapshot(1, 0.0, "a", None))
    with pytest.raises(HistoryError):
        await store.append(room, [Entry(3, float("nan"), delta(3, 2, "c"))])
    with pytest.raises(HistoryError):
        await store.append(room, [Entry(3, 1.0, {"type": "explode"})])
    assert (await store.read_text(room)) == Snapshot(2, 101.0, "ab", None)
    found = await store.read_page(room, None, 10)
    assert found is not None and versions(found.entries) == [1, 2]


async def test_unknown_and_deleted_rooms(store: HistoryStore, room: str) -> None:
    assert await store.read_text(room) is None
    assert await store.read_page(room, None, 10) is None
    await store.append(room, [])  # nothing appended: still no history
    assert await store.read_text(room) is None
    await store.append(room, typed("a"))
    await store.checkpoint(room, Snapshot(1, 100.0, "a", None))
    page_one = await store.read_page(room, None, 10)
    assert page_one is not None and versions(page_one.entries) == [1]
    await store.delete_history(room)
    assert await store.read_text(room) is None
    assert await store.read_page(room, None, 10) is None
    await store.delete_history(room)  # nothing to forget: no error
    await store.append(room, typed("z"))  # a history begun anew starts empty
    assert (await store.read_text(room)) == Snapshot(1, 100.0, "z", None)


async def test_rooms_keep_their_own_histories(store: HistoryStore, room: str) -> None:
    other = new_room_id()
    await store.append(room, typed("ab"))
    await store.append(other, typed("xyz"))
    await store.delete_history(other)
    assert (await store.read_text(room)) == Snapshot(2, 101.0, "ab", None)


async def test_pages_in_order_never_splitting_a_version(store: HistoryStore, room: str) -> None:
    entries = [*typed("a"), *cursors(1, 2), *typed("b", start=2), *cursors(2, 3), *typed("c", start=3)]
    await store.append(room, entries)
    first = await store.read_page(room, None, 4)  # 1, 1, 1, 2 | 2, 2, 2: ends before version 2
    assert first is not None and versions(first.entries) == [1, 1, 1] and first.next_after == 1
    big = await store.read_page(room, 1, 2)  # version 2 holds 4 entries: the whole group
    assert big is not None and versions(big.entries) == [2, 2, 2, 2] and big.next_after == 2
    last = await store.read_page(room, 2, 2)
    assert last is not None and versions(last.entries) == [3] and last.next_after is None
    assert (await store.read_page(room, 3, 2)) == (await store.read_page(room, 10**15, 2))
    everything = await store.read_page(room, None, 100)
    assert everything is not None and everything.entries == entries and everything.next_after is None
    with pytest.raises(HistoryError):
        await store.read_page(room, None, 0)


async def test_a_one_megabyte_text_and_paste(store: HistoryStore, room: str) -> None:
    """Over Table storage's 64 KiB a property and 1 MiB an entity, however badly it compresses."""
    rng = random.Random(13)
    text = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(500_000)) + "😀" * 250_000  # 1M UTF-16 units
    paste = Entry(1, 10.0, delta(1, 0, text))
    await store.append(room, [paste])
    await store.checkpoint(room, Snapshot(1, 10.0, text, "markdown"))
    await store.append(room, typed("!", start=2, at=11.0, length=utf16_length(text)))
    assert (await store.read_text(room, 1)) == Snapshot(1, 10.0, text, "markdown")
    assert (await store.read_text(room)) == Snapshot(2, 11.0, text + "!", "markdown")
    found = await store.read_page(room, None, 1)
    assert found is not None and found.entries == [paste] and found.next_after == 1


async def test_appends_of_many_entries_at_once(store: HistoryStore, room: str) -> None:
    """More than one Table transaction holds (100 operations)."""
    text = "".join(chr(ord("a") + i % 26) for i in range(250))
    await store.append(room, typed(text))
    assert (await store.read_text(room)) == Snapshot(250, 349.0, text, None)
    assert (await store.read_text(room, 120)) == Snapshot(120, 219.0, text[:120], None)


async def test_two_writers_of_one_room_do_not_interleave(azurite: str, room: str) -> None:
    """A Room entity that moved to another instance and back: the first one's head is stale."""
    first, second = table_history(azurite), table_history(azurite)
    await asyncio.to_thread(first.append, room, typed("ab"))
    await asyncio.to_thread(second.append, room, typed("cd", start=3, length=2))
    await asyncio.to_thread(first.append, room, typed("ef", start=5, length=4))  # reads the head again
    await asyncio.to_thread(second.checkpoint, room, Snapshot(6, 105.0, "abcdef", None))
    with pytest.raises(HistoryError):
        await asyncio.to_thread(first.append, room, typed("x", start=5, length=4))  # behind what is there
    reader = TableHistoryStore(table_history(azurite))
    assert (await reader.read_text(room)) == Snapshot(6, 105.0, "abcdef", None)
    found = await reader.read_page(room, None, 100)
    assert found is not None and versions(found.entries) == [1, 2, 3, 4, 5, 6]


def test_keys_sort_as_the_reads_need() -> None:
    """Entries by (version, seq); checkpoints latest first, so one row read finds the one at or before V."""
    assert sorted([entry_key(2, 3), entry_key(1, 9), entry_key(10, 1)]) == [
        entry_key(1, 9),
        entry_key(2, 3),
        entry_key(10, 1),
    ]
    newest_first = [checkpoint_key(9, 40), checkpoint_key(9, 12), checkpoint_key(3, 10), checkpoint_key(0, 0)]
    assert sorted(newest_first) == newest_first
    assert checkpoint_key(5, 0) < checkpoint_key(4, 999) and f"c{checkpoint_key(5, 0)[1:13]}" <= checkpoint_key(5, 7)


def test_the_connection_settings_in_each_form() -> None:
    assert TableConnection.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}).connection_string
    by_name = TableConnection.from_env(
        {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientId": "c"}
    )
    assert (by_name.endpoint, by_name.client_id) == ("https://acct.table.core.windows.net", "c")
    by_uri = TableConnection.from_env({"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net/"})
    assert by_uri.endpoint == "https://acct.table.core.windows.net" and by_uri.client_id is None
    with pytest.raises(ValueError):
        TableConnection.from_env({"AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net"})
    assert HISTORY_TABLE.lower() != "codestreamhistory"  # the Durable task hub's table: names ignore case


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_text_at_every_version_is_the_writers_table_store(azurite: str, data: st.DataObject, numbering: Any) -> None:
    """tests/property/test_history_property.py on the Table store, read back by another instance."""

    async def run() -> None:
        script = draw_script(data, numbering)
        stream = draw_stream(data, script)
        writer = TableHistoryStore(table_history(azurite))
        await writer.delete_history(ROOM)  # the property test's one room: each example starts it anew
        appended, languages, held = await record(stream, draw_timing(data, stream), writer)
        await check(TableHistoryStore(table_history(azurite)), script, appended, languages, held)

    asyncio.run(run())
