"""Durable Functions' entity HTTP API and dispatch, for the worker's durable client.

The durable client (azure-functions-durable) makes every entity call as plain HTTP to the
`rpcBaseUrl` of its binding: `GET {rpcBaseUrl}entities/{name}/{key}` reads a state (200 with
the state as JSON, 404 when the entity does not exist), `POST ...?op={operation}` signals
(202). This stand-in answers those and runs the entity functions through the worker:

- one batch at a time per entity key, signals in the order they arrived (the actor
  guarantee real entities give); signals that arrive during a batch form the next one;
- the trigger data is the extension's: `{self: {name, key}, exists, state, batch: [{name,
  input}]}`, where `state` is the JSON text the entity last returned and each `input` is
  the signal's body as the client sent it: `json.dumps` of `json.dumps(value)`, so encoded twice.

Entity names are case-insensitive, as in Durable Functions (the client sends them as given).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .worker import Worker

log = logging.getLogger("azure_local.durable")
RPC_PATH = "/runtime/webhooks/durabletask/"
TASK_HUB = "codestreamlocal"


@dataclass
class Entity:
    name: str  # as the function declares it
    key: str
    state: str | None = None  # the JSON text the entity function returned
    pending: list[tuple[str, str | None]] = field(default_factory=list)  # (operation, input)
    running: asyncio.Task[None] | None = None


class DurableHost:
    def __init__(self, worker: Worker, base_url: str) -> None:
        self.worker = worker
        self.rpc_base_url = base_url.rstrip("/") + RPC_PATH
        self.entities: dict[tuple[str, str], Entity] = {}
        self.signals: list[tuple[str, str, str, str | None]] = []  # every signal received, for tests
        self.batches: list[dict[str, Any]] = []  # every trigger sent, for tests
        self.failures: list[str] = []
        self.paused = False  # tests: signals wait in their queues until resume()
        self.failing_reads = False  # tests: reads answer 500, as when storage is down
        self._idle = asyncio.Event()
        self._idle.set()

    def client_binding(self) -> str:
        """The `durableClient` input binding's value, as the extension passes it."""
        management = self.rpc_base_url + "instances/{instanceId}"
        return json.dumps(
            {
                "taskHubName": TASK_HUB,
                "creationUrls": {"createNewInstancePostUri": self.rpc_base_url + "orchestrators/{functionName}"},
                "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": management},
                "baseUrl": self.rpc_base_url,
                "requiredQueryStringParameters": "",
                "rpcBaseUrl": self.rpc_base_url,
                "httpBaseUrl": "",
            }
        )

    def routes(self) -> list[Route]:
        path = RPC_PATH + "entities/{name}/{key}"
        return [Route(path, self._get, methods=["GET"]), Route(path, self._post, methods=["POST"])]

    # --- the HTTP API ---

    async def _get(self, request: Request) -> Response:
        if self.failing_reads:
            return JSONResponse({"message": "storage is down"}, status_code=500)
        entity = self._find(request.path_params["name"], request.path_params["key"])
        if entity is None or entity.state is None:
            return Response(status_code=404)
        return Response(entity.state, media_type="application/json")

    async def _post(self, request: Request) -> Response:
        operation = request.query_params.get("op")
        if not operation:
            return JSONResponse({"error": "the op query parameter is required"}, status_code=400)
        name = self._function_name(request.path_params["name"])
        if name is None:
            return JSONResponse({"error": f"no entity function {request.path_params['name']!r}"}, status_code=404)
        body = (await request.body()).decode("utf-8")
        self.signal(name, request.path_params["key"], operation, body or None)
        return Response(status_code=202)

    # --- dispatch ---

    def signal(self, name: str, key: str, operation: str, raw_input: str | None) -> None:
        self.signals.append((name, key, operation, raw_input))
        entity = self.entities.setdefault((name.lower(), key), Entity(name, key))
        entity.pending.append((operation, raw_input))
        self._dispatch(entity)

    def resume(self) -> None:
        self.paused = False
        for entity in self.entities.values():
            self._dispatch(entity)

    def _dispatch(self, entity: Entity) -> None:
        if entity.running is None and entity.pending and not self.paused:
            self._idle.clear()
            entity.running = asyncio.get_running_loop().create_task(self._drain(entity))

    async def _drain(self, entity: Entity) -> None:
        try:
            while entity.pending:
                batch, entity.pending = entity.pending, []
                await self._run_batch(entity, batch)
        finally:
            entity.running = None
            if all(e.running is None for e in self.entities.values()):
                self._idle.set()

    async def _run_batch(self, entity: Entity, batch: list[tuple[str, str | None]]) -> None:
        trigger = {
            "self": {"name": entity.name, "key": entity.key},
            "exists": entity.state is not None,
            "state": entity.state,
            "batch": [{"name": operation, "input": raw} for operation, raw in batch],
        }
        self.batches.append(trigger)
        function = self.worker.trigger_for("entityTrigger", entityName=entity.name)
        assert function is not None
        try:
            result = await self.worker.invoke(
                function.name, {function.trigger["name"]: self.worker.string(json.dumps(trigger))}
            )
        except Exception as error:  # the extension logs a failed batch and keeps the state it had
            log.exception("entity %s@%s failed", entity.name, entity.key)
            self.failures.append(str(error))
            return
        state = json.loads(result.return_value)
        for outcome in state.get("results", []):
            if outcome.get("isError"):
                self.failures.append(str(outcome.get("result")))
                log.error("entity %s@%s operation failed: %s", entity.name, entity.key, outcome.get("result"))
        if state.get("signals"):
            # Python entities cannot signal others (docs/AZURE.md): one that tried is a bug to see.
            raise RuntimeError("an entity sent signals; the stand-in relays none, as Python entities send none")
        entity.state = state["entityState"] if state["entityExists"] else None

    async def settle(self) -> None:
        """Wait until no entity has work queued or running."""
        while not self._idle.is_set():
            await self._idle.wait()

    # --- lookups ---

    def _function_name(self, name: str) -> str | None:
        for function in self.worker.functions.values():
            declared = function.trigger.get("entityName")
            if function.trigger["type"] == "entityTrigger" and declared and declared.lower() == name.lower():
                return str(declared)
        return None

    def _find(self, name: str, key: str) -> Entity | None:
        return self.entities.get((name.lower(), key))

    def state(self, name: str, key: str) -> Any:
        entity = self._find(name, key)
        return None if entity is None or entity.state is None else json.loads(entity.state)
