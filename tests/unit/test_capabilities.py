"""Capabilities: room ids, writer keys (HMAC) and tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import jwt
import pytest

from shared import capabilities as c

SECRET = b"s" * 32
OTHER = b"o" * 32
PATH = "/clients/socketio/hubs/codestream"
AUD = "http://127.0.0.1:3000" + PATH
NOW = 1_700_000_000


def b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# --- room ids ---------------------------------------------------------------------------


def test_new_room_ids_are_128_random_bits() -> None:
    ids = {c.new_room_id() for _ in range(2000)}
    assert len(ids) == 2000
    for room_id in ids:
        assert len(room_id) == 22 and c.is_room_id(room_id)
        assert len(b64decode(room_id)) == 16
        assert c._b64(b64decode(room_id)) == room_id  # canonical encoding


def test_every_16_byte_value_is_a_room_id() -> None:
    for data in [bytes(16), b"\xff" * 16, *(os.urandom(16) for _ in range(500))]:
        assert c.is_room_id(c._b64(data))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A" * 21,
        "A" * 23,
        "A" * 21 + "B",  # non-zero padding bits: not the encoding of 16 bytes
        "A" * 21 + "/",
        "A" * 20 + "+A",
        "A" * 20 + "=A",
        "A" * 21 + "A\n",
        "A" * 21 + "\uff21",  # a full-width A
    ],
)
def test_not_room_ids(value: str) -> None:
    assert not c.is_room_id(value)


def test_user_ids_and_secrets() -> None:
    assert len(c.new_user_id()) == 16 and c.new_user_id() != c.new_user_id()
    secret = c.new_secret()
    assert len(secret) == 43 and len(b64decode(secret)) == 32
    assert c.secret_bytes(secret) == secret.encode()


def test_secret_must_be_32_bytes() -> None:
    assert c.secret_bytes("x" * 32) == b"x" * 32
    with pytest.raises(c.CapabilityError, match="at least 32 bytes"):
        c.secret_bytes("x" * 31)
    assert c.secret_bytes("é" * 16) == "é".encode() * 16  # counted in UTF-8 bytes


# --- writer keys ------------------------------------------------------------------------


def test_writer_key_is_hmac_sha256_of_the_room_id() -> None:
    room_id = c.new_room_id()
    expected = base64.urlsafe_b64encode(hmac.new(SECRET, room_id.encode(), hashlib.sha256).digest()).rstrip(b"=")
    key = c.writer_key(SECRET, room_id)
    assert key == expected.decode()
    assert len(key) == 43 and c.is_writer_key_shape(key)
    assert c.writer_key(SECRET, room_id) == key  # stateless: the same every time


def test_writer_key_checks() -> None:
    room_id, other_room = c.new_room_id(), c.new_room_id()
    key = c.writer_key(SECRET, room_id)
    assert c.is_writer_key(SECRET, room_id, key)
    assert not c.is_writer_key(SECRET, other_room, key)
    assert not c.is_writer_key(OTHER, room_id, key)
    assert not c.is_writer_key(SECRET, room_id, key[:-1] + ("A" if key[-1] != "A" else "E"))
    assert not c.is_writer_key(SECRET, room_id, "")


def test_writer_key_shape() -> None:
    key = c.writer_key(SECRET, c.new_room_id())
    assert not c.is_writer_key_shape(key[:-1])
    assert not c.is_writer_key_shape(key + "A")
    assert not c.is_writer_key_shape("A" * 42 + "B")  # non-zero padding bits
    assert not c.is_writer_key_shape("A" * 42 + "=")
    assert c.is_writer_key_shape("A" * 43)


# --- tokens -----------------------------------------------------------------------------


def token(secret: bytes = SECRET, aud: str = AUD, room: str | None = None, role: str = "writer", ttl: int = 60) -> str:
    return c.issue_token(secret, aud, "user1", room or "A" * 22, role, ttl, NOW)  # type: ignore[arg-type]


def test_token_round_trip() -> None:
    room_id = c.new_room_id()
    claims = c.verify_token(SECRET, token(room=room_id), PATH, NOW + 30)
    assert claims == c.Claims("user1", room_id, "writer", NOW + 60)
    payload = jwt.decode(token(room=room_id), options={"verify_signature": False})
    assert payload == {"aud": AUD, "sub": "user1", "room": room_id, "role": "writer", "iat": NOW, "exp": NOW + 60}
    assert jwt.get_unverified_header(token())["alg"] == "HS256"


def test_viewer_token() -> None:
    assert c.verify_token(SECRET, token(role="viewer"), PATH, NOW).role == "viewer"


def test_audience_host_may_differ_but_not_the_hub_path() -> None:
    assert c.verify_token(SECRET, token(aud="https://proxy.example" + PATH), PATH, NOW).sub == "user1"
    for aud in ("http://h/clients/socketio/hubs/other", "http://h" + PATH + "2", "http://h" + PATH + "/x"):
        with pytest.raises(c.CapabilityError, match="another hub"):
            c.verify_token(SECRET, token(aud=aud), PATH, NOW)


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(c.CapabilityError, match="invalid token"):
        c.verify_token(OTHER, token(), PATH, NOW)


def test_expiry() -> None:
    assert c.verify_token(SECRET, token(ttl=60), PATH, NOW + 59).exp == NOW + 60
    for now in (NOW + 60, NOW + 61, NOW + 10**6):
        with pytest.raises(c.CapabilityError, match="expired"):
            c.verify_token(SECRET, token(ttl=60), PATH, now)


@pytest.mark.parametrize("bad", ["", "garbage", "a.b.c", "x" * 10_000])
def test_malformed_tokens(bad: str) -> None:
    with pytest.raises(c.CapabilityError, match="invalid token"):
        c.verify_token(SECRET, bad, PATH, NOW)


def test_tampered_payload_is_refused() -> None:
    header, _, signature = token(role="viewer").split(".")
    forged = jwt.encode({"aud": AUD, "sub": "u", "role": "writer", "exp": NOW + 60}, OTHER, algorithm="HS256")
    with pytest.raises(c.CapabilityError, match="invalid token"):
        c.verify_token(SECRET, ".".join([header, forged.split(".")[1], signature]), PATH, NOW)


def test_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode({"aud": AUD, "sub": "u", "exp": NOW + 60}, None, algorithm="none")
    with pytest.raises(c.CapabilityError, match="invalid token"):
        c.verify_token(SECRET, unsigned, PATH, NOW)


@pytest.mark.parametrize("missing", ["aud", "sub", "exp"])
def test_required_claims(missing: str) -> None:
    payload = {"aud": AUD, "sub": "u", "exp": NOW + 60}
    del payload[missing]
    with pytest.raises(c.CapabilityError):
        c.verify_token(SECRET, jwt.encode(payload, SECRET, algorithm="HS256"), PATH, NOW)


def test_claims_from_payload_types() -> None:
    good = {"aud": AUD, "sub": "u", "exp": NOW + 1}
    assert c.claims_from_payload(good, PATH, NOW) == c.Claims("u", None, None, NOW + 1)
    bad_values: list[tuple[str, object, str]] = [
        ("aud", [AUD], "another hub"),
        ("aud", None, "another hub"),
        ("exp", "later", "expired"),
        ("exp", float(NOW + 5), "expired"),
        ("sub", 5, "no subject"),
    ]
    for name, value, message in bad_values:
        with pytest.raises(c.CapabilityError, match=message):
            c.claims_from_payload({**good, name: value}, PATH, NOW)


def test_unknown_role_and_bad_room_become_none() -> None:
    payload = {"aud": AUD, "sub": "u", "exp": NOW + 1, "room": "not-a-room", "role": "admin"}
    assert c.claims_from_payload(payload, PATH, NOW) == c.Claims("u", None, None, NOW + 1)
    payload = {**payload, "room": "A" * 22, "role": "viewer"}
    assert c.claims_from_payload(payload, PATH, NOW) == c.Claims("u", "A" * 22, "viewer", NOW + 1)
