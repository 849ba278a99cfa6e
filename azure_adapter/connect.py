"""The `connect` event: accept or refuse a socket from what its token's claims say.

The service has already checked the token's signature (with its access key), expiry and
audience before it forwards `connect`; this is a second look at what arrives. Claims the
service leaves out are not required, since their absence proves nothing.
"""

from __future__ import annotations

from shared.settings import SOCKETIO_PATH_PREFIX

from .events import SocketEvent, first


def audience_paths(hub: str) -> tuple[str, str]:
    """How a token's `aud` may end for this hub: the Socket.IO path, or the default protocol's
    path, which the extension's identity-based negotiation mints tokens for."""
    return (SOCKETIO_PATH_PREFIX + hub, "/client/hubs/" + hub)


ACCEPT = 200
UNAUTHORIZED = 401
NOT_FOUND = 404


def connect_status(event: SocketEvent, hub: str, now: float) -> int:
    """The `statusCode` to answer `connect` with."""
    if event.namespace != "/":
        return NOT_FOUND  # codestream speaks only in the default namespace
    audience = first(event.claims, "aud")
    if audience is not None and not audience.rstrip("/").endswith(audience_paths(hub)):
        return UNAUTHORIZED  # a token for another hub
    expires = first(event.claims, "exp")
    if expires is not None:
        try:
            if float(expires) <= now:
                return UNAUTHORIZED
        except ValueError:
            return UNAUTHORIZED
    return ACCEPT
