"""Who may watch and who may write: room ids, writer keys and tokens.

- A room id is 128 random bits (base64url, 22 characters): knowing it lets you watch.
- A writer key is HMAC-SHA256(secret, room id) (base64url, 43 characters): knowing it lets
  you write. It is checked without storage, so any process or function holding the secret
  can verify it.
- A token is a JWT (HS256) with `aud`, `exp`, `sub`, and, when self-hosted, `room` and `role`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

import jwt

Role = Literal["writer", "viewer"]
ROLES: tuple[Role, ...] = ("writer", "viewer")

_ROOM_ID = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")  # 22 chars; the last holds 2 bits + 4 zero bits
_WRITER_KEY = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")  # 43 chars; 256 bits
_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


class CapabilityError(Exception):
    """A token or key that does not grant what was asked."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_room_id() -> str:
    return _b64(secrets.token_bytes(16))


def new_user_id() -> str:
    return _b64(secrets.token_bytes(12))


def new_secret() -> str:
    """A fresh server secret, printable so it fits an environment variable."""
    return _b64(secrets.token_bytes(32))


def is_room_id(value: str) -> bool:
    return bool(_ROOM_ID.fullmatch(value))


def is_writer_key_shape(value: str) -> bool:
    return bool(_WRITER_KEY.fullmatch(value))


@functools.lru_cache(maxsize=4096)  # a writer's every message is checked against its room's key
def writer_key(secret: bytes, room_id: str) -> str:
    return _b64(hmac.new(secret, room_id.encode("ascii"), hashlib.sha256).digest())


def is_writer_key(secret: bytes, room_id: str, key: str) -> bool:
    return hmac.compare_digest(writer_key(secret, room_id), key)


def secret_bytes(secret: str) -> bytes:
    data = secret.encode("utf-8")
    if len(data) < MIN_SECRET_BYTES:
        raise CapabilityError(f"the server secret must be at least {MIN_SECRET_BYTES} bytes long")
    return data


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    room: str | None
    role: Role | None
    exp: int


def issue_token(secret: bytes, audience: str, sub: str, room: str, role: Role, ttl: int, now: int) -> str:
    payload = {"aud": audience, "sub": sub, "room": room, "role": role, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def verify_token(secret: bytes, token: str, audience_path: str, now: int) -> Claims:
    """Check signature, expiry and audience; the audience must end with the hub's path.

    The host part of `aud` is whatever address the client used at negotiate time, which a
    reverse proxy may rewrite, so only the path is pinned.
    """
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            options={"verify_aud": False, "verify_exp": False, "require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise CapabilityError(f"invalid token: {error}") from None
    return claims_from_payload(payload, audience_path, now)


def claims_from_payload(payload: dict[str, object], audience_path: str, now: int) -> Claims:
    aud, sub, exp = payload.get("aud"), payload.get("sub"), payload.get("exp")
    if not isinstance(aud, str) or not aud.endswith(audience_path):
        raise CapabilityError("token was issued for another hub")
    if not isinstance(exp, int) or exp <= now:
        raise CapabilityError("token has expired")
    if not isinstance(sub, str):
        raise CapabilityError("token has no subject")
    room, role = payload.get("room"), payload.get("role")
    room = room if isinstance(room, str) and is_room_id(room) else None
    return Claims(sub, room, role if role in ROLES else None, exp)  # type: ignore[arg-type]
