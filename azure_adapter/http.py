"""HTTP details of negotiate: CORS."""

from __future__ import annotations

from collections.abc import Iterable


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
