"""The whole Azure build on one local address, as `func start` would serve it with Core Tools.

One ASGI app holds the three parts a deployment has: the Function App's HTTP routes
(`/api/<route>`, each an `httpTrigger` function run through the worker), the Durable
extension's entity HTTP API (`/runtime/webhooks/durabletask/`), and Web PubSub for
Socket.IO (`/clients/socketio/hubs/<hub>`); `/` serves the web client (static_site/dist).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .durable import DurableHost
from .webpubsub import ConnectionString, SocketIOService, negotiation
from .worker import Function, Worker, WorkerError

log = logging.getLogger("azure_local")
ROOT = Path(__file__).resolve().parents[1]
STATIC_DIR = ROOT / "static_site" / "dist"
CONNECTION_SETTING = "WebPubSubForSocketIOConnectionString"
# Not a route of Azure's: tests wait here until no entity has work queued or running.
SETTLE_PATH = "/_local/settle"


class LocalAzure:
    """The worker, the durable stand-in and the Web PubSub stand-in behind one base URL."""

    def __init__(self, worker: Worker, connection: ConnectionString, hub: str, static_dir: Path = STATIC_DIR) -> None:
        self.worker = worker
        self.base_url = connection.endpoint
        self.hub = hub
        self.connection = connection
        self.durable = DurableHost(worker, self.base_url)
        self.service = SocketIOService(worker, self.connection, hub, self.inputs)
        prefix = route_prefix()
        routes: list[Route | Mount] = [
            Route(SETTLE_PATH, self.settle),
            *self.durable.routes(),
            Route(
                f"/{prefix}/{{route:segments}}" if prefix else "/{route:segments}",
                self.http,
                methods=["GET", "POST", "OPTIONS", "PUT", "DELETE"],
            ),
        ]
        if (static_dir / "index.html").is_file():
            site = StaticFiles(directory=static_dir, html=True)
            routes.append(Mount("/", _with_headers(site, static_web_app_headers(static_dir))))
        self.asgi = self.service.asgi(Starlette(routes=routes))

    async def settle(self, request: Request) -> Response:
        await self.durable.settle()
        return Response(status_code=204)

    def inputs(self, function: Function) -> dict[str, Any]:
        """The non-trigger input bindings: the durable client and the negotiation result."""
        values: dict[str, Any] = {}
        for binding in function.binding("IN"):
            if binding["type"] == "durableClient":
                values[binding["name"]] = self.worker.string(self.durable.client_binding())
            elif binding["type"] == "socketionegotiation":
                grant = negotiation(self.connection, binding.get("hub") or self.hub, time.time())
                values[binding["name"]] = self.worker.string(json.dumps(grant))
        return values

    async def http(self, request: Request) -> Response:
        route = request.path_params["route"]
        found = self._http_function(route, request.method)
        if found is None:
            return Response(status_code=404)
        function, params = found
        body = await request.body()
        trigger = self.worker.http(
            request.method, str(request.url), dict(request.headers), dict(request.query_params), body, params
        )
        inputs = {function.trigger["name"]: trigger, **self.inputs(function)}
        try:
            result = await self.worker.invoke(function.name, inputs)
        except WorkerError as error:  # the host answers 500 with no body of the function's
            return JSONResponse({"error": str(error).splitlines()[0]}, status_code=500)
        await self.service.perform_outputs(function, result)  # the rooms API's end and delete tell sockets
        answer = result.return_value
        if answer is None:
            return Response(status_code=204)
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    async def fire_timer(self, name: str) -> None:
        """Run timer function `name` once, as the host does at each time its schedule names."""
        function = self.worker.functions[name]
        status = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False}
        inputs = {function.trigger["name"]: self.worker.json(status), **self.inputs(function)}
        result = await self.worker.invoke(name, inputs)
        await self.service.perform_outputs(function, result)

    async def run_timers(self) -> None:
        """Fire every timer function each `timer_interval(schedule)` seconds, until cancelled."""
        timers = [f for f in self.worker.functions.values() if f.trigger["type"] == "timerTrigger"]
        if not timers:
            return
        interval = min(timer_interval(f.trigger["schedule"]) for f in timers)
        while True:
            await asyncio.sleep(interval)
            for function in timers:
                try:
                    await self.fire_timer(function.name)
                except WorkerError:
                    log.exception("timer %s failed", function.name)

    def _http_function(self, route: str, method: str) -> tuple[Function, dict[str, str]] | None:
        """The function whose route template and methods match, with the route's parameters."""
        for function in self.worker.functions.values():
            trigger = function.trigger
            if trigger["type"] != "httpTrigger":
                continue
            params = match_route(trigger.get("route", function.name), route)
            if params is not None and method.upper() in [m.upper() for m in trigger.get("methods") or [method]]:
                return function, params
        return None


def timer_interval(schedule: str) -> float:
    """Seconds between runs of an NCRONTAB schedule of the form `0 */N * * * *` (else one minute).

    The stand-in's simplification: the host runs the whole NCRONTAB grammar at wall-clock times.
    """
    fields = schedule.split()
    minute = fields[1] if len(fields) == 6 else "*"
    return 60.0 * int(minute[2:]) if minute.startswith("*/") and minute[2:].isdigit() else 60.0


class _Segments(Convertor[str]):
    """Starlette's `path` with line breaks too (`.` stops at them): the Functions host routes a
    request whose path holds an encoded `%0A` to its function, which answers it."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segments", _Segments())


def match_route(template: str, path: str) -> dict[str, str] | None:
    """The parameters of `path` under a route template such as `rooms/{room_id}/text`, or None.

    As the Functions host's routing for a template without constraints: a `{name}` takes one
    whole path segment (not empty, no `/`); other segments match without regard to case.
    """
    names = template.strip("/").split("/")
    parts = path.strip("/").split("/")
    if len(names) != len(parts):
        return None
    params = {}
    for name, part in zip(names, parts, strict=True):
        if name.startswith("{") and name.endswith("}"):
            if not part:
                return None
            params[name[1:-1]] = part
        elif name.lower() != part.lower():
            return None
    return params


def local_connection(base_url: str) -> ConnectionString:
    """The stand-in service's connection string, with a key of this run only: other runs' tokens fail."""
    return ConnectionString(base_url.rstrip("/"), secrets.token_urlsafe(32))


def route_prefix() -> str:
    """The HTTP routes' prefix, from host.json as the Functions host reads it (default `api`)."""
    config = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    return str(config.get("extensions", {}).get("http", {}).get("routePrefix", "api")).strip("/")


def static_web_app_headers(static_dir: Path) -> dict[str, str]:
    """The `globalHeaders` Static Web Apps adds to every page of the site (CSP, ...)."""
    path = static_dir / "staticwebapp.config.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("globalHeaders", {}))


def _with_headers(app: Any, headers: dict[str, str]) -> Any:
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
