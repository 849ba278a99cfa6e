"""Calling one function through the worker with the trigger data the extension would send."""

from __future__ import annotations

import json
from typing import Any

from azure_local.host import LocalAzure
from azure_local.worker import HttpResponse, Result


async def invoke(local: LocalAzure, name: str, trigger: dict[str, Any]) -> tuple[Any, Any]:
    """(the return value, the actions written to the `socketio` output or None)."""
    function = local.worker.functions[name]
    inputs = {function.trigger["name"]: local.worker.string(json.dumps(trigger)), **local.inputs(function)}
    result: Result = await local.worker.invoke(name, inputs)
    written = result.outputs.get("out")
    return result.return_value, None if written is None else json.loads(written)


async def http(
    local: LocalAzure, route: str, method: str = "GET", headers: dict[str, str] | None = None, **query: str
) -> HttpResponse:
    """An HTTP trigger invocation, as the host builds it from a request to /api/<route>."""
    function = local.worker.functions[route]
    url = f"{local.base_url}/api/{route}"
    trigger = local.worker.http(method, url, headers or {}, query)
    result = await local.worker.invoke(route, {function.trigger["name"]: trigger, **local.inputs(function)})
    response = result.return_value
    assert isinstance(response, HttpResponse), response
    return response


async def run_entity(local: LocalAzure, entity: str, key: str, state: Any, *operations: tuple[str, Any]) -> Any:
    """One batch as the extension sends it: `state` encoded once, each `input` twice."""
    request = {
        "self": {"name": entity, "key": key},
        "exists": state is not None,
        "state": None if state is None else json.dumps(state),
        "batch": [{"name": op, "input": json.dumps(json.dumps(value))} for op, value in operations],
    }
    function = local.worker.functions[entity]
    result = await local.worker.invoke(entity, {function.trigger["name"]: local.worker.string(json.dumps(request))})
    return json.loads(result.return_value)


def signals(local: LocalAzure, since: int = 0) -> list[tuple[str, str, str, Any]]:
    """The signals the durable stand-in received, inputs decoded as the entity will decode them;
    a room operation's time (`at`, which it carries so the entity reads no clock) is checked and left out."""
    decoded = [
        (name, key, op, None if raw is None else json.loads(json.loads(raw)))
        for name, key, op, raw in local.durable.signals[since:]
    ]
    for name, _, _, value in decoded:
        if name == "Room":
            assert isinstance(value.pop("at"), float), value
    return decoded
