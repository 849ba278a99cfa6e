"""The worker's internals azure_local/worker.py relies on: an upgrade that moves them fails here first."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import sys

import azure_functions_runtime as runtime

from azure_local.host import ROOT, LocalAzure
from azure_local.worker import PINNED, load_protos


def requirement_pins(path: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_the_installed_worker_is_the_pinned_one() -> None:
    for package, version in PINNED.items():
        assert importlib.metadata.version(package) == version, package
    pins = requirement_pins("requirements.txt") | requirement_pins("requirements-azure.txt")
    assert {p: pins[p] for p in PINNED} == PINNED  # one version: requirements*.txt and worker.py agree


def test_the_app_runs_on_the_python_azure_runs() -> None:
    expected = (ROOT / ".python-version-azure").read_text(encoding="utf-8").strip()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == expected


def test_the_library_worker_entry_points() -> None:
    for name in ("worker_init_request", "functions_metadata_request", "function_load_request", "invocation_request"):
        handler = getattr(runtime, name)
        assert inspect.iscoroutinefunction(handler), name
        assert list(inspect.signature(handler).parameters) == ["request"], name
    assert callable(runtime.start_threadpool_executor) and callable(runtime.stop_threadpool_executor)


def test_the_protos_have_the_fields_the_harness_sets() -> None:
    p = load_protos()
    assert {"string", "json", "bytes", "http"} <= set(p.TypedData.DESCRIPTOR.fields_by_name)
    assert {"method", "url", "headers", "query", "body", "status_code"} <= set(p.RpcHttp.DESCRIPTOR.fields_by_name)
    fields = set(p.InvocationRequest.DESCRIPTOR.fields_by_name)
    assert {"invocation_id", "function_id", "input_data", "trigger_metadata"} <= fields
    assert {"return_value", "output_data", "result"} <= set(p.InvocationResponse.DESCRIPTOR.fields_by_name)
    assert "raw_bindings" in p.RpcFunctionMetadata.DESCRIPTOR.fields_by_name


async def test_the_worker_indexed_the_app_itself(local: LocalAzure) -> None:
    """The metadata came from the worker's own indexing (not from our reading of the decorators)."""
    metadata = [f.metadata for f in local.worker.functions.values()]
    assert metadata and all(m.properties["worker_indexed"] == "True" for m in metadata)
    assert all(m.script_file.endswith("function_app.py") for m in metadata)
