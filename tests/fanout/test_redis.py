"""Two servers sharing Redis: each writes what reaches it through Redis straight to its viewers."""

from __future__ import annotations

import os
from collections.abc import Callable

from selfhost import fanout
from selfhost.app import Server
from selfhost.redis_store import redis_backends
from shared.settings import Settings
from tests.fanout.conftest import serve
from tests.fanout.raw import RawViewer
from tests.support.clients import monaco_event


async def test_redis_path_writes_direct_on_both_processes(
    redis_url: str, settings: Settings, counted: Callable[[], fanout.Counters]
) -> None:
    secret = os.urandom(32)
    servers = []
    for _ in range(2):
        store, manager = redis_backends(redis_url, settings)
        servers.append(Server(settings, secret, store=store, client_manager=manager))
    try:
        async with serve(servers[0]) as first, serve(servers[1]) as second:
            writer = await first.writer()
            raw = [await RawViewer.open(await node.grant(writer.room_id)) for node in (first, second)]
            for viewer in raw:
                await viewer.join(writer.room_id)
                await viewer.editor()
            sio_viewer = await second.viewer(writer.room_id)
            text = "print('hi')"
            for i, ch in enumerate(text):
                await writer.edit(monaco_event((i, 0, ch)))
            for viewer in raw:
                versions = [(await viewer.editor())[0]["version"] for _ in text]
                assert versions == list(range(1, len(text) + 1))
            await sio_viewer.wait_text(text)
            assert counted().direct >= 3 * len(text)  # each process wrote its own viewers' frames
            for viewer in raw:
                viewer.close()
            await sio_viewer.close()
            await writer.close()
    finally:
        fanout.uninstall()
        for server in servers:
            await server.store.redis.aclose()
