"""HTTP details of negotiate and the rooms API: CORS."""

from __future__ import annotations

from collections.abc import Iterable

NEGOTIATE_METHODS = "GET, OPTIONS"
NEGOTIATE_HEADERS = "Content-Type"
API_METHODS = "GET, POST, DELETE, OPTIONS"  # the rooms API (docs/API.md)
API_HEADERS = "Authorization, Content-Type"  # end and delete carry the writer key


def cors_headers(
    origin: str | None,
    allowed: Iterable[str],
    preflight: bool = False,
    methods: str = NEGOTIATE_METHODS,
    request_headers: str = NEGOTIATE_HEADERS,
) -> dict[str, str]:
    """CORS headers for a request from `origin`: none unless it is one of `allowed`."""
    headers = {"Vary": "Origin"}
    allowed = set(allowed)
    if origin is None or not (origin.rstrip("/") in allowed or "*" in allowed):
        return headers
    headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = methods
        headers["Access-Control-Allow-Headers"] = request_headers
        headers["Access-Control-Max-Age"] = "600"
    return headers
