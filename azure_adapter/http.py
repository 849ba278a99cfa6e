"""HTTP details of negotiate: the service's negotiation result, CORS, JSON answers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


class NegotiationError(ValueError):
    """The negotiation binding gave something other than {endpoint, path, token}."""


def service_grant(negotiation: str | bytes | Mapping[str, Any]) -> tuple[str, str, str]:
    """(endpoint, path, token) from the `socketionegotiation` input binding's value."""
    data = json.loads(negotiation) if isinstance(negotiation, str | bytes) else negotiation
    if not isinstance(data, Mapping):
        raise NegotiationError("negotiation result is not a JSON object")
    values = [data.get(name) for name in ("endpoint", "path", "token")]
    if not all(isinstance(v, str) and v for v in values):
        raise NegotiationError("negotiation result lacks endpoint, path or token")
    endpoint, path, token = values
    # Serialised from a .NET Uri, the endpoint may end with "/"; the client appends `path`.
    return endpoint.rstrip("/"), path, token  # type: ignore[union-attr,return-value]


def cors_headers(origin: str | None, allowed: Iterable[str], preflight: bool = False) -> dict[str, str]:
    """CORS headers for a request from `origin`: none unless it is one of `allowed`."""
    headers = {"Vary": "Origin"}
    allowed = set(allowed)
    if origin is None or not (origin.rstrip("/") in allowed or "*" in allowed):
        return headers
    headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = "600"
    return headers
