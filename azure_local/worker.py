"""Microsoft's Python worker (azure-functions-runtime), driven in-process as its proxy worker drives it.

On Azure the host talks gRPC to the proxy worker, which hands each message to the library
worker `azure_functions_runtime` as a `WorkerRequest(name, request, properties)` whose
`request` is a `StreamingMessage`. `Worker` does the same with no gRPC: worker init (which
indexes the v2 decorators), functions metadata, function load, then invocations with
protobuf `TypedData` in and `return_value` / `output_data` out.

This is the one module that reaches into the worker's internals; `PINNED` names the
versions it was written against and tests/azure_runtime/test_canary.py fails when they move.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure_functions_runtime as runtime

PINNED = {"azure-functions-runtime": "1.3.0", "azure-functions-runtime-v1": "1.2.0", "azure-functions": "2.3.0"}
PROTOS_PACKAGE = "azure_local_worker_protos"  # what the wheel calls `tests.protos`, under a name of ours


def load_protos() -> types.SimpleNamespace:
    """The worker's protobuf classes, as the proxy worker's `protos` package exports them.

    They ship only in azure-functions-runtime-v1's wheel, as a top-level `tests.protos`
    package (which would shadow our own `tests`), so they are loaded from that path under
    another name. The package's __init__ also imports the gRPC stubs (grpcio), which an
    in-process host does not need: only the message modules are loaded.
    """
    files = importlib.metadata.files("azure-functions-runtime-v1") or []
    init = next((f for f in files if str(f).replace("\\", "/") == "tests/protos/__init__.py"), None)
    if init is None:
        raise RuntimeError("azure-functions-runtime-v1 has no tests/protos: its layout moved (see PINNED)")
    directory = Path(str(init.locate())).parent
    if PROTOS_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_loader(PROTOS_PACKAGE, loader=None, is_package=True)
        assert spec is not None
        package = importlib.util.module_from_spec(spec)
        package.__path__ = [str(directory)]
        sys.modules[PROTOS_PACKAGE] = package
    rpc = importlib.import_module(f"{PROTOS_PACKAGE}.FunctionRpc_pb2")
    nullable = importlib.import_module(f"{PROTOS_PACKAGE}.shared.NullableTypes_pb2")
    names = {n: getattr(rpc, n) for n in dir(rpc) if not n.startswith("_")}
    names.update({n: getattr(nullable, n) for n in dir(nullable) if n.startswith("Nullable")})
    return types.SimpleNamespace(**names)


@dataclass(frozen=True)
class WorkerRequest:
    """The proxy worker's envelope for a message to the library worker."""

    name: str
    request: Any
    properties: dict[str, Any] | None = None


class WorkerError(RuntimeError):
    """The worker answered a request with StatusResult.Failure."""


@dataclass
class Function:
    """One indexed function: its id and its bindings as the host reads them from metadata."""

    name: str
    function_id: str
    bindings: list[dict[str, Any]]
    metadata: Any = field(repr=False)

    def binding(self, direction: str, type_: str | None = None) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b["direction"].lower() == direction.lower() and type_ in (None, b["type"])]

    @property
    def trigger(self) -> dict[str, Any]:
        return next(
            b for b in self.bindings if b["direction"].lower() == "in" and b["type"].lower().endswith("trigger")
        )


@dataclass
class Result:
    """What an invocation gave back: the return value and each output binding, as Python values."""

    return_value: Any
    outputs: dict[str, Any]
    response: Any = field(repr=False)
    output_kinds: dict[str, str] = field(default_factory=dict)  # name -> TypedData kind: "string", "json", ...


class Worker:
    """The library worker for one function app directory. One per process: its state is module-global."""

    def __init__(self, app_directory: Path, host: str = "127.0.0.1") -> None:
        self.app_directory = app_directory
        self.host = host
        self.protos = load_protos()
        self.functions: dict[str, Function] = {}

    async def start(self) -> None:
        """Worker init (indexing), functions metadata and a load for every function."""
        p = self.protos
        if str(self.app_directory) not in sys.path:
            sys.path.insert(0, str(self.app_directory))  # the host starts the worker in the app's directory
        runtime.start_threadpool_executor()
        init = p.StreamingMessage(
            request_id=_id(),
            worker_init_request=p.WorkerInitRequest(
                host_version="4.0.0", function_app_directory=str(self.app_directory), capabilities={}
            ),
        )
        response = await runtime.worker_init_request(
            WorkerRequest("WorkerInitRequest", init, {"protos": p, "host": self.host})
        )
        _check(response, "worker init")
        metadata = await runtime.functions_metadata_request(
            WorkerRequest("WorkerMetadataRequest", p.StreamingMessage(functions_metadata_request={}))
        )
        _check(metadata, "functions metadata")
        for item in metadata.function_metadata_results:
            bindings = [json.loads(raw) for raw in item.raw_bindings]
            self.functions[item.name] = Function(item.name, item.function_id, bindings, item)
            load = p.StreamingMessage(
                function_load_request=p.FunctionLoadRequest(function_id=item.function_id, metadata=item)
            )
            _check(await runtime.function_load_request(WorkerRequest("FunctionLoadRequest", load)), item.name)

    def stop(self) -> None:
        runtime.stop_threadpool_executor()

    def trigger_for(self, type_: str, **match: Any) -> Function | None:
        """The function whose trigger has this type and these properties (e.g. eventName)."""
        for function in self.functions.values():
            trigger = function.trigger
            if trigger["type"].lower() == type_.lower() and all(trigger.get(k) == v for k, v in match.items()):
                return function
        return None

    async def invoke(self, name: str, inputs: dict[str, Any], trigger_metadata: dict[str, Any] | None = None) -> Result:
        """Invoke `name` with one TypedData per input binding; WorkerError when the function failed."""
        p = self.protos
        function = self.functions[name]
        request = p.InvocationRequest(
            invocation_id=_id(),
            function_id=function.function_id,
            input_data=[p.ParameterBinding(name=k, data=v) for k, v in inputs.items()],
            trigger_metadata=trigger_metadata or {},
        )
        message = p.StreamingMessage(request_id=_id(), invocation_request=request)
        response = await runtime.invocation_request(WorkerRequest("FunctionInvocationRequest", message, {}))
        _check(response, name)
        outputs = {b.name: from_typed_data(b.data) for b in response.output_data}
        kinds = {b.name: b.data.WhichOneof("data") or "" for b in response.output_data}
        returned = from_typed_data(response.return_value) if response.HasField("return_value") else None
        return Result(returned, outputs, response, kinds)

    # --- TypedData, as the host builds it ---

    def string(self, value: str) -> Any:
        return self.protos.TypedData(string=value)

    def json(self, value: Any) -> Any:
        return self.protos.TypedData(json=json.dumps(value))

    def http(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        query: dict[str, str],
        body: bytes = b"",
        params: dict[str, str] | None = None,
    ) -> Any:
        """An HTTP trigger's data; `params` are the route's parameters (`req.route_params`)."""
        p = self.protos
        http = p.RpcHttp(method=method, url=url, headers=headers, query=query, params=params or {})
        http.body.CopyFrom(p.TypedData(bytes=body))
        return p.TypedData(http=http)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, its name matched without regard to case (as HTTP does)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def from_typed_data(data: Any) -> Any:
    """A TypedData the worker sent back, as the host reads it: text, JSON text, bytes or an HTTP response."""
    kind = data.WhichOneof("data")
    if kind is None:
        return None
    if kind == "http":
        body = from_typed_data(data.http.body)
        raw = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        status = int(data.http.status_code or 200)
        return HttpResponse(status, dict(data.http.headers), raw)
    return getattr(data, kind)


def _check(response: Any, what: str) -> None:
    result = response.result
    if result.status != result.Success:
        raise WorkerError(f"{what}: {result.exception.message}\n{result.exception.stack_trace}")


def _id() -> str:
    return str(uuid.uuid4())
