"""What an idle viewer costs: nothing kept of its handshake (bench target: 44 KB per viewer), and
one heartbeat (Engine.IO's), not a second WebSocket-level ping."""

from __future__ import annotations

from tests.fanout.conftest import Running
from tests.support.clients import monaco_event


async def test_an_idle_viewer_keeps_no_handshake_leftovers(running: Running) -> None:
    writer = await running.writer()
    viewer = await running.viewer(writer.room_id)
    sio = running.server.sio
    sockets = [s for s in sio.eio.sockets.values() if s.codestream_route is not None]
    assert len(sockets) == 2  # the writer's and the viewer's, both on the fast path
    for s in sockets:
        assert "wsgi.input" not in sio.environ[s.sid]  # engineio's request body reader, a class per request
        connection = s.codestream_route.connection
        assert connection.request is None and connection.response is None
    await writer.edit(monaco_event((0, 0, "x")))  # and the stream still flows
    await viewer.wait_text("x")
    for client in (viewer, writer):
        await client.close()


async def test_an_idle_viewer_gets_no_websocket_level_ping(running: Running) -> None:
    writer = await running.writer()
    viewer = await running.viewer(writer.room_id)
    routes = [s.codestream_route for s in running.server.sio.eio.sockets.values()]
    assert len(routes) == 2 and all(r is not None for r in routes)
    connections = [r.connection for r in routes]
    assert all(c.ping_timer is None for c in connections)  # uvicorn would have scheduled its first ping
    for client in (viewer, writer):
        await client.close()
