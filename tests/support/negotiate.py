"""GET /api/negotiate on a running server: the one helper every test folder asks for a grant with."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


async def negotiate(base_url: str, *, retry: float | None = None, **query: str) -> tuple[int, dict[str, Any]]:
    """GET /api/negotiate with `query`; the status and the JSON body.

    With `retry` (seconds between tries), ask again while the server is down (status 0), has not
    seen the room's writer yet (404), is limiting (429) or failing (5xx), as static_site/src/link.js
    does, and return the first other answer.
    """
    while True:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{base_url}/api/negotiate", params=query) as response,
            ):
                status, body = response.status, await response.json()
        except aiohttp.ClientError:
            if retry is None:
                raise
            status, body = 0, {}
        if retry is None or not (status in (0, 404, 429) or status >= 500):
            return status, body
        await asyncio.sleep(retry)


def negotiate_sync(base_url: str, **query: str) -> dict[str, Any]:
    """The same request for blocking code (the raw wire client, hypothesis tests): the grant of a 200."""
    status, body = asyncio.run(negotiate(base_url, **query))
    assert status == 200, (status, body)
    return body
