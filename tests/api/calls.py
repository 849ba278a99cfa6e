"""HTTP calls to the rooms API of a running server, with the query string sent as written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from tests.support.server import RunningServer


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # the JSON body (None when the answer is not JSON)


async def call(
    server: RunningServer,
    method: str,
    path: str,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> Answer:
    """`method path` (a path with its query, already encoded); `key` goes in `Authorization: Bearer`."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    url = URL(server.url + path, encoded=True)
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=sent, data=data) as response:
        raw = await response.read()
        try:
            body = await response.json(content_type=None) if raw else None
        except ValueError:
            body = None
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, body)


def text_path(room_id: str, query: str = "") -> str:
    return f"/api/rooms/{room_id}/text" + (f"?{query}" if query else "")


def history_path(room_id: str, query: str = "") -> str:
    return f"/api/rooms/{room_id}/history" + (f"?{query}" if query else "")


def end_path(room_id: str) -> str:
    return f"/api/rooms/{room_id}/end"


def room_path(room_id: str) -> str:
    return f"/api/rooms/{room_id}"


async def all_entries(server: RunningServer, room_id: str, limit: int) -> list[dict[str, Any]]:
    """Every history entry, page by page, checking each page's shape."""
    entries: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        query = f"limit={limit}" + ("" if after is None else f"&after={after}")
        answer = await call(server, "GET", history_path(room_id, query))
        assert answer.status == 200, answer
        entries += answer.body["entries"]
        after = answer.body["next_after"]
        if after is None:
            return entries
        assert answer.body["entries"][-1]["version"] == after
