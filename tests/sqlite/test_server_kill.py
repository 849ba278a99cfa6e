"""The real server on its default store, killed with SIGKILL while its writer types, then restarted.

What the server had accepted a second before the kill is still in the history, every stored
version's text is the writer's text at that version, and a viewer of the room (its writer
gone with the old process) gets the last stored text at once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from selfhost.sqlite_store import SqliteStore, database_path
from shared.settings import Settings
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.server import start_server

TYPING_SECONDS = 2.0
AFTER_CONFIRMED_SECONDS = 1.2  # typing goes on this long after the last check, then the kill


async def test_a_sigkill_keeps_what_the_history_held_a_second_before(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    writer = await new_writer(first)
    watcher = await new_viewer(first, writer.room_id)
    texts = {0: ""}  # version -> the writer's text after it

    async def type_for(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await type_text(writer, "é" if writer.version % 7 == 3 else "x")
            texts[writer.version] = writer.text()
            await asyncio.sleep(0.02)  # within the rate limit (100 messages a second)

    await type_for(TYPING_SECONDS)
    await watcher.wait_text(writer.text())  # the server has accepted all of it
    confirmed = writer.version
    await type_for(AFTER_CONFIRMED_SECONDS)
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    typed = writer.version
    await asyncio.gather(writer.close(), watcher.close())

    second = start_server(tmp_path)
    try:
        late = await new_viewer(second, writer.room_id)
        await late.wait_for(lambda: late.text() != "", timeout=2)  # at once: its writer is gone
        shown = late.text()
        await late.close()
    finally:
        assert second.stop() == 0

    path = database_path(Settings(data_dir=str(tmp_path)))
    for file in path.parent.glob(path.name + "*"):  # with its -wal and -shm, while they exist
        assert file.stat().st_mode & 0o777 == 0o600, file  # the streams' text is the server's own
    store = await SqliteStore.open(path, Settings())
    try:
        latest = await store.read_text(writer.room_id)
        assert latest is not None and confirmed <= latest.version <= typed
        assert shown == latest.content == texts[latest.version]
        page = await store.read_page(writer.room_id, None, 100_000)
        assert page is not None
        versions = [entry.version for entry in page.entries if entry.message["type"] == "delta"]
        assert versions == list(range(1, latest.version + 1))  # no gap, nothing lost before the kill
        for version in range(0, latest.version + 1, 37):
            snapshot = await store.read_text(writer.room_id, version)
            assert snapshot is not None and snapshot.content == texts[version]
    finally:
        await store.close()
