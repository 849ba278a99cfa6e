"""codestream on Azure Functions (Python v2 model), with Web PubSub for Socket.IO in serverless mode.

Each function only translates: its trigger data goes to `azure_adapter.adapter.Adapter`
(which calls the core in `shared/`), and the actions that come back are written, as one
JSON array, to the `socketio` output binding. Shapes follow docs/AZURE.md.

- `negotiate` / `register` (GET /api/negotiate, /api/register): PROTOCOL.md's negotiate;
  the token is minted with the Web PubSub SDK (`azure_adapter/service_tokens.py`), so no
  binding runs per request, not even for a CORS preflight.
- `connect`, `connected`, `joinRoom`, `sendToRoom`, `disconnected`: the Socket.IO events the
  service forwards to /runtime/webhooks/socketio.
- `room_text`, `room_history`, `end_room`, `delete_room` (/api/rooms/...): the rooms API of
  docs/API.md, shared/rooms_api.py over the entities and the Table history; what it answers
  with actions (ended, deleted, disconnects) goes to the `socketio` output as an event's do.
- `sweep` (a timer): expired rooms are deleted as `delete_room` deletes them.
- Entities `Room` (a room's text, version, language, cursor and members; it records the
  history in Table storage, azure_adapter/room_entity.py) and `Socket` (the room a socket
  joined, for `disconnected`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from azure_adapter.adapter import Adapter
from azure_adapter.entities import DurableEntities, EntityStore
from azure_adapter.events import SocketEvent, read_event
from azure_adapter.http import API_HEADERS, API_METHODS, cors_headers
from azure_adapter.room_entity import RoomEntity
from azure_adapter.service_tokens import CONNECTION, ServiceConnection, TokenMinter
from azure_adapter.storage import Storage
from shared import protocol, rooms_api
from shared.actions import Action
from shared.capabilities import secret_bytes
from shared.handlers import internal_error
from shared.history import Recorder
from shared.room_operations import ROOM_ENTITY, SOCKET_ENTITY, State, socket_operation
from shared.settings import Settings, env_name

log = logging.getLogger("codestream")

TRIGGER = "socketiotrigger"
OUTPUT = "socketio"
SWEEP_SCHEDULE = "0 */5 * * * *"  # every five minutes: a room outlives its expiry by at most that

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
    tokens = TokenMinter(ServiceConnection.from_env(os.environ), HUB)
    return Adapter(settings(), secret_bytes(secret), tokens, storage())


@functools.cache
def storage() -> Storage:
    """The history and the rooms' index, in the tables of the host's storage account (`AzureWebJobsStorage`)."""
    return Storage(os.environ)


@functools.cache
def room_entity() -> RoomEntity:
    """One per instance, with this instance's `Recorder` (the sampling and checkpoint state of its rooms)."""
    return RoomEntity(settings(), storage().history, storage().index, Recorder())


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


# --- HTTP: the rooms API -------------------------------------------------------------


@app.route(route="rooms/{room_id}/text", methods=["GET", "OPTIONS"])
@app.durable_client_input(client_name="client")
async def room_text(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _api(req, client, lambda room_id, query, e: adapter().room_text(room_id, query, e))


@app.route(route="rooms/{room_id}/history", methods=["GET", "OPTIONS"])
@app.durable_client_input(client_name="client")
async def room_history(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _api(req, client, lambda room_id, query, e: adapter().room_history(room_id, query, e))


@app.route(route="rooms/{room_id}/end", methods=["POST", "OPTIONS"])
@app.generic_output_binding(arg_name="out", type=OUTPUT, data_type=func.DataType.STRING, hub=HUB, connection=CONNECTION)
@app.durable_client_input(client_name="client")
async def end_room(
    req: func.HttpRequest, out: func.Out[str], client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    auth = req.headers.get("Authorization")
    return await _api(req, client, lambda room_id, query, e: adapter().end_room(room_id, auth, query, e), out)


@app.route(route="rooms/{room_id}", methods=["DELETE", "OPTIONS"])
@app.generic_output_binding(arg_name="out", type=OUTPUT, data_type=func.DataType.STRING, hub=HUB, connection=CONNECTION)
@app.durable_client_input(client_name="client")
async def delete_room(
    req: func.HttpRequest, out: func.Out[str], client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    auth = req.headers.get("Authorization")
    return await _api(req, client, lambda room_id, query, e: adapter().delete_room(room_id, auth, query, e), out)


ApiCall = Callable[[str, str, EntityStore], Awaitable[rooms_api.ApiAnswer]]


async def _api(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, call: ApiCall, out: func.Out[str] | None = None
) -> func.HttpResponse:
    """Translate the request for shared/rooms_api.py; perform the answer's actions; answer JSON with CORS."""
    origin = req.headers.get("Origin")
    cors = cors_headers(origin, settings().allowed_origins, req.method == "OPTIONS", API_METHODS, API_HEADERS)
    if req.method == "OPTIONS":
        return func.HttpResponse(status_code=204, headers=cors)
    if len(req.get_body() or b"") > rooms_api.MAX_BODY_BYTES:
        answer = rooms_api.body_too_large()
    else:
        try:
            answer = await call(req.route_params.get("room_id", ""), urlsplit(req.url).query, DurableEntities(client))
        except Exception:
            log.exception("%s %s failed", req.method, req.url)
            answer = rooms_api.refusal(protocol.ProtocolError("internal", "the server failed to answer"))
    if answer.actions and out is not None:
        out.set(answer.actions)  # type: ignore[arg-type]  # a list, as the events write it (see _run)
    body = json.dumps(answer.body)
    headers = {**answer.headers, **cors}
    return func.HttpResponse(body, status_code=answer.status, mimetype="application/json", headers=headers)


# --- the sweep ------------------------------------------------------------------------


@app.timer_trigger(schedule=SWEEP_SCHEDULE, arg_name="timer")
@app.generic_output_binding(arg_name="out", type=OUTPUT, data_type=func.DataType.STRING, hub=HUB, connection=CONNECTION)
@app.durable_client_input(client_name="client")
async def sweep(timer: func.TimerRequest, out: func.Out[str], client: df.DurableOrchestrationClient) -> None:
    """Rooms past their expiry are deleted (their sockets told and disconnected); old tombstones dropped."""
    actions = await adapter().sweep(DurableEntities(client))
    if actions:
        out.set(actions)  # type: ignore[arg-type]


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
    """One room's state; each operation carries its time (`at`), so this reads no clock.

    Synchronous (as Python entities are): its Table writes (history, index) run in this thread.
    """
    state = context.get_state(expected_type=dict)
    operation, value = context.operation_name, context.get_input(expected_type=dict)
    _keep(context, room_entity().step(context.entity_key, state, operation, value))


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
