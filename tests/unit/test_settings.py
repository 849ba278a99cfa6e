"""Settings: defaults, every environment variable, and refusal of values codestream cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.settings import DEFAULT_HUB, Settings, SettingsError, environment_variables

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 32

# (variable, raw value, field, parsed value)
VARIABLES = [
    ("CODESTREAM_HUB", "live_code2", "hub", "live_code2"),
    ("CODESTREAM_SECRET", SECRET, "secret", SECRET),
    ("CODESTREAM_DATA_DIR", "/var/lib/codestream", "data_dir", "/var/lib/codestream"),
    ("CODESTREAM_ALLOWED_ORIGINS", "https://a.example", "allowed_origins", ("https://a.example",)),
    ("CODESTREAM_REDIS_URL", "redis://127.0.0.1:6379/0", "redis_url", "redis://127.0.0.1:6379/0"),
    ("CODESTREAM_TOKEN_TTL_SECONDS", "60", "token_ttl_seconds", 60),
    ("CODESTREAM_MAX_MESSAGE_BYTES", "2048", "max_message_bytes", 2048),
    ("CODESTREAM_MAX_DOCUMENT_UNITS", "77", "max_document_units", 77),
    ("CODESTREAM_MAX_EVENTS_PER_DELTA", "3", "max_events_per_delta", 3),
    ("CODESTREAM_MAX_CHANGES_PER_EVENT", "4", "max_changes_per_event", 4),
    ("CODESTREAM_MAX_SELECTIONS", "5", "max_selections", 5),
    ("CODESTREAM_MESSAGES_PER_SECOND", "6", "messages_per_second", 6),
    ("CODESTREAM_MAX_HELD_DELTAS", "7", "max_held_deltas", 7),
    ("CODESTREAM_GAP_TIMEOUT_SECONDS", "0.25", "gap_timeout_seconds", 0.25),
    ("CODESTREAM_MAX_VIEWERS_PER_ROOM", "8", "max_viewers_per_room", 8),
    ("CODESTREAM_MAX_ROOMS", "9", "max_rooms", 9),
    ("CODESTREAM_ROOM_IDLE_SECONDS", "1.5", "room_idle_seconds", 1.5),
    ("CODESTREAM_MAX_LIFETIME_SECONDS", "7200", "max_lifetime_seconds", 7200),
    ("CODESTREAM_HISTORY_PAGE_LIMIT", "10", "history_page_limit", 10),
    ("CODESTREAM_PRESENCE_INTERVAL_SECONDS", "0.5", "presence_interval_seconds", 0.5),
]
NUMERIC = [v for v in VARIABLES if isinstance(v[3], int | float) and v[0] != "CODESTREAM_PRESENCE_INTERVAL_SECONDS"]


def test_defaults_match_the_protocol_page() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.hub, s.token_ttl_seconds, s.max_message_bytes, s.max_document_units) == (
        "codestream",
        3600,
        1048576,
        1048576,
    )
    assert (s.max_events_per_delta, s.max_changes_per_event, s.max_selections) == (1000, 1000, 1000)
    assert (s.messages_per_second, s.max_held_deltas, s.gap_timeout_seconds) == (100, 1000, 1.0)
    assert (s.max_viewers_per_room, s.max_rooms, s.room_idle_seconds) == (1000, 10_000, 3600.0)
    assert s.presence_interval_seconds == 1.0
    assert (s.max_lifetime_seconds, s.history_page_limit) == (30 * 86400, 1000)
    assert (s.lifetimes, s.default_lifetime) == ((3600, 86400, 604800, 2592000), 86400)
    shorter = Settings(max_lifetime_seconds=7200)
    assert (shorter.lifetimes, shorter.default_lifetime) == ((3600, 7200), 7200)
    assert DEFAULT_HUB == "codestream"
    assert s.socketio_path == "/clients/socketio/hubs/codestream"


@pytest.mark.parametrize(("name", "raw", "field", "value"), VARIABLES)
def test_each_variable_sets_its_field_only(name: str, raw: str, field: str, value: object) -> None:
    s = Settings.from_env({name: raw})
    assert getattr(s, field) == value
    assert type(getattr(s, field)) is type(value)
    others = {f: getattr(s, f) for f in Settings.__dataclass_fields__ if f != field}
    assert others == {f: getattr(Settings(), f) for f in others}


def test_hub_sets_the_socketio_path() -> None:
    assert Settings.from_env({"CODESTREAM_HUB": "Editor_1"}).socketio_path == "/clients/socketio/hubs/Editor_1"


def test_empty_value_means_default() -> None:
    assert Settings.from_env({name: "" for name, *_ in VARIABLES}) == Settings()


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.from_env({"CODESTREAM_SECRETS": "x", "HUB": "other", "PATH": "/bin"}) == Settings()


def test_every_variable_is_tested_here() -> None:
    assert sorted(v[0] for v in VARIABLES) == sorted(environment_variables())


def test_the_readme_and_the_functions_example_document_every_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    for variable in environment_variables():
        assert f"`{variable}`" in readme, f"README.md's configuration table lacks {variable}"
        assert variable in example["_explained"], f"local.settings.json.example does not explain {variable}"


def test_origins_are_a_comma_separated_list_without_trailing_slashes() -> None:
    raw = " https://site.example, https://other.example:8443/ ,,http://[::1]:3000,*"
    origins = Settings.from_env({"CODESTREAM_ALLOWED_ORIGINS": raw}).allowed_origins
    assert origins == ("https://site.example", "https://other.example:8443", "http://[::1]:3000", "*")


@pytest.mark.parametrize("bad", ["site.example", "https://site.example/app", "ftp://site.example", "https://a b"])
def test_origins_that_are_not_origins_are_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match=f"CODESTREAM_ALLOWED_ORIGINS: '{bad}' is not a web origin"):
        Settings.from_env({"CODESTREAM_ALLOWED_ORIGINS": f"https://fine.example,{bad}"})


def test_a_short_secret_is_refused_and_no_secret_is_shown() -> None:
    with pytest.raises(SettingsError, match="CODESTREAM_SECRET must be at least 32 bytes long"):
        Settings.from_env({"CODESTREAM_SECRET": "x" * 31})
    s = Settings.from_env({"CODESTREAM_SECRET": SECRET, "CODESTREAM_REDIS_URL": "redis://:pw@127.0.0.1"})
    assert SECRET not in repr(s) and "pw" not in repr(s)


def test_client_limits_are_the_ones_negotiate_sends() -> None:
    s = Settings(max_selections=7, gap_timeout_seconds=0.25)
    limits = s.client_limits()
    assert limits["max_selections"] == 7 and limits["gap_timeout_seconds"] == 0.25
    assert set(limits) == {
        "max_message_bytes",
        "max_document_units",
        "max_events_per_delta",
        "max_changes_per_event",
        "max_selections",
        "messages_per_second",
        "gap_timeout_seconds",
        "history_page_limit",
        "lifetimes",
    }
    assert limits["lifetimes"] == [3600, 86400, 604800, 2592000]


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESTREAM_MAX_SELECTIONS", "9")
    monkeypatch.setenv("CODESTREAM_HUB", "envhub")
    s = Settings.from_env()
    assert (s.max_selections, s.hub) == (9, "envhub")


@pytest.mark.parametrize(("name", "raw", "field", "value"), NUMERIC)
@pytest.mark.parametrize("bad", ["abc", "1O", "0x10", "ten", "--1"])
def test_non_numbers_are_refused(name: str, raw: str, field: str, value: object, bad: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: bad})
    assert name in str(caught.value)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize("name", [v[0] for v in NUMERIC if not isinstance(v[3], float)])
@pytest.mark.parametrize("bad", ["1.5", "2e3", "true"])
def test_integer_fields_refuse_fractions_and_words(name: str, bad: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: bad})


@pytest.mark.parametrize(("name", "raw", "field", "value"), NUMERIC)
@pytest.mark.parametrize("bad", ["0", "-1"])
def test_zero_and_negative_are_refused(name: str, raw: str, field: str, value: object, bad: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: bad})
    number = float(bad) if isinstance(value, float) else int(bad)
    assert str(caught.value) == f"{name} must be positive, not {number}"


@pytest.mark.parametrize("name", [v[0] for v in NUMERIC if isinstance(v[3], float)])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "-0.5"])
def test_float_fields_must_be_positive_and_finite(name: str, bad: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: bad})


@pytest.mark.parametrize("bad", ["1hub", "my-hub", "hub name", "hüb", "_hub", "h/ub", "a" * 128])
def test_bad_hub_names_are_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="CODESTREAM_HUB"):
        Settings.from_env({"CODESTREAM_HUB": bad})


@pytest.mark.parametrize("good", ["h", "Hub", "hub_2", "a" * 127])
def test_good_hub_names_are_kept(good: str) -> None:
    assert Settings.from_env({"CODESTREAM_HUB": good}).hub == good


def test_check_also_guards_settings_built_in_code() -> None:
    with pytest.raises(SettingsError, match="CODESTREAM_MAX_HELD_DELTAS must be positive, not 0"):
        Settings(max_held_deltas=0).check()
    Settings(max_held_deltas=1).check()


def test_presence_interval_may_be_zero_but_not_negative() -> None:
    assert Settings.from_env({"CODESTREAM_PRESENCE_INTERVAL_SECONDS": "0"}).presence_interval_seconds == 0
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(SettingsError, match="CODESTREAM_PRESENCE_INTERVAL_SECONDS must be zero or more"):
            Settings.from_env({"CODESTREAM_PRESENCE_INTERVAL_SECONDS": bad})
