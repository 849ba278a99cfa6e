"""docs/openapi.yaml documents exactly the HTTP endpoints the self-hosted server serves, and
docs/API.md names each of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR
from starlette.routing import Mount, Route

from selfhost.app import ApiRoute, Server
from shared.settings import Settings
from shared.store import MemoryRoomStore
from tests.support.server import ROOT, RunningServer

from .calls import call

OPENAPI = ROOT / "docs" / "openapi.yaml"
API_MD = ROOT / "docs" / "API.md"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _document() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, item in _document()["paths"].items() for method in item if method in METHODS
    }


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    """Every (method, path) the app routes to an endpoint: not the site, not the JSON 404."""
    settings = Settings()
    server = Server(settings, b"s" * 32, MemoryRoomStore(settings), static_dir=tmp_path)
    routes = [r for r in server._routes() if not isinstance(r, Mount)]
    plain = [r for r in routes if isinstance(r, Route) and not isinstance(r, ApiRoute) and r.include_in_schema]
    assert plain == [], f"routes outside ApiRoute, so undocumented: {[r.path for r in plain]}"
    return {(r.method, r.path) for r in routes if isinstance(r, ApiRoute)}


def test_every_served_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    served, documented = _served(tmp_path), _documented()
    assert served - documented == set(), "served but not in docs/openapi.yaml"
    assert documented - served == set(), "in docs/openapi.yaml but not served"


def test_the_document_is_openapi_3_1_and_every_operation_is_in_api_md() -> None:
    document = _document()
    assert document["openapi"].startswith("3.1.")
    errors = [f"{e.instance_path}: {e.message}" for e in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert errors == [], errors  # the OpenAPI 3.1 meta-schema (the one schemathesis checks with)
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid({**schema, "$schema": "https://json-schema.org/draft/2020-12/schema"}), name
    prose = API_MD.read_text(encoding="utf-8")
    for method, path in _documented():
        operation = document["paths"][path][method.lower()]
        assert operation["operationId"] and operation["responses"], (method, path)
        assert path in prose, f"docs/API.md does not mention {path}"
    for status in ("400", "401", "403", "404", "405", "413", "500"):
        assert f"| {status} |" in prose, f"the error table lacks {status}"
    assert '"format": "codestream-stream"' in prose and '"format_version": 1' in prose


async def test_the_live_server_answers_every_documented_operation_in_json(server: RunningServer) -> None:
    """A documented path answers its own method with JSON (never the site's page), others with 405."""
    room = "AAAAAAAAAAAAAAAAAAAAAA"
    for method, path in sorted(_documented()):
        url = path.replace("{room_id}", room)
        answer = await call(server, method, url)
        assert answer.headers["content-type"].startswith("application/json"), (method, path, answer)
        assert str(answer.status) in _document()["paths"][path][method.lower()]["responses"], (method, path, answer)
        wrong = await call(server, "PATCH", url)
        assert wrong.status == 405 and wrong.body["error"]["code"] == "bad_request", (path, wrong)
        assert wrong.headers["allow"].split(", ")[0] == method
