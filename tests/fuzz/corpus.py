"""The fuzz corpus: hypothesis strategies for every client event, and the oracle that says
which generated payloads a room must refuse (and with which code).

Both adapters are fed from here: the self-hosted server over real sockets
(`test_fuzz_events.py`) and the Azure adapter through its function entry points
(`test_fuzz_azure.py`).

The oracle is the core run in-process on a copy of the room's state. It only sorts cases:
those it predicts accepted are not sent (they would legitimately change the room). What the
tests check against the adapters does not come from the oracle: every refused payload gets an
`error` naming its event, and the room's snapshot stays what it was.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from shared.handlers import Caller, Handlers, Throttles
from shared.settings import Settings
from shared.store import MemoryRoomStore
from tests.support.clients import monaco_event
from tests.support.inline_core import run_now
from tests.support.refusals import CASES as FIXED_CASES
from tests.support.refusals import OTHER_ROOM, fill

EVENTS = ("joinRoom", "sendToRoom")
HUGE = "x" * (1024 * 1024 + 16)
BASE_TEXT = "héllo 😀 wörld\r\nline two\n"
BASE_VERSION = 1  # as the refusal corpus (tests/support/refusals.py) expects


# Past twice the message limit the transport closes the connection before any parsing
# (tests/limits checks that); the fuzzers stay under it.
TRANSPORT_LIMIT = 2 * 1024 * 1024


def too_big_for_the_transport(payload: Any) -> bool:
    return len(json.dumps(payload)) > TRANSPORT_LIMIT


def roundtrip(payload: Any) -> Any:
    """What the server gets after the wire: JSON out and back in (tuples become lists, ...)."""
    return json.loads(json.dumps(payload))


def fixed_cases(room_id: str, key: str) -> list[tuple[str, Any, str]]:
    """The refusal corpus (tests/support/refusals.py) with the room's id and key filled in: (event, payload, code)."""
    return [(event, fill(payload, room_id, key), code) for event, payload, code in FIXED_CASES]


# --- the oracle ------------------------------------------------------------------------


@dataclass
class Shadow:
    """The core, in-process, holding the same room as the adapter under test."""

    settings: Settings
    secret: bytes
    callers: dict[str, Caller] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = MemoryRoomStore(self.settings)

    def handlers(self, store: MemoryRoomStore | None = None) -> Handlers:
        # Fresh throttles each time: the oracle judges one payload, not a flood.
        throttles = Throttles.for_settings(self.settings, time.monotonic)
        return Handlers(self.settings, self.secret, store or self.store, throttles)

    def apply(self, who: str, event: str, payload: Any) -> list[dict[str, Any]]:
        """Perform an event for real on the shadow (setting up the room)."""
        return run_now(self._call(self.handlers(), who, event, payload))

    def predict(self, who: str, event: str, payload: Any) -> list[str]:
        """The error codes the core answers `payload` with; [] when it would accept it."""
        actions = run_now(self._call(self.handlers(copy.deepcopy(self.store)), who, event, payload))
        return error_codes(actions, self.callers[who].socket_id)

    def _call(self, handlers: Handlers, who: str, event: str, payload: Any) -> Coroutine[Any, Any, Any]:
        caller = self.callers[who]
        return handlers.join_room(caller, payload) if event == "joinRoom" else handlers.send_to_room(caller, payload)


def error_codes(actions: list[dict[str, Any]], socket_id: str) -> list[str]:
    return [
        a["parameters"][0]["code"]
        for a in actions
        if a["actionName"] == "sendToSocket"
        and a["socketId"] == socket_id
        and isinstance(a["parameters"][0], dict)
        and a["parameters"][0].get("type") == "error"
    ]


# --- strategies ------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(["", "sync", "delta", "full", "\ud800", "\udfff", "😀", "\x00", "-control", "%00", "../"]),
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True)
class RoomFacts:
    """What the strategies aim at: a room, its key, its text's length and version."""

    room_id: str
    key: str
    units: int
    version: int

    def templates(self) -> list[tuple[str, Any]]:
        """Valid messages of every kind, as the web client sends them; mutations start here."""
        r, k, v = self.room_id, self.key, self.version
        data = [
            {"type": "delta", "version": v + 1, "changes": [monaco_event((0, 0, "a"), (self.units, 0, "b"))]},
            {"type": "delta", "version": v + 1, "changes": [monaco_event((1, 2, "xy")), monaco_event((0, 1, ""))]},
            {"type": "full", "version": v + 1, "content": "new text\n", "language": "python"},
            {"type": "cursor", "version": v, "selections": [{"anchor": 0, "head": 1}, {"anchor": 2, "head": 2}]},
            {"type": "language", "language": "typescript"},
            {"data": "sync"},
        ]
        sends = [("sendToRoom", {"room_id": r, "writer_key": k, "data": d}) for d in data]
        sends.append(("sendToRoom", {"room_id": r + "-control", "data": {"data": "sync"}}))
        return [("joinRoom", {"room_id": r, "writer_key": k}), ("joinRoom", {"room_id": r}), *sends]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _put(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


def _tweak(draw: st.DrawFn, value: Any) -> Any:
    """A near miss of `value`: the kind of mistake a buggy or hostile client makes."""
    if isinstance(value, bool):
        return draw(st.sampled_from([not value, int(value), str(value).lower(), None]))
    if isinstance(value, int):
        return draw(
            st.sampled_from(
                [value - 1, value + 1, -value - 1, value + 2**31, 2**53, 2**53 - 1, 2**64, float(value), str(value)]
            )
        )
    if isinstance(value, str):
        cut = draw(st.integers(0, len(value)))
        return draw(
            st.sampled_from(
                [
                    value[:cut],
                    value[:cut] + "\ud83d" + value[cut:],
                    value + draw(st.text(min_size=1, max_size=3)),
                    value.upper(),
                    value * 3,
                    HUGE,
                    [value],
                    None,
                ]
            )
        )
    if isinstance(value, list):
        if not value:
            return draw(st.sampled_from([None, {}, [[]], [None]]))
        item = value[draw(st.integers(0, len(value) - 1))]
        if len(json.dumps(item)) > 1000:  # 1,001 copies of a huge item: past the transport's limit
            item = None
        return draw(st.sampled_from([[], value[:-1], [*value, item], [item] * 1001, [None, *value], {"0": item}]))
    if isinstance(value, dict):
        return draw(st.sampled_from([[], None, {k: v for k, v in value.items() if k != next(iter(value), None)}]))
    return draw(JSON)


@st.composite
def mutated(draw: st.DrawFn, facts: RoomFacts) -> tuple[str, Any]:
    """A valid message with one to three mistakes in it."""
    event, payload = draw(st.sampled_from(facts.templates()))
    payload = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        operation = draw(st.sampled_from(["tweak", "tweak", "junk", "drop", "add"]))
        target = _get(payload, path[:-1]) if path else None
        if operation == "drop" and path and isinstance(target, dict):
            del target[path[-1]]
        elif operation == "add" and isinstance(_get(payload, path), dict):
            _get(payload, path)[draw(st.sampled_from(["type", "version", "data", "extra", "range", "__proto__"]))] = (
                draw(JSON)
            )
        elif operation == "junk":
            payload = _put(payload, path, draw(JSON))
        else:
            payload = _put(payload, path, _tweak(draw, _get(payload, path)))
    event = draw(st.sampled_from([event, event, event, "joinRoom" if event == "sendToRoom" else "sendToRoom"]))
    return event, payload


def structured(facts: RoomFacts) -> st.SearchStrategy[tuple[str, Any]]:
    """Messages built field by field from plausible and implausible values."""
    r, k = facts.room_id, facts.key
    room_ids = st.sampled_from([r, r + "-control", OTHER_ROOM, r[:-1], r + "A", r.lower(), ""]) | JSON
    keys = st.sampled_from([k, "A" * 43, k[:-1], k + "A", k[::-1]]) | JSON
    natural = st.integers(min_value=-2, max_value=facts.units + 3) | st.sampled_from([2**53, 2**63, 1.0, "0"])
    versions = st.sampled_from([facts.version - 1, facts.version + 2, 2**53, -1]) | natural
    change = st.fixed_dictionaries(
        {"rangeOffset": natural, "rangeLength": natural, "text": st.text(max_size=8) | JSON},
        optional={"range": JSON, "forceMoveMarkers": JSON},
    )
    event_shape = st.fixed_dictionaries(
        {"changes": st.lists(change, max_size=3) | JSON}, optional={"eol": st.sampled_from(["\n", "\r\n", "\r", 1])}
    )
    data = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("delta"), "version": versions, "changes": st.lists(event_shape, max_size=3) | JSON}
        ),
        st.fixed_dictionaries(
            {"type": st.just("full"), "version": versions, "content": st.text(max_size=20) | JSON},
            optional={"language": st.text(max_size=10) | JSON},
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("cursor"),
                "version": versions,
                "selections": st.lists(st.fixed_dictionaries({"anchor": natural, "head": natural}), max_size=3) | JSON,
            }
        ),
        st.fixed_dictionaries({"type": st.just("language"), "language": st.text(max_size=70) | JSON}),
        st.fixed_dictionaries({"data": st.sampled_from(["sync", "Sync", "", None])}),
        JSON,
    )
    payload = st.fixed_dictionaries({"room_id": room_ids}, optional={"writer_key": keys, "data": data, "extra": JSON})
    return st.tuples(st.sampled_from(EVENTS), payload)


@functools.cache
def events(facts: RoomFacts) -> st.SearchStrategy[tuple[str, Any]]:
    """Every kind of client event: mostly near misses of valid ones, some built, some junk."""
    junk = st.tuples(st.sampled_from(EVENTS), JSON)
    return st.one_of(mutated(facts), mutated(facts), structured(facts), junk)
