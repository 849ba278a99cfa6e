"""Client tokens for Web PubSub for Socket.IO, minted with the service's SDK at negotiate.

No input binding runs per request: negotiate answers CORS preflights and its own failures
itself, and codestream chooses the token's lifetime (`CODESTREAM_TOKEN_TTL_SECONDS`). The
connection is the same app setting the output binding reads (docs/AZURE.md), in either form:

- a connection string, `Endpoint=https://<name>.webpubsub.azure.com;AccessKey=<key>;Version=1.0;`:
  the SDK signs the token with the key (HS256, `aud` = endpoint + `/clients/socketio/hubs/<hub>`);
- the identity form, `<setting>__endpoint` (+ `<setting>__clientId` for a user-assigned
  identity; `__credential=managedidentity`): the SDK asks the service's `:generateToken` API,
  authenticated with the Function App's managed identity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.settings import SOCKETIO_PATH_PREFIX

CONNECTION = "WebPubSubForSocketIOConnectionString"


class ServiceConnectionError(ValueError):
    """The connection setting is missing or not in a form the service accepts."""


@dataclass(frozen=True)
class ServiceConnection:
    endpoint: str  # https://<name>.webpubsub.azure.com, no trailing slash
    access_key: str | None = field(default=None, repr=False)  # None: managed identity
    client_id: str | None = None  # a user-assigned identity's; None: the system-assigned one

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str = CONNECTION) -> ServiceConnection:
        if env.get(name):
            return cls._from_string(env[name], name)
        endpoint = env.get(f"{name}__endpoint") or env.get(f"{name}__serviceUri")
        if not endpoint:
            raise ServiceConnectionError(f"{name} (or {name}__endpoint for a managed identity) is not set")
        credential = env.get(f"{name}__credential", "managedidentity")
        if credential.lower() != "managedidentity":
            raise ServiceConnectionError(f"{name}__credential must be managedidentity, not {credential!r}")
        return cls(_endpoint(endpoint, f"{name}__endpoint"), None, env.get(f"{name}__clientId") or None)

    @classmethod
    def _from_string(cls, value: str, name: str) -> ServiceConnection:
        parts = dict(item.split("=", 1) for item in value.split(";") if "=" in item)
        fields_ = {key.lower(): part.strip() for key, part in parts.items()}
        if "endpoint" not in fields_ or not fields_.get("accesskey"):
            raise ServiceConnectionError(f"{name} must hold Endpoint=...;AccessKey=...")
        return cls(_endpoint(fields_["endpoint"], name), fields_["accesskey"])


class TokenMinter:
    """Mints a client token for one hub; one per instance, reused across requests."""

    def __init__(self, connection: ServiceConnection, hub: str, **client_options: Any) -> None:
        self.connection = connection
        self.hub = hub
        self.client_options = client_options  # transport options, e.g. connection_verify in tests
        self._client: Any = None

    @property
    def path(self) -> str:
        return SOCKETIO_PATH_PREFIX + self.hub

    async def mint(self, user_id: str, ttl_seconds: int) -> tuple[str, str, str]:
        """(endpoint, path, token) for a Socket.IO client of `user_id`, valid `ttl_seconds`."""
        result = await self._service().get_client_access_token(
            user_id=user_id, minutes_to_expire=max(1, math.ceil(ttl_seconds / 60)), client_protocol="SocketIO"
        )
        return self.connection.endpoint, self.path, result["token"]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _service(self) -> Any:
        if self._client is None:
            # Imported here: the SDK (and azure-identity) load only when negotiate first runs.
            from azure.core.credentials import AzureKeyCredential
            from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

            if self.connection.access_key is not None:
                credential: Any = AzureKeyCredential(self.connection.access_key)
            else:
                from azure.identity.aio import ManagedIdentityCredential

                credential = ManagedIdentityCredential(client_id=self.connection.client_id)
            self._client = WebPubSubServiceClient(self.connection.endpoint, self.hub, credential, **self.client_options)
        return self._client


def _endpoint(value: str, name: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ServiceConnectionError(f"{name}: {value!r} is not an http(s) endpoint")
    return value.strip().rstrip("/")
