"""codestream on Azure Functions (Python v2 model), with Web PubSub for Socket.IO in serverless mode.

Each function only translates: its trigger data goes to `azure_adapter.adapter.Adapter`
(which calls the core in `shared/`), and the actions that come back are written, as one
JSON array, to the `socketio` output binding. Shapes follow docs/AZURE.md.

- `negotiate` / `register` (GET /api/negotiate, /api/register): PROTOCOL.md's negotiate;
  the token is minted with the Web PubSub SDK (`azure_adapter/service_tokens.py`), so no
  binding runs per request, not even for a CORS preflight.
- `connect`, `connected`, `joinRoom`, `sendToRoom`, `disconnected`: the Socket.IO events the
  service forwards to /runtime/webhooks/socketio.
- Entities `Room` (a room's text, version, language, cursor and members) and `Socket` (the
  room a socket joined, for `disconnected`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from azure_adapter.adapter import Adapter
from azure_adapter.entities import DurableEntities, EntityStore
from azure_adapter.events import SocketEvent, read_event
from azure_adapter.http import cors_headers
from azure_adapter.service_tokens import CONNECTION, ServiceConnection, TokenMinter
from shared import protocol
from shared.actions import Action
from shared.capabilities import secret_bytes
from shared.handlers import internal_error
from shared.room_operations import ROOM_ENTITY, SOCKET_ENTITY, State, room_operation, socket_operation
from shared.settings import Settings, env_name

log = logging.getLogger("codestream")

TRIGGER = "socketiotrigger"
OUTPUT = "socketio"

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@functools.cache
def settings() -> Settings:
    """Read once per instance from the app settings (the environment)."""
    return Settings.from_env()


HUB = settings().hub  # the bindings name the hub when the app is indexed


@functools.cache
def adapter() -> Adapter:
    """Built on first use, so that importing this module needs no secret."""
    secret = settings().secret
    if secret is None:
        raise RuntimeError(f"{env_name('secret')} is not set")
    return Adapter(settings(), secret_bytes(secret), TokenMinter(ServiceConnection.from_env(os.environ), HUB))


# --- HTTP: negotiate ----------------------------------------------------------------


@app.route(route="negotiate", methods=["GET", "OPTIONS"])
@app.durable_client_input(client_name="client")
async def negotiate(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _negotiate(req, DurableEntities(client))


@app.route(route="register", methods=["GET", "OPTIONS"])  # the tutorial's name for negotiate
@app.durable_client_input(client_name="client")
async def register(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _negotiate(req, DurableEntities(client))


async def _negotiate(req: func.HttpRequest, entities: EntityStore) -> func.HttpResponse:
    origin = req.headers.get("Origin")
    origins = settings().allowed_origins
    if req.method == "OPTIONS":
        return func.HttpResponse(status_code=204, headers=cors_headers(origin, origins, preflight=True))
    query = dict(req.params)
    try:
        status, body = await adapter().negotiate(query, entities)
    except Exception:
        log.exception("negotiate failed")
        status, body = 500, {"error": {"code": "internal", "message": "the server failed to negotiate"}}
    headers = {"Cache-Control": "no-store", **cors_headers(origin, origins)}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)


# --- Socket.IO events ---------------------------------------------------------------


def socketio_event(name: str) -> Callable[[Callable[..., Any]], Any]:
    """The `socketiotrigger` for event `name` and the `socketio` output binding for its actions."""

    def bind(fn: Callable[..., Any]) -> Any:
        trigger = app.generic_trigger(
            arg_name="request", type=TRIGGER, data_type=func.DataType.STRING, hub=HUB, eventName=name
        )
        output = app.generic_output_binding(
            arg_name="out", type=OUTPUT, data_type=func.DataType.STRING, hub=HUB, connection=CONNECTION
        )
        return trigger(output(fn))

    return bind


@app.generic_trigger(
    arg_name="request", type=TRIGGER, data_type=func.DataType.STRING, hub=HUB, eventName=protocol.CONNECT_EVENT
)
def connect(request: str) -> str:
    """Accept (200) or refuse (401, 404) the socket; the service reads `statusCode`.

    Anything that fails here answers 500 all the same: the extension waits for this return
    value, which a function that raised never sets, so the socket would hang until the
    service's timeout instead of being refused at once.
    """
    try:
        status = adapter().connect(read_event(request))
    except Exception:
        log.exception("connect failed")
        status = 500
    return json.dumps({"statusCode": status})


@socketio_event(protocol.CONNECTED_EVENT)
async def connected(request: str, out: func.Out[str]) -> None:
    await _run(request, out, protocol.CONNECTED_EVENT, lambda event: adapter().connected(event))


@socketio_event(protocol.JOIN_ROOM_EVENT)
@app.durable_client_input(client_name="client")
async def join_room(request: str, out: func.Out[str], client: df.DurableOrchestrationClient) -> None:
    entities = DurableEntities(client)
    await _run(request, out, protocol.JOIN_ROOM_EVENT, lambda event: adapter().join_room(event, entities))


@socketio_event(protocol.SEND_TO_ROOM_EVENT)
@app.durable_client_input(client_name="client")
async def send_to_room(request: str, out: func.Out[str], client: df.DurableOrchestrationClient) -> None:
    entities = DurableEntities(client)
    await _run(request, out, protocol.SEND_TO_ROOM_EVENT, lambda event: adapter().send_to_room(event, entities))


@socketio_event(protocol.DISCONNECTED_EVENT)
@app.durable_client_input(client_name="client")
async def disconnected(request: str, out: func.Out[str], client: df.DurableOrchestrationClient) -> None:
    entities = DurableEntities(client)
    await _run(request, out, protocol.DISCONNECTED_EVENT, lambda event: adapter().disconnected(event, entities))


async def _run(
    request: str, out: func.Out[str], name: str, handle: Callable[[SocketEvent], Awaitable[list[Action]]]
) -> None:
    """Translate the trigger data, run the event, write its actions as one JSON array."""
    event = read_event(request)  # malformed trigger data raises: the function fails, the socket hears nothing
    try:
        actions = await handle(event)
    except Exception:  # a failure must reach the client as `internal`, not vanish
        log.exception("%s failed for socket %s", name, event.socket_id)
        actions = internal_error(event.socket_id, name) if name in protocol.CLIENT_EVENTS else []
    if actions:
        # The list, not its text: the worker sends it as JSON, which the host reads without
        # date parsing; a string would have every date-like text rewritten (docs/AZURE.md).
        # `func.Out[str]` stays: the worker accepts no other annotation on a generic binding.
        out.set(actions)  # type: ignore[arg-type]


# --- Durable Entities ---------------------------------------------------------------


@app.entity_trigger(context_name="context", entity_name=ROOM_ENTITY)
def Room(context: df.DurableEntityContext) -> None:
    """One room's state; each operation carries its time (`at`), so this reads no clock."""
    state = context.get_state(expected_type=dict)
    _keep(
        context,
        room_operation(
            context.entity_key,
            state,
            context.operation_name,
            context.get_input(expected_type=dict),
            settings(),
        ),
    )


@app.entity_trigger(context_name="context", entity_name=SOCKET_ENTITY)
def Socket(context: df.DurableEntityContext) -> None:
    _keep(
        context,
        socket_operation(
            context.get_state(expected_type=dict), context.operation_name, context.get_input(expected_type=dict)
        ),
    )


def _keep(context: df.DurableEntityContext, state: State) -> None:
    if state is None:
        context.destruct_on_exit()
    else:
        context.set_state(state)
