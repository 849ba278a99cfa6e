"""Socket.IO client managers whose broadcasts queue the packet for each socket directly.

python-socketio's manager encodes a broadcast once, then starts one asyncio task per
recipient and waits for them all. Each task only puts the packet on that socket's queue,
which never blocks, so for 500 viewers it pays 500 task creations and a 500-task wait to
do 500 queue puts. The benchmark's profile (bench/results) showed this as the second
largest cost of a fan-out after the socket writes themselves; here the puts are plain
awaits in a loop. Broadcasts with callbacks (not used by codestream) keep the library's way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from engineio import async_socket as engineio_async_socket
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet
from socketio import packet


async def deliver(
    manager: socketio.AsyncManager, event: str, data: Any, namespace: str, room: Any, skip_sid: Any
) -> None:
    """Send `event` to this process's sockets in `room` (all of the namespace when None)."""
    if namespace not in manager.rooms:
        return
    # As in python-socketio: a tuple is several arguments, None is none.
    args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
    skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
    encoded = manager.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    eio_packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
    for sid, eio_sid in list(manager.get_participants(namespace, room)):
        if sid not in skip:
            for p in eio_packets:
                await manager.server._send_eio_packet(eio_sid, p)


class FanoutManager(socketio.AsyncManager):
    """The single-process manager."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to)
        await deliver(self, event, data, namespace, to or room, skip_sid)


class FanoutRedisManager(socketio.AsyncRedisManager):
    """Several processes over Redis: each delivers what reaches it to its own sockets."""

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("callback") is not None or message.get("binary"):
            return await super()._handle_emit(message)
        data = message["data"]
        if isinstance(data, list):
            data = data[0] if len(data) == 1 else tuple(data)
        await deliver(
            self, message["event"], data, message.get("namespace") or "/", message.get("room"), message.get("skip_sid")
        )


async def _poll(self: Any) -> list[Any]:
    """engineio's AsyncSocket.poll without `asyncio.wait_for`, which on Python 3.11 starts a
    task for every packet a socket sends; `asyncio.timeout` does the same job without one."""
    try:
        async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
            packets = [await self.queue.get()]
        self.queue.task_done()
    except (TimeoutError, asyncio.CancelledError):
        raise engineio_exceptions.QueueEmpty() from None
    if packets == [None]:
        return []
    while True:
        try:
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        except asyncio.QueueEmpty:
            break
    return packets


if hasattr(asyncio, "timeout"):  # Python 3.11+
    engineio_async_socket.AsyncSocket.poll = _poll  # type: ignore[method-assign]
