"""A room's state: its text, version, language, last cursor and who is in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .document import Document, DocumentError, DocumentTooLarge
from .protocol import Cursor, Delta, Full, Language, Marker, ProtocolError, Role, WriterMessage, full_message, presence
from .settings import Settings
from .versions import Outcome, VersionTracker


@dataclass
class Received:
    """What the room made of a writer's message."""

    outcome: Outcome | None  # None: queued by a store that applies it later (the Azure entities)
    ask_writer_for_sync: bool = False  # the room cannot catch up by itself


@dataclass(frozen=True, slots=True)
class Accepted:
    """A writer's message the room took in: the history records these (shared/history.py).

    `version` is the room's native version after it: for a delta or full the version of the
    text it made; for a cursor or language the version of the text it came with.
    """

    version: int
    message: WriterMessage


@dataclass
class Room:
    room_id: str
    max_units: int  # limits: from Settings, through `new_room`
    max_held: int
    gap_timeout: float
    document: Document = field(init=False)
    tracker: VersionTracker[Delta] = field(default_factory=VersionTracker)
    language: str | None = None
    cursor: Mapping[str, Any] | None = None
    writers: set[str] = field(default_factory=set)
    viewers: set[str] = field(default_factory=set)
    sync_asked_at: float | None = None  # when the room last asked its writer for the text
    last_active: float = 0.0  # wall-clock time of the last write or membership change
    # Its life (wall-clock seconds): made, deleted at `expires_at` unless deleted before; once
    # ended it takes no writes; once deleted it is a tombstone (see `room_operations.Delete`).
    created_at: float = 0.0
    expires_at: float = 0.0
    ended_at: float | None = None
    deleted_at: float | None = None
    # What the last `receive` took in, in order: the message itself and every held delta it
    # let apply. Kept also when `receive` raised (deltas applied before the refusal stand).
    # Not stored: read it in the same store update that called `receive`.
    accepted: list[Accepted] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.document = Document(max_units=self.max_units)

    # --- membership ---

    def add(self, socket_id: str, role: Role) -> bool:
        """Add a socket; True when the room's presence changed."""
        members, others = (self.writers, self.viewers) if role == "writer" else (self.viewers, self.writers)
        if socket_id in members:
            return False
        others.discard(socket_id)
        members.add(socket_id)
        return True

    def take_over(self, socket_id: str) -> list[str]:
        """Make `socket_id` the room's only writer; the writer sockets it replaces.

        The newest writer wins, so that a reloaded or second tab works even while the
        old socket lingers; the adapters tell the old one and close it.
        """
        replaced = sorted(self.writers - {socket_id})
        self.writers -= set(replaced)
        return replaced

    def is_idle(self, now: float, idle_seconds: float) -> bool:
        """Empty, never written to, and quiet for `idle_seconds`: a room no stream needs."""
        blank = self.tracker.version is None and len(self.document) == 0 and self.language is None
        return blank and not self.writers and not self.viewers and now - self.last_active >= idle_seconds

    def has_expired(self, now: float) -> bool:
        return self.deleted_at is None and now >= self.expires_at

    def remove(self, socket_id: str) -> bool:
        """Remove a socket; True when the room's presence changed."""
        found = socket_id in self.writers or socket_id in self.viewers
        self.writers.discard(socket_id)
        self.viewers.discard(socket_id)
        return found

    def presence(self) -> dict[str, Any]:
        return presence(self.room_id, len(self.viewers), bool(self.writers))

    # --- the text ---

    def as_full(self) -> dict[str, Any]:
        """The room's text as a `full` stream message (version 0 before anything was written)."""
        return full_message(self.tracker.version or 0, self.document.text(), self.language, self.tracker.numbering)

    def can_answer_sync(self) -> bool:
        """Whether the room's own text is what a viewer asking for `sync` should get."""
        return self.tracker.is_current() or (not self.tracker.has_base() and not self.tracker.held)

    def receive(self, message: WriterMessage, now: float) -> Received:
        """Apply a writer's message. Raises ProtocolError when the room refuses it.

        `accepted` then lists what it took in (also when it raised).
        """
        self.accepted = []
        if self.ended_at is not None:
            raise ProtocolError("unauthorized", "this stream has ended: it can be replayed, not written")
        self.last_active = now
        if isinstance(message, Delta):
            return self._delta(message, now)
        if isinstance(message, Full):
            return self._full(message)
        if isinstance(message, Cursor):
            self.cursor = message.raw
        elif isinstance(message, Language):
            self.language = message.language
        elif isinstance(message, Marker):
            pass  # a marker changes nothing in the room: the history keeps it
        self.accepted.append(Accepted(self.tracker.version or 0, message))
        return Received(Outcome.APPLIED)

    def _delta(self, delta: Delta, now: float) -> Received:
        try:
            outcome = self.tracker.on_delta(delta.version, delta, self._apply, now)
        except DocumentError as error:
            # The writer's text and ours differ: drop what waits and ask for the whole text.
            self.tracker.reset()
            raise _refusal(error) from None
        if outcome is Outcome.HELD and len(self.tracker.held) > self.max_held:
            self.tracker.reset()
            return Received(outcome, ask_writer_for_sync=self._may_ask(now, force=True))
        stuck = outcome is Outcome.HELD and self.tracker.gap_age(now) >= self.gap_timeout
        needs_base = outcome is Outcome.HELD and not self.tracker.has_base()
        return Received(outcome, ask_writer_for_sync=(stuck or needs_base) and self._may_ask(now))

    def _full(self, full: Full) -> Received:
        if not self.tracker.accepts_full(full.version):
            return Received(Outcome.STALE)
        try:
            self.document.replace_all(full.content)
        except DocumentError as error:
            raise _refusal(error) from None
        self.accepted.append(Accepted(full.version, full))
        try:
            outcome = self.tracker.on_full(full.version, self._apply, full.numbering)
        except DocumentError:
            self.tracker.reset()  # a held delta did not fit the new text: the full stands
            outcome = Outcome.APPLIED
        if full.language is not None:
            self.language = full.language
        self.sync_asked_at = None
        return Received(outcome)

    def _apply(self, delta: Delta) -> None:
        self.document.apply(delta.events)
        # The tracker applies only the delta right after its version (on_delta and drain).
        self.accepted.append(Accepted((self.tracker.version or 0) + 1, delta))

    def _may_ask(self, now: float, force: bool = False) -> bool:
        """Ask the writer at most once per gap timeout, so a burst makes one request."""
        if not force and self.sync_asked_at is not None and now - self.sync_asked_at < self.gap_timeout:
            return False
        self.sync_asked_at = now
        return True


def new_room(room_id: str, settings: Settings, now: float = 0.0, lifetime: float | None = None) -> Room:
    """An empty room with the limits `settings` give it: the one way rooms are made.

    It lives `lifetime` seconds (None: the server's default lifetime).
    """
    room = Room(room_id, settings.max_document_units, settings.max_held_deltas, settings.gap_timeout_seconds)
    room.last_active = room.created_at = now
    room.expires_at = now + (settings.default_lifetime if lifetime is None else lifetime)
    return room


def _refusal(error: DocumentError) -> ProtocolError:
    code = "too_large" if isinstance(error, DocumentTooLarge) else "bad_request"
    return ProtocolError(code, str(error))
