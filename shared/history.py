"""A room's history: the stream messages it accepted, with versions and times, and checkpoints.

The history of a room is the sequence of `Entry(version, at, message)` the room accepted, in
order: every delta and full (each held delta the room applied later counts, in the order it
applied), every language and marker, and cursor moves sampled (`Sampler`). `version` is the room's native
version (shared/versions.py) after the message: for a delta or full the version of the text it
made, for a cursor or language the version of the text it came with. Versions never decrease
along a history. `at` is the server's time, seconds since the epoch. `message` is the stream
message as docs/PROTOCOL.md defines it, in a canonical form: native numbering, Monaco's
offsets only (`rangeOffset`, `rangeLength`, `text`), selections as `{anchor, head}`.

A checkpoint is a `Snapshot` (the whole text at a version) kept after some entry; the text at
version V is the latest checkpoint at or before V with the entries after it up to V applied
(`text_at`). `CheckpointPolicy` keeps those entries few enough to apply in bounded time.
Stores (shared/history_store.py) keep entries and checkpoints; this module holds the rules.
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .document import Change, Document, DocumentError, utf16_length
from .protocol import Cursor, Delta, Full, Language, Marker, MessageType
from .room import Accepted, Room
from .room_operations import End, Operation, Receive

TEXT_TYPES: Final = (MessageType.DELTA, MessageType.FULL)


class HistoryError(ValueError):
    """An entry or checkpoint that is not history this code can keep or read."""


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    at: float  # server time, seconds since the epoch
    message: Mapping[str, Any]  # canonical stream message (see the module docstring)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The text at a version: a checkpoint, or what `text_at` rebuilt."""

    version: int
    at: float  # when the text reached this version (its last delta or full)
    content: str
    language: str | None


EMPTY: Final = Snapshot(0, 0.0, "", None)  # every room's text before its first entry


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Entry]
    next_after: int | None  # pass as `after` for the next page; None on the last page


# --- messages ---------------------------------------------------------------------------


def entry_of(accepted: Accepted, at: float) -> Entry:
    """The history entry of a message the room accepted (`Room.accepted`)."""
    message, version = accepted.message, accepted.version
    canonical: dict[str, Any]
    if isinstance(message, Delta):
        changes = [{"changes": [_change(c) for c in event]} for event in message.events]
        canonical = {"type": MessageType.DELTA, "version": version, "changes": changes}
    elif isinstance(message, Full):
        canonical = _full(version, message.content, message.language)
    elif isinstance(message, Cursor):
        selections = [{"anchor": s["anchor"], "head": s["head"]} for s in message.raw["selections"]]
        canonical = {"type": MessageType.CURSOR, "version": version, "selections": selections}
    elif isinstance(message, Language):
        canonical = {"type": MessageType.LANGUAGE, "language": message.language}
    elif isinstance(message, Marker):
        canonical = {"type": MessageType.MARKER, "version": version, "label": message.label}
    else:  # pragma: no cover - WriterMessage has no other kind
        raise HistoryError(f"not a stream message: {message!r}")
    return Entry(version, at, canonical)


def encode_message(message: Mapping[str, Any]) -> str:
    """The compact JSON a store keeps for a canonical message (its version is kept beside it)."""
    try:
        kind = message["type"]
        payload: list[Any]
        if kind == MessageType.DELTA:
            payload = [
                "d",
                [[[c["rangeOffset"], c["rangeLength"], c["text"]] for c in e["changes"]] for e in message["changes"]],
            ]
        elif kind == MessageType.FULL:
            payload = ["f", message["content"], message.get("language")]
        elif kind == MessageType.CURSOR:
            payload = ["c", [[s["anchor"], s["head"]] for s in message["selections"]]]
        elif kind == MessageType.LANGUAGE:
            payload = ["l", message["language"]]
        elif kind == MessageType.MARKER:
            payload = ["m", message["label"]]
        else:
            raise HistoryError(f"not a stream message type: {kind!r}")
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        raw.encode("utf-8")  # a lone surrogate half cannot be stored
    except (KeyError, TypeError, UnicodeEncodeError) as error:
        raise HistoryError(f"not a canonical stream message: {error}") from None
    return raw


def decode_message(version: int, raw: str) -> dict[str, Any]:
    """The canonical message `encode_message` kept; HistoryError on anything else."""
    try:
        kind, *rest = json.loads(raw)
        if kind == "d":
            changes = [
                {"changes": [{"rangeOffset": o, "rangeLength": n, "text": t} for o, n, t in event]} for event in rest[0]
            ]
            return {"type": MessageType.DELTA, "version": version, "changes": changes}
        if kind == "f":
            return _full(version, rest[0], rest[1])
        if kind == "c":
            selections = [{"anchor": a, "head": h} for a, h in rest[0]]
            return {"type": MessageType.CURSOR, "version": version, "selections": selections}
        if kind == "l":
            return {"type": MessageType.LANGUAGE, "language": rest[0]}
        if kind == "m":
            return {"type": MessageType.MARKER, "version": version, "label": rest[0]}
    except (ValueError, TypeError, IndexError) as error:
        raise HistoryError(f"stored history entry is damaged: {error}") from None
    raise HistoryError(f"stored history entry has an unknown kind {kind!r}")


def delta_changes(message: Mapping[str, Any]) -> list[list[Change]]:
    """A canonical delta's change events, as `Document.apply` takes them."""
    return [[Change(c["rangeOffset"], c["rangeLength"], c["text"]) for c in e["changes"]] for e in message["changes"]]


def _change(change: Change) -> dict[str, Any]:
    return {"rangeOffset": change.offset, "rangeLength": change.length, "text": change.text}


def _full(version: int, content: str, language: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": MessageType.FULL, "version": version, "content": content}
    if language is not None:
        message["language"] = language
    message["numbering"] = "native"  # history versions are native, whatever the writer used
    return message


def check_entries(entries: Sequence[Entry], last_version: int | None) -> list[str]:
    """Each entry encoded; HistoryError when one is malformed or its version goes back."""
    encoded = []
    for entry in entries:
        _check_place(entry.version, entry.at, last_version)
        last_version = entry.version
        encoded.append(encode_message(entry.message))
    return encoded


def check_snapshot(snapshot: Snapshot, last_version: int | None) -> bytes:
    """A checkpoint's content as UTF-8; HistoryError when it is malformed or its version goes back."""
    _check_place(snapshot.version, snapshot.at, last_version)
    if snapshot.language is not None and not isinstance(snapshot.language, str):
        raise HistoryError("a checkpoint's language must be a string or None")
    try:
        return snapshot.content.encode("utf-8")
    except (AttributeError, UnicodeEncodeError):
        raise HistoryError("a checkpoint's content must be text without lone surrogate halves") from None


def _check_place(version: object, at: object, last_version: int | None) -> None:
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise HistoryError(f"a version must be a whole number >= 0, not {version!r}")
    if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
        raise HistoryError(f"a time must be a finite number, not {at!r}")
    if last_version is not None and version < last_version:
        raise HistoryError(f"history only goes forward: version {version} after {last_version}")


# --- reading ----------------------------------------------------------------------------


def text_at(checkpoint: Snapshot, entries_after: Iterable[Entry], version: int | None = None) -> Snapshot:
    """The text at `version` (None: the latest): `checkpoint` with the entries kept after it applied.

    `entries_after` are the entries appended after the checkpoint, in order; those past
    `version` are not read. A version the history skipped (a full jumped over it) gives the
    text of the latest version before it: the answer's `version` says which.
    """
    document = Document(checkpoint.content)
    current, at, language = checkpoint.version, checkpoint.at, checkpoint.language
    for entry in entries_after:
        if version is not None and entry.version > version:
            break
        message = entry.message
        kind = message["type"]
        try:
            if kind == MessageType.DELTA:
                document.apply(delta_changes(message))
            elif kind == MessageType.FULL:
                document.replace_all(message["content"])
                language = message.get("language", language)
        except DocumentError as error:
            raise HistoryError(f"history entry at version {entry.version} does not apply: {error}") from None
        if kind in TEXT_TYPES:
            current, at = entry.version, entry.at
        elif kind == MessageType.LANGUAGE:
            language = message["language"]
    return Snapshot(current, at, document.text(), language)


def page(entries: Sequence[Entry], after: int | None, limit: int) -> Page:
    """The entries after version `after` (None: all), at most about `limit` of them.

    A page never splits the entries of one version (so `next_after`, a version, says where
    the next page starts): it ends before the last version's group, or, when that group
    alone fills the page, after the whole group (at most `Sampler.max_extras` + 2 more).
    `entries` may be a prefix of the history holding that group's end and one entry more.
    """
    if limit < 1:
        raise HistoryError("a page holds at least one entry")
    start = 0 if after is None else bisect.bisect_right(entries, after, key=lambda e: e.version)
    rest = entries[start:]
    if len(rest) <= limit:
        return Page(list(rest), None)
    end, last = limit, rest[limit - 1].version
    if rest[end].version == last:
        group_start = end - 1
        while group_start > 0 and rest[group_start - 1].version == last:
            group_start -= 1
        if group_start > 0:
            end = group_start
        else:
            while end < len(rest) and rest[end].version == last:
                end += 1
    return Page(list(rest[:end]), rest[end - 1].version if end < len(rest) else None)


# --- recording --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointPolicy:
    """When to keep the whole text: whichever comes first of `every_deltas` deltas,
    `every_units` UTF-16 units of change, or `every_work` units of text moved, that is the
    deltas since the last checkpoint times the text's length (each delta costs about one pass
    over the text's buffer).

    The text at a version is then rebuilt from one checkpoint and at most that many deltas
    carrying at most that much changed text, so in time bounded whatever the stream's length:
    a 1 MB text checkpoints every 32 deltas, one under 160 KB every 200 (figures: bench/history.py).
    """

    every_deltas: int = 200
    every_units: int = 64 * 1024
    every_work: int = 32 * 1024 * 1024

    def due(self, deltas: int, units: int, length: int) -> bool:
        return deltas >= self.every_deltas or units >= self.every_units or deltas * length >= self.every_work


def change_units(message: Mapping[str, Any]) -> int:
    """How much text a text message changes, in UTF-16 units (removed plus inserted)."""
    if message["type"] == MessageType.FULL:
        return utf16_length(message["content"])
    if message["type"] == MessageType.DELTA:
        return sum(c["rangeLength"] + utf16_length(c["text"]) for e in message["changes"] for c in e["changes"])
    return 0


@dataclass
class Sampler:
    """Which of a room's cursor and language entries the history keeps.

    Cursors: about one per `interval` seconds. One that comes sooner waits, replaced by any
    later cursor, and is kept by `due` once its turn came, or before the next entry kept. At a
    text change the waiting cursor is kept before it when its turn came or when the text had
    not changed for `interval` (the writer moved, then typed: the last cursor before a text
    change is there); otherwise it is dropped, as the writer is typing, its cursor follows the
    text, and codestream's writer sends a cursor after every delta. So typing at 20 keys a
    second keeps about 4 cursors a second, and one pause-then-type adds one.
    Between two text changes at most `max_extras` cursor and language entries are kept; past
    that only the last of each kind waits for the next text change. That bounds the entries of
    one version (see `page`).
    """

    clock: Callable[[], float] = time.monotonic
    interval: float = 0.25
    max_extras: int = 256
    pending: dict[str, Entry] = field(default_factory=dict)
    last_cursor: float = -math.inf
    last_text: float = -math.inf
    extras: int = 0

    def admit(self, entry: Entry) -> list[Entry]:
        """The entries to keep now, given `entry` (in order; perhaps none)."""
        kind = entry.message["type"]
        now = self.clock()
        if kind in TEXT_TYPES:
            cursor = self.pending.get(MessageType.CURSOR)
            if cursor is not None and max(now - self.last_cursor, now - self.last_text) < self.interval:
                del self.pending[MessageType.CURSOR]  # typing: the text change moves the cursor anyway
            kept = [*self._take_pending(), entry]
            self._count(kept[:-1], now)
            self.extras, self.last_text = 0, now
            return kept
        self.pending.pop(kind, None)  # superseded by this one
        if self.extras >= self.max_extras or (kind == MessageType.CURSOR and now - self.last_cursor < self.interval):
            self.pending[kind] = entry
            return []
        kept = [*self._take_pending(), entry]
        self._count(kept, now)
        return kept

    def due(self) -> list[Entry]:
        """A waiting cursor whose turn has come (call about every `interval`)."""
        now = self.clock()
        cursor = self.pending.get(MessageType.CURSOR)
        if cursor is None or now - self.last_cursor < self.interval or self.extras >= self.max_extras:
            return []
        del self.pending[MessageType.CURSOR]
        self._count([cursor], now)
        return [cursor]

    def flush(self) -> list[Entry]:
        """Everything waiting (the stream ends)."""
        return self._take_pending()

    def _take_pending(self) -> list[Entry]:
        kept = sorted(self.pending.values(), key=lambda e: e.at)
        self.pending.clear()
        return kept

    def _count(self, kept: list[Entry], now: float) -> None:
        self.extras += len(kept)
        if any(e.message["type"] == MessageType.CURSOR for e in kept):
            self.last_cursor = now


@dataclass(frozen=True, slots=True)
class Recording:
    """What to write to the history store: `append(entries)`, then `checkpoint` if any."""

    entries: list[Entry]
    checkpoint: Snapshot | None = None


@dataclass
class _Track:
    sampler: Sampler
    deltas: int = 0  # since the last checkpoint
    units: int = 0
    checkpointed: bool = False  # this process has kept one for the room


class Recorder:
    """Turns what rooms accept into history: one per process, state per room in memory.

    Call `take(room, at)` in the store update that called `room.receive` (also when it
    raised). A room this recorder has not seen yet gets a checkpoint at its first text
    change, so after a restart the text is again rebuilt from a checkpoint this process kept.
    """

    def __init__(
        self,
        policy: CheckpointPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_interval: float = 0.25,
        max_extras: int = 256,
    ) -> None:
        self.policy = policy or CheckpointPolicy()
        self.clock = clock
        self.cursor_interval = cursor_interval
        self.max_extras = max_extras
        self._rooms: dict[str, _Track] = {}

    def take(self, room: Room, at: float) -> Recording:
        track = self._track(room.room_id)
        kept: list[Entry] = []
        for accepted in room.accepted:
            kept += track.sampler.admit(entry_of(accepted, at))
        texts = [e for e in kept if e.message["type"] in TEXT_TYPES]
        if not texts:
            return Recording(kept)
        track.deltas += sum(1 for e in texts if e.message["type"] == MessageType.DELTA)
        track.units += sum(change_units(e.message) for e in texts)
        if track.checkpointed and not self.policy.due(track.deltas, track.units, len(room.document)):
            return Recording(kept)
        track.deltas = track.units = 0
        track.checkpointed = True
        version = room.tracker.version or 0
        return Recording(kept, Snapshot(version, texts[-1].at, room.document.text(), room.language))

    def after(self, room: Room | None, operation: Operation) -> Recording:
        """What to record after a store ran `operation` on `room`, in the same update.

        A `Receive`: what the room accepted (`take`); an `End`: what waits for the room
        (`flush`); anything else records nothing (after a `Delete` the store deletes the
        history and calls `forget`).
        """
        if room is None:
            return Recording([])
        if isinstance(operation, Receive):
            return self.take(room, operation.at)
        if isinstance(operation, End):
            return Recording(self.flush(room.room_id))
        return Recording([])

    def due(self, room_id: str) -> list[Entry]:
        """A room's sampled cursor whose turn has come; append it to the history."""
        track = self._rooms.get(room_id)
        return [] if track is None else track.sampler.due()

    def flush(self, room_id: str) -> list[Entry]:
        """Everything waiting for a room (its stream ends); append it to the history."""
        track = self._rooms.get(room_id)
        return [] if track is None else track.sampler.flush()

    def rooms(self) -> list[str]:
        return list(self._rooms)

    def deltas_since_checkpoint(self, room_id: str) -> int:
        """How many deltas of the room this recorder took since its last checkpoint."""
        track = self._rooms.get(room_id)
        return 0 if track is None else track.deltas

    def forget(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)

    def _track(self, room_id: str) -> _Track:
        track = self._rooms.get(room_id)
        if track is None:
            sampler = Sampler(self.clock, self.cursor_interval, self.max_extras)
            track = self._rooms[room_id] = _Track(sampler)
        return track
