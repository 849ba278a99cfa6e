"""Every tunable of codestream in one place, read from the environment.

Both adapters build one `Settings` at start-up with `Settings.from_env()`; the core
never reads the environment itself, so tests pass a `Settings` of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

DEFAULT_HUB = "codestream"
SOCKETIO_PATH_PREFIX = "/clients/socketio/hubs/"

# Environment variable for each field; the field's type says how to parse it.
_ENV_NAMES = {
    "hub": "CODESTREAM_HUB",
    "token_ttl_seconds": "CODESTREAM_TOKEN_TTL_SECONDS",
    "max_message_bytes": "CODESTREAM_MAX_MESSAGE_BYTES",
    "max_document_units": "CODESTREAM_MAX_DOCUMENT_UNITS",
    "max_events_per_delta": "CODESTREAM_MAX_EVENTS_PER_DELTA",
    "max_changes_per_event": "CODESTREAM_MAX_CHANGES_PER_EVENT",
    "max_selections": "CODESTREAM_MAX_SELECTIONS",
    "messages_per_second": "CODESTREAM_MESSAGES_PER_SECOND",
    "max_held_deltas": "CODESTREAM_MAX_HELD_DELTAS",
    "gap_timeout_seconds": "CODESTREAM_GAP_TIMEOUT_SECONDS",
    "max_viewers_per_room": "CODESTREAM_MAX_VIEWERS_PER_ROOM",
    "max_rooms": "CODESTREAM_MAX_ROOMS",
    "room_idle_seconds": "CODESTREAM_ROOM_IDLE_SECONDS",
    "presence_interval_seconds": "CODESTREAM_PRESENCE_INTERVAL_SECONDS",
}

_MAY_BE_ZERO = {"presence_interval_seconds"}  # 0: announce every join and leave at once


class SettingsError(ValueError):
    """An environment variable holds a value codestream cannot use."""


@dataclass(frozen=True)
class Settings:
    hub: str = DEFAULT_HUB
    token_ttl_seconds: int = 3600
    max_message_bytes: int = 1024 * 1024  # Web PubSub's client frame limit
    max_document_units: int = 1024 * 1024  # UTF-16 code units
    max_events_per_delta: int = 1000
    max_changes_per_event: int = 1000
    max_selections: int = 1000
    messages_per_second: int = 100
    max_held_deltas: int = 1000
    gap_timeout_seconds: float = 1.0
    max_viewers_per_room: int = 1000
    max_rooms: int = 10_000
    room_idle_seconds: float = 3600.0  # an empty room nobody wrote to for this long is forgotten
    # Viewers hear of joins and leaves at most this often (writers at once): a room filling
    # with N viewers then costs about N presence messages, not N squared.
    presence_interval_seconds: float = 1.0

    @property
    def socketio_path(self) -> str:
        return SOCKETIO_PATH_PREFIX + self.hub

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(_ENV_NAMES[field.name])
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if not _is_hub_name(self.hub):
            raise SettingsError(f"{_ENV_NAMES['hub']}: {self.hub!r} is not a hub name (letters, digits, _ )")
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            # The comparisons also refuse NaN, which compares false with everything.
            if field.name in _MAY_BE_ZERO:
                if not 0 <= value < float("inf"):
                    raise SettingsError(f"{_ENV_NAMES[field.name]} must be zero or more, not {value}")
            elif not 0 < value < float("inf"):
                raise SettingsError(f"{_ENV_NAMES[field.name]} must be positive, not {value}")


def _parse(name: str, type_name: object, raw: str) -> object:
    env_name = _ENV_NAMES[name]
    try:
        if type_name in ("int", int):
            return int(raw)
        if type_name in ("float", float):
            return float(raw)
    except ValueError:
        raise SettingsError(f"{env_name}: {raw!r} is not a number") from None
    return raw


def _is_hub_name(name: str) -> bool:
    # Web PubSub hub names: a letter first, then letters, digits or underscores.
    return (
        0 < len(name) <= 127
        and name[0].isascii()
        and name[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
    )
