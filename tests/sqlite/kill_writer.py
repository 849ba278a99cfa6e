"""Run as `python -m tests.sqlite.kill_writer DB`: types into a room through the SQLite store until killed.

Prints `ready`, then one line `<version> <at>` after each delta the store accepted (its
history entry and the room's text are queued then), so the test that kills it with SIGKILL
knows what the store had been given and when.
"""

from __future__ import annotations

import asyncio
import sys
import time

from selfhost.sqlite_store import SqliteStore
from shared.room_operations import Create, Join
from shared.settings import Settings
from tests.support.recording import record

ROOM = "KKKKKKKKKKKKKKKKKKKKKK"
SETTINGS = Settings()
PIECE = "k😀\n"  # 4 UTF-16 units


def delta(version: int) -> dict[str, object]:
    change = {"rangeOffset": 4 * (version - 1), "rangeLength": 0, "text": PIECE}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


async def main(path: str) -> None:
    store = await SqliteStore.open(path, SETTINGS)
    await store.apply(ROOM, Create(time.time()))
    await store.apply(ROOM, Join("writer-socket", "writer", time.time()))
    print("ready", flush=True)
    version = 0
    while True:
        version += 1
        at = time.time()
        await record(store, ROOM, delta(version), at, SETTINGS)
        print(version, repr(at), flush=True)
        await asyncio.sleep(0.005)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
