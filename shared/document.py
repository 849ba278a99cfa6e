"""The streamed text, edited the way Monaco reports edits: by UTF-16 offsets.

Monaco (JavaScript) counts string positions in UTF-16 code units, where an emoji outside
the Basic Multilingual Plane takes two. The buffer is therefore kept as UTF-16-LE bytes:
an offset `o` is byte `2*o`, and an edit is one slice assignment, whatever the text holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_ENCODING = "utf-16-le"


class DocumentError(ValueError):
    """An edit that cannot apply to this text; the text is left as it was."""


class DocumentTooLarge(DocumentError):
    """An edit or text that would exceed the document limit."""


@dataclass(frozen=True, slots=True)
class Change:
    """One Monaco `IModelContentChange`: replace `length` units at `offset` by `text`."""

    offset: int
    length: int
    text: str


def encode(text: str) -> bytes:
    """UTF-16-LE bytes of `text`; a lone surrogate half is refused."""
    try:
        return text.encode(_ENCODING)
    except UnicodeEncodeError:
        raise DocumentError("text holds a lone UTF-16 surrogate half") from None


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units, as JavaScript's `String.length`."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _is_high(unit: int) -> bool:
    return 0xD800 <= unit <= 0xDBFF


def _is_low(unit: int) -> bool:
    return 0xDC00 <= unit <= 0xDFFF


class Document:
    """A text buffer. Edits are atomic: one that fails leaves the text unchanged."""

    __slots__ = ("_buf", "_max_units")

    def __init__(self, text: str = "", *, max_units: int | None = None) -> None:
        self._max_units = max_units
        self._buf = bytearray()
        self.replace_all(text)

    def __len__(self) -> int:
        """Length in UTF-16 code units."""
        return len(self._buf) // 2

    def text(self) -> str:
        return self._buf.decode(_ENCODING)

    def replace_all(self, text: str) -> None:
        data = encode(text)
        self._check_size(len(data) // 2)
        self._buf = bytearray(data)

    def apply(self, events: Sequence[Sequence[Change]]) -> None:
        """Apply change events in order; inside one event, from the highest offset down.

        Each event's offsets refer to the text as it was before that event (Monaco's
        rule), so applying its changes from the end backwards keeps them valid.
        """
        undo: list[tuple[int, int, bytes]] = []
        try:
            for changes in events:
                self._apply_event(changes, undo)
            self._check_size(len(self))
        except DocumentError:
            for start, inserted, removed in reversed(undo):
                self._buf[start : start + inserted] = removed
            raise

    def _apply_event(self, changes: Sequence[Change], undo: list[tuple[int, int, bytes]]) -> None:
        ordered = sorted(changes, key=lambda c: c.offset, reverse=True)
        limit = len(self)  # a change must end at or before the start of the one after it
        for change in ordered:
            end = change.offset + change.length
            if change.offset < 0 or change.length < 0:  # a negative slice index would edit from the end
                raise DocumentError(f"change at {change.offset}+{change.length} is before the start")
            if end > limit:
                if limit == len(self):
                    raise DocumentError(f"change at {change.offset}+{change.length} is past the end ({limit})")
                raise DocumentError(f"changes overlap at offset {change.offset}")
            data = encode(change.text)
            self._check_boundary(change.offset)
            self._check_boundary(end)
            start, stop = 2 * change.offset, 2 * end
            undo.append((start, len(data), bytes(self._buf[start:stop])))
            self._buf[start:stop] = data
            limit = change.offset
        # The inserted texts are whole (encode refused lone halves) and the cut points were
        # not inside a pair, so no pair can have been split or glued from halves.

    def _check_boundary(self, offset: int) -> None:
        """Refuse an offset that falls between the two halves of a surrogate pair."""
        if 0 < offset < len(self):
            before = int.from_bytes(self._buf[2 * offset - 2 : 2 * offset], "little")
            after = int.from_bytes(self._buf[2 * offset : 2 * offset + 2], "little")
            if _is_high(before) and _is_low(after):
                raise DocumentError(f"offset {offset} splits a surrogate pair")

    def _check_size(self, units: int) -> None:
        if self._max_units is not None and units > self._max_units:
            raise DocumentTooLarge(f"document of {units} UTF-16 units exceeds the limit of {self._max_units}")
