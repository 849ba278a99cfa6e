"""Security headers on every HTTP response, the same ones Static Web Apps sends.

They are read from `static_site/staticwebapp.config.json` (its `globalHeaders`), so the
two hostings cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SWA_CONFIG = Path(__file__).resolve().parent.parent / "static_site" / "staticwebapp.config.json"

Scope = dict[str, Any]


def load_headers(config: Path = SWA_CONFIG) -> list[tuple[bytes, bytes]]:
    headers = json.loads(config.read_text(encoding="utf-8"))["globalHeaders"]
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class SecurityHeaders:
    """ASGI middleware: adds the headers to HTTP responses that do not set them."""

    def __init__(self, app: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.headers = load_headers() if headers is None else headers

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
