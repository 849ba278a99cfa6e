"""Every setting of codestream in one place, each read from its environment variable by one parser.

Both adapters build one `Settings` at start-up with `Settings.from_env()` (the self-hosted
server's command-line options are written into that environment first); the core never
reads the environment itself, so tests pass a `Settings` of their own. README.md's
configuration table and `local.settings.json.example` document every variable named here
(a test holds them to it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .capabilities import MIN_SECRET_BYTES

DEFAULT_HUB = "codestream"
SOCKETIO_PATH_PREFIX = "/clients/socketio/hubs/"

# The lifetimes a writer may choose for a stream, in seconds: 1 hour, 1 day, 7 days, 30 days
# (the protocol's vocabulary, shared/protocol.py, names them too).
LIFETIMES: tuple[int, ...] = (3600, 86400, 7 * 86400, 30 * 86400)
DEFAULT_LIFETIME = 86400

# What the browser must respect too: sent in every negotiate answer (`limits`).
CLIENT_LIMITS = (
    "max_message_bytes",
    "max_document_units",
    "max_events_per_delta",
    "max_changes_per_event",
    "max_selections",
    "messages_per_second",
    "gap_timeout_seconds",
    "history_page_limit",
)

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?|\*")


class SettingsError(ValueError):
    """An environment variable holds a value codestream cannot use."""


@dataclass(frozen=True)
class Settings:
    hub: str = DEFAULT_HUB
    # Signs writer keys and tokens; None: the self-hosted server makes one in `data_dir`.
    secret: str | None = field(default=None, repr=False)
    data_dir: str = ".codestream"  # self-hosted: the generated secret
    allowed_origins: tuple[str, ...] = ()  # other web origins that may negotiate and open sockets
    redis_url: str | None = field(default=None, repr=False)  # self-hosted: share rooms (may hold a password)
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
    # An empty room nobody ever wrote to is forgotten after this long (a stream that was
    # written lives until the end of the lifetime its writer chose, or until deleted).
    room_idle_seconds: float = 3600.0
    max_lifetime_seconds: int = 30 * 86400  # the longest lifetime a writer may choose
    history_page_limit: int = 1000  # entries per page of GET /api/rooms/{id}/history, at most
    # Viewers hear of joins and leaves at most this often (writers at once): a room filling
    # with N viewers then costs about N presence messages, not N squared.
    presence_interval_seconds: float = 1.0

    @property
    def socketio_path(self) -> str:
        return SOCKETIO_PATH_PREFIX + self.hub

    def client_limits(self) -> dict[str, Any]:
        """The limits a client must respect, as negotiate sends them."""
        limits: dict[str, Any] = {name: getattr(self, name) for name in CLIENT_LIMITS}
        limits["lifetimes"] = list(self.lifetimes)
        return limits

    @property
    def lifetimes(self) -> tuple[int, ...]:
        """The lifetimes a writer may choose here: the protocol's below the server's maximum,
        and the maximum itself."""
        shorter = tuple(seconds for seconds in LIFETIMES if seconds < self.max_lifetime_seconds)
        return (*shorter, self.max_lifetime_seconds)

    @property
    def default_lifetime(self) -> int:
        """A new stream's lifetime when its writer chose none."""
        return min(DEFAULT_LIFETIME, self.max_lifetime_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, (variable, parse) in _VARIABLES.items():
            raw = env.get(variable)
            if raw is not None and raw.strip() != "":
                values[name] = parse(variable, raw.strip())
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.secret is not None and len(self.secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise SettingsError(f"{env_name('secret')} must be at least {MIN_SECRET_BYTES} bytes long")
        if not _is_hub_name(self.hub):
            raise SettingsError(f"{env_name('hub')}: {self.hub!r} is not a hub name (letters, digits, _ )")
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            # The comparisons also refuse NaN, which compares false with everything.
            if item.name in _MAY_BE_ZERO:
                if not 0 <= value < float("inf"):
                    raise SettingsError(f"{env_name(item.name)} must be zero or more, not {value}")
            elif not 0 < value < float("inf"):
                raise SettingsError(f"{env_name(item.name)} must be positive, not {value}")


def env_name(setting: str) -> str:
    """The environment variable of a setting."""
    return _VARIABLES[setting][0]


def environment_variables() -> list[str]:
    return [variable for variable, _ in _VARIABLES.values()]


# --- parsers: raw text of a variable -> the setting's value (SettingsError names the variable)


def _text(variable: str, raw: str) -> str:
    return raw


def _int(variable: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{variable}: {raw!r} is not a whole number") from None


def _float(variable: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{variable}: {raw!r} is not a number") from None


def _origins(variable: str, raw: str) -> tuple[str, ...]:
    """Comma-separated origins (`https://host[:port]`, or `*` for any), without a trailing slash."""
    origins = tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(f"{variable}: {origin!r} is not a web origin such as https://example.com:8080")
    return origins


_VARIABLES: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "hub": ("CODESTREAM_HUB", _text),
    "secret": ("CODESTREAM_SECRET", _text),
    "data_dir": ("CODESTREAM_DATA_DIR", _text),
    "allowed_origins": ("CODESTREAM_ALLOWED_ORIGINS", _origins),
    "redis_url": ("CODESTREAM_REDIS_URL", _text),
    "token_ttl_seconds": ("CODESTREAM_TOKEN_TTL_SECONDS", _int),
    "max_message_bytes": ("CODESTREAM_MAX_MESSAGE_BYTES", _int),
    "max_document_units": ("CODESTREAM_MAX_DOCUMENT_UNITS", _int),
    "max_events_per_delta": ("CODESTREAM_MAX_EVENTS_PER_DELTA", _int),
    "max_changes_per_event": ("CODESTREAM_MAX_CHANGES_PER_EVENT", _int),
    "max_selections": ("CODESTREAM_MAX_SELECTIONS", _int),
    "messages_per_second": ("CODESTREAM_MESSAGES_PER_SECOND", _int),
    "max_held_deltas": ("CODESTREAM_MAX_HELD_DELTAS", _int),
    "gap_timeout_seconds": ("CODESTREAM_GAP_TIMEOUT_SECONDS", _float),
    "max_viewers_per_room": ("CODESTREAM_MAX_VIEWERS_PER_ROOM", _int),
    "max_rooms": ("CODESTREAM_MAX_ROOMS", _int),
    "room_idle_seconds": ("CODESTREAM_ROOM_IDLE_SECONDS", _float),
    "max_lifetime_seconds": ("CODESTREAM_MAX_LIFETIME_SECONDS", _int),
    "history_page_limit": ("CODESTREAM_HISTORY_PAGE_LIMIT", _int),
    "presence_interval_seconds": ("CODESTREAM_PRESENCE_INTERVAL_SECONDS", _float),
}

_MAY_BE_ZERO = {"presence_interval_seconds"}  # 0: announce every join and leave at once


def _is_hub_name(name: str) -> bool:
    # Web PubSub hub names: a letter first, then letters, digits or underscores.
    return (
        0 < len(name) <= 127
        and name[0].isascii()
        and name[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
    )
